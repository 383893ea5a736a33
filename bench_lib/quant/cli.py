"""`python -m bench_lib.cli quant`: build (or reuse) every scheme and print the scheme table.

Same case function as the asv suite (bench_lib.quant.cases.scheme_result), so the table shows
what asv records. Settings come from BENCH_PROFILE / BENCH_DEVICE / BENCH_DTYPE / BENCH_TASKS.
"""
from __future__ import annotations

import os

from bench_lib.formatting import MIB, MISSING, number, status


def _task_headlines() -> list[tuple[str, str]]:
    """(task, headline metric) of every registered task, in registry order."""
    from bench_lib.tasks import headline_metrics

    return list(headline_metrics().items())


def _delta_format(metric_name: str) -> str:
    from bench_lib.metrics import metric

    return "+.3f" if metric(metric_name).unit == "fraction" else "+.2f"


COLUMNS = ("scheme", "engine", "MiB", "bits/w", "KLD mean", "KLD p99", "same top p", "PPL ratio",
           *(f"Δ {name}" for _, name in _task_headlines()), "decode tok/s", "quantize s", "build RSS+ MiB")


def add_arguments(parser) -> None:
    from bench_lib import argcheck
    from bench_lib.quant.registry import SCHEMES

    parser.add_argument("--model", type=argcheck.model_name, default=None,
                        help="model name (default: first of BENCH_MODELS)")
    parser.add_argument("--schemes", type=argcheck.list_of(SCHEMES, "scheme"), default=None,
                        help="comma-separated schemes (default: BENCH_QUANT_SCHEMES or all)")
    parser.add_argument("--no-tasks", action="store_true", help="skip task deltas and decode speed (quality only)")
    parser.add_argument("--kld-details", action="store_true", help="print llama.cpp's full statistics per scheme")
    parser.add_argument("--ladder", action="store_true",
                        help="print the damage ladder instead (weights, KV cache and weight noise damaged ever harder, task scores per rung)")


def ladder_table(model: str) -> tuple[str, list[str]]:
    """The damage ladder as a markdown table per ladder, and its violations (empty: it behaves)."""
    from bench_lib import config
    from bench_lib.quant import cases_ladder
    from bench_lib.tasks import get_task

    lines, bad = [], []
    metrics = [m for t in config.task_names() for m in get_task(t).key_metrics]
    for ladder in cases_ladder.LADDERS:
        results = cases_ladder.ladder_results(model, ladder)
        lines += [f"\n### {ladder} (reference: {next(iter(results))})\n",
                  "| rung | " + " | ".join(metrics) + " |", "|" + "---|" * (len(metrics) + 1)]
        for rung, r in results.items():
            m = r["metrics"]
            cells = [f"{number(m[n], _delta_format(n)[1:])} [{number(m[n + '_ci_low'], _delta_format(n)[1:])}, "
                     f"{number(m[n + '_ci_high'], _delta_format(n)[1:])}] Δ {_delta(m, 'quant_delta_' + n, _delta_format(n))}"
                     for n in metrics]
            lines.append(f"| {rung} | " + " | ".join(cells) + " |")
        bad += [f"{ladder}: {v}" for n in metrics for v in cases_ladder.violations(results, n)]
    return "\n".join(lines), bad


def _delta(m: dict, key: str, fmt: str) -> str:
    """A task delta with its paired 95% interval; '*' where the interval excludes 0."""
    if m.get(key) is None:
        return MISSING
    star = "*" if m.get(f"{key}_excludes_zero") else ""
    return f"{number(m[key], fmt)}{star} [{number(m.get(key + '_ci_low'), fmt)}, {number(m.get(key + '_ci_high'), fmt)}]"


def row(scheme: str, entry: dict) -> str:
    if "result" not in entry:
        return f"| {scheme} | {status(entry, 150)} |" + " |" * (len(COLUMNS) - 2)
    r = entry["result"]
    m, k = r["metrics"], r["kld"]
    cells = [scheme, r["engine"], number(m["quant_weight_bytes"], ".2f", MIB), number(m["quant_bits_per_weight"], ".2f"),
             f"{k.kld_mean:.5f} ± {k.kld_mean_unc:.5f}" + (f" (vs own fp {m['quant_kld_vs_own_fp']:.5f})"
                                                          if "quant_kld_vs_own_fp" in m else ""), number(m["quality_kld_p99"], ".4f"),
             f"{100 * k.same_top_p:.1f} ± {100 * k.same_top_p_unc:.1f} %", f"{k.ppl_ratio:.4f} ± {k.ppl_ratio_unc:.4f}",
             *(_delta(m, f"quant_delta_{name}", _delta_format(name)) for _, name in _task_headlines()),
             number(m.get("quant_decode_tokens_per_s"), ".1f"),
             number(m["quant_quantize_s"], ".2f"), number(m["quant_build_rss_increase_bytes"], ".0f", MIB)]
    return "| " + " | ".join(cells) + " |"


def run(args) -> int:
    from bench_lib import config, quality
    from bench_lib.quant import cases as cases_quant

    if args.schemes:
        os.environ["BENCH_QUANT_SCHEMES"] = args.schemes
    model = args.model or config.model_names()[0]
    if args.ladder:
        table, bad = ladder_table(model)
        print(f"model {model}, device {config.device()}, profile {config.profile().name}: value [95% interval] "
              "Δ from the ladder's reference [paired 95% interval], * where it excludes 0")
        print(table)
        print("\n" + ("\n".join(f"not monotone: {b}" for b in bad) if bad else
                      "every ladder behaves: no rung scores beyond noise above the rung before it, "
                      "and the harshest rung's drop excludes 0"))
        return 1 if bad else 0
    schemes = cases_quant.scheme_names()
    print(f"model {model}, device {config.device()}, dtype {config.dtype_name()}, profile {config.profile().name}\n")
    print("| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS))
    grid = {}
    for scheme in schemes:  # one row at a time, so a long grid shows progress
        grid.update(cases_quant.quant_grid([model], [scheme], with_tasks=not args.no_tasks))
        print(row(scheme, grid[(model, scheme)]), flush=True)
    if not args.no_tasks:
        print("\ntask deltas: quantized minus unquantized on the same examples [paired bootstrap 95% interval]; "
              "* where the interval excludes 0")
    if args.kld_details:
        for (_, scheme), entry in grid.items():
            if "result" in entry:
                print(f"\n### {scheme}\n```\n{quality.format_stats(entry['result']['kld'])}\n```")
    # A table without one measured row, or with a failed one, is not a result.
    return 1 if any("error" in e for e in grid.values()) or not any("result" in e for e in grid.values()) else 0
