"""Measured power of the per-commit verdict: false alarms of an unchanged commit (A/A) and the
detection rate of a planted slowdown, on real asv runs of the real suite on this machine.

    python scripts/alert_power.py --trials 10 --rounds 5 --slowdown 0.25,0.5 --json power.json

In a temporary clone of this repository these commits are made on top of HEAD:
- A2, an empty commit (the same code as A: any regression reported for it is a false alarm);
- one commit B per fraction in `--slowdown`, each A's code with a busy-wait of that fraction of
  each decode step's own duration added after every decode forward of the HF engine's loop and
  every `llama_decode` of the llama.cpp engine's loop (made only in those scratch commits, never a
  switch in the product). Several fractions measured in one run give the detection rate as a
  function of the slowdown, whose smallest fraction caught in every trial estimates the minimum
  detectable effect.
Each trial measures A, A2 and every B alternately, `--rounds` asv runs each, in one job (the same
worktrees and measurement as `llm-bench compare-commits`), and judges A2 and each B against A with
`alerts.compare_runs`, the rule the per-commit verdict uses: a benchmark regressed when its
median moved the wrong way by more than 5% and Mann-Whitney U over the runs gives p < 0.05.
The selected benchmarks are the headline decode figures of the HF engine (ArcInference) and of
llama.cpp (ArcEngines with BENCH_ENGINES=llamacpp) at batch size 1 and 4.

The output counts, per benchmark: A/A regressions reported (goal 0 in every trial) and, per
slowdown, the trials in which it was caught, with B/A's median ratio per trial (the slowdown the
suite saw) and the Mann-Whitney p of each verdict.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = r"ArcInference\.track_(tokens_per_s|tpot)\b|ArcEngines\.track_(tokens_per_s|tpot)\b"

HF_DECODE = """            out = model(input_ids=step, attention_mask=mask if padded else None, position_ids=positions,
                        past_key_values=out.past_key_values, use_cache=True)
"""
LLAMACPP_DECODE = """            self._decode([token])
"""


def _slowed(code: str, pad: str, fraction: float) -> str:
    """`code` followed by a busy-wait of `fraction` of its own duration."""
    return (f"{pad}_t0 = __import__('time').perf_counter()\n{code}"
            f"{pad}_end = __import__('time').perf_counter()\n"
            f"{pad}_end += {fraction!r} * (_end - _t0)\n"
            f"{pad}while __import__('time').perf_counter() < _end:\n{pad}    pass\n")


def plant_slowdown(clone: Path, fraction: float) -> None:
    for rel, code in (("bench_lib/engines/hf.py", HF_DECODE), ("bench_lib/engines/llamacpp.py", LLAMACPP_DECODE)):
        path = clone / rel
        text = path.read_text()
        if text.count(code) != 1:
            raise SystemExit(f"alert_power: the decode call in {rel} has changed; update this script's copy of it")
        path.write_text(text.replace(code, _slowed(code, " " * 12, fraction)))


def git(clone: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(clone), "-c", "user.name=scratch", "-c", "user.email=scratch@example.com",
                           *args], capture_output=True, text=True, check=True).stdout.strip()


def _label(fraction: float) -> str:
    return f"B{fraction:g}"


def report(per: dict, args, shas: dict, started: float, done: int, final: bool = True) -> None:
    """The counts so far as a markdown table (stdout, at the end) and JSON (--json, after every trial)."""
    out = {"date": time.strftime("%Y-%m-%d"), "slowdowns": args.slowdown, "rounds": args.rounds,
           "trials_done": done, "trials": args.trials, "bench": args.bench, "commits": shas, "benchmarks": per,
           "wall_s": round(time.monotonic() - started)}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    if not final:
        return
    print(f"\n{done} trials, {args.rounds} asv runs per commit each, decode slowed by "
          f"{', '.join(f'{x:.0%}' for x in args.slowdown)} in the B commits ({out['wall_s']} s)\n")
    fmt = lambda xs: (f"{statistics.median(xs):.3f} [{min(xs):.3f}, {max(xs):.3f}]"
                      if xs and all(x is not None for x in xs) else "n/a")
    heads = " | ".join(f"{x:.0%} slower: caught, B/A [min, max]" for x in args.slowdown)
    print(f"| benchmark | A/A false alarms | A2/A ratio [min, max] | {heads} |")
    print("|---|---|---|" + "---|" * len(args.slowdown))
    for label, e in sorted(per.items()):
        cells = " | ".join(f"{b['detected']}/{len(b['ratios'])}, {fmt(b['ratios'])}"
                           for b in (e["by_slowdown"].get(f"{x:g}", {"detected": 0, "ratios": []}) for x in args.slowdown))
        print(f"| `{label}` | {e['aa_false_alarms']}/{e['trials']} | {fmt(e['aa_ratios'])} | {cells} |")
    print("\nMinimum detectable effect (the smallest slowdown caught in every trial), per benchmark:")
    for label, e in sorted(per.items()):
        caught = [x for x in args.slowdown
                  if e["by_slowdown"].get(f"{x:g}", {}).get("detected") == done and done > 0]
        print(f"- `{label}`: {f'{min(caught):.0%}' if caught else f'above {max(args.slowdown):.0%}'} "
              f"(of {', '.join(f'{x:.0%}' for x in args.slowdown)}; {done} trials)")


def _p_value(row: dict) -> float | None:
    """The Mann-Whitney p the verdict read (None where the runs were too few for one)."""
    m = re.search(r"Mann-Whitney U p=([0-9.eE+-]+)", row.get("evidence", ""))
    return float(m.group(1)) if m else None


def fractions(text: str) -> list[float]:
    try:
        values = sorted({float(part) for part in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write it as fractions, e.g. 0.25,0.5") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: every slowdown must be a fraction above 0, e.g. 0.25,0.5")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4, help="asv runs per commit per trial (4: the fewest that can show a change)")
    parser.add_argument("--slowdown", type=fractions, default=[0.10],
                        help="busy-wait as a fraction of each decode step; several, comma-separated, give one B commit each")
    parser.add_argument("--bench", default=BENCH)
    parser.add_argument("--json", type=Path, help="write the counts and every trial's ratios here")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("BENCH_TASKS", "arc")
    os.environ.setdefault("BENCH_ENGINES", "llamacpp")
    os.environ.setdefault("BENCH_PROFILE", "smoke")
    work = Path(tempfile.mkdtemp(prefix="alert-power-"))
    clone = work / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    shas = {"A": git(clone, "rev-parse", "HEAD")}
    git(clone, "commit", "-q", "--allow-empty", "-m", "scratch: no change (A/A)")
    shas["A2"] = git(clone, "rev-parse", "HEAD")
    engines = ["bench_lib/engines/hf.py", "bench_lib/engines/llamacpp.py"]
    for fraction in args.slowdown:  # each B holds A's code plus its own slowdown, not the earlier B's
        git(clone, "checkout", "-q", shas["A"], "--", *engines)
        plant_slowdown(clone, fraction)
        git(clone, "commit", "-q", "-am", f"scratch: decode steps {fraction:.0%} slower (HF loop and llama.cpp loop)")
        shas[_label(fraction)] = git(clone, "rev-parse", "HEAD")

    os.chdir(clone)  # the paired measurement works on the repository it stands in
    from bench_lib.tracking import alerts, asv_results, paired

    suite = asv_results.suite_metrics(clone / "benchmarks")
    per: dict[str, dict] = {}
    started, step, total = time.monotonic(), [0], args.trials * args.rounds * len(shas)
    log = work / "asv.log"
    for trial in range(args.trials):
        runs = paired.measure(shas, args.bench, args.rounds, ["-a", "rounds=1", "-a", "repeat=5"],
                              work / "paired", log, started, step, total)
        for label in ("A2", *(_label(x) for x in args.slowdown)):
            rep = alerts.compare_runs(runs["A"], runs[label], ("A", label), suite, 0.05)
            for row in rep["rows"]:
                entry = per.setdefault(row["label"], {"aa_false_alarms": 0, "trials": 0, "aa_ratios": [], "aa_p": [],
                                                      "by_slowdown": {}})
                ratio, p = row["ratio_b_over_a"], _p_value(row)
                if label == "A2":
                    entry["trials"] += 1
                    entry["aa_false_alarms"] += row["verdict"] == "regression"
                    entry["aa_ratios"].append(ratio)
                    entry["aa_p"].append(p)
                else:
                    b = entry["by_slowdown"].setdefault(label[1:], {"detected": 0, "ratios": [], "p": []})
                    b["detected"] += row["verdict"] == "regression"
                    b["ratios"].append(ratio)
                    b["p"].append(p)
            if not rep["rows"]:
                print(f"trial {trial + 1}: asv measured nothing for {label}; see {log}", file=sys.stderr)
        report(per, args, shas, started, trial + 1, final=False)  # an interrupted run keeps its trials
    paired.remove_worktrees(work / "paired")
    report(per, args, shas, started, args.trials)
    return 0


if __name__ == "__main__":
    sys.exit(main())
