"""Metrics of one serving load (bench_lib.serve.client), named as registered in bench_lib.metrics.

vLLM's definitions (vllm/benchmarks/serve.py, calculate_metrics):
- output tokens come from the server's `usage.completion_tokens` when it streams one, else from
  re-tokenizing the generated text with the model's tokenizer (vLLM's fallback);
- TPOT per request is (E2EL - TTFT) / (output tokens - 1), only for requests with > 1 token;
- goodput counts requests within every given limit, treating TPOT as 0 for one-token outputs;
- throughputs divide by the benchmark duration: from just before the first request is sent
  until the last one has finished.
Additions (not in vLLM): TTFT and E2EL from each request's scheduled send time (`*_sched_*`),
and the client's lag (actual - scheduled send time, p50/p99). Percentiles of an empty set are
NaN where vLLM reports 0; goodput is NaN when no limit is given. A request that did not produce
its requested output (serve.check_output_length) is a failure and is in no metric but `failed`.
"""
from __future__ import annotations

import math

import numpy as np

from bench_lib.serve import client as serve

PERCENTILES = (50, 90, 99)


def _stats(prefix: str, values: list[float], percentiles=PERCENTILES, mean: bool = True) -> dict[str, float]:
    # vLLM reports 0 for an empty list (np.mean(x or 0)); NaN says "not measured" honestly.
    arr = np.asarray(values, dtype=float)
    out = {f"{prefix}_mean_s": float(arr.mean()) if len(arr) else math.nan} if mean else {}
    out.update({f"{prefix}_p{p}_s": float(np.percentile(arr, p)) if len(arr) else math.nan for p in percentiles})
    return out


def serving_metrics(run: serve.LoadRun, tokenizer=None, goodput_limits_s: dict[str, float] | None = None) -> dict[str, float]:
    """goodput_limits_s: any of {"ttft", "tpot", "e2el"} in seconds; none: goodput is not measured."""
    unknown = set(goodput_limits_s or {}) - {"ttft", "tpot", "e2el"}
    if unknown:
        raise ValueError(f"unknown goodput limit(s) {sorted(unknown)}; use ttft, tpot and/or e2el (seconds)")
    ttfts, tpots, itls, e2els, good = [], [], [], [], 0
    ttft_sched, e2el_sched, lags = [], [], []
    total_in = total_out = completed = 0
    for out in run.outputs:
        if not out.success:
            continue
        n = serve.count_output_tokens(out, tokenizer)
        tpot = (out.latency - out.ttft) / (n - 1) if n > 1 else 0.0
        if n > 1:
            tpots.append(tpot)
        ttfts.append(out.ttft)
        e2els.append(out.latency)
        itls.extend(out.itl)
        ttft_sched.append(out.ttft + out.lag)
        e2el_sched.append(out.latency + out.lag)
        lags.append(out.lag)
        total_in += out.prompt_len
        total_out += n
        completed += 1
        measured = {"ttft": out.ttft, "tpot": tpot, "e2el": out.latency}
        if goodput_limits_s and all(measured[k] <= v for k, v in goodput_limits_s.items()):
            good += 1
    dur = run.duration_s
    values = {"serve_completed": float(completed), "serve_failed": float(len(run.outputs) - completed),
              "serve_duration_s": dur,
              "serve_request_throughput": completed / dur, "serve_output_throughput": total_out / dur,
              "serve_total_token_throughput": (total_in + total_out) / dur,
              "serve_goodput": good / dur if goodput_limits_s else math.nan}
    for prefix, vals in (("serve_ttft", ttfts), ("serve_tpot", tpots), ("serve_itl", itls), ("serve_e2el", e2els),
                         ("serve_ttft_sched", ttft_sched), ("serve_e2el_sched", e2el_sched)):
        values.update(_stats(prefix, vals))
    values.update(_stats("serve_lag", lags, percentiles=(50, 99), mean=False))
    return values


def failures(run: serve.LoadRun, limit: int = 5) -> list[str]:
    return [f"request {i}: {o.error}" for i, o in enumerate(run.outputs) if not o.success][:limit]
