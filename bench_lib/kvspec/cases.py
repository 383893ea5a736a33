"""Case functions of the KV-cache and speculative-decoding suites; asv classes
(benchmarks/bench_kvcache.py, bench_speculative.py), tests and `llm-bench kvspec` call these.

Each engine's work is a backend found through kvspec/registry.py; the sizes, drafts and the
plain-versus-speculative protocol they share live in kvspec/protocol.py.
Every grid records per combination a result, a skip reason or an error (grid.run_grid).
"""
from __future__ import annotations

from bench_lib.grid import run_grid
from bench_lib.kvspec import protocol, registry


def _unwrap(entry: dict) -> dict:
    """The result of a one-combination grid, or its skip / failure raised again."""
    if "skip" in entry:
        raise NotImplementedError(entry["skip"])
    if "error" in entry:
        raise RuntimeError(entry["error"])
    return entry["result"]


# --- KV cache ---------------------------------------------------------------------------------

def kv_types(engine: str) -> tuple[str, ...]:
    """The cache types an engine's backend measures."""
    return tuple(registry.kv_backend(engine).KV_TYPES)


def kv_grid(models, kv_types, contexts, engine: str = "hf") -> dict:
    """{(model, kv_type, context): result | skip | error} on one engine."""
    return registry.kv_backend(engine).grid(list(models), list(kv_types), list(contexts))


def kv_cache_result(model: str, kv_type: str, context: int, engine: str = "hf") -> dict:
    """Cache bytes, decode speed, peak memory and quality against the full-precision cache of one
    KV-cache type at one context length."""
    return _unwrap(kv_grid([model], [kv_type], [context], engine)[(model, kv_type, context)])


def kv_task_result(model: str, kv_type: str, task: str, engine: str = "hf") -> dict:
    """The task metric of generation through a KV-cache type (the embedded prompts are short, so
    this is the short-context end of the quality picture)."""
    from bench_lib.kvspec import kvcache_hf
    from bench_lib.metrics import interval_names
    from bench_lib.models import get_spec
    from bench_lib.tasks import get_task

    if engine != "hf":
        raise NotImplementedError(f"the KV-cache task metric is measured on the hf engine only, not {engine!r}")
    out = kvcache_hf.task_run(get_spec(model), kv_type, task)
    keys = [key for name in get_task(task).metric_names for key in (name, *interval_names(name))]
    return {"metrics": {k: out["metrics"][k] for k in keys}, "texts": out["texts"]}


def kv_task_grid(models, kv_types, tasks) -> dict:
    combos = [(m, k, t) for m in models for k in kv_types for t in tasks]
    return run_grid(kv_task_result, combos)


# --- speculative decoding ----------------------------------------------------------------------

def spec_methods(engine: str) -> tuple[str, ...]:
    """The speculative methods an engine's backend runs."""
    return tuple(registry.spec_backend(engine).METHODS)


def speculative_result(model: str, method: str, task: str, engine: str = "hf", n_prompts: int | None = None) -> dict:
    """Acceptance statistics, exactness and speedup of one method on a task's prompts, in this
    process (kvspec/protocol.py: compare_with_plain)."""
    return protocol.speculative_result(registry.spec_backend(engine).make_runner, engine, model, method, task,
                                       n_prompts)


def speculative_grid(models, methods, tasks, engine: str = "hf", n_prompts: int | None = None) -> dict:
    """{(model, method, task): result | skip | error} on one engine."""
    return registry.spec_backend(engine).grid(list(models), list(methods), list(tasks), n_prompts)
