"""Engine name → module, imported only when asked for, so a missing optional package
skips only the benchmarks that need it."""
from __future__ import annotations

import importlib

from bench_lib.engines.base import Engine, EngineUnavailable
from bench_lib.models import ModelSpec

ENGINES = {
    "hf": "bench_lib.engines.hf",
    "hf-generate": "bench_lib.engines.hf:load_generate",
    "llamacpp": "bench_lib.engines.llamacpp",
    "vllm": "bench_lib.engines.vllm",
}


def load_engine(name: str, spec: ModelSpec, device: str, dtype: str, **options) -> Engine:
    """Each entry is a module with `load(spec, device, dtype, **options) -> Engine`, or
    "module:function" for a variant of an engine (hf-generate: the HF engine through `generate`).
    Case functions go through resources.engine, which holds one loaded engine at a time."""
    if name not in ENGINES:
        raise KeyError(f"unknown engine {name!r}; known engines: {', '.join(ENGINES)}")
    try:
        path, _, function = ENGINES[name].partition(":")
        module = importlib.import_module(path)
    except ImportError as exc:
        raise EngineUnavailable(f"engine {name!r} needs a package that is not installed: {exc}") from exc
    return getattr(module, function or "load")(spec, device, dtype, **options)
