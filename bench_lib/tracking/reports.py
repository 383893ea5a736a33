"""`llm-bench report`: the summary sheet researchers keep by hand, from the newest asv results.

Per task, one row per configuration (benchmark class x parameters x machine): task score, peak
memory, latency, tokens/s and cost per million generated tokens at a price per hour set per
machine (--price MACHINE=USD, or --price '*=USD'). Written as markdown and CSV, with Pareto plots
(task score against peak memory and against latency) and a page linking them beside the asv
dashboard: html/report/index.html. Run it after `asv publish`, which empties html/.
"""
from __future__ import annotations

import csv
import html
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench_lib.tracking import asv_results, pareto
from bench_lib.formatting import quantity
from bench_lib.tasks import headline_metrics

# The score each task is judged by (the one the researchers report); other task metrics stay
# in the asv dashboard.
HEADLINE = headline_metrics()
# The device memory the engine holds (NVML: every engine, llama.cpp and vLLM included), else torch's
# allocator peak (a torch engine without NVML), else process RSS.
MEMORY = ("device_memory_bytes", "cuda_max_allocated_bytes", "peak_rss_bytes")
COLUMNS = ["task", "machine", "configuration", "score_metric", "score", "score_ci_low", "score_ci_high",
           "peak_memory_bytes", "memory_metric", "latency_s", "tokens_per_s", "usd_per_hour", "usd_per_million_tokens",
           "also_measured_as"]


@dataclass
class Config:
    machine: str
    commit: str
    name: str                      # benchmark class, e.g. bench_inference.ArcInference
    params: dict
    metrics: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        cls = self.name.rsplit(".", 1)[-1]
        return f"{cls}({', '.join(f'{k}={v}' for k, v in self.params.items())})"


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def configurations(rows: list[asv_results.Row], suite: dict | None = None) -> list[Config]:
    """Group the track_ values of one class and parameter combination into one configuration."""
    configs: dict[tuple, Config] = {}
    for r in rows:
        if not _finite(r.value):
            continue
        match = asv_results.resolve_metric(r.benchmark, r.unit, suite=suite)
        if match.metric is None:
            continue
        cls = r.benchmark.rsplit(".", 1)[0]
        key = (r.machine, cls, tuple(sorted(r.params.items())))
        cfg = configs.setdefault(key, Config(r.machine, r.commit, cls, dict(r.params)))
        cfg.metrics[match.metric] = r.value
    return list(configs.values())


def task_of(cfg: Config) -> str | None:
    """The task parameter, else the task the class is named after (ArcInference), else the task
    whose score it measured. A random-weight model has no score but keeps its row."""
    if cfg.params.get("task") in HEADLINE:
        return cfg.params["task"]
    named = [p for p in asv_results.class_prefixes(cfg.name + ".method") if p in HEADLINE]
    if named:
        return named[0]
    return next((t for t, m in HEADLINE.items() if m in cfg.metrics), None)


def parse_prices(items: list[str]) -> dict[str, float]:
    prices = {}
    for item in items or []:
        machine, sep, value = item.partition("=")
        try:
            prices[machine] = float(value)
        except ValueError:
            sep = ""
        if not sep or not machine:
            raise ValueError(f"--price {item!r}: write MACHINE=USD_PER_HOUR (or '*=USD_PER_HOUR' for every machine)")
    return prices


def _plain(value) -> str:
    return str(value).strip("'\"")


def identity(cfg: Config, task: str) -> tuple:
    """What makes two configurations the same run setup: machine, task and parameters, the engine
    defaulting to hf (the inference classes generate through cases.inference_result's hf engine,
    so ArcInference(model=m, batch_size=1) and ArcEngines(engine=hf, model=m, batch_size=1) are one
    configuration measured twice)."""
    params = {k: _plain(v) for k, v in cfg.params.items() if k != "task"}
    params.setdefault("engine", "hf")
    return cfg.machine, task, tuple(sorted(params.items()))


def distinct(configs: list[Config]) -> list[tuple[Config, list[Config]]]:
    """One entry per identity: the configuration with the most metrics (then the shorter label),
    and the others measured with the same setup."""
    groups: dict[tuple, list[Config]] = {}
    for cfg in configs:
        task = task_of(cfg)
        groups.setdefault(identity(cfg, task) if task else ("", id(cfg)), []).append(cfg)
    out = []
    for group in groups.values():
        group.sort(key=lambda c: (-len(c.metrics), len(c.label), c.label))
        out.append((group[0], group[1:]))
    return out


def summary_rows(configs: list[Config], prices: dict[str, float]) -> list[dict]:
    from bench_lib.metrics import interval_names

    out = []
    for cfg, same in distinct(configs):
        task = task_of(cfg)
        if task is None:
            continue
        mem_metric = next((m for m in MEMORY if m in cfg.metrics), None)
        tps = cfg.metrics.get("output_tokens_per_s")
        if HEADLINE[task] not in cfg.metrics and tps is None and "e2e_latency_s" not in cfg.metrics:
            continue  # not an inference configuration of this task (a training class, say)
        price = prices.get(cfg.machine, prices.get("*"))
        out.append({
            "task": task, "machine": cfg.machine, "configuration": cfg.label,
            "score_metric": HEADLINE[task], "score": cfg.metrics.get(HEADLINE[task]),
            **dict(zip(("score_ci_low", "score_ci_high"), (cfg.metrics.get(k) for k in interval_names(HEADLINE[task])))),
            "peak_memory_bytes": cfg.metrics.get(mem_metric) if mem_metric else None,
            "memory_metric": mem_metric, "latency_s": cfg.metrics.get("e2e_latency_s"),
            "tokens_per_s": tps, "usd_per_hour": price,
            # price per second over tokens per second: dollars per token, per million tokens.
            "usd_per_million_tokens": price / 3600 / tps * 1e6 if price is not None and tps else None,
            "also_measured_as": "; ".join(c.label for c in same),
        })
    return sorted(out, key=lambda r: (r["task"], r["machine"], r["configuration"]))


def score_cell(row: dict) -> str:
    """The score with its 95% interval where the results hold one."""
    low, high = row.get("score_ci_low"), row.get("score_ci_high")
    interval = f" [{quantity(low, '')}, {quantity(high, '')}]" if _finite(low) and _finite(high) else ""
    return quantity(row["score"], "") + (interval if row["score"] is not None else "")


def markdown(rows: list[dict], commit_note: str) -> str:
    out = [f"# llm-bench summary ({commit_note})", ""]
    for task in sorted({r["task"] for r in rows}):
        trs = [r for r in rows if r["task"] == task]
        out += [f"## {task}: {trs[0]['score_metric']}", "",
                "| configuration | machine | task score [95% interval] | peak memory | latency | tokens/s | $ / M tokens |",
                "|---|---|---|---|---|---|---|"]
        out += [f"| {r['configuration']} | {r['machine']} | {score_cell(r)} "
                f"| {quantity(r['peak_memory_bytes'], 'bytes')}{' (GPU)' if r['memory_metric'] in MEMORY[:2] else ''} "
                f"| {quantity(r['latency_s'], 'seconds')} | {quantity(r['tokens_per_s'], '')} "
                f"| {quantity(r['usd_per_million_tokens'], 'usd')} |" for r in trs]
        out.append("")
    if not rows:
        out.append("No configuration with a task score in these results.")
    return "\n".join(out) + "\n"


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def pareto_front(points: list[tuple[float, float]], higher_score_better: bool) -> list[int]:
    return pareto.pareto_front(points, higher_score_better)


def pareto_plot(rows: list[dict], x_key: str, x_label: str, path: Path) -> bool:
    return pareto.pareto_plot(rows, x_key, x_label, path, score_cell)


# --- the page -----------------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>llm-bench report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:right}}
td:nth-child(-n+2),th:nth-child(-n+2){{text-align:left}}
img{{max-width:48%;margin:.5em 1% 0 0}}#broken{{color:#b00}}</style></head>
<body data-images="{n_images}">
<h1>llm-bench report</h1>
<p>{note} &middot; <a href="../index.html">asv dashboard</a> &middot; <a href="summary.md">summary.md</a>
&middot; <a href="summary.csv">summary.csv</a></p>
<p id="broken"></p>
{sections}
<script>
// Say so on the page when a plot does not load (a moved or missing file), instead of a blank gap.
window.addEventListener("load", function () {{
  var bad = Array.prototype.filter.call(document.images, function (i) {{ return !i.naturalWidth; }});
  document.body.dataset.brokenImages = String(bad.length);
  if (bad.length) document.getElementById("broken").textContent = bad.length + " plot(s) failed to load";
}});
</script>
</body></html>
"""


def html_table(rows: list[dict]) -> str:
    head = "<tr><th>configuration</th><th>machine</th><th>task score [95% interval]</th><th>peak memory</th><th>latency</th>" \
           "<th>tokens/s</th><th>$ / M tokens</th></tr>"
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in (
            r["configuration"], r["machine"], score_cell(r), quantity(r["peak_memory_bytes"], "bytes"),
            quantity(r["latency_s"], "seconds"), quantity(r["tokens_per_s"], ""), quantity(r["usd_per_million_tokens"], "usd"))) + "</tr>"
        for r in rows)
    return f"<table>{head}{body}</table>"


def write_report(rows: list[dict], out_dir: Path, note: str) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.md").write_text(markdown(rows, note))
    write_csv(rows, out_dir / "summary.csv")
    sections, images = [], []
    for task in sorted({r["task"] for r in rows}):
        trs = [r for r in rows if r["task"] == task]
        imgs = []
        for x_key, x_label, stem in (("peak_memory_bytes", "peak memory (MiB)", "memory"),
                                     ("latency_s", "latency (ms)", "latency")):
            name = f"pareto-{task}-{stem}.png"
            if pareto_plot(trs, x_key, x_label, out_dir / name):
                imgs.append(name)
        images += imgs
        plots = "".join(f'<img src="{n}" alt="{html.escape(task)} Pareto plot">' for n in imgs) \
            or "<p>No configuration with both a task score and this cost: nothing to plot.</p>"
        sections.append(f"<h2>{html.escape(task)}: {html.escape(trs[0]['score_metric'])}</h2>"
                        f"{html_table(trs)}{plots}")
    if not sections:
        sections.append("<p>No configuration with a task score in these results.</p>")
    from bench_lib.serve.slo import copy_plots  # serving: latency against load, if a search ran

    sections += [f'<h2>Serving SLO search</h2><img src="{n}" alt="latency against load">' for n in copy_plots(out_dir)]
    (out_dir / "index.html").write_text(_PAGE.format(n_images=len(images), note=html.escape(note),
                                                     sections="\n".join(sections)))
    return {"page": out_dir / "index.html", "images": images}


def add_arguments(parser) -> None:
    parser.add_argument("--results", type=Path, default=Path("results"), help="asv results directory")
    parser.add_argument("--html", type=Path, default=Path("html"), help="asv html directory; the report goes in <html>/report")
    parser.add_argument("--machine", action="append", help="only these machines (default: all)")
    parser.add_argument("--benchmarks", type=Path, default=Path("benchmarks"),
                        help="asv benchmark suite, read for each track_'s metric ('none': match names only)")
    parser.add_argument("--price", action="append", metavar="MACHINE=USD",
                        help="price per hour of a machine ('*=USD' for all), for the cost per million tokens")


def run(args) -> int:
    try:
        prices = parse_prices(args.price)
    except ValueError as exc:
        print(f"llm-bench report: {exc}", file=sys.stderr)
        return 2
    rows = asv_results.latest(asv_results.load(args.results)) if Path(args.results).is_dir() else []
    if args.machine:
        unknown = set(args.machine) - {r.machine for r in rows}
        if unknown:
            print(f"llm-bench report: no results for machine(s) {sorted(unknown)}; "
                  f"known: {asv_results.machines(rows)}", file=sys.stderr)
            return 2
        rows = [r for r in rows if r.machine in args.machine]
    if not rows:
        print(f"llm-bench report: no asv results under {args.results}; run `make bench` first", file=sys.stderr)
        return 1
    note = ", ".join(f"{m} @ {next(r.commit for r in rows if r.machine == m)[:10]}"
                     for m in asv_results.machines(rows))
    suite = asv_results.suite_metrics(args.benchmarks) if str(args.benchmarks) != "none" else {}
    table = summary_rows(configurations(rows, suite), prices)
    out = write_report(table, Path(args.html) / "report", note)
    print(markdown(table, note), end="")
    print(f"report: {out['page']} ({len(out['images'])} plots)", file=sys.stderr)
    return 0
