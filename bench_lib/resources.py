"""Cached loaders every area's case functions share: an engine (one model in memory at a time,
since a grid walks model by model), tokenizers and task examples."""
from __future__ import annotations

import functools

from bench_lib import config
from bench_lib.models import get_spec


@functools.lru_cache(maxsize=1)  # one model in memory at a time; a grid walks model by model
def engine_for(engine: str, model: str, device: str, dtype: str):
    from bench_lib.engines.registry import load_engine
    from bench_lib.measure import nvml

    config.apply_threads()
    nvml.record_baseline(device)  # before the first load: the fallback for NVML's device total
    return load_engine(engine, model, device, dtype)


@functools.lru_cache(maxsize=8)
def tokenizer_for(model: str):
    from bench_lib.models import load_tokenizer

    return load_tokenizer(get_spec(model))


@functools.lru_cache(maxsize=16)
def examples_for(task: str, n: int, split: str = "test"):
    from bench_lib.tasks.loading import load_examples

    return tuple(load_examples(task, split, limit=n))
