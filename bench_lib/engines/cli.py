"""`llm-bench engines`: greedy parity against HF and overhead ratios, as Markdown tables.

Runs the same case functions as the asv classes EngineParity and EngineOverhead, in this process.
"""
from __future__ import annotations

import argparse
import sys

from bench_lib import argcheck, formatting
from bench_lib.engines.registry import ENGINES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", type=argcheck.model_list, default=None,
                        help="comma-separated models (default: BENCH_MODELS)")
    parser.add_argument("--engines", type=argcheck.list_of(ENGINES, "engine"), default=None,
                        help="engines of the overhead check (default: BENCH_ENGINES)")
    parser.add_argument("--prompts", type=argcheck.int_at_least(1), default=2, help="parity prompts per task (default 2)")
    parser.add_argument("--repeats", type=argcheck.int_at_least(1), default=6,
                        help="interleaved overhead pairs (default 6)")
    # Two tokens at least: the first is the prefill's, decode speed needs one more.
    parser.add_argument("--max-new-tokens", type=argcheck.int_at_least(2), default=None,
                        help="decode steps per overhead run, EOS ignored (default 128)")
    parser.add_argument("--skip-parity", action="store_true")
    parser.add_argument("--skip-overhead", action="store_true")


def _rows(case, combos, keys, blanks: int, cells, counts: dict | None) -> list[str]:
    """One table row per combination of `case` run as a grid: `keys(combo)` first, then
    `cells(result)`, or the skip/failure reason followed by `blanks` empty cells."""
    from bench_lib.grid import run_grid

    counts = counts if counts is not None else {"measured": 0, "skipped": 0, "failed": 0}
    lines = []
    for combo, entry in run_grid(case, combos).items():
        counts["measured" if "result" in entry else "skipped" if "skip" in entry else "failed"] += 1
        why = formatting.status(entry)
        rest = [why] + [""] * blanks if why else cells(entry["result"])
        lines.append("| " + " | ".join([*keys(combo), *rest]) + " |")
    return lines


def parity_table(models, n_prompts: int, counts: dict | None = None) -> list[str]:
    from bench_lib.engines import cases as cases_engines

    def cells(r: dict) -> list[str]:
        lengths = [row["hf_tokens"] for row in r["rows"]]
        return [f"{r['identical']} / {r['prompts']}", f"{min(lengths)}–{max(lengths)}",
                str(min(row["agreeing_prefix"] for row in r["rows"]))]

    combos = [(m, e, t, n_prompts) for m in models for e, t in cases_engines.PARITY_VARIANTS]
    return ["| model | engine | GGUF | identical / prompts | HF tokens per prompt | shortest agreeing prefix |",
            "|---|---|---|---|---|---|"] + \
        _rows(cases_engines.parity_result, combos, lambda c: [c[0], c[1], c[2] or "-"], 2, cells, counts)


def overhead_table(models, engines, repeats: int, max_new: int, counts: dict | None = None) -> list[str]:
    from bench_lib.engines import cases as cases_engines

    def cells(r: dict) -> list[str]:
        ratio, s, b = r["ratio"], r["suite_tokens_per_s"], r["bare_tokens_per_s"]
        return [f"{ratio.median:.3f} [{ratio.q1:.3f}, {ratio.q3:.3f}] (n={ratio.n})", f"{s.median:.1f}",
                f"{s.cv:.1%}", f"{b.median:.1f}", f"{b.cv:.1%}", str(r["decode_tokens"]), str(r["same_tokens"])]

    combos = [(m, e, repeats, max_new) for m in models for e in engines]
    return ["| model | engine | suite / bare decode tok/s: median [IQR] | suite tok/s | suite CV | bare tok/s | "
            "bare CV | decode tokens | same ids |", "|---|---|---|---|---|---|---|---|---|"] + \
        _rows(cases_engines.overhead_result, combos, lambda c: [c[0], c[1]], 6, cells, counts)


def run(args) -> int:
    from bench_lib import config
    from bench_lib.engines import cases as cases_engines

    models = argcheck.split_list(args.models) if args.models else list(config.model_names())
    engines = argcheck.split_list(args.engines) if args.engines else list(cases_engines.engine_names())
    if args.skip_parity and args.skip_overhead:
        print("llm-bench engines: --skip-parity and --skip-overhead together leave nothing to run", file=sys.stderr)
        return 2
    counts = {"measured": 0, "skipped": 0, "failed": 0}
    if not args.skip_parity:
        print("\n## Greedy parity against HF (same prompt ids, one request at a time)\n")
        print("\n".join(parity_table(models, args.prompts, counts)))
    if not args.skip_overhead:
        max_new = cases_engines.OVERHEAD_MAX_NEW if args.max_new_tokens is None else args.max_new_tokens
        print(f"\n## Overhead: suite generate vs bare loop, decode tokens/s ({args.repeats} interleaved pairs)\n")
        print("\n".join(overhead_table(models, engines, args.repeats, max_new, counts)))
    print(f"\n{counts['measured']} rows measured, {counts['skipped']} skipped, {counts['failed']} failed", file=sys.stderr)
    # A table without one measured row, or with a failed one, is not a result.
    return 1 if counts["failed"] or not counts["measured"] else 0
