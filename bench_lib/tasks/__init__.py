"""Task registry: name → module implementing the protocol in `base.py`."""
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
