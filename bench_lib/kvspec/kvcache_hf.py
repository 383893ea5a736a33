"""The KV-cache backend of the HF engine: transformers' quantized caches (kvspec/kvcache.py)
measured against the model's own DynamicCache on the same tokens."""
from __future__ import annotations

import functools

from bench_lib import resources
from bench_lib.grid import run_grid
from bench_lib.kvspec import kvcache, protocol
from bench_lib.kvspec.protocol import KV_DECODE_TOKENS, kv_windows
from bench_lib.models import ModelSpec, get_spec

KV_TYPES = tuple(kvcache.KV_TYPES)
REFERENCE = "dynamic"


def _model(spec: ModelSpec, device: str, dtype: str):
    """The transformers model of `spec`, from the shared cache."""
    return resources.hf_models((spec,), device, dtype)[0]


@functools.lru_cache(maxsize=4)
def _reference(spec: ModelSpec, context: int, device: str, dtype: str, n_windows: int):
    from bench_lib import quality

    windows = quality.evaluation_windows(resources.tokenizer_for(spec), context, n_windows)
    return quality.reference_logprobs(kvcache.decode_logits_fn(_model(spec, device, dtype), REFERENCE), windows)


@functools.lru_cache(maxsize=4)
def _reference_greedy(spec: ModelSpec, context: int, device: str, dtype: str) -> tuple[int, ...]:
    from bench_lib.kvspec import kvdecode

    run = kvdecode.decode_run(_model(spec, device, dtype), resources.tokenizer_for(spec), REFERENCE, context,
                              KV_DECODE_TOKENS, device)
    return tuple(run.token_ids)


def kv_cache_result(model: str, kv_type: str, context: int) -> dict:
    """Cache bytes, decode speed, peak memory and quality against the full-precision cache of one
    KV-cache type at one context length."""
    from bench_lib import quality
    from bench_lib.kvspec import kvdecode

    device, dtype, prof = protocol.settings()
    spec = get_spec(model)  # the grid's name, resolved once for everything below
    kvcache.kv_config(kv_type)  # skips here when the backend's package is missing
    lm, tok = _model(spec, device, dtype), resources.tokenizer_for(spec)
    speed = kvdecode.measure_decode(lm, tok, kv_type, context, KV_DECODE_TOKENS, device, prof.repeats, prof.warmup)
    reference = _reference_greedy(spec, context, device, dtype)
    metrics = dict(speed["metrics"])
    metrics["kvspec_greedy_agreement"] = kvdecode.prefix_agreement(reference, speed["token_ids"])
    if spec.real_weights:
        ref = _reference(spec, context, device, dtype, kv_windows(context, prof.name))
        stats = quality.compare(ref, kvcache.decode_logits_fn(lm, kv_type))
        metrics.update(stats.as_metrics())
    return {"metrics": metrics, "spreads": speed["spreads"], "model": model, "kv_type": kv_type,
            "context": context, "engine": "hf", "device": device, "dtype": dtype, "profile": prof.name}


def task_run(spec: ModelSpec, kv_type: str, task: str) -> dict:
    """Greedy generation on the task's test prompts (batch 1) through `model.generate` with a
    fresh cache of this type per call, the unquantized one too, so that only the cache differs:
    measure_generation's result (metrics with intervals, the answers' texts)."""
    from bench_lib.engines.hf import load as load_hf
    from bench_lib.tasks import get_task
    from bench_lib.workloads.generate import measure_generation

    device, dtype, prof = protocol.settings()
    spec.require_real_weights("a task metric")
    eng = load_hf(spec, device, dtype, loop="generate", model=_model(spec, device, dtype),
                  **kvcache.generate_kwargs(kv_type))
    return measure_generation(eng, resources.tokenizer_for(spec), get_task(task),
                              resources.examples_for(task, prof.n_examples), batch_size=1, repeats=1, warmup=0)


def grid(models, kv_types, contexts) -> dict:
    return run_grid(kv_cache_result, [(m, k, c) for m in models for k in kv_types for c in contexts])
