"""Command line: `python -m bench_lib.cli <command>` (also installed as `llm-bench`)."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "failed"
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
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
    # asv writes null for a failed benchmark and NaN for a skipped one.
    failed = skipped = 0
    for machine in sorted({r.machine for r in rows}):
        mrows = [r for r in rows if r.machine == machine]
        print(f"\n## {machine} @ {mrows[0].commit[:10]}\n")
        print("| benchmark | params | value |\n|---|---|---|")
        for r in sorted(mrows, key=lambda r: (r.benchmark, sorted(r.params.items()))):
            failed += r.value is None
            skipped += isinstance(r.value, float) and math.isnan(r.value)
            params = ", ".join(f"{k}={v}" for k, v in r.params.items())
            print(f"| {r.benchmark} | {params} | {_fmt(r.value, r.unit)} |")
    print(f"\n{len(rows)} values: {len(rows) - failed - skipped} measured, {skipped} skipped, {failed} failed")
    return 0


def cmd_table(args) -> int:
    """One benchmark class of the newest results as a markdown table: a row per parameter
    combination, a column per benchmark method (value with its unit)."""
    import re

    from bench_lib import asv_results

    rows = [r for r in asv_results.latest(asv_results.load(args.results))
            if re.search(args.bench, r.benchmark) and (not args.machine or r.machine == args.machine)]
    if not rows:
        print(f"no results matching {args.bench!r} under {args.results}", file=sys.stderr)
        return 1
    methods = sorted({r.benchmark.rsplit(".", 1)[1] for r in rows})
    if args.columns:  # "ttft" or "track_ttft"
        wanted = [c if c in methods else f"track_{c}" for c in args.columns.split(",")]
        methods = [m for m in wanted if m in methods]
    names = list(rows[0].params)
    table: dict[tuple, dict[str, str]] = {}
    for r in rows:
        key = tuple(r.params.get(n, "") for n in names)
        table.setdefault(key, {})[r.benchmark.rsplit(".", 1)[1]] = _fmt(r.value, r.unit)
    print("| " + " | ".join(names + [m.removeprefix("track_") for m in methods]) + " |")
    print("|" + "---|" * (len(names) + len(methods)))
    for key in sorted(table):
        print("| " + " | ".join(list(key) + [table[key].get(m, "") for m in methods]) + " |")
    return 0


# Subcommands that live with their area: "name": ("module", "help"). Each module has
# `add_arguments(parser)` and `run(args) -> int` ("module:variant": `add_variant_arguments` and
# `run_variant`), and is imported only when its command runs.
COMMANDS = {
    "train": ("bench_lib.train.cli", "method table of the train-step suite"),
    "quant": ("bench_lib.quant.cli", "scheme table of the quantization suite"),
    "engines": ("bench_lib.engines.cli", "engine parity, overhead ratios and serving tables"),
    "kvspec": ("bench_lib.kvspec.cli", "KV-cache quantization and speculative decoding tables"),
    "fingerprint": ("bench_lib.fingerprint_cli", "hardware and software fingerprint of this machine"),
    "alerts": ("bench_lib.alerts", "regression alerts: a commit against its baseline, or two machines"),
    "report": ("bench_lib.reports", "summary tables, Pareto plots and the report page in html/"),
    "upgrade-check": ("bench_lib.upgrade", "measure a library upgrade against the locked environment"),
    "compare-commits": ("bench_lib.paired:compare", "judge a commit against another, measured interleaved in one job"),
    "cost": ("bench_lib.cost", "where a bench run's time went, per benchmark class"),
    "bisect": ("bench_lib.paired:bisect", "find the first commit whose benchmarks regressed, by paired runs"),
    "fleet": ("bench_lib.fleet", "shard the asv suite over a scheduler (local, SLURM) and merge the results"),
}


def main(argv: list[str] | None = None) -> int:
    import importlib

    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="llm-bench", description="llm-bench utilities over asv results")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("summary", help="table of the newest results per machine")
    p.add_argument("--results", type=Path, default=Path("results"))
    p.set_defaults(func=cmd_summary)
    p = sub.add_parser("table", help="one benchmark class of the newest results as a markdown table")
    p.add_argument("bench", help="regular expression over benchmark names, e.g. 'QuantSchemes'")
    p.add_argument("--results", type=Path, default=Path("results"))
    p.add_argument("--machine", default=None, help="only this asv machine")
    p.add_argument("--columns", default=None, help="comma-separated method names to show, in order")
    p.set_defaults(func=cmd_table)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, add_help=False)
        p.set_defaults(module=module)
    args, rest = parser.parse_known_args(argv)
    if not hasattr(args, "module"):
        return args.func(parser.parse_args(argv))
    module, _, variant = args.module.partition(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        print(f"llm-bench {args.command}: not available ({exc})", file=sys.stderr)
        return 2
    sub_parser = argparse.ArgumentParser(prog=f"llm-bench {args.command}")
    getattr(mod, f"add_{variant}_arguments" if variant else "add_arguments")(sub_parser)
    return getattr(mod, f"run_{variant}" if variant else "run")(sub_parser.parse_args(rest))


if __name__ == "__main__":
    sys.exit(main())
