"""Metric records: every number the suite reports is described by a `Metric` record, its unit
and whether higher is better. asv treats any rising `track_` value as a regression, so the
alerting code reads `higher_is_better` from here instead of trusting asv's direction.

The records of a task's scores live in its module (bench_lib/tasks/<name>.py, through
`register_task_metric` and `register_key_metric`), so a task is its module, its fixture entry
and its data files; `metric(name)` and `all_metrics()` import the registered tasks the first
time a lookup needs them. Everything else is registered below.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from bench_lib import intervals


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    higher_is_better: bool
    description: str


METRICS: dict[str, Metric] = {}


def register(name: str, unit: str, higher_is_better: bool, description: str) -> Metric:
    if name in METRICS:
        raise ValueError(f"metric {name!r} is registered twice")
    METRICS[name] = Metric(name, unit, higher_is_better, description)
    return METRICS[name]


def _load_task_metrics() -> None:
    from bench_lib import tasks

    tasks.load_all()


def metric(name: str) -> Metric:
    if name not in METRICS:
        _load_task_metrics()
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known metrics: {', '.join(sorted(METRICS))}") from None


def all_metrics() -> dict[str, Metric]:
    """Every record, the registered tasks' included (read this, not METRICS, to list them)."""
    _load_task_metrics()
    return METRICS


def interval_names(name: str) -> tuple[str, str]:
    """The metric names of the lower and upper end of `name`'s 95% interval."""
    return f"{name}_ci_low", f"{name}_ci_high"


def register_task_metric(name: str, unit: str, higher_is_better: bool, description: str) -> Metric:
    """A task's score (from its module) and the two ends of its 95% interval over the examples."""
    record = register(name, unit, higher_is_better, description)
    for end, name_end in zip(("lower", "upper"), interval_names(name)):
        register(name_end, unit, higher_is_better,
                 f"{end} end of the 95% interval of {name} over the examples (bench_lib.intervals: "
                 "Wilson for a proportion, percentile bootstrap otherwise)")
    return record


def register_quant_delta(base: str) -> None:
    """The quantization suite's shift of a task score: quantized minus unquantized, its paired
    interval and whether that interval excludes 0 (bench_lib/quant/cases.py)."""
    unit, higher = metric(base).unit, metric(base).higher_is_better
    register(f"quant_delta_{base}", unit, higher,
             f"quant: {base} of the quantized model minus the unquantized model's, same prompts, same run")
    for end, name_end in zip(("lower", "upper"), interval_names(f"quant_delta_{base}")):
        register(name_end, unit, higher,
                 f"quant: {end} end of the paired-bootstrap 95% interval of quant_delta_{base} (same examples resampled)")
    register(f"quant_delta_{base}_excludes_zero", "flag", False,
             f"quant: 1 when the 95% interval of quant_delta_{base} excludes 0 (a change beyond example noise), else 0")


def register_key_metric(name: str, label: str) -> None:
    """The records one of a task's `key_metrics` brings: its quantization delta and its score
    after K fine-tune steps (mean and t-interval half-width across seeds, bench_lib/train)."""
    register_quant_delta(name)
    unit, higher = metric(name).unit, metric(name).higher_is_better
    register(f"train_ft_{name}_mean", unit, higher, f"train: {label} after K fine-tune steps, mean over seeds")
    register(f"train_ft_{name}_ci95", unit, False,
             f"train: half-width of the 95% t-interval of {label} across seeds")


def with_intervals(records: Sequence, aggregate: Callable[[Sequence], dict[str, float]],
                   proportions: dict[str, Callable]) -> dict[str, float]:
    """aggregate(records) and, per metric, the ends of its 95% interval (metric_ci_low/_ci_high):
    Wilson for the metrics in `proportions` (each maps a record to its 0/1 outcome, or None when
    the record is outside the metric's subset), the percentile bootstrap over records for the rest."""
    values = aggregate(records)
    out = dict(values)
    rest = [name for name in values if name not in proportions]
    boot = intervals.bootstrap_many(records, lambda rs: {k: v for k, v in aggregate(rs).items() if k in rest}) \
        if rest else {}
    for name in values:
        if name in proportions:
            outcomes = [y for y in map(proportions[name], records) if y is not None]
            scale = 100.0 if metric(name).unit == "percent" else 1.0
            low, high = (scale * x for x in intervals.wilson(sum(outcomes), len(outcomes)))
        else:
            low, high = boot.get(name, (math.nan, math.nan))
        out.update(zip(interval_names(name), (low, high)))
    return out


# Inference speed and memory (definitions as in vLLM's benchmark_serving: TTFT includes the
# prefill, TPOT excludes the first token).
register("ttft_s", "seconds", False, "time to first token, median over requests")
register("tpot_s", "seconds", False, "time per output token after the first, median over requests")
register("e2e_latency_s", "seconds", False, "end-to-end latency per request, median")
register("output_tokens_per_s", "tokens/s", True, "generated tokens per second of wall time, whole batch")
register("output_tokens", "tokens", True, "tokens generated over the evaluated examples")
register("peak_rss_bytes", "bytes", False, "peak process resident set size during the workload")
register("cuda_max_allocated_bytes", "bytes", False, "torch.cuda.max_memory_allocated during the workload")
register("cuda_max_reserved_bytes", "bytes", False, "torch.cuda.max_memory_reserved during the workload")
# Device memory, energy and the roofline of every engine (bench_lib/measure: nvml, energy, roofline).
register("device_memory_bytes", "bytes", False, "peak device memory the engine's processes hold (NVML per process, else device used minus the baseline before load)")
register("energy_j_per_output_token", "J/token", False, "energy of the first measured pass / its output tokens (NVML total energy; RAPL on CPU)")
register("train_energy_j_per_step", "J/step", False, "train: energy of the measured steps / steps (NVML total energy; RAPL on CPU)")
register("decode_bytes_per_token", "bytes", False, "weights / concurrent sequences + KV cache at the mean context, per generated token")
register("decode_bytes_per_s", "bytes/s", True, "decode_bytes_per_token x output tokens/s (gpt-fast's achieved bandwidth, KV cache added)")
register("decode_mbu", "fraction", True, "decode_bytes_per_s / peak memory bandwidth (GPU datasheet; CPU: measured copy bandwidth)")
register("prefill_flops_per_s", "FLOP/s", True, "prompt FLOPs of a batch / its time to first token, median over batches")
register("prefill_mfu", "fraction", True, "prefill_flops_per_s / peak FLOP/s (GPU: dense 16-bit datasheet; CPU: measured matmul)")
# Quality against a reference model (bench_lib.quality; llama.cpp perplexity --kl-divergence definitions).
register("quality_kld_mean", "nats", False, "mean KL divergence per scored token, reference || test")
register("quality_kld_p99", "nats", False, "99th percentile of the per-token KL divergence")
register("quality_same_top_p", "fraction", True, "share of scored tokens where reference and test arg-max agree")
register("quality_ppl_ratio", "ratio", False, "PPL(test) / PPL(reference) on the scored tokens")
register("quality_ln_ppl_ratio", "nats", False, "ln(PPL(test) / PPL(reference))")
register("quality_rms_dp", "fraction", False, "RMS of p_test(next token) - p_reference(next token)")
# Serving under load (bench_lib/serve/client.py; definitions of vLLM's serving benchmark).
register("serve_completed", "requests", True, "serving: requests that produced their requested output (the fixed length, else >= 1 token)")
register("serve_failed", "requests", False, "serving: requests that failed, replied empty or short, timed out or were not sent in time")
register("serve_duration_s", "seconds", False, "serving: first request sent to last request finished")
register("serve_request_throughput", "requests/s", True, "serving: completed requests per second of benchmark duration")
register("serve_output_throughput", "tokens/s", True, "serving: output tokens of completed requests per second")
register("serve_total_token_throughput", "tokens/s", True, "serving: prompt plus output tokens per second")
register("serve_goodput", "requests/s", True, "serving: requests within every BENCH_SERVE_GOODPUT limit per second")
register("serve_ttft_mean_s", "seconds", False, "serving: time to first token, mean over requests")
register("serve_ttft_p50_s", "seconds", False, "serving: time to first token, median")
register("serve_ttft_p90_s", "seconds", False, "serving: time to first token, 90th percentile")
register("serve_ttft_p99_s", "seconds", False, "serving: time to first token, 99th percentile")
register("serve_tpot_mean_s", "seconds", False, "serving: (E2EL - TTFT) / (output tokens - 1), mean over requests")
register("serve_tpot_p50_s", "seconds", False, "serving: time per output token after the first, median")
register("serve_tpot_p90_s", "seconds", False, "serving: time per output token after the first, 90th percentile")
register("serve_tpot_p99_s", "seconds", False, "serving: time per output token after the first, 99th percentile")
register("serve_itl_mean_s", "seconds", False, "serving: gap between streamed chunks, mean over all gaps")
register("serve_itl_p50_s", "seconds", False, "serving: inter-token latency, median")
register("serve_itl_p90_s", "seconds", False, "serving: inter-token latency, 90th percentile")
register("serve_itl_p99_s", "seconds", False, "serving: inter-token latency, 99th percentile")
register("serve_e2el_mean_s", "seconds", False, "serving: end-to-end latency per request, mean")
register("serve_e2el_p50_s", "seconds", False, "serving: end-to-end latency per request, median")
register("serve_e2el_p90_s", "seconds", False, "serving: end-to-end latency per request, 90th percentile")
register("serve_e2el_p99_s", "seconds", False, "serving: end-to-end latency per request, 99th percentile")
register("serve_server_peak_rss_bytes", "bytes", False, "serving: sum of peak RSS of the server's processes, model load included")
# Serving from the scheduled send time, client lag, SLO search (bench_lib/serve/metrics.py, slo.py).
for _stat, _what in (("mean", "mean"), ("p50", "median"), ("p90", "90th percentile"), ("p99", "99th percentile")):
    register(f"serve_ttft_sched_{_stat}_s", "seconds", False, f"serving: time to first token from the scheduled send time, {_what}")
    register(f"serve_e2el_sched_{_stat}_s", "seconds", False, f"serving: end-to-end latency from the scheduled send time, {_what}")
register("serve_lag_p50_s", "seconds", False, "serving: client lag, actual minus scheduled send time, median")
register("serve_lag_p99_s", "seconds", False, "serving: client lag, actual minus scheduled send time, 99th percentile")
register("serve_slo_max_rate", "requests/s", True, "serving: highest request rate whose p99 TTFT and p99 TPOT meet BENCH_SERVE_SLO")
register("serve_slo_max_concurrency", "requests", True, "serving: highest concurrency whose p99 TTFT and p99 TPOT meet BENCH_SERVE_SLO")
# Train-step suite (bench_lib/train): one measured step, and a short fine-tune scored on the task.
register("train_step_s", "seconds", False, "train: forward + backward + optimizer step, median over measured steps")
register("train_tokens_per_s", "tokens/s", True, "train: batch × sequence length / step time (packed batches, no padding)")
register("train_trainable_params", "parameters", False, "train: trainable parameters (counted as peft's get_nb_trainable_parameters)")
register("train_total_params", "parameters", False, "train: all parameters, 4-bit weights counted unpacked, adapters included")
register("train_optimizer_state_bytes", "bytes", False, "train: bytes of every tensor in the optimizer state after a step")
register("train_saved_bytes", "bytes", False, "train: bytes on disk after save_pretrained (the adapter; the whole model for full)")
register("train_flops_per_s", "FLOP/s", True, "train: model FLOPs per step (PaLM counting, frozen weights at 4/token) / step time")
register("train_mfu", "fraction", True, "train: achieved FLOP/s / peak FLOP/s (GPU: dense 16-bit datasheet; CPU: measured matmul)")
register("train_dist_step_s", "seconds", False, "train, distributed: the slowest rank's median step time (DDP/FSDP)")
register("train_dist_tokens_per_s", "tokens/s", True, "train, distributed: tokens of all ranks' batches / the slowest rank's step time")
register("train_dist_max_rank_peak_rss_bytes", "bytes", False, "train, distributed: the largest peak RSS of one rank's process in a step")
register("train_dist_max_rank_cuda_allocated_bytes", "bytes", False, "train, distributed: the largest CUDA max allocated of one rank's GPU in a step")
register("train_ft_loss_mean", "nats/token", False, "train: fine-tune loss over the last fifth of K steps, mean over seeds")
register("train_ft_loss_ci95", "nats/token", False, "train: half-width of the 95% t-interval of train_ft_loss across seeds")
register("train_ft_first_loss_mean", "nats/token", False, "train: loss of the first fine-tune step, mean over seeds")
register("train_qlora_over_lora_allocated", "ratio", False, "train: QLoRA-nf4 / LoRA CUDA max allocated in one step (published ≈0.38)")
register("train_qlora_over_lora_reserved", "ratio", False, "train: QLoRA-nf4 / LoRA CUDA max reserved in one step")
register("train_vera_over_lora_allocated", "ratio", False, "train: VeRA r=512 / LoRA r=256 CUDA max allocated in one step (published ≈0.80)")
register("train_vera_over_lora_reserved", "ratio", False, "train: VeRA r=512 / LoRA r=256 CUDA max reserved in one step")
# Engines (llama.cpp / vLLM beside HF): parity and overhead checks, engines' own timings.
register("engines_parity_identical_fraction", "fraction", True, "engines: share of task prompts whose greedy ids equal HF's exactly")
register("engines_overhead_ratio", "ratio", True, "engines: suite decode tokens/s over a bare loop of the same engine, median of interleaved pairs (>= 0.98: the suite's generate path costs under 2% of the engine's speed)")
register("engines_suite_decode_tokens_per_s", "tokens/s", True, "engines: decode tokens/s (after the first token) through the suite's generate")
register("engines_bare_decode_tokens_per_s", "tokens/s", True, "engines: decode tokens/s of the engine's bare loop on the same model")
register("engines_own_prompt_tokens_per_s", "tokens/s", True, "engines: prompt tokens/s from the engine's own timers (llama.cpp t_p_eval)")
register("engines_own_decode_tokens_per_s", "tokens/s", True, "engines: decode tokens/s from the engine's own timers (llama.cpp t_eval)")
# Quantization suite (bench_lib/quant/cases.py); quality of a scheme uses the quality_* records.
register("quant_quantize_s", "seconds", False, "quant: time to build the quantized model, loading the source weights included")
register("quant_build_peak_rss_bytes", "bytes", False, "quant: peak process RSS while building the quantized model")
register("quant_build_rss_increase_bytes", "bytes", False, "quant: peak RSS while building minus RSS before it")
register("quant_build_cuda_max_allocated_bytes", "bytes", False, "quant: torch.cuda.max_memory_allocated while building")
register("quant_weight_bytes", "bytes", False, "quant: bytes of all stored weights, scales and zero points included")
register("quant_bits_per_weight", "bits", False, "quant: 8 * weight bytes / parameters of the unquantized model")
register("quant_decode_tokens_per_s", "tokens/s", True, "quant: 1 / median time per output token, batch 1, on the scheme's engine")
# KV-cache quantization and speculative decoding (bench_lib/kvspec).
register("kvspec_cache_bytes", "bytes", False, "kvspec: KV-cache bytes at the context length, from shapes and dtypes (data, scales, zero points, residual)")
register("kvspec_cache_bytes_engine", "bytes", False, "kvspec: KV-cache bytes the engine itself holds/reports (HF: stored tensors; llama.cpp: its KV buffer)")
register("kvspec_decode_tokens_per_s", "tokens/s", True, "kvspec: decode tokens/s after a prefill to the context length (first token excluded), median over runs")
register("kvspec_prefill_s", "seconds", False, "kvspec: prefill time (start to first token) at the context length, median over runs")
register("kvspec_greedy_agreement", "fraction", True, "kvspec: share of the full-precision cache's greedy tokens reproduced before the first difference")
register("kvspec_acceptance_rate", "fraction", True, "kvspec: accepted / drafted tokens (vLLM's definition)")
register("kvspec_acceptance_length", "tokens", True, "kvspec: 1 + accepted tokens / drafts, tokens per verification step (vLLM's mean acceptance length)")
register("kvspec_acceptance_pos1", "fraction", True, "kvspec: drafts whose 1st proposed token was accepted / drafts")
register("kvspec_acceptance_pos2", "fraction", True, "kvspec: drafts whose 2nd proposed token was accepted / drafts")
register("kvspec_acceptance_pos3", "fraction", True, "kvspec: drafts whose 3rd proposed token was accepted / drafts")
register("kvspec_acceptance_pos4", "fraction", True, "kvspec: drafts whose 4th proposed token was accepted / drafts")
register("kvspec_target_passes", "passes", False, "kvspec: target-model forward passes over the prompts (plain greedy: one per token)")
register("kvspec_drafted_tokens", "tokens", False, "kvspec: tokens proposed to the target over the prompts")
register("kvspec_speedup", "ratio", True, "kvspec: plain greedy wall time / speculative wall time, same prompts interleaved, median over repeats")
register("kvspec_plain_tokens_per_s", "tokens/s", True, "kvspec: plain greedy tokens/s measured alongside the speculative runs")
register("kvspec_spec_tokens_per_s", "tokens/s", True, "kvspec: speculative tokens/s on the same prompts")
register("kvspec_greedy_exact", "fraction", True, "kvspec: 1 when greedy speculative output equals plain greedy on every prompt (a mismatch fails the benchmark)")
register("quant_kld_vs_own_fp", "nats", False, "quant: mean KLD against the scheme's own fp model (QAT/PTQ: the same fine-tune without quantization)")
