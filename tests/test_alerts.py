"""Alerts on real asv result files (see test_alerts_fixture): an injected 15% slowdown and 20%
drops in tokens/s and F1 are flagged by name; rises and an unchanged A/A pair are not."""
from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import pytest

from bench_lib.tracking import alerts, asv_results

try:  # tests/ as a package (pytest imports it as `tests`) or as a plain directory
    from tests import test_alerts_fixture as fx
except ImportError:
    import test_alerts_fixture as fx

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return fx.build(tmp_path_factory.mktemp("asv-synth"))


def run_alerts(synth, *extra: str, capsys=None) -> tuple[int, dict, str]:
    out = synth["repo"] / f"alerts-{len(extra)}-{abs(hash(extra))}.json"
    parser = __import__("argparse").ArgumentParser()
    alerts.add_arguments(parser)
    args = parser.parse_args(["--results", str(synth["results"]), "--repo", str(synth["repo"]), "--benchmarks", "none",
                              "--json", str(out), *extra])
    rc = alerts.run(args)
    text = capsys.readouterr().out if capsys else ""
    return rc, json.loads(out.read_text()) if out.exists() else {}, text


def by_verdict(rep: dict, verdict: str) -> set[str]:
    return {c["label"] for c in rep["changes"] if c["verdict"] == verdict}


def test_injected_slowdown_and_drops_are_flagged_rises_are_not(synth, capsys):
    rc, rep, text = run_alerts(synth, "--machine", synth["machine"], "--commit", synth["b"][:8], capsys=capsys)
    assert rc == 1
    assert rep["baseline_commits"] == [synth["a2"]]  # the parent commit by git history
    assert by_verdict(rep, "regression") == {
        "bench_synth.Sleep.time_sleep(case=slowed)",
        "bench_synth.SquadSynth.track_f1(case=drop)",
        "bench_synth.SquadSynth.track_tokens_per_s(case=drop)",
    }
    assert by_verdict(rep, "improvement") == {
        "bench_synth.SquadSynth.track_f1(case=rise)",
        "bench_synth.SquadSynth.track_tokens_per_s(case=rise)",
    }
    # An unregistered metric that moved is reported with its direction unknown, not guessed.
    assert by_verdict(rep, "direction unknown") == {"bench_synth.SquadSynth.track_wibble(case=drop)"}
    slowed = next(c for c in rep["changes"] if c["label"].endswith("time_sleep(case=slowed)"))
    assert 0.10 < slowed["change"] < 0.25 and slowed["significant"] is True
    assert "Mann-Whitney" in slowed["evidence"]
    assert "## Regressions" in text and "time_sleep(case=slowed)" in text
    assert "Sleep.time_sleep(case=steady)" not in text.split("## Improvements")[0].split("## Regressions")[1]


def test_lost_value_and_window_baseline(synth, capsys):
    rc, rep, text = run_alerts(synth, "--machine", synth["machine"], "--commit", synth["b"][:8],
                               "--window", "2", capsys=capsys)
    assert rc == 1 and rep["baseline_commits"] == [synth["a"], synth["a2"]]
    assert [x["label"] for x in rep["lost"]] == ["bench_synth.SquadSynth.track_wibble(case=steady)"]
    assert "## No value now" in text
    f1 = next(c for c in rep["changes"] if c["label"].endswith("track_f1(case=drop)"))
    assert f1["baseline"] == 50.0 and f1["noise"]["window_spread"] == 0.0


def test_changed_environment_is_named_and_not_blamed_on_the_commit(synth, capsys):
    import importlib.metadata

    rc, rep, text = run_alerts(synth, "--machine", synth["machine"], "--commit", synth["c"][:8], capsys=capsys)
    env = rep["environment"]
    assert not env["same"] and env["baseline"] != env["current"]
    installed = importlib.metadata.version("transformers")
    assert ["transformers", installed, fx.OTHER_TRANSFORMERS] in [list(c) for c in env["changes"]]
    assert f"transformers {installed} -> {fx.OTHER_TRANSFORMERS}" in text
    assert "The software environment changed" in text and "none is attributed to the commit alone" in text
    assert "bench_synth.Sleep.time_sleep(case=slowed)" in by_verdict(rep, "regression")
    # Baseline and current from one environment: nothing is said about environments.
    rc, rep, text = run_alerts(synth, "--machine", synth["machine"], "--commit", synth["b"][:8], capsys=capsys)
    assert rep["environment"]["same"] and "environment changed" not in text


def test_unchanged_pair_gets_no_alert(synth, capsys):
    rc, rep, text = run_alerts(synth, "--machine", synth["machine"], "--commit", synth["a2"][:8], capsys=capsys)
    assert rc == 0
    assert rep["baseline_commits"] == [synth["a"]]
    assert {c["verdict"] for c in rep["changes"]} == {"unchanged"}
    assert len(rep["changes"]) == 19  # every value compared, none dropped
    assert "**0 regression(s)**" in text


def test_reproduce_command_selects_exactly_that_benchmark(synth, capsys):
    _, rep, _ = run_alerts(synth, "--machine", synth["machine"], "--commit", synth["b"][:8], capsys=capsys)
    cmd = next(c for c in rep["changes"] if c["label"].endswith("time_sleep(case=slowed)"))["command"]
    assert f"--set-commit-hash {synth['b']}" in cmd and "BENCH_PROFILE=" in cmd
    # The regex as bash hands it to asv (the command is meant to be pasted into a shell).
    args = cmd.split(" asv run ", 1)[1]
    regex = subprocess.run(["bash", "-c", 'f() { while [ "$1" != --bench ]; do shift; done; printf %s "$2"; }; f '
                            + args], capture_output=True, text=True, check=True).stdout
    # asv's own selection: Benchmarks.load filters benchmarks.json with the regex the way `asv run` does.
    from asv.benchmarks import Benchmarks
    from asv.config import Config

    conf = Config.load(str(synth["repo"] / "asv.conf.json"))
    conf.results_dir = str(synth["results"])
    picked = Benchmarks.load(conf, regex=regex)
    selected = [f"{name}{tuple(picked[name]['params'][0][i] for i in [idx])}"
                for name, sel in picked.benchmark_selection.items() if name in picked for idx in sel or []]
    assert list(picked) == ["bench_synth.Sleep.time_sleep"]
    assert selected == ["bench_synth.Sleep.time_sleep(\"'slowed'\",)"]


def test_aa_calibration_sets_the_threshold(synth, capsys):
    first, second = synth["aa_pair"]
    path = alerts.calibrate(first, second, synth["results"])
    stored = json.loads(path.read_text())
    assert stored["pairs"] >= 1 and "bench_synth.Sleep.time_sleep(case=slowed)" in stored["noise"]
    assert stored["noise"]["bench_synth.SquadSynth.track_f1(case=drop)"] == 0.0  # set values repeat exactly
    _, rep, text = run_alerts(synth, "--machine", synth["machine"], "--commit", synth["b"][:8],
                              "--noise-factor", "1000", capsys=capsys)
    slowed = next(c for c in rep["changes"] if c["label"].endswith("time_sleep(case=slowed)"))
    aa = stored["noise"]["bench_synth.Sleep.time_sleep(case=slowed)"]
    assert slowed["noise"]["aa"] == aa and slowed["threshold"] == max(0.05, 1000 * aa)
    if 1000 * aa > 0.2:  # a measured A/A noise that large must silence a 15% change
        assert slowed["verdict"] == "unchanged"
    assert rep["aa_calibrated"] and "A/A noise measured" in text
    path.unlink()


def test_noise_floor_alone_is_said(synth, capsys):
    _, rep, text = run_alerts(synth, "--machine", synth["machine"], "--commit", synth["b"][:8], capsys=capsys)
    assert not rep["aa_calibrated"] and "no A/A noise measured" in text


def test_two_fingerprints_keep_apart_and_compare(synth, capsys):
    assert synth["machine"] != synth["gpu_machine"] and synth["gpu_machine"].startswith("gpu-1x-h100")
    for m in (synth["machine"], synth["gpu_machine"]):
        record = json.loads((synth["results"] / m / "fingerprint.txt").read_text())
        assert record["machine"] == m
    rc, rep, text = run_alerts(synth, "--machines", synth["machine"], synth["gpu_machine"], capsys=capsys)
    assert rc == 0 and rep["commit"] == synth["b"]
    rows = {r["label"]: r for r in rep["rows"]}
    sleep = rows["bench_synth.Sleep.time_sleep(case=steady)"]
    assert 0.3 < sleep["ratio_b_over_a"] < 0.8 and sleep["better"] == synth["gpu_machine"]
    tps = rows["bench_synth.SquadSynth.track_tokens_per_s(case=steady)"]
    assert tps["ratio_b_over_a"] == pytest.approx(3.0) and tps["better"] == synth["gpu_machine"]
    assert "| B/A |" in text


def test_bad_input_names_the_fix(synth, capsys):
    rc, _, _ = run_alerts(synth, "--commit", "deadbeef", capsys=None)
    assert rc == 2
    assert "several machines; pass --machine" in capsys.readouterr().err


def test_direction_of_suite_benchmarks():
    resolve = asv_results.resolve_metric
    assert resolve("b.ArcInference.track_tokens_per_s", "tokens/s").higher_is_better is True
    assert resolve("b.SquadInference.track_f1", "percent").metric == "squad_f1"
    assert resolve("b.OpenMathInference.track_absdiff", "absolute difference").higher_is_better is False
    assert resolve("b.X.time_generate", "seconds").higher_is_better is False
    assert resolve("b.X.peakmem_generate", "bytes").higher_is_better is False
    assert resolve("b.X.track_wibble", "widgets").higher_is_better is None
