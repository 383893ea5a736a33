"""SLO search against a served model (bench_lib.serve.slo): the highest request rate and,
separately, the highest concurrency whose p99 TTFT and p99 TPOT meet an SLO; shared by asv and
the command line.

    python -m bench_lib.serve.cases_slo --server llamacpp --model tiny-qwen3 --slo ttft:500,tpot:50

prints the table of loads tried and writes a PNG of p50/p99 TTFT and TPOT against load, with the
SLO lines, and that table (.md) to .bench_cache/serve-slo/ (`llm-bench report` copies the PNGs
into html/report/ and shows them). Every
step is one load of cases_serve.measure_load: warm-up first, fresh prompts, its own request
count and time limit.

Settings (environment):
BENCH_SERVE_SLO         p99 limits in ms, `;`-separated pairs for several searches (ttft:500,tpot:50)
BENCH_SERVE_SLO_RATES   coarse request rates, req/s (1,2,4,8,16,32)
BENCH_SERVE_SLO_CONCURRENCY  coarse concurrencies (1,2,4,8,16)
BENCH_SERVE_SLO_BUDGET  seconds each search (rate, concurrency) may take (smoke 120, regular 600, full 1800)
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from bench_lib import config
from bench_lib.formatting import MS, number
from bench_lib.serve import cases as cases_serve
from bench_lib.serve import servers
from bench_lib.serve import slo

DEFAULT_SLO = "ttft:500,tpot:50"
DEFAULT_RATES, DEFAULT_CONCURRENCY = "1,2,4,8,16,32", "1,2,4,8,16"
BUDGET_S = {"smoke": 120.0, "regular": 600.0, "full": 1800.0}
STEP_TIMEOUT_S = {"smoke": 60.0, "regular": 300.0, "full": 600.0}


def slos() -> list[str]:
    names = list(config.env_choices("BENCH_SERVE_SLO", DEFAULT_SLO, sep=";", what="SLO"))
    for name in names:
        limits(name)
    return names


def limits(text: str) -> dict[str, float]:
    out = cases_serve.goodput_limits_s(text, name="BENCH_SERVE_SLO")
    if not out or "e2el" in out:
        raise config.ConfigError(f"BENCH_SERVE_SLO {text!r}: give p99 limits as ttft:<ms>,tpot:<ms>, e.g. {DEFAULT_SLO}")
    return out


def _coarse(name: str, default: str, kind) -> list[float]:
    text = os.environ.get(name) or default
    try:
        values = [float(kind(x)) for x in config.env_choices(name, default)]
    except (ValueError, config.ConfigError):
        values = []
    if not values or min(values) <= 0 or any(math.isinf(v) for v in values):
        raise config.ConfigError(f"{name}={text!r}: give positive {kind.__name__}s, comma-separated, e.g. {default}")
    return values


def _budget() -> float:
    return float(os.environ.get("BENCH_SERVE_SLO_BUDGET") or BUDGET_S[config.profile().name])


def search_result(server: servers.Server, model: str, slo_text: str) -> dict:
    """Both searches on one server; metrics for asv, the searches, the table and the plot path."""
    lim, step_s = limits(slo_text), STEP_TIMEOUT_S[config.profile().name]
    searches = {}
    for kind, name, default, conv, key in (
            ("rate", "BENCH_SERVE_SLO_RATES", DEFAULT_RATES, float, "request_rate"),
            ("concurrency", "BENCH_SERVE_SLO_CONCURRENCY", DEFAULT_CONCURRENCY, int, "max_concurrency")):
        def measure(load, key=key, kind=kind):
            value = int(load) if kind == "concurrency" else load
            return cases_serve.measure_load(server, model, {key: value}, f"{kind}:{value:g}",
                                            run_timeout_s=step_s)["metrics"]
        searches[kind] = slo.search(measure, _coarse(name, default, conv), lim, kind, budget_s=_budget())
    png = slo.plot_dir() / f"{server.kind}-{model.replace('/', '_')}-{slo_text.replace(':', '').replace(',', '-')}.png"
    plot(searches, lim, png, f"{server.kind} · {model} · SLO p99 {slo_text} ms")
    png.with_suffix(".md").write_text(table(searches) + "\n")  # the loads tried, beside the plot
    return {"metrics": {"serve_slo_max_rate": searches["rate"].found,
                        "serve_slo_max_concurrency": searches["concurrency"].found},
            "stop": {k: s.stop for k, s in searches.items()},
            "bracket": {k: (s.found, s.first_failing) for k, s in searches.items()}, "table": table(searches), "plot": str(png),
            "settings": {"slo_p99_ms": slo_text, "server": server.kind, "model": model,
                         "profile": config.profile().name, "budget_s": _budget(), "step_timeout_s": step_s}}


def table(searches: dict) -> str:
    head = ["search", "load", "phase", "req/s", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "lag p99",
            "failed", "SLO"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    ms = lambda m, k: number(m.get(k), ".1f", MS)  # noqa: E731
    for kind, res in searches.items():
        for s in res.steps:
            m = s.metrics
            rows.append(f"| {kind} | {s.load:g} | {s.phase} | {m['serve_request_throughput']:.2f} | "
                        f"{ms(m, 'serve_ttft_sched_p50_s')} | {ms(m, 'serve_ttft_sched_p99_s')} | "
                        f"{ms(m, 'serve_tpot_p50_s')} | {ms(m, 'serve_tpot_p99_s')} | {ms(m, 'serve_lag_p99_s')} | "
                        f"{m['serve_failed']:.0f} | {'pass' if s.passed else 'fail: ' + s.reason} |")
    found = "; ".join(f"{kind}: highest passing {res.found:g} ({res.stop})" for kind, res in searches.items())
    return "\n".join(rows) + f"\n\nTTFT from the scheduled send time; latencies in ms. Found: {found}."


def plot(searches: dict, lim: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401

    fig, axes = plt.subplots(len(searches), 2, figsize=(10, 3.6 * len(searches)), squeeze=False)
    for row, (kind, res) in zip(axes, searches.items()):
        steps = sorted(res.steps, key=lambda s: s.load)
        x = [s.load for s in steps]
        for ax, (key, label, p50, p99) in zip(row, (
                ("ttft", "TTFT from schedule (ms)", "serve_ttft_sched_p50_s", "serve_ttft_sched_p99_s"),
                ("tpot", "TPOT (ms)", "serve_tpot_p50_s", "serve_tpot_p99_s"))):
            ax.plot(x, [s.metrics[p50] * 1e3 for s in steps], "o-", label="p50")
            ax.plot(x, [s.metrics[p99] * 1e3 for s in steps], "s-", label="p99")
            if key in lim:
                ax.axhline(lim[key] * 1e3, color="red", ls="--", label=f"SLO p99 {lim[key] * 1e3:g} ms")
            if res.found:
                ax.axvline(res.found, color="green", ls=":", label=f"found {res.found:g}")
            ax.set_xlabel("request rate (req/s)" if kind == "rate" else "concurrency")
            ax.set_ylabel(label)
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            ax.set_yscale("log")
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def slo_grid(kind: str, models, slo_names) -> dict:
    """{(model, slo): {"result"|"skip"|"error": ...}} for one server kind, one server per model."""
    return cases_serve.per_server_grid(kind, models, slo_names, search_result)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench_lib.serve.cases_slo", description=__doc__.splitlines()[0])
    ap.add_argument("--server", default="llamacpp", choices=["llamacpp", "vllm", "url"])
    ap.add_argument("--model", default="tiny-qwen3")
    ap.add_argument("--slo", default=None, help=f"p99 limits in ms (default BENCH_SERVE_SLO or {DEFAULT_SLO})")
    args = ap.parse_args(argv)
    try:
        slo_names = [args.slo] if args.slo else slos()
        for s in slo_names:
            limits(s)
        grid = slo_grid(args.server, [args.model], slo_names)
    except config.ConfigError as exc:
        print(f"serve-slo: {exc}", file=sys.stderr)
        return 2
    code = 0
    for (model, s), entry in grid.items():
        if "result" not in entry:
            print(f"{args.server} {model} SLO {s}: " + ("skipped: " + entry["skip"] if "skip" in entry
                                                         else "failed: " + entry["error"]))
            code = code or (0 if "skip" in entry else 1)
            continue
        r = entry["result"]
        print(f"{args.server} · {model} · SLO p99 {s} ms\n\n{r['table']}\n\nplot: {r['plot']}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
