"""Cached loaders every area's case functions share: the engine, bare HF models, tokenizers and
task examples.

One loaded thing is held at a time, whatever area asked for it: a grid walks model by model, and
two models in memory would inflate every memory figure after the first. Asking for another engine
(another engine name, model, device, dtype or option) or other bare models closes the held one
first; `release()` closes it before work that loads a model outside this cache (a quantization
build). A target and its draft are one request (`hf_models`), so they are held together."""
from __future__ import annotations

import functools

from bench_lib import config
from bench_lib.models import ModelSpec

_held: tuple[tuple, object] | None = None  # (key, engine)


def _hold(key: tuple, device: str, load):
    """The held object if it was loaded for `key`, else the held one closed and `load()`'s result."""
    global _held
    if _held is not None and _held[0] == key:
        return _held[1]
    release()
    from bench_lib.measure import nvml

    config.apply_threads()
    nvml.record_baseline(device)  # before the first load: the fallback for NVML's device total
    loaded = load()
    _held = (key, loaded)
    return loaded


def engine(name: str, spec: ModelSpec, device: str, dtype: str, **options):
    """Engine `name` on `spec`, loaded once and reused while nothing else is asked for. `options`
    go to the engine's load (a GGUF path, n_ctx, an already built model to run) and are part of the
    key; they are compared, not hashed, so a model object or a list may be one."""
    from bench_lib.engines.registry import load_engine

    return _hold((name, spec, device, dtype, sorted(options.items())), device,
                 lambda: load_engine(name, spec, device, dtype, **options))


class _Models:
    """Bare HF models held in the engine's place (what KV-cache and speculative backends drive)."""

    def __init__(self, models: tuple):
        self.models = models

    def close(self) -> None:
        self.models = ()


def hf_models(specs: tuple[ModelSpec, ...], device: str, dtype: str) -> tuple:
    """The transformers models of `specs` (a target, or a target and its draft), loaded together."""
    from bench_lib.models import load_model

    return _hold(("hf-models", specs, device, dtype), device,
                 lambda: _Models(tuple(load_model(s, device, dtype) for s in specs))).models


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
