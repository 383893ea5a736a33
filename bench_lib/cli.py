"""Command line: `python -m bench_lib.cli <command>` (also installed as `llm-bench`)."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "skipped/failed"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if unit == "bytes":
        return f"{value / 2**20:.1f} MiB"
    if unit == "seconds":
        return f"{value * 1e3:.2f} ms"
    return f"{value:.4g} {unit}".strip()


def cmd_summary(args) -> int:
    from bench_lib import asv_results

    rows = asv_results.latest(asv_results.load(args.results))
    if not rows:
        print(f"no asv results under {args.results}; run `make bench` first", file=sys.stderr)
        return 1
    missing = 0
    for machine in sorted({r.machine for r in rows}):
        mrows = [r for r in rows if r.machine == machine]
        print(f"\n## {machine} @ {mrows[0].commit[:10]}\n")
        print("| benchmark | params | value |\n|---|---|---|")
        for r in sorted(mrows, key=lambda r: (r.benchmark, sorted(r.params.items()))):
            missing += r.value is None
            params = ", ".join(f"{k}={v}" for k, v in r.params.items())
            print(f"| {r.benchmark} | {params} | {_fmt(r.value, r.unit)} |")
    print(f"\n{len(rows)} values, {missing} skipped or failed")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llm-bench", description="llm-bench utilities over asv results")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("summary", help="table of the newest results per machine")
    p.add_argument("--results", type=Path, default=Path("results"))
    p.set_defaults(func=cmd_summary)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
