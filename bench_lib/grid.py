"""The grid runner every area's case functions share: one combination after another, each
recorded as its result, the reason it was skipped, or its error, so one bad combination never
takes the others down."""
from __future__ import annotations

import time
import traceback
from typing import Callable, Iterable

from bench_lib.engines.base import EngineUnavailable
from bench_lib.formatting import progress


def run_grid(fn: Callable[..., dict], combos: Iterable[tuple], what: str | None = None) -> dict[tuple, dict]:
    """{combo: {"result": ...} | {"skip": reason} | {"error": message}} for each combo. With `what`,
    one progress line per combo on stderr (count, elapsed, time left)."""
    out = {}
    combos = list(combos)
    started = time.monotonic()
    for i, combo in enumerate(combos, 1):
        if what:
            progress(i, len(combos), started, f"{what} {', '.join(map(str, combo))}")
        try:
            out[combo] = {"result": fn(*combo)}
        except (EngineUnavailable, NotImplementedError) as exc:
            out[combo] = {"skip": str(exc)}
        except Exception as exc:  # recorded, not raised: the other combinations still run
            out[combo] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    return out
