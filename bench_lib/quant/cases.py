"""Case functions of the quantization suite, shared by asv (benchmarks/bench_quant.py), pytest and
the CLI. Per model × scheme: what building the quantized model cost, how big it is, how far its
next-token distribution is from the unquantized model's (bench_lib.quality, llama.cpp's
statistics, the same reference logits and tokens for HF-side and GGUF schemes), what it does to
each task's score, and how fast it decodes on its own engine.
"""
from __future__ import annotations

import functools
import math
import statistics

from bench_lib import config, quality, resources
from bench_lib.grid import run_grid
from bench_lib.models import ModelSpec, get_spec
from bench_lib.resources import examples_for, tokenizer_for
from bench_lib.tasks import get_task, task_names

# Calibration / QAT training windows: train split, disjoint from the evaluation text.
CALIBRATION = {"smoke": (128, 8), "regular": (256, 32), "full": (512, 128)}
TRAIN_STEPS = {"smoke": 20, "regular": 100, "full": 300}


def context(spec: ModelSpec):
    from bench_lib.quant.base import Context

    device, prof = config.device(), config.profile()
    n_ctx, n = CALIBRATION[prof.name]
    windows = quality.evaluation_windows(tokenizer_for(spec), n_ctx, n, split="train")
    return Context(device, config.dtype_name(device), windows, TRAIN_STEPS[prof.name])


def _identity(spec: ModelSpec) -> str:
    """Part of every in-process cache key: a model rewritten on disk mid-run is a new model."""
    from bench_lib.quant.cache import _model_identity

    return repr(_model_identity(spec))


def reference(spec: ModelSpec) -> quality.Reference:
    """Log-probs of the unquantized model (the run's device and dtype) on the evaluation windows."""
    return _reference(spec, _identity(spec))


@functools.lru_cache(maxsize=2)
def _reference(spec: ModelSpec, identity: str) -> quality.Reference:
    from bench_lib.models import load_model

    device = config.device()
    ref_model = load_model(spec, device, config.dtype_name(device))
    ref = quality.reference_logprobs(quality.hf_logits_fn(ref_model), quality.evaluation_windows(tokenizer_for(spec)))
    del ref_model
    return ref


def engine_of(q, spec: ModelSpec):
    """The engine the scheme runs on, holding the quantized model, from the shared cache (which
    closes whatever engine it held); it also yields the logits. resources.release() closes it."""
    device, dtype = config.device(), config.dtype_name()
    if q.engine == "llamacpp":
        return resources.engine("llamacpp", spec, device, dtype, gguf_path=q.path, n_ctx=2048, logits_all=True)
    return resources.engine("hf", spec, device, dtype, model=q.model)


def logits_fn(q, engine):
    return quality.llamacpp_logits_fn(engine.llm) if q.engine == "llamacpp" else quality.hf_logits_fn(q.model)


def task_runs(engine, spec: ModelSpec) -> dict:
    """One greedy pass over each task's test prompts at batch size 1: the task's scores, and
    per-request timings for the decode speed. Greedy decoding is deterministic, so one pass scores."""
    from bench_lib.workloads.generate import measure_generation

    n = config.profile().n_examples
    return {t: measure_generation(engine, tokenizer_for(spec), get_task(t), examples_for(t, n), 1, repeats=1, warmup=1)
            for t in config.task_names()}


def baseline_tasks(spec: ModelSpec) -> dict:
    """Task scores of the unquantized model, measured in this run: deltas are side by side."""
    return _baseline_tasks(spec, _identity(spec), config.task_names())


@functools.lru_cache(maxsize=2)
def _baseline_tasks(spec: ModelSpec, identity: str, tasks: tuple) -> dict:
    from bench_lib.quant.cache import get_or_build

    q, _ = get_or_build(spec, "none", context(spec))
    engine = engine_of(q, spec)
    try:
        return {t: {"metrics": r["metrics"], "texts": r["texts"]} for t, r in task_runs(engine, spec).items()}
    finally:
        resources.release()


def task_deltas(task: str, base_texts: list[str], texts: list[str]) -> dict[str, float]:
    """quant_delta_<metric> (quantized minus unquantized, same examples), the ends of its paired
    bootstrap 95% interval, and 1.0 where that interval excludes 0."""
    from bench_lib import intervals
    from bench_lib.tasks import get_task

    t = get_task(task)
    examples = examples_for(task, config.profile().n_examples)
    diff = intervals.paired_difference(t.records(base_texts, examples), t.records(texts, examples), t.aggregate)
    # a delta that is not a number (AbsDiff with nothing parsed) is left out: it reads as skipped
    kept = {n for n, d in diff.items() if f"quant_delta_{n}" in DELTA_METRICS and d["delta"] == d["delta"]}
    return intervals.delta_metrics("quant_delta_", diff, kept)


def _arc_loglik_records(model_obj, spec: ModelSpec) -> list[dict]:
    from bench_lib.workloads.loglik import arc_records

    return arc_records(model_obj, tokenizer_for(spec), examples_for("arc", config.profile().n_examples))


@functools.lru_cache(maxsize=2)
def _baseline_loglik(spec: ModelSpec, identity: str) -> list:
    from bench_lib.quant.cache import get_or_build

    q, _ = get_or_build(spec, "none", context(spec))
    return _arc_loglik_records(q.model, spec)


def calibration_metrics(q, spec: ModelSpec) -> dict[str, float]:
    """ARC by log-likelihood and the calibration of its choice probabilities (arc_loglik_*, with
    intervals) for a scheme that runs on the HF engine, and the shift from the unquantized model
    (quant_delta_arc_loglik_*, paired over the same questions). Empty for a GGUF scheme: its
    choice log-likelihoods would come from llama.cpp, which this case does not read."""
    from bench_lib import calibration, intervals, metrics

    if "arc" not in config.task_names() or q.engine != "hf" or q.model is None:
        return {}
    records = _arc_loglik_records(q.model, spec)
    out = metrics.with_intervals(records, calibration.aggregate, calibration.PROPORTIONS)
    diff = intervals.paired_difference(_baseline_loglik(spec, _identity(spec)), records, calibration.aggregate)
    out.update(intervals.delta_metrics("quant_delta_", diff))
    return out


def decode_tokens_per_s(runs: dict) -> float:
    """1 / median time per output token after the first, over every request of every task."""
    tpots = [m for r in runs.values() for m in [r["metrics"].get("tpot_s")] if m and not math.isnan(m)]
    return 1.0 / statistics.median(tpots) if tpots else math.nan


def scheme_result(model: str, scheme: str, with_tasks: bool = True) -> dict:
    from bench_lib.quant.cache import get_or_build

    spec = get_spec(model)
    if scheme != "none":
        spec.require_real_weights("quantization quality")
    q, record = get_or_build(spec, scheme, context(spec))
    ref = reference(spec)
    n_weights = reference_parameter_count(spec)
    engine = engine_of(q, spec)
    try:
        stats = quality.compare(ref, logits_fn(q, engine))
        metrics = {"quant_quantize_s": record.quantize_s, "quant_build_peak_rss_bytes": float(record.peak_rss_bytes),
                   "quant_build_rss_increase_bytes": float(record.peak_rss_delta_bytes),
                   "quant_weight_bytes": float(q.weight_bytes), "quant_bits_per_weight": 8.0 * q.weight_bytes / n_weights}
        if record.cuda_max_allocated_bytes is not None:
            metrics["quant_build_cuda_max_allocated_bytes"] = float(record.cuda_max_allocated_bytes)
        metrics.update(stats.as_metrics())
        own = own_reference(spec, scheme)
        if own is not None:
            metrics["quant_kld_vs_own_fp"] = quality.compare(own, logits_fn(q, engine)).kld_mean
        if with_tasks:
            runs = task_runs(engine, spec)
            metrics["quant_decode_tokens_per_s"] = decode_tokens_per_s(runs)
            base = baseline_tasks(spec)
            for task, run in runs.items():
                metrics.update(task_deltas(task, base[task]["texts"], run["texts"]))
            metrics.update(calibration_metrics(q, spec))
    finally:
        resources.release()
    return {"metrics": metrics, "kld": stats, "info": q.info, "engine": q.engine, "from_cache": record.from_cache,
            "model": model, "scheme": scheme, "device": config.device(), "profile": config.profile().name}


def own_reference(spec: ModelSpec, scheme: str) -> quality.Reference | None:
    """Schemes that change the weights before quantizing (QAT / PTQ after a fine-tune) say which fp
    model they would be without quantization; None for the others."""
    from bench_lib.quant.registry import scheme_module

    module, _ = scheme_module(scheme)
    return _own_reference(spec, module.__name__, _identity(spec)) if hasattr(module, "own_reference") else None


@functools.lru_cache(maxsize=2)
def _own_reference(spec: ModelSpec, module_name: str, identity: str) -> quality.Reference:
    import importlib

    fp = importlib.import_module(module_name).own_reference(spec, context(spec))
    return quality.reference_logprobs(quality.hf_logits_fn(fp), quality.evaluation_windows(tokenizer_for(spec)))


@functools.lru_cache(maxsize=2)
def reference_parameter_count(spec: ModelSpec) -> int:
    """Weights of the unquantized model: the denominator of bits per weight for every scheme."""
    import torch
    from transformers import AutoModelForCausalLM

    from bench_lib.models import load_config
    from bench_lib.quant.base import parameter_count

    with torch.device("meta"):
        return parameter_count(AutoModelForCausalLM.from_config(load_config(spec)))


# each registered task's key metrics, then ARC by log-likelihood
DELTA_METRICS = tuple(f"quant_delta_{m}" for t in task_names() for m in get_task(t).key_metrics) + (
    "quant_delta_arc_loglik_acc", "quant_delta_arc_loglik_acc_norm", "quant_delta_arc_loglik_ece",
    "quant_delta_arc_loglik_brier")


def scheme_names() -> list[str]:
    """BENCH_QUANT_SCHEMES (comma-separated), else one scheme per family in the smoke tier and
    every registered scheme in the others."""
    from bench_lib.quant.registry import SCHEMES, SMOKE_SCHEMES

    default = SMOKE_SCHEMES if config.profile().subset else SCHEMES
    return list(config.env_choices("BENCH_QUANT_SCHEMES", default, allowed=SCHEMES, what="scheme"))


def quant_grid(models, schemes, with_tasks: bool = True) -> dict:
    combos = [(m, s, with_tasks) for m in models for s in schemes]
    return {(m, s): v for (m, s, _), v in run_grid(scheme_result, combos).items()}
