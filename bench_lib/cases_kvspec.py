"""Case functions of the KV-cache and speculative-decoding suites; asv classes
(benchmarks/bench_kvcache.py, bench_speculative.py), tests and `llm-bench kvspec` call these.

Every grid records per combination a result, a skip reason or an error (cases.run_grid).
"""
from __future__ import annotations

import functools
import statistics

from bench_lib import cases, config
from bench_lib.models import get_spec

# Tokens in the cache at the end of a decode run ("context"), and decoded tokens per run.
KV_CONTEXTS = (256, 1024)
KV_DECODE_TOKENS = 32
# Scored tokens per context and tier: quality.py scores the second half of each window, so a
# context of c gives c/2 per window; smoke stays above the 100 llama.cpp asks for.
KV_SCORED_TOKENS = {"smoke": 256, "regular": 2048, "full": 8192}


def kv_windows(context: int, profile_name: str) -> int:
    return max(1, -(-KV_SCORED_TOKENS[profile_name] // (context // 2)))


@functools.lru_cache(maxsize=2)
def _model(model: str, device: str, dtype: str):
    from bench_lib.models import load_model

    config.apply_threads()
    return load_model(get_spec(model), device, dtype)


def _settings():
    dev = config.device()
    return dev, config.dtype_name(dev), config.profile()


# --- KV cache ---------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _kv_reference(model: str, context: int, device: str, dtype: str, n_windows: int):
    from bench_lib import quality
    from bench_lib.kvspec import kvcache

    windows = quality.evaluation_windows(cases.tokenizer_for(model), context, n_windows)
    return quality.reference_logprobs(kvcache.decode_logits_fn(_model(model, device, dtype), "dynamic"), windows)


@functools.lru_cache(maxsize=4)
def _kv_reference_greedy(model: str, context: int, device: str, dtype: str) -> tuple[int, ...]:
    from bench_lib.kvspec import kvdecode

    run = kvdecode.decode_run(_model(model, device, dtype), cases.tokenizer_for(model), "dynamic", context,
                              KV_DECODE_TOKENS, device)
    return tuple(run.token_ids)


def kv_cache_result(model: str, kv_type: str, context: int, engine: str = "hf") -> dict:
    """Cache bytes, decode speed, peak memory and quality against the full-precision cache of one
    KV-cache type at one context length."""
    if engine != "hf":
        from bench_lib.kvspec import kvcache_llamacpp

        return kvcache_llamacpp.kv_cache_result(model, kv_type, context)
    from bench_lib import quality
    from bench_lib.kvspec import kvcache, kvdecode

    device, dtype, prof = _settings()
    spec = get_spec(model)
    kvcache.kv_config(kv_type)  # skips here when the backend's package is missing
    lm, tok = _model(model, device, dtype), cases.tokenizer_for(model)
    speed = kvdecode.measure_decode(lm, tok, kv_type, context, KV_DECODE_TOKENS, device, prof.repeats, prof.warmup)
    reference = _kv_reference_greedy(model, context, device, dtype)
    metrics = dict(speed["metrics"])
    metrics["kvspec_greedy_agreement"] = kvdecode.prefix_agreement(reference, speed["token_ids"])
    if spec.real_weights:
        ref = _kv_reference(model, context, device, dtype, kv_windows(context, prof.name))
        stats = quality.compare(ref, kvcache.decode_logits_fn(lm, kv_type))
        metrics.update(stats.as_metrics())
    return {"metrics": metrics, "spreads": speed["spreads"], "model": model, "kv_type": kv_type,
            "context": context, "engine": engine, "device": device, "dtype": dtype, "profile": prof.name}


def kv_task_result(model: str, kv_type: str, task: str, engine: str = "hf") -> dict:
    """The task metric of generation through a KV-cache type (the embedded prompts are short, so
    this is the short-context end of the quality picture)."""
    from bench_lib.engines.hf import load as load_hf
    from bench_lib.kvspec import kvcache
    from bench_lib.tasks import get_task
    from bench_lib.workloads.generate import measure_generation

    if engine != "hf":
        raise NotImplementedError(f"the KV-cache task metric is measured on the hf engine only, not {engine!r}")
    device, dtype, prof = _settings()
    spec = get_spec(model)
    if not spec.real_weights:
        raise NotImplementedError(f"{model} has random weights: a task metric would be meaningless")
    eng = load_hf(spec, device, dtype, model=_model(model, device, dtype), **kvcache.generate_kwargs(kv_type))
    t = get_task(task)
    out = measure_generation(eng, cases.tokenizer_for(model), t, cases.examples_for(task, prof.n_examples),
                             batch_size=1, repeats=1, warmup=0)
    return {"metrics": {k: out["metrics"][k] for k in t.metric_names}, "texts": out["texts"]}


def kv_grid(models, kv_types, contexts, engine: str = "hf") -> dict:
    combos = [(m, k, c, engine) for m in models for k in kv_types for c in contexts]
    return {(m, k, c): v for (m, k, c, _), v in cases.run_grid(kv_cache_result, combos).items()}


def kv_task_grid(models, kv_types, tasks) -> dict:
    combos = [(m, k, t) for m in models for k in kv_types for t in tasks]
    return cases.run_grid(kv_task_result, combos)
