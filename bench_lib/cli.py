"""Command line: `python -m bench_lib.cli <command>` (also installed as `llm-bench`)."""
from __future__ import annotations

import math
import sys
from pathlib import Path


def _asv_value(value: float | None, unit: str) -> str:
    """asv writes null for a failed benchmark and NaN for a skipped one."""
    from bench_lib import formatting

    return "failed" if value is None else formatting.quantity(value, unit)


def cmd_summary(args) -> int:
    from bench_lib import embedded_bar
    from bench_lib.tracking import asv_results

    rows = asv_results.latest(asv_results.load(args.results))
    if not rows:
        print(f"llm-bench summary: no asv results under {args.results}; run `make bench` first", file=sys.stderr)
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
            print(f"| {r.benchmark} | {params} | {_asv_value(r.value, r.unit)} |")
        bar = embedded_bar.report(mrows)
        if bar:
            print("\n" + "\n".join(bar))
    print(f"\n{len(rows)} values: {len(rows) - failed - skipped} measured, {skipped} skipped, {failed} failed")
    return 0


def cmd_table(args) -> int:
    """One benchmark class of the newest results as a markdown table: a row per parameter
    combination, a column per benchmark method (value with its unit)."""
    import re

    from bench_lib.tracking import asv_results

    try:
        pattern = re.compile(args.bench)
    except re.error as exc:
        print(f"llm-bench table: {args.bench!r} is not a regular expression ({exc})", file=sys.stderr)
        return 2
    rows = [r for r in asv_results.latest(asv_results.load(args.results))
            if pattern.search(r.benchmark) and (not args.machine or r.machine == args.machine)]
    if not rows:
        print(f"llm-bench table: no results matching {args.bench!r} under {args.results}", file=sys.stderr)
        return 1
    methods = sorted({r.benchmark.rsplit(".", 1)[1] for r in rows})
    if args.columns:  # "ttft" or "track_ttft"
        wanted = [c if c in methods else f"track_{c}" for c in args.columns]
        unknown = [w.removeprefix("track_") for w in wanted if w not in methods]
        if unknown:
            print(f"llm-bench table: no column(s) {', '.join(unknown)} in {args.bench!r}; columns: "
                  f"{', '.join(m.removeprefix('track_') for m in methods)}", file=sys.stderr)
            return 2
        methods = wanted
    names = list(rows[0].params)
    table: dict[tuple, dict[str, str]] = {}
    for r in rows:
        key = tuple(r.params.get(n, "") for n in names)
        table.setdefault(key, {})[r.benchmark.rsplit(".", 1)[1]] = _asv_value(r.value, r.unit)
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
    "fingerprint": ("bench_lib.tracking.fingerprint_cli", "hardware and software fingerprint of this machine"),
    "alerts": ("bench_lib.tracking.alerts", "regression alerts: a commit against its baseline, or two machines"),
    "report": ("bench_lib.tracking.reports", "summary tables, Pareto plots and the report page in html/"),
    "upgrade-check": ("bench_lib.tracking.upgrade", "measure a library upgrade against the locked environment"),
    "compare-commits": ("bench_lib.tracking.paired:compare", "judge a commit against another, measured interleaved in one job"),
    "cost": ("bench_lib.tracking.cost", "where a bench run's time went, per benchmark class"),
    "bisect": ("bench_lib.tracking.paired:bisect", "find the first commit whose benchmarks regressed, by paired runs"),
    "fleet": ("bench_lib.tracking.fleet", "shard the asv suite over a scheduler (local, SLURM) and merge the results"),
}
# Commands that measure: every BENCH_* setting is checked before they start (bench_lib.preflight).
MEASURING = {"train", "quant", "engines", "kvspec", "upgrade-check", "compare-commits", "bisect"}


def cmd_check_config(args) -> int:
    """Exit 0 when every BENCH_* setting is usable, else one line per bad one and exit 2."""
    from bench_lib import preflight

    rc = preflight.check("llm-bench check-config")
    if rc == 0 and not args.quiet:
        print("llm-bench check-config: settings are usable", file=sys.stderr)
    return rc


def _user_errors() -> tuple[type, ...]:
    """Errors that mean bad input (a setting, an option, a data file), not a bug: one line, exit 2."""
    from bench_lib.config import ConfigError
    from bench_lib.models import UnknownModelError
    from bench_lib.tasks.base import DataError

    return ConfigError, UnknownModelError, DataError


def main(argv: list[str] | None = None) -> int:
    import importlib

    from bench_lib import argcheck
    from bench_lib.argcheck import OneLineParser

    argv = sys.argv[1:] if argv is None else argv
    parser = OneLineParser(prog="llm-bench", description="llm-bench utilities over asv results")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("summary", help="table of the newest results per machine")
    p.add_argument("--results", type=Path, default=Path("results"))
    p.set_defaults(func=cmd_summary)
    p = sub.add_parser("table", help="one benchmark class of the newest results as a markdown table")
    p.add_argument("bench", help="regular expression over benchmark names, e.g. 'QuantSchemes'")
    p.add_argument("--results", type=Path, default=Path("results"))
    p.add_argument("--machine", default=None, help="only this asv machine")
    p.add_argument("--columns", type=argcheck.split_list, default=None, help="comma-separated method names to show, in order")
    p.set_defaults(func=cmd_table)
    p = sub.add_parser("check-config", help="check every BENCH_* setting without measuring (exit 2 if one is bad)")
    p.add_argument("--quiet", action="store_true", help="print nothing when the settings are usable")
    p.set_defaults(func=cmd_check_config)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, add_help=False)
        p.set_defaults(module=module)
    args, rest = parser.parse_known_args(argv)
    prog = f"llm-bench {args.command}"
    try:
        if not hasattr(args, "module"):
            return args.func(parser.parse_args(argv))
        module, _, variant = args.module.partition(":")
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            print(f"{prog}: not available ({exc})", file=sys.stderr)
            return 2
        sub_parser = OneLineParser(prog=prog)
        getattr(mod, f"add_{variant}_arguments" if variant else "add_arguments")(sub_parser)
        sub_args = sub_parser.parse_args(rest)
        if args.command in MEASURING:
            from bench_lib import preflight

            if preflight.check(prog):
                return 2
        return getattr(mod, f"run_{variant}" if variant else "run")(sub_args)
    except _user_errors() as exc:
        print(f"{prog}: {str(exc).strip(chr(39))}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output folder that cannot be created or written, mostly
        print(f"{prog}: cannot write or read {exc.filename or ''} ({exc.strerror or exc})", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
