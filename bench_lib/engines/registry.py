"""Engine name → module, imported only when asked for, so a missing optional package
skips only the benchmarks that need it."""
from __future__ import annotations

import importlib

from bench_lib.engines.base import Engine, EngineUnavailable

ENGINES = {
    "hf": "bench_lib.engines.hf",
    "llamacpp": "bench_lib.engines.llamacpp",
    "vllm": "bench_lib.engines.vllm",
}


def load_engine(name: str, model: str, device: str, dtype: str, **options) -> Engine:
    """Each engine module has `load(spec, device, dtype, **options) -> Engine`."""
    from bench_lib.models import get_spec

    if name not in ENGINES:
        raise KeyError(f"unknown engine {name!r}; known engines: {', '.join(ENGINES)}")
    try:
        module = importlib.import_module(ENGINES[name])
    except ImportError as exc:
        raise EngineUnavailable(f"engine {name!r} needs a package that is not installed: {exc}") from exc
    return module.load(get_spec(model), device, dtype, **options)
