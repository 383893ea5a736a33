"""`llm-bench cost`: where a `make bench` run's wall time went, per benchmark class.

From the newest asv result file per machine: each class's `setup_cache` time (asv's `durations`,
keyed by the cache's source line, which benchmarks.json maps to classes), the number of benchmark
processes asv started for it (one per benchmark method and parameter combination), and the
seconds asv recorded for those benchmarks (its per-benchmark `duration`). The process count is
what a per-commit suite pays for again and again: each process imports the benchmark module and
unpickles the class's cache before it measures anything.
"""
from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from bench_lib.tracking import asv_results


def class_of(benchmark: str) -> str:
    return benchmark.rsplit(".", 1)[0]


def table(path: Path, info: dict) -> tuple[list[dict], float]:
    """Rows per class, sorted by total seconds, and the run's wall span in seconds."""
    data = json.loads(path.read_text())
    cols = data.get("result_columns", [])
    per: dict[str, dict] = {}
    spans = []
    for bench, values in data.get("results", {}).items():
        rec = dict(zip(cols, values))
        params = rec.get("params") or []
        row = per.setdefault(class_of(bench), {"class": class_of(bench), "methods": 0, "processes": 0,
                                               "setup_cache_s": 0.0, "benchmark_s": 0.0, "caches": set()})
        row["methods"] += 1
        row["processes"] += len(list(itertools.product(*params))) if params else 1
        row["benchmark_s"] += rec.get("duration") or 0.0
        key = info.get(bench, {}).get("setup_cache_key")
        if key:
            row["caches"].add(key)
        if rec.get("started_at") and rec.get("duration"):
            spans.append((rec["started_at"] / 1e3, rec["started_at"] / 1e3 + rec["duration"]))
    durations = data.get("durations", {})
    for row in per.values():
        row["setup_cache_s"] = sum(durations.get(f"<setup_cache {k}>", 0.0) for k in row.pop("caches"))
        row["total_s"] = row["setup_cache_s"] + row["benchmark_s"]
    wall = (max(e for _, e in spans) - min(s for s, _ in spans)) if spans else 0.0
    return sorted(per.values(), key=lambda r: -r["total_s"]), wall


def render(rows: list[dict], wall: float, name: str) -> str:
    total = sum(r["total_s"] for r in rows) or 1.0
    out = [f"## {name}", "", "| class | methods | processes | setup_cache | benchmark processes | total | share |",
           "|---|---|---|---|---|---|---|"]
    out += [f"| {r['class']} | {r['methods']} | {r['processes']} | {r['setup_cache_s']:.1f} s | {r['benchmark_s']:.1f} s "
            f"| {r['total_s']:.1f} s | {r['total_s'] / total:.1%} |" for r in rows]
    procs = sum(r["processes"] for r in rows)
    out += ["", f"{len(rows)} classes, {procs} benchmark processes; setup_cache {sum(r['setup_cache_s'] for r in rows):.0f} s, "
            f"benchmark processes {sum(r['benchmark_s'] for r in rows):.0f} s "
            f"({sum(r['benchmark_s'] for r in rows) / max(procs, 1):.2f} s per process); "
            f"benchmarks ran over a wall span of {wall:.0f} s."]
    return "\n".join(out) + "\n"


def add_arguments(parser) -> None:
    parser.add_argument("--results", type=Path, default=Path("results"), help="asv results directory")
    parser.add_argument("--machine", default=None, help="only this asv machine")


def run(args) -> int:
    if not Path(args.results).is_dir():
        print(f"llm-bench cost: {args.results} is not a directory; run `make bench` first", file=sys.stderr)
        return 2
    info = asv_results.benchmark_info(args.results)
    newest: dict[str, Path] = {}
    for path in asv_results.result_files(args.results):
        machine = path.parent.name
        if args.machine in (None, machine):
            try:
                date = json.loads(path.read_text()).get("date") or 0
            except (OSError, ValueError):
                continue
            if machine not in newest or date > newest[machine][0]:
                newest[machine] = (date, path)
    if not newest:
        print(f"llm-bench cost: no asv results under {args.results}"
              + (f" for machine {args.machine}" if args.machine else ""), file=sys.stderr)
        return 2
    for machine, (_, path) in sorted(newest.items()):
        rows, wall = table(path, info)
        print(render(rows, wall, f"{machine}: {path.name}"))
    return 0
