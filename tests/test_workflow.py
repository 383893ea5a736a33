"""The per-commit CI recipe (.github/workflows/bench.yml): the headline regex it judges names real
benchmarks, and its compare-commits and bisect calls are ones the commands accept."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from bench_lib.argcheck import OneLineParser

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "bench.yml").read_text())
STEPS = WORKFLOW["jobs"]["smoke"]["steps"]


def _step(name_part: str) -> dict:
    [step] = [s for s in STEPS if name_part in s.get("name", "")]
    return step


def _invocation(script: str, command: str) -> list[str]:
    """The arguments after `bench_lib.cli <command>` in a step's script (continuation lines joined)."""
    joined = script.replace("\\\n", " ")
    [line] = [ln for ln in joined.splitlines() if f"bench_lib.cli {command}" in ln]
    words = shlex.split(line.split(f"bench_lib.cli {command}", 1)[1].split("||")[0])
    return [{"$base": "abc", "$BASE": "abc", "$HEADLINE": "x"}.get(w, w) for w in words]


def test_the_headline_regex_names_the_headline_benchmarks():
    from tests.test_layout import discovered_names

    headline = re.compile(WORKFLOW["jobs"]["smoke"]["env"]["HEADLINE"])
    picked = [n for n in discovered_names() if headline.search(n)]
    for want in ("bench_inference.ArcInference.track_tokens_per_s", "bench_inference.SquadInference.track_ttft",
                 "bench_inference.OpenMathInference.track_tpot", "bench_train.TrainStep.track_step_time"):
        assert want in picked
    assert not [n for n in picked if "track_accuracy" in n or "peak_rss" in n]


def test_the_paired_verdict_and_the_bisection_are_valid_calls():
    from bench_lib.tracking import paired

    for step, command, adder in (("Paired run", "compare-commits", paired.add_compare_arguments),
                                 ("Bisect", "bisect", paired.add_bisect_arguments)):
        parser = OneLineParser(prog=command)
        adder(parser)
        args = parser.parse_args(_invocation(_step(step)["run"], command))
        assert args.rounds >= 4 and args.bench == "x" and args.json


def test_a_regression_fails_the_job_and_bisection_runs_only_then():
    assert _step("Paired run")["id"] == "alerts" and _step("Paired run")["continue-on-error"] is True
    assert _step("Bisect")["if"] == "steps.alerts.outcome == 'failure'"
    assert _step("Fail on a regression")["if"] == "steps.alerts.outcome == 'failure'"
