"""SLO search: the highest load (request rate, or concurrency) whose p99 TTFT and p99 TPOT stay
within given limits, as `vllm bench sweep serve_sla` and GuideLLM's sweep answer it.

A coarse sweep runs the given loads in rising order until one fails the SLO (or the server
saturates: throughput stops rising while latency rises); then bisection between the last
passing and the first failing load (geometric midpoints for rates, integer ones for
concurrency) until they are within `rel_tol` of each other (concurrency: adjacent), or
`max_bisect` steps or the time budget are spent. Every step is one bounded load (its request
count and time limit are the measuring function's). A step that raises (the server died) ends
the search with that reason; the steps before it are kept.

A load passes when every request succeeded and p99 TTFT (from the scheduled send time: a client
that falls behind counts against the server, as a user would feel it) and p99 TPOT are within
the limits. The found load is the highest passing one; 0 when even the first load failed.
"""
from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

TTFT_KEY, TPOT_KEY = "serve_ttft_sched_p99_s", "serve_tpot_p99_s"


def plot_dir() -> Path:
    """Where the SLO search writes its plots and tables (`llm-bench report` copies the plots)."""
    from bench_lib import config

    return config.cache_dir() / "serve-slo"


def copy_plots(out_dir: Path) -> list[str]:
    """The SLO search plots, copied next to the report page; their file names."""
    src = plot_dir()
    names = []
    for png in sorted(src.glob("*.png")) if src.is_dir() else []:
        shutil.copyfile(png, out_dir / f"serve-slo-{png.name}")
        names.append(f"serve-slo-{png.name}")
    return names


@dataclass
class Step:
    load: float
    phase: str              # "coarse" | "bisect"
    metrics: dict
    passed: bool
    reason: str             # why it failed the SLO, "" when it passed


@dataclass
class SearchResult:
    kind: str               # "rate" | "concurrency"
    limits_s: dict
    steps: list[Step] = field(default_factory=list)
    found: float = 0.0
    first_failing: float | None = None
    stop: str = ""          # why the search ended


def check(metrics: dict, limits_s: dict) -> tuple[bool, str]:
    """(passed, reason) of one load's metrics against {"ttft": s, "tpot": s} p99 limits."""
    if metrics.get("serve_failed", 0) > 0:
        return False, f"{metrics['serve_failed']:.0f} requests failed"
    why = []
    for key, metric in (("ttft", TTFT_KEY), ("tpot", TPOT_KEY)):
        if key in limits_s:
            value = metrics.get(metric, math.nan)
            if not value <= limits_s[key]:  # NaN (not measured) fails too
                why.append(f"p99 {key.upper()} {value * 1e3:.1f} ms > {limits_s[key] * 1e3:g} ms")
    return not why, "; ".join(why)


def saturated(prev: Step, cur: Step, min_gain: float = 1.1) -> bool:
    """Throughput rose by less than `min_gain`x while p50 TTFT rose: more load only queues."""
    t0, t1 = prev.metrics.get("serve_request_throughput", 0), cur.metrics.get("serve_request_throughput", 0)
    l0, l1 = prev.metrics.get("serve_ttft_sched_p50_s", 0), cur.metrics.get("serve_ttft_sched_p50_s", 0)
    return t1 < t0 * min_gain and l1 > l0


def search(measure: Callable[[float], dict], coarse: Sequence[float], limits_s: dict, kind: str = "rate", *,
           max_bisect: int = 4, rel_tol: float = 0.1, budget_s: float = 600.0) -> SearchResult:
    if kind not in ("rate", "concurrency"):
        raise ValueError(f"SLO search kind {kind!r}: use rate or concurrency")
    if not set(limits_s) & {"ttft", "tpot"} or set(limits_s) - {"ttft", "tpot"}:
        raise ValueError(f"SLO limits {limits_s}: give p99 ttft and/or tpot limits only")
    loads = sorted(set(coarse))
    if not loads or loads[0] <= 0:
        raise ValueError(f"SLO search loads {list(coarse)} must be > 0")
    res = SearchResult(kind, dict(limits_s))
    deadline = time.monotonic() + budget_s
    lo: float | None = None

    def step(load: float, phase: str) -> Step | None:
        if time.monotonic() >= deadline:
            res.stop = res.stop or f"time budget of {budget_s:g} s spent"
            return None
        try:
            m = measure(load)
        except Exception as exc:  # the server died or could not be reached: end here, keep the rest
            res.stop = f"load {load:g} could not be measured: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            return None
        ok, why = check(m, limits_s)
        res.steps.append(Step(load, phase, m, ok, why))
        return res.steps[-1]

    for load in loads:
        s = step(load, "coarse")
        if s is None:
            break
        if not s.passed:
            res.first_failing = load
            break
        lo = load
        if len(res.steps) > 1 and saturated(res.steps[-2], s):
            res.stop = f"saturated at {load:g}: throughput stopped rising while latency rose"
            break
    else:
        res.stop = res.stop or f"every coarse load passed; capacity is at least {loads[-1]:g}"
    hi, n = res.first_failing, 0
    while not res.stop and lo is not None and hi is not None and n < max_bisect:
        if kind == "concurrency":
            if hi - lo <= 1:
                break
            mid = float((int(lo) + int(hi)) // 2)
        else:
            if hi / lo <= 1 + rel_tol:
                break
            mid = math.sqrt(lo * hi)
        s = step(mid, "bisect")
        if s is None:
            break
        n += 1
        if s.passed:
            lo = mid
        else:
            hi = res.first_failing = mid
    if lo is None and hi is not None:
        res.stop = res.stop or f"the lowest load {loads[0]:g} already fails the SLO"
    res.stop = res.stop or (f"bracketed: passes at {lo:g}, fails at {hi:g}" if lo is not None else "no load measured")
    res.found = lo if lo is not None else 0.0
    return res
