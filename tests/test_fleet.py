"""`llm-bench fleet` with submitit's local executor on the embedded default (real asv, real jobs)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench_lib.tracking import asv_results, asv_run, fleet, fleet_merge

ROOT = Path(__file__).resolve().parent.parent
BENCH = r"ArcInference\.track_accuracy"
NAMES = ["bench_inference.ArcInference.track_accuracy", "bench_inference.ArcInference.track_accuracy_ci_high",
         "bench_inference.ArcInference.track_accuracy_ci_low"]


def test_split_keeps_classes_whole_and_balances_measured_cost():
    benchmarks = {f"m.{c}.track_{i}": {"setup_cache_key": f"m:{c}"} for c in "ABC" for i in range(2)}
    costs = {"m.A.track_0": 50.0, "m.A.track_1": 40.0, "<setup_cache m:A>": 10.0,
             "m.B.track_0": 30.0, "m.B.track_1": 30.0, "m.C.track_0": 20.0, "m.C.track_1": 20.0}
    shards = fleet.split(benchmarks, 2, costs)
    assert [sorted({n.split(".")[1] for n in s["benchmarks"]}) for s in shards] == [["A"], ["B", "C"]]
    assert [s["cost"] for s in shards] == [100.0, 100.0] and all(s["measured"] for s in shards)
    # fewer classes than shards: the class is split into its benchmarks, equal weights without results
    one = {f"m.A.track_{i}": {"setup_cache_key": "m:A"} for i in range(3)}
    split = fleet.split(one, 2, {})
    assert sorted(len(s["benchmarks"]) for s in split) == [1, 2] and not any(s["measured"] for s in split)


def test_shard_regex_selects_exactly_its_benchmarks_as_asv_matches_them():
    regex = fleet.shard_regex(["b.C.track_x"], r"C\.track_x")
    # asv matches a parameterized benchmark as 'name(p1, p2)', a plain one by its name
    hits = [n for n in ("b.C.track_x('m', 1)", "b.C.track_x", "b.C.track_x_ci_low('m', 1)", "b.D.track_x")
            if re.search(regex, n)]
    assert hits == ["b.C.track_x('m', 1)", "b.C.track_x"]
    # the user's regex still narrows the parameter combinations
    assert not re.search(fleet.shard_regex(["b.C.track_x"], "'big'"), "b.C.track_x('small', 1)")


def _env(tmp_path: Path, **extra) -> dict:
    import submitit

    (tmp_path / "home").mkdir(exist_ok=True)
    site = str(Path(submitit.__file__).resolve().parent.parent)
    return {**os.environ, "HOME": str(tmp_path / "home"), "BENCH_PROFILE": "smoke", "BENCH_MODELS": "tiny-qwen3",
            "BENCH_TASKS": "arc", "PYTHONPATH": os.pathsep.join([str(ROOT), site]), **extra}


def _fleet(tmp_path: Path, *args, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench_lib.cli", "fleet", "--scheduler", "local", "--shards", "2",
                           "--work", str(tmp_path / "work"), "--results", str(tmp_path / "fleet" / "results"), *args],
                          cwd=ROOT, env=_env(tmp_path, **env), capture_output=True, text=True, timeout=900)


def _keys(results: Path) -> set:
    return {asv_results.row_key(r) for r in asv_results.load(results)}


@pytest.mark.slow
def test_local_fleet_two_shards_one_failing_then_resumed(tmp_path):
    pytest.importorskip("submitit")
    results = tmp_path / "fleet" / "results"
    proc = _fleet(tmp_path, "--bench", BENCH, **{fleet.FAIL_ENV: "1"})
    assert proc.returncode == 1, proc.stderr[-3000:]
    failed = [line for line in proc.stderr.splitlines() if line.startswith("shard 1 failed")]
    assert len(failed) == 1 and Path(failed[0].rsplit("log: ", 1)[1]).is_file()
    plan = json.loads((tmp_path / "work" / fleet.PLAN).read_text())
    assert sorted(n for s in plan["shards"] for n in s["benchmarks"]) == NAMES
    landed = {k[0] for k in _keys(results)}
    assert landed == set(plan["shards"][0]["benchmarks"])  # the other shard's results are kept

    proc = _fleet(tmp_path, "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "shard 0: " in proc.stderr and ", kept" in proc.stderr and "shard 1: " in proc.stderr
    machines = [p for p in results.iterdir() if p.is_dir()]
    assert len(machines) == 1
    files = asv_results.result_files(results)
    assert len(files) == 1  # the shards of one commit, machine and environment in one file
    from asv.results import Results

    assert set(Results.load(str(files[0])).get_all_result_keys()) == set(NAMES)
    assert (machines[0] / "machine.json").is_file() and list(machines[0].glob("env-*.txt"))
    index = json.loads((tmp_path / "fleet" / "html" / "index.json").read_text())
    assert set(NAMES) <= set(index["benchmarks"])

    # the same selection as one plain asv run on this machine: the same benchmark set
    single = tmp_path / "single" / "results"
    single.mkdir(parents=True)
    env = _env(tmp_path)
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        rc = asv_run.run(Path(sys.executable), ROOT, single, BENCH, ["-a", "rounds=1", "-a", "repeat=5"],
                         tmp_path / "single" / "asv.log")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert rc == 0, (tmp_path / "single" / "asv.log").read_text()[-3000:]
    assert _keys(results) == _keys(single)
    rows = asv_results.load(results)
    assert {(r.machine, r.commit, r.env) for r in rows} == {(r.machine, r.commit, r.env) for r in asv_results.load(single)}

    # a shard measured in another environment is refused, not merged into the series
    other = tmp_path / "other" / "results"
    (other / machines[0].name).mkdir(parents=True)
    doc = json.loads(files[0].read_text())
    doc["params"]["env"] = "0123456789ab"
    (other / machines[0].name / files[0].name).write_text(json.dumps(doc))
    before = files[0].read_text()
    with pytest.raises(fleet_merge.MixedEnvironments, match="two environments into one series"):
        fleet_merge.merge([other], results)
    assert files[0].read_text() == before


def test_bad_input_is_one_line(tmp_path):
    pytest.importorskip("submitit")
    cases = [(["--bench", "("], "is not a regular expression"), (["--shards", "0"], "must be at least 1"),
             (["--resume"], "needs an earlier run's"), (["--bench", "NoSuchBenchmark"], "selects no benchmark")]
    if shutil.which("srun") is None:  # on a cluster this would submit for real
        cases.append((["--scheduler", "slurm", "--bench", r"ArcInference\.track_accuracy\("], "cannot submit to slurm"))
    for args, phrase in cases:
        proc = _fleet(tmp_path, *args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and phrase in lines[0], proc.stderr
