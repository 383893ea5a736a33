"""Cached loaders every area's case functions share: the engine, tokenizers and task examples.

One engine is held at a time, whatever area asked for it: a grid walks model by model, and two
models in memory would inflate every memory figure after the first. Asking for another engine
(another engine name, model, device, dtype or option) closes the held one first; `release()`
closes it before work that loads a model outside this cache (a quantization build)."""
from __future__ import annotations

import functools

from bench_lib import config
from bench_lib.models import ModelSpec

_held: tuple[tuple, object] | None = None  # (key, engine)


def engine(name: str, spec: ModelSpec, device: str, dtype: str, **options):
    """Engine `name` on `spec`, loaded once and reused while nothing else is asked for. `options`
    go to the engine's load (a GGUF path, n_ctx, an already built model to run) and are part of the
    key; they are compared, not hashed, so a model object or a list may be one."""
    global _held
    key = (name, spec, device, dtype, sorted(options.items()))
    if _held is not None and _held[0] == key:
        return _held[1]
    release()
    from bench_lib.engines.registry import load_engine
    from bench_lib.measure import nvml

    config.apply_threads()
    nvml.record_baseline(device)  # before the first load: the fallback for NVML's device total
    loaded = load_engine(name, spec, device, dtype, **options)
    _held = (key, loaded)
    return loaded


def release() -> None:
    """Close the held engine (its model, server or GGUF context) and forget it."""
    global _held
    if _held is None:
        return
    held, _held = _held[1], None
    held.close()
    import gc

    gc.collect()


@functools.lru_cache(maxsize=8)
def tokenizer_for(spec: ModelSpec):
    from bench_lib.models import load_tokenizer

    return load_tokenizer(spec)


@functools.lru_cache(maxsize=16)
def examples_for(task: str, n: int, split: str = "test"):
    from bench_lib.tasks.loading import load_examples

    return tuple(load_examples(task, split, limit=n))
