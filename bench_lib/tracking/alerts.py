"""`llm-bench alerts`: regressions of one commit against its baseline, decided with measured noise.

asv calls every rising number a regression and judges with one fixed factor. Here each number
gets its direction from its metric record (bench_lib.metrics) and is flagged only when it moved
the wrong way by more than its noise allows:

    threshold = max(--min-change, --noise-factor x A/A noise, spread of the baseline window)

and, where asv stored repeat statistics (time_/peakmem_), only when asv's own test finds the two
runs different (Mann-Whitney U on the samples when recorded, else disjoint 99% CIs). The A/A
noise is the relative difference seen when the same commit was run twice on this machine
(`--calibrate A.json B.json`), kept per benchmark in results/<machine>/aa-noise.txt.

Modes: compare (default), --machines A B (ratio table of two machines at one commit),
--calibrate (store A/A noise). Exit status: 1 when something regressed, 2 on bad input.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from bench_lib import environment

from bench_lib.tracking import asv_results
from bench_lib.tracking.asv_results import Row
from bench_lib.formatting import quantity

NOISE_FILE = "aa-noise.txt"  # JSON; not .json, which asv would try to read as a result file


@dataclass
class Change:
    label: str
    benchmark: str
    params: dict
    unit: str
    metric: str | None
    higher_is_better: bool | None
    resolved_by: str
    baseline: float
    current: float
    change: float              # (current - baseline) / |baseline|
    threshold: float
    noise: dict                # the parts the threshold was built from
    significant: bool | None   # asv's test on the stored statistics; None where there are none
    evidence: str
    verdict: str               # regression | improvement | unchanged | direction unknown
    command: str


def _numeric(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def relative(base: float, cur: float) -> float:
    if base == 0:
        return 0.0 if cur == 0 else math.copysign(math.inf, cur)
    return (cur - base) / abs(base)


def stats_test(base: Row, cur: Row) -> tuple[bool | None, str]:
    """asv's own significance test where it stored statistics for both runs."""
    if not {"ci_99_a", "ci_99_b"} <= base.stats.keys() or not {"ci_99_a", "ci_99_b"} <= cur.stats.keys():
        return None, "no repeat statistics stored (track_ value): decided on the noise threshold"
    from asv import _stats

    different = _stats.is_different(base.samples, cur.samples, base.stats, cur.stats)
    a = [x for x in base.samples or [] if _numeric(x)]
    b = [x for x in cur.samples or [] if _numeric(x)]
    # is_different uses the samples only where they are enough to reach p < 0.002.
    if a and b and 1 / math.comb(len(a) + len(b), min(len(a), len(b))) < 0.002:
        _, p = _stats.mann_whitney_u(a, b)
        return different, f"Mann-Whitney U p={p:.2g} on {len(a)}+{len(b)} samples"
    ci = lambda r: f"[{r.stats['ci_99_a']:.4g}, {r.stats['ci_99_b']:.4g}]"
    return different, f"99% CIs {ci(base)} vs {ci(cur)} {'disjoint' if different else 'overlap'}"


def reproduce_command(row: Row, profile: str) -> str:
    """The one asv invocation that re-measures this benchmark and parameter combination."""
    import re
    import shlex

    env = [f"BENCH_PROFILE={profile}"]
    for name, var in (("model", "BENCH_MODELS"), ("task", "BENCH_TASKS")):
        if name in row.params:
            env.append(f"{var}={shlex.quote(row.params[name])}")
    regex = "^" + re.escape(row.benchmark)
    if row.raw_params:
        regex += re.escape("(" + ", ".join(row.raw_params) + ")")
    from bench_lib.tracking.asv_run import LAUNCH_METHOD

    return (f"{' '.join(env)} asv run --python=same --launch-method {LAUNCH_METHOD} --machine {row.machine} "
            f"--set-commit-hash {row.commit} --bench {_shell_regex(regex + '$')}")


def _shell_regex(regex: str) -> str:
    """Double quotes where the shell leaves the regex as it is (readable with asv's quoted
    string parameters), else shlex quoting."""
    if not any(ch in regex for ch in '"`!') and "\\\\" not in regex and "$" not in regex[:-1]:
        return f'"{regex}"'
    import shlex

    return shlex.quote(regex)


INTERVAL_BOUNDS = ("_ci_low", "_ci_high")


def interval_test(base: float, base_ci: tuple[float, float], cur: float, cur_ci: tuple[float, float]
                  ) -> tuple[bool, str]:
    """Whether a task metric moved by more than its sampling noise over the examples.

    Each side's standard error is read from its 95% interval (width / (2 x 1.96), the normal
    approximation of the bootstrap or binomial interval stored beside the value); the change is
    significant when |z| = |cur - base| / sqrt(se_base^2 + se_cur^2) > 1.96. Both sides score the
    same examples, so this unpaired test is conservative; the paired difference with its own
    interval is what the quantization deltas (track_delta_*) report within one run."""
    se_b, se_c = ((hi - lo) / (2 * 1.96) for lo, hi in (base_ci, cur_ci))
    se = math.hypot(se_b, se_c)
    if se == 0:
        return cur != base, f"95% intervals of zero width: {'moved' if cur != base else 'same value'}"
    z = (cur - base) / se
    return abs(z) > 1.96, (f"95% intervals over the examples [{base_ci[0]:.4g}, {base_ci[1]:.4g}] vs "
                           f"[{cur_ci[0]:.4g}, {cur_ci[1]:.4g}]: z={z:.2f}")


def decide(base_rows: list[Row], cur: Row, aa: float | None, opts,
           intervals: tuple[tuple[float, float], tuple[float, float]] | None = None) -> Change:
    """The verdict on one benchmark. A task metric with its 95% intervals stored on both sides
    (`intervals`: the last baseline's and the current one's) is judged on them: sampling noise
    over the examples is its noise, and greedy scores do not drift run to run, so no relative
    floor applies. Other values are judged on max(floor, noise factor x A/A noise, window
    spread) and asv's test where it stored statistics."""
    match = asv_results.resolve_metric(cur.benchmark, cur.unit, suite=opts.suite)
    values = [r.value for r in base_rows]
    base = statistics.median(values)
    change = relative(base, cur.value)
    if intervals is not None:
        noise = {"interval": 0.0}
        threshold = 0.0
        significant, evidence = interval_test(base_rows[-1].value, intervals[0], cur.value, intervals[1])
    else:
        noise = {"floor": opts.min_change}
        if aa is not None:
            noise["aa"] = aa
            noise["aa_scaled"] = opts.noise_factor * aa
        if len(values) > 1 and base:
            noise["window_spread"] = (max(values) - min(values)) / abs(base)
        threshold = max(v for k, v in noise.items() if k != "aa")
        significant, evidence = stats_test(base_rows[-1], cur)
        if aa is None:
            evidence += "; no A/A noise for this benchmark: threshold falls back to the floor"
    moved = abs(change) > threshold and significant is not False
    if not moved:
        verdict = "unchanged"
    elif match.higher_is_better is None:
        verdict = "direction unknown"
    else:
        verdict = "improvement" if (change > 0) == match.higher_is_better else "regression"
    return Change(asv_results.label(cur), cur.benchmark, cur.params, cur.unit, match.metric,
                  match.higher_is_better, match.how, base, cur.value, change, threshold, noise,
                  significant, evidence, verdict, reproduce_command(cur, opts.profile))


# --- A/A noise ----------------------------------------------------------------------------------


def noise_path(results: Path, machine: str) -> Path:
    return Path(results) / machine / NOISE_FILE


def calibrate(file_a: Path, file_b: Path, results: Path) -> Path:
    """Store the relative differences between two runs of one commit, per benchmark (max of all
    A/A pairs seen, so one quiet pair cannot hide a noisy benchmark)."""
    info = asv_results.benchmark_info(results)
    a, b = (asv_results.read_file(Path(f), info) for f in (file_a, file_b))
    machine, commit = a[0].machine if a else "", a[0].commit if a else ""
    if not a or not b or b[0].machine != machine or b[0].commit != commit:
        raise ValueError(f"an A/A pair is two result files of one commit on one machine; {file_a} and "
                         f"{file_b} hold {machine or 'nothing'}@{commit[:10]} and "
                         f"{b[0].machine if b else 'nothing'}@{b[0].commit[:10] if b else ''}")
    path = noise_path(results, machine)
    stored = (json.loads(path.read_text()) if path.exists()
              else {"machine": machine, "pairs": 0, "noise": {}, "units": {}})
    other = {asv_results.row_key(r): r for r in b}
    for r in a:
        s = other.get(asv_results.row_key(r))
        if s is not None and _numeric(r.value) and _numeric(s.value):
            key = asv_results.label(r)
            stored["noise"][key] = max(stored["noise"].get(key, 0.0), abs(relative(r.value, s.value)))
            stored["units"][key] = r.unit
    stored["pairs"] += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    return path


def load_noise(results: Path, machine: str, path: Path | None) -> tuple[dict, dict]:
    """(A/A noise per benchmark label, largest A/A noise per unit) for `machine`."""
    path = path or noise_path(results, machine)
    if not path.exists():
        return {}, {}
    stored = json.loads(path.read_text())
    by_unit: dict[str, float] = {}
    for key, rel in stored["noise"].items():
        unit = stored["units"].get(key, "")
        by_unit[unit] = max(by_unit.get(unit, 0.0), rel)
    return stored["noise"], by_unit


def aa_for(row: Row, noise: tuple[dict, dict]) -> float | None:
    """This benchmark's A/A noise; else the machine's largest for the same unit (a benchmark
    added after the calibration); else None."""
    per_key, by_unit = noise
    key = asv_results.label(row)
    return per_key[key] if key in per_key else by_unit.get(row.unit)


# --- comparisons --------------------------------------------------------------------------------


def baseline_commits(rows: list[Row], machine: str, commit: str, opts) -> list[str]:
    if opts.baseline:
        return [asv_results.find_commit(rows, machine, opts.baseline)]
    ancestors = asv_results.ancestors_with_results(rows, machine, commit, opts.repo)
    if ancestors is not None:
        return ancestors[:opts.window][::-1]
    order = asv_results.commits_in_order(rows, machine, None)  # no git: by commit date
    i = order.index(commit)
    return order[max(0, i - opts.window):i]


def environments(rows: list[Row], machine: str, commit: str, baselines: list[str], results: Path) -> dict:
    """Which software environments the baseline and the current results were measured in, and
    the packages that differ between them (from results/<machine>/env-<id>.txt)."""
    def ids(commits):
        return sorted({r.env or "" for r in rows if r.machine == machine and r.commit in commits})

    base, cur = ids(set(baselines)), ids({commit})
    out = {"baseline": base, "current": cur, "same": base == cur and "" not in base, "changes": [], "note": ""}
    if out["same"]:
        return out
    if "" in base or "" in cur:
        out["note"] = ("some results predate environment records, so whether libraries changed "
                       "between baseline and current cannot be told")
        return out
    records = {i: environment.load(results, machine, i) for i in base + cur}
    missing = [i for i, rec in records.items() if rec is None]
    if missing:
        out["note"] = (f"environments {', '.join(base)} -> {', '.join(cur)} differ; the package list of "
                       f"{', '.join(missing)} is not under {Path(results) / machine}")
        return out
    old, new = records[base[-1]]["packages"], records[cur[-1]]["packages"]
    out["changes"] = environment.diff(old, new)
    out["note"] = (f"environment {base[-1]} -> {cur[-1]}: "
                   + (environment.describe(out["changes"]) if out["changes"] else "same packages, other build"))
    return out


def compare(rows: list[Row], machine: str, commit: str, baselines: list[str], noise, opts) -> dict:
    index = {(r.commit, asv_results.row_key(r)): r for r in rows if r.machine == machine}
    # An interval's bounds are benchmarks of their own, found by name whatever their version.
    bounds = {(r.commit, r.benchmark, asv_results.row_key(r)[1]): r for r in rows if r.machine == machine}
    changes, lost, new = [], [], []
    benchmarks = {r.benchmark for r in rows if r.machine == machine and r.commit == commit}
    for cur in (r for r in rows if r.machine == machine and r.commit == commit):
        if cur.benchmark.endswith(INTERVAL_BOUNDS) and cur.benchmark.rsplit("_ci_", 1)[0] in benchmarks:
            continue  # a bound of a metric's interval: judged with its metric, not as a metric
        base = [index[(c, asv_results.row_key(cur))] for c in baselines if (c, asv_results.row_key(cur)) in index]
        base = [r for r in base if _numeric(r.value)]
        if not _numeric(cur.value):
            if base:
                lost.append({"label": asv_results.label(cur), "baseline": base[-1].value,
                             "command": reproduce_command(cur, opts.profile)})
            continue
        if not base:
            new.append(asv_results.label(cur))
            continue
        changes.append(decide(base, cur, aa_for(cur, noise), opts, _intervals(bounds, base[-1], cur)))
    return {"mode": "commit", "machine": machine, "commit": commit, "baseline_commits": baselines,
            "environment": environments(rows, machine, commit, baselines, opts.results),
            "aa_calibrated": bool(noise[0]), "min_change": opts.min_change, "noise_factor": opts.noise_factor,
            "changes": [asdict(c) for c in sorted(changes, key=lambda c: c.label)],
            "lost": lost, "new": sorted(new)}


def _intervals(bounds_index: dict, base: Row, cur: Row):
    """(baseline interval, current interval) of a task metric where both runs stored them."""
    out = []
    for row in (base, cur):
        bounds = []
        params = asv_results.row_key(row)[1]
        for suffix in INTERVAL_BOUNDS:
            bound = bounds_index.get((row.commit, row.benchmark + suffix, params))
            if bound is None or not _numeric(bound.value):
                return None
            bounds.append(bound.value)
        out.append(tuple(bounds))
    return tuple(out)


def _status(value) -> str:
    return "failed" if value is None else "skipped" if isinstance(value, float) and math.isnan(value) else "no value"


def compare_runs(a: dict[tuple, list[Row]], b: dict[tuple, list[Row]], names: tuple[str, str],
                 suite: dict | None = None, min_change: float = 0.0) -> dict:
    """Two sets of runs of the same benchmarks (two machines, two environments), each row key
    with its rows from one or more runs: per benchmark the medians, B/A, which side is better by
    the metric's direction, and the confidence: with two or more runs a side, Mann-Whitney U on
    the runs' values (p < 0.05; runs are the unit, so 4+4 runs are the fewest that can show a
    change); with one run a side, Mann-Whitney U on asv's samples where both recorded
    them; else none.
    A row moved when its change exceeds `min_change` and the evidence does not say "same".
    Benchmarks with a value on one side only are listed under `failed`."""
    rows, failed = [], []
    for key in sorted(a.keys() & b.keys()):
        ra, rb = a[key], b[key]
        va, vb = [r.value for r in ra if _numeric(r.value)], [r.value for r in rb if _numeric(r.value)]
        label = asv_results.label(ra[-1])
        if not va or not vb:
            if va or vb:
                failed.append({"label": label, "only_in": names[0] if va else names[1],
                               names[0]: statistics.median(va) if va else _status(ra[-1].value),
                               names[1]: statistics.median(vb) if vb else _status(rb[-1].value)})
            continue
        ma, mb = statistics.median(va), statistics.median(vb)
        match = asv_results.resolve_metric(ra[-1].benchmark, ra[-1].unit, suite=suite)
        change = relative(ma, mb)
        if len(va) >= 2 and len(vb) >= 2:
            # Runs, not samples, are the unit: samples of one run share that run's minutes of
            # machine load, so pooling them across runs would claim confidence the design lacks.
            # Mann-Whitney U on the runs' values; fully separated 2+2 runs still have p = 0.33.
            from asv import _stats

            _, p = _stats.mann_whitney_u(va, vb)
            significant = p < 0.05
            evidence = (f"{len(va)}+{len(vb)} runs, Mann-Whitney U p={p:.2g} on the runs' values "
                        f"[{min(va):.4g}, {max(va):.4g}] vs [{min(vb):.4g}, {max(vb):.4g}]")
        elif len(ra[-1].samples or []) >= 3 and len(rb[-1].samples or []) >= 3:
            from asv import _stats

            sa = [x for x in ra[-1].samples if _numeric(x)]
            sb = [x for x in rb[-1].samples if _numeric(x)]
            _, p = _stats.mann_whitney_u(sa, sb)
            significant, evidence = p < 0.01, f"one run each: Mann-Whitney U p={p:.2g} on {len(sa)}+{len(sb)} samples"
        else:
            significant, evidence = None, "one value each: no confidence"
        moved = abs(change) > min_change and significant is not False and change != 0
        better = ("same" if change == 0 else "unknown direction" if match.higher_is_better is None
                  else names[1] if (change > 0) == match.higher_is_better else names[0])
        verdict = ("unchanged" if not moved else "direction unknown" if match.higher_is_better is None
                   else "improvement" if better == names[1] else "regression")
        rows.append({"label": label, "metric": match.metric, "higher_is_better": match.higher_is_better,
                     "unit": ra[-1].unit, "a": ma, "b": mb, "a_values": va, "b_values": vb,
                     "ratio_b_over_a": 1.0 + change, "change": change, "better": better,
                     "significant": significant, "evidence": evidence, "verdict": verdict})
    return {"names": list(names), "rows": rows, "failed": failed}


def cross_machines(rows: list[Row], machine_a: str, machine_b: str, commit_ref: str | None,
                   suite: dict | None = None) -> dict:
    shared = sorted({r.commit for r in rows if r.machine == machine_a} & {r.commit for r in rows if r.machine == machine_b})
    if commit_ref:
        commit = asv_results.find_commit(rows, machine_a, commit_ref)
        if commit not in shared:
            raise ValueError(f"commit {commit[:10]} has results on {machine_a} but not on {machine_b}")
    elif shared:
        commit = max(shared, key=lambda c: max(r.date or 0 for r in rows if r.commit == c))
    else:
        raise ValueError(f"machines {machine_a} and {machine_b} have no commit with results on both")
    side = lambda m: {asv_results.row_key(r): [r] for r in rows if r.machine == m and r.commit == commit}
    rep = compare_runs(side(machine_a), side(machine_b), (machine_a, machine_b), suite)
    return {"mode": "machines", "machine_a": machine_a, "machine_b": machine_b, "commit": commit, **rep}


# --- output -------------------------------------------------------------------------------------


def pct(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x * 100:+.1f}%"


def render_commit(rep: dict) -> str:
    changes = rep["changes"]
    count = lambda v: sum(c["verdict"] == v for c in changes)
    out = [f"# llm-bench alerts: {rep['machine']} @ {rep['commit'][:10]} vs "
           + ", ".join(c[:10] for c in rep["baseline_commits"]),
           "",
           f"**{count('regression')} regression(s)**, {count('improvement')} improvement(s), "
           f"{count('direction unknown')} moved with unknown direction, {count('unchanged')} unchanged, "
           f"{len(rep['lost'])} without a value now, {len(rep['new'])} new.",
           ""]
    env = rep.get("environment") or {"same": True}
    if not env["same"]:
        out += [f"**The software environment changed**: {env['note']}. A change below may come from "
                "the environment as well as from the commit, so none is attributed to the commit alone; "
                "`llm-bench upgrade-check` measures an upgrade on one commit.", ""]
    out.append(f"Threshold per benchmark: max(floor {rep['min_change']:.0%}, {rep['noise_factor']:g} x A/A noise, "
               "baseline window spread); "
               + ("A/A noise measured on this machine." if rep["aa_calibrated"] else
                  "**no A/A noise measured on this machine** (run `llm-bench alerts --calibrate A.json B.json`), "
                  "so only the floor applies.")
               + " Task metrics stored with their 95% intervals are judged on those instead (z test on the "
                 "two intervals), with no floor.")
    for verdict, title in (("regression", "Regressions"), ("direction unknown", "Moved, direction unknown"),
                           ("improvement", "Improvements")):
        rows = [c for c in changes if c["verdict"] == verdict]
        if not rows:
            continue
        out += ["", f"## {title}", "", "| benchmark | metric | baseline | current | change | threshold | confidence |",
                "|---|---|---|---|---|---|---|"]
        for c in rows:
            direction = {True: "higher is better", False: "lower is better", None: "direction unknown"}
            out.append(f"| `{c['label']}` | {c['metric'] or c['resolved_by']} ({direction[c['higher_is_better']]}) "
                       f"| {quantity(c['baseline'], c['unit'])} | {quantity(c['current'], c['unit'])} | {pct(c['change'])} "
                       f"| {c['threshold']:.1%} | {c['evidence']} |")
        if verdict != "improvement":
            out += ["", "Reproduce:", ""] + [f"- `{c['label']}`:\n  `{c['command']}`" for c in rows]
    if rep["lost"]:
        out += ["", "## No value now (failed or skipped; had one in the baseline)", ""]
        out += [f"- `{x['label']}` (was {x['baseline']:.4g}): `{x['command']}`" for x in rep["lost"]]
    return "\n".join(out) + "\n"


def render_machines(rep: dict) -> str:
    a, b = rep["machine_a"], rep["machine_b"]
    out = [f"# llm-bench across machines @ {rep['commit'][:10]}", "", f"A = `{a}`, B = `{b}`", "",
           "| benchmark | metric | A | B | B/A | better |", "|---|---|---|---|---|---|"]
    out += [f"| `{r['label']}` | {r['metric'] or ''} | {quantity(r['a'], r['unit'])} | {quantity(r['b'], r['unit'])} "
            f"| {r['ratio_b_over_a']:.3g} | {r['better']} |" for r in rep["rows"]]
    return "\n".join(out + render_failed(rep)) + "\n"


DIRECTION = {True: "higher is better", False: "lower is better", None: "direction unknown"}


def render_moved(rep: dict) -> list[str]:
    """The moved rows of a compare_runs report, a table per verdict, as markdown lines."""
    a, b = rep["names"]
    out = []
    for verdict, title in (("regression", "Regressions"), ("direction unknown", "Moved, direction unknown"),
                           ("improvement", "Improvements")):
        moved = [r for r in rep["rows"] if r["verdict"] == verdict]
        if moved:
            out += ["", f"## {title}", "", f"| benchmark | metric | {a} | {b} | change | confidence |",
                    "|---|---|---|---|---|---|"]
            out += [f"| `{r['label']}` | {r['metric'] or ''} ({DIRECTION[r['higher_is_better']]}) "
                    f"| {quantity(r['a'], r['unit'])} | {quantity(r['b'], r['unit'])} | {pct(r['change'])} "
                    f"| {r['evidence']} |" for r in moved]
    return out


def write_outputs(prog: str, text: str, rep: dict | None, markdown: Path | None, json_path: Path | None) -> bool:
    """Write the report where asked; False (and one line naming the file) when that fails."""
    for path, content in ((markdown, text),
                          (json_path, json.dumps(rep, indent=1, default=str) + "\n" if rep is not None else None)):
        if path and content is not None:
            try:
                Path(path).write_text(content)
            except OSError as exc:
                print(f"llm-bench {prog}: cannot write {path} ({exc.strerror or exc})", file=sys.stderr)
                return False
    return True


def render_failed(rep: dict) -> list[str]:
    """The benchmarks with a value on one side only, as markdown lines."""
    if not rep["failed"]:
        return []
    a, b = rep["names"]
    out = ["", f"## A value on one side only ({len(rep['failed'])})", "", f"| benchmark | {a} | {b} |", "|---|---|---|"]
    show = lambda v: v if isinstance(v, str) else f"{v:.4g}"
    return out + [f"| `{f['label']}` | {show(f[a])} | {show(f[b])} |" for f in rep["failed"]]


# --- command line -------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    parser.add_argument("--results", type=Path, default=Path("results"), help="asv results directory")
    parser.add_argument("--machine", help="asv machine (default: the only one with results)")
    parser.add_argument("--commit", help="commit to judge (hash prefix; default: the newest with results)")
    parser.add_argument("--baseline", help="baseline commit (default: the previous commit with results)")
    parser.add_argument("--window", type=int, default=1, help="earlier commits forming the baseline (median)")
    parser.add_argument("--machines", nargs=2, metavar=("A", "B"), help="compare two machines at one commit")
    parser.add_argument("--calibrate", nargs=2, type=Path, metavar=("A.json", "B.json"),
                        help="store the A/A noise of two result files of one commit")
    parser.add_argument("--noise", type=Path, help=f"A/A noise file (default results/<machine>/{NOISE_FILE})")
    parser.add_argument("--min-change", type=float, default=0.05, help="floor of the threshold (fraction)")
    parser.add_argument("--noise-factor", type=float, default=3.0, help="multiple of the A/A noise to exceed")
    parser.add_argument("--profile", default=os.environ.get("BENCH_PROFILE", "smoke"),
                        help="BENCH_PROFILE written into the reproduce commands")
    parser.add_argument("--repo", type=Path, default=Path("."), help="git checkout, to order commits")
    parser.add_argument("--benchmarks", type=Path, default=Path("benchmarks"),
                        help="asv benchmark suite, read for each track_'s metric ('none': match names only)")
    parser.add_argument("--markdown", type=Path, help="also write the markdown report here")
    parser.add_argument("--json", type=Path, help="write the report as JSON here")


def pick_machine(rows: list[Row], wanted: str | None) -> str:
    known = asv_results.machines(rows)
    if wanted in known or (wanted is None and len(known) == 1):
        return wanted or known[0]
    raise ValueError(f"machine {wanted!r} has no results; pass --machine, one of: {', '.join(known) or 'none'}"
                     if wanted else f"results hold several machines; pass --machine, one of: {', '.join(known)}")


def build(args) -> tuple[dict | None, str]:
    rows = asv_results.load(args.results)
    if not rows:
        raise ValueError(f"no asv results under {args.results}; run `make bench` first")
    args.suite = asv_results.suite_metrics(args.benchmarks) if str(args.benchmarks) != "none" else {}
    if args.machines:
        rep = cross_machines(rows, *(pick_machine(rows, m) for m in args.machines), args.commit, args.suite)
        return rep, render_machines(rep)
    machine = pick_machine(rows, args.machine)
    order = asv_results.commits_in_order(rows, machine, args.repo)
    commit = asv_results.find_commit(rows, machine, args.commit) if args.commit else order[-1]
    baselines = baseline_commits(rows, machine, commit, args)
    if not baselines:
        return None, f"{machine} @ {commit[:10]}: no earlier commit with results, nothing to compare.\n"
    rep = compare(rows, machine, commit, baselines, load_noise(args.results, machine, args.noise), args)
    return rep, render_commit(rep)


def _bad_option(args) -> str | None:
    if args.window < 1:
        return f"--window {args.window}: use a whole number >= 1 of earlier commits"
    if not args.min_change >= 0:
        return f"--min-change {args.min_change}: use a fraction >= 0, e.g. 0.05"
    if not args.noise_factor > 0:
        return f"--noise-factor {args.noise_factor}: use a number > 0, e.g. 3"
    if args.noise and not Path(args.noise).is_file():
        return f"--noise {args.noise}: no such file (write one with --calibrate A.json B.json)"
    return None


def run(args) -> int:
    """Exit status: 0 no regression, 1 regression, 2 bad input (options, results), 3 output not written."""
    problem = _bad_option(args)
    if problem:
        print(f"llm-bench alerts: {problem}", file=sys.stderr)
        return 2
    try:
        if args.calibrate:
            print(f"A/A noise stored in {calibrate(*args.calibrate, args.results)}")
            return 0
        rep, text = build(args)
    except (ValueError, OSError, KeyError) as exc:
        print(f"llm-bench alerts: {str(exc).strip(chr(39))}", file=sys.stderr)
        return 2
    print(text, end="")
    if not write_outputs("alerts", text, rep, args.markdown, args.json):
        return 3
    regressed = rep is not None and any(c["verdict"] == "regression" for c in rep.get("changes", []))
    return 1 if regressed else 0
