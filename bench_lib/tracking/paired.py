"""`llm-bench compare-commits` and `llm-bench bisect`: judge a commit against another measured in
the same job, interleaved.

Runs of one commit made minutes apart on a shared machine differ by more than the 10% a user
cares about (neighbours' load, frequency drift), so comparing a new result with stored history
both flags unchanged code and misses real slowdowns. Here both commits are checked out side by
side (git worktrees, as `asv continuous` does) and measured A B A B ... in one job, so drift and
load hit both alike (duet benchmarking), and the decision uses the runs as the unit: a change
counts when Mann-Whitney U on the rounds' values gives p < 0.05 (bench_lib.tracking.alerts.compare_runs;
samples within one run share its minutes of load, so they are not pooled across runs).

    llm-bench compare-commits --base HEAD~1 --bench GenerateTime --rounds 3
    llm-bench bisect --good v1 --bad HEAD --bench 'GenerateTime.time_generate' --rounds 3

`bisect` walks the first-parent path from good to bad, measuring each midpoint against the good
commit in one paired run, and names the first commit whose selected benchmarks regressed. Both
use the interpreter they run in for every commit (the environment is held fixed; a lock change
between the commits is measured by `llm-bench upgrade-check` instead).
Exit status: 0 no regression (compare) / culprit found (bisect), 1 regression (compare) / none
found (bisect), 2 bad input.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench_lib import formatting
from bench_lib.tracking import alerts, asv_results, asv_run


class PairedError(Exception):
    pass


def git(*args: str) -> str:
    proc = subprocess.run(["git", *args], capture_output=True, text=True)
    if proc.returncode:
        raise PairedError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"git {' '.join(args)} failed")
    return proc.stdout.strip()


def resolve(ref: str) -> str:
    try:
        return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except PairedError:
        raise PairedError(f"{ref!r} is not a commit of this repository (try a hash, a branch or HEAD~1)") from None


def worktree(sha: str, workdir: Path) -> Path:
    path = workdir / "trees" / sha[:12]
    if not (path / ".git").exists():
        if path.exists():
            shutil.rmtree(path)
        git("worktree", "prune")
        git("worktree", "add", "--detach", "--force", str(path), sha)
    return path


def remove_worktrees(workdir: Path) -> None:
    for path in (workdir / "trees").glob("*"):
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], capture_output=True)
    subprocess.run(["git", "worktree", "prune"], capture_output=True)


def measure(commits: dict[str, str], bench: str, rounds: int, asv_args: list[str], workdir: Path,
            log: Path, started: float, step: list[int], total: int) -> dict[str, dict]:
    """{label: runs} for each commit, measured alternately, `rounds` times each."""
    trees = {label: worktree(sha, workdir) for label, sha in commits.items()}
    tag = "-".join(sha[:8] for sha in commits.values())
    results = workdir / "results" / tag
    if results.exists():
        shutil.rmtree(results)
    for i in range(rounds):
        for label, tree in trees.items():
            step[0] += 1
            formatting.progress(step[0], total, started, f"asv run of {label} {commits[label][:10]}, round {i + 1}")
            asv_run.run(Path(sys.executable), tree, results / f"{label}-{i + 1}", bench, asv_args, log)
    return {label: asv_run.load_runs([results / f"{label}-{i + 1}" for i in range(rounds)]) for label in trees}


def compare(commits: dict[str, str], args, workdir: Path, log: Path, started: float, step: list[int],
            total: int) -> dict:
    runs = measure(commits, args.bench, args.rounds, args.asv_args.split(), workdir, log, started, step, total)
    if not any(runs.values()):
        raise PairedError(f"asv measured nothing for --bench {args.bench!r}; its output is in {log}")
    names = tuple(commits)
    rep = alerts.compare_runs(runs[names[0]], runs[names[1]], names, (asv_results.suite_metrics(args.benchmarks) if str(args.benchmarks) != "none" else {}),
                              args.min_change)
    rep["commits"] = commits
    return rep


def regressed(rep: dict, judge: str | None) -> list[dict]:
    """The regressions among the benchmarks `judge` selects (all when None); a benchmark that
    has a value on the base side only counts too: it broke."""
    pick = (lambda label: re.search(judge, label)) if judge else (lambda label: True)
    bad = [r for r in rep["rows"] if r["verdict"] == "regression" and pick(r["label"])]
    return bad + [f for f in rep["failed"] if f["only_in"] == rep["names"][0] and pick(f["label"])]


def subject(sha: str) -> str:
    return git("log", "-1", "--format=%h %s", sha)


def render(rep: dict, title: str) -> str:
    rows = rep["rows"]
    count = lambda v: sum(r["verdict"] == v for r in rows)
    a, b = rep["names"]
    out = [f"# {title}", "",
           f"{a} = {subject(rep['commits'][a])}; {b} = {subject(rep['commits'][b])}; measured alternately, "
           f"{rep['rounds']} asv run(s) each, in one job.", "",
           f"**{count('regression')} regression(s)**, {count('improvement')} improvement(s), "
           f"{count('direction unknown')} moved with unknown direction, {count('unchanged')} unchanged."]
    out += alerts.render_moved(rep)
    return "\n".join(out + alerts.render_failed(rep)) + "\n"


# --- command line ---------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    parser.add_argument("--bench", required=True, help="asv benchmark regex, as `asv run --bench` takes it")
    parser.add_argument("--rounds", type=int, default=5, help="asv runs per commit, alternating (default 5; 4 is the fewest that can show a change)")
    parser.add_argument("--min-change", type=float, default=0.05,
                        help="smallest relative change counted as moved (default 0.05)")
    parser.add_argument("--asv-args", default="-a rounds=1 -a repeat=5",
                        help="extra asv run arguments (default: the smoke tier's)")
    parser.add_argument("--benchmarks", type=Path, default=Path("benchmarks"),
                        help="asv benchmark suite, read for each track_'s metric ('none': match names only)")
    parser.add_argument("--workdir", type=Path, default=Path(".bench_cache/paired"),
                        help="where the worktrees, results and asv's log go")
    parser.add_argument("--keep", action="store_true", help="keep the worktrees afterwards")
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    parser.add_argument("--json", type=Path, help="write the report as JSON here")


def add_compare_arguments(parser) -> None:
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--head", default="HEAD", help="the commit judged (default HEAD)")
    add_arguments(parser)


def add_bisect_arguments(parser) -> None:
    parser.add_argument("--good", required=True, help="a commit without the regression")
    parser.add_argument("--bad", default="HEAD", help="a commit with it (default HEAD)")
    parser.add_argument("--judge", default=None,
                        help="regex over benchmark labels that decides good or bad (default: every selected one)")
    add_arguments(parser)


def check(args) -> None:
    if args.rounds < 1:
        raise PairedError(f"--rounds {args.rounds}: give at least 1 (3 or more for samples to decide on)")
    if not 0 <= args.min_change < 1:
        raise PairedError(f"--min-change {args.min_change}: give a fraction between 0 and 1, e.g. 0.05")
    for pattern, flag in ((args.bench, "--bench"), (getattr(args, "judge", None), "--judge")):
        try:
            pattern is None or re.compile(pattern)
        except re.error as exc:
            raise PairedError(f"{flag} {pattern!r} is not a regular expression ({exc})") from None
    if not Path("asv.conf.json").exists():
        raise PairedError("asv.conf.json not found: run from the project's checkout")


def finish(args, rep: dict, text: str, workdir: Path, prog: str) -> int | None:
    print(text, end="")
    if not args.keep:
        remove_worktrees(workdir)
    return None if alerts.write_outputs(prog, text, rep, args.markdown, args.json) else 3


def run_compare(args) -> int:
    try:
        check(args)
        commits = {"base": resolve(args.base), "head": resolve(args.head)}
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        log = workdir / "asv.log"
        rep = compare(commits, args, workdir, log, time.monotonic(), [0], 2 * args.rounds)
    except PairedError as exc:
        print(f"llm-bench compare-commits: {exc}", file=sys.stderr)
        return 2
    rep["rounds"] = args.rounds
    code = finish(args, rep, render(rep, "llm-bench paired comparison"), workdir, "compare-commits")
    return code if code is not None else (1 if regressed(rep, None) else 0)


def run_bisect(args) -> int:
    try:
        check(args)
        good, bad = resolve(args.good), resolve(args.bad)
        path = git("rev-list", "--reverse", "--first-parent", "--ancestry-path", f"{good}..{bad}").split()
        if not path:
            raise PairedError(f"{args.bad} is not a descendant of {args.good}: nothing to bisect")
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        log = workdir / "asv.log"
        lo, hi = -1, len(path) - 1  # path[lo] is good (-1: the good commit), path[hi] is bad
        steps_total = max(1, (len(path)).bit_length())
        started, step, steps, last = time.monotonic(), [0], [], None
        print(f"bisect: {len(path)} commits between {good[:10]} and {bad[:10]}, about {steps_total} steps",
              file=sys.stderr)
        # The bad end is confirmed first: a "regression" that its own paired run does not show
        # cannot be bisected.
        probes = [hi]
        while probes:
            mid = probes.pop()
            rep = compare({"good": good, "probe": path[mid]}, args, workdir, log, started, step,
                          2 * args.rounds * (steps_total + 1))
            bad_here = regressed(rep, args.judge)
            steps.append({"commit": path[mid], "bad": bool(bad_here),
                          "evidence": [x["label"] + ": " + x.get("evidence", "value on the good side only")
                                       for x in bad_here]})
            print(f"bisect: {subject(path[mid])} is {'bad' if bad_here else 'good'}", file=sys.stderr)
            if mid == len(path) - 1 and not bad_here:
                raise PairedError(f"{bad[:10]} shows no regression against {good[:10]} in a paired run "
                                  f"of --bench {args.bench!r}: nothing to bisect")
            if bad_here:
                hi, last = mid, rep
            else:
                lo = mid
            if hi - lo > 1:
                probes.append((lo + hi) // 2)
    except PairedError as exc:
        print(f"llm-bench bisect: {exc}", file=sys.stderr)
        return 2
    culprit = path[hi]
    last["rounds"] = args.rounds
    rep = {"first_bad": culprit, "subject": subject(culprit), "steps": steps, "final": last}
    text = (f"# llm-bench bisect: first bad commit {subject(culprit)}\n\n"
            + "\n".join(f"- {subject(s['commit'])}: {'bad' if s['bad'] else 'good'}" for s in steps) + "\n\n"
            + render(last, f"{subject(culprit)} against the good commit"))
    code = finish(args, rep, text, workdir, "bisect")
    return code if code is not None else 0
