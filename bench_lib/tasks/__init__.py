"""Task registry: name → module implementing the protocol in `base.py`. Every list of tasks
elsewhere (config's default BENCH_TASKS, the per-task asv classes, report headlines, parity
prompts) is read from here, and each task module registers its own metric records when it is
imported, so a task is its module, its fixture entry and its data files. Modules are imported
when first asked for (`get_task`, or `load_all` when a metric lookup misses)."""
from __future__ import annotations

import importlib
from types import ModuleType

TASKS = {
    "arc": "bench_lib.tasks.arc",
    "squad": "bench_lib.tasks.squad",
    "openmath": "bench_lib.tasks.openmath",
}


def get_task(name: str) -> ModuleType:
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)} (set BENCH_TASKS to a comma-separated subset)")
    return importlib.import_module(TASKS[name])


def load_all() -> None:
    """Import every registered task module, which registers its metric records."""
    for name in TASKS:
        get_task(name)


def task_names() -> tuple[str, ...]:
    """Every registered task, in registry order."""
    return tuple(TASKS)


def headline_metrics() -> dict[str, str]:
    """task → the metric reports judge it by."""
    return {name: get_task(name).headline_metric for name in TASKS}
