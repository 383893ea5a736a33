"""The grid runner every area's case functions share: one combination after another, each
recorded as its result, the reason it was skipped, or its error, so one bad combination never
takes the others down."""
from __future__ import annotations

import traceback
from typing import Callable, Iterable

from bench_lib.engines.base import EngineUnavailable


def run_grid(fn: Callable[..., dict], combos: Iterable[tuple]) -> dict[tuple, dict]:
    """{combo: {"result": ...} | {"skip": reason} | {"error": message}} for each combo."""
    out = {}
    for combo in combos:
        try:
            out[combo] = {"result": fn(*combo)}
        except (EngineUnavailable, NotImplementedError) as exc:
            out[combo] = {"skip": str(exc)}
        except Exception as exc:  # recorded, not raised: the other combinations still run
            out[combo] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    return out
