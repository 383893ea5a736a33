"""How the command tables, the summary and the alerts print values.

One missing-value mark, one way of scaling a metric unit to what a reader compares (bytes as
MiB, seconds as milliseconds), and one way of showing a grid entry that has no result (its
reason goes in a note under the table, so the cell stays short).
"""
from __future__ import annotations

import math
import sys
import time
from typing import Callable

MISSING = "n/a"     # a value that was not measured (None) or could not be (NaN)
MIB = 2.0 ** -20    # scale: bytes → MiB
KIB = 2.0 ** -10    # scale: bytes → KiB
MS = 1e3            # scale: seconds → milliseconds


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value, spec: str = ".4g", scale: float = 1.0) -> str:
    """`value * scale` formatted with `spec`; MISSING for None or NaN."""
    return MISSING if is_missing(value) else format(value * scale, spec)


def quantity(value, unit: str) -> str:
    """A value with its metric unit (`Metric.unit`): bytes as MiB, seconds as ms, usd as $."""
    if is_missing(value):
        return MISSING
    if unit == "bytes":
        return f"{number(value, '.1f', MIB)} MiB"
    if unit == "seconds":
        return f"{number(value, '.4g', MS)} ms"
    if unit == "usd":
        return f"${value:.4g}"
    return f"{value:.4g} {unit}".strip()


def status(entry: dict, limit: int | None = None) -> str | None:
    """'skipped: <reason>' or 'failed: <first line of the error>' for a grid entry without a
    result (`grid.run_grid`), cut to `limit` characters if given; None for an entry with a result."""
    if "result" in entry:
        return None
    if "skip" in entry:
        text = f"skipped: {entry['skip']}"
    else:
        text = f"failed: {(str(entry.get('error', '')).splitlines() or [''])[0]}"
    return text[:limit]


def cell(entry: dict, show: Callable[[dict], str]) -> str:
    """A grid entry as one table cell: `show(metrics)` for a result, else 'skipped' or 'failed'."""
    if "result" in entry:
        return show(entry["result"]["metrics"])
    return "skipped" if "skip" in entry else "failed"


def progress(step: int, total: int, started: float, what: str) -> None:
    """One progress line on stderr as step `step` of `total` begins: the elapsed time and, from
    the second step on, the time left at the pace of the steps done (started: time.monotonic())."""
    elapsed = time.monotonic() - started
    left = f", about {elapsed / (step - 1) * (total - step + 1):.0f} s left" if step > 1 else ""
    print(f"[{step}/{total}] {what} ({elapsed:.0f} s elapsed{left})", file=sys.stderr, flush=True)
