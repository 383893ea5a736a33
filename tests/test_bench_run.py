"""`make bench`'s asv step (bench_lib.tracking.bench_run) with real asv runs on a two-file suite: an
interrupted run keeps the area that finished, a narrowed run keeps the full benchmarks.json, and a
bad setting leaves an earlier run's files byte-identical."""
import json
import signal
import subprocess
import time

import pytest

from tests.asv_scratch import bench_run_cmd, result_values, run_bench, scratch_project

pytestmark = pytest.mark.slow

# Area a answers at once with $VALUE (and fails where $BROKEN is set); area b waits $WAIT seconds
# first (the run to interrupt).
SUITE = {
    "bench_a.py": ("import os\n\ndef track_value():\n    return float(os.environ.get('VALUE', '1'))\n\n"
                   "def track_broken():\n    if os.environ.get('BROKEN'):\n        raise RuntimeError('broken')\n"
                   "    return 0.0\n"),
    "bench_b.py": ("import os, time\n\ndef track_wait():\n    time.sleep(float(os.environ.get('WAIT', '0')))\n"
                   "    return 7.0\n\ntrack_wait.timeout = 600\n"),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = scratch_project(tmp_path_factory.mktemp("bench_run"), SUITE)
    run = run_bench(project, VALUE="1")  # the earlier, complete run
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert result_values(project) == {"bench_a.track_value": [1.0], "bench_a.track_broken": [0.0],
                                     "bench_b.track_wait": [7.0]}
    assert _listing(project) == ALL
    return project


ALL = {"bench_a.track_value", "bench_a.track_broken", "bench_b.track_wait"}


def _listing(project) -> set:
    return set(json.loads((project["dir"] / "results" / "benchmarks.json").read_text())) - {"version"}


def test_narrowed_run_keeps_the_whole_list(project):
    listing = project["dir"] / "results" / "benchmarks.json"
    before = listing.read_bytes()
    run = run_bench(project, "--bench", "bench_a", VALUE="2")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert result_values(project)["bench_a.track_value"] == [2.0]
    assert result_values(project)["bench_b.track_wait"] == [7.0]
    assert listing.read_bytes() == before  # asv wrote only bench_a's entry; the rest came back


def test_bad_setting_leaves_the_earlier_results_byte_identical(project):
    files = sorted(p for p in (project["dir"] / "results").rglob("*") if p.is_file())
    assert len(files) >= 2
    before = {p: p.read_bytes() for p in files}
    run = run_bench(project, BENCH_MODELS="nosuch")
    assert run.returncode == 2
    assert "BENCH_MODELS" in run.stderr and "nosuch" in run.stderr and "Traceback" not in run.stderr
    assert sorted(p for p in (project["dir"] / "results").rglob("*") if p.is_file()) == files
    assert all(p.read_bytes() == content for p, content in before.items())


def test_interrupted_run_keeps_the_area_that_finished(project):
    log = project["dir"] / "logs" / "bench" / "bench_b.log"
    log.unlink(missing_ok=True)
    proc = subprocess.Popen(bench_run_cmd(project), cwd=project["dir"], env={**project["env"], "VALUE": "3", "WAIT": "300"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    # Interrupt while area b's asv run is under way (its log has begun), area a done.
    while time.monotonic() < deadline and not (log.exists() and "Running" in log.read_text()):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.5)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-2000:] + err[-2000:]
    assert "kept the results of bench_a" in err and "not finished: bench_b" in err
    # a's new value was saved when its asv run ended; b keeps the value of the earlier full run.
    values = result_values(project)
    assert values["bench_a.track_value"] == [3.0] and values["bench_b.track_wait"] == [7.0]
    assert _listing(project) == ALL


def test_failed_benchmarks_are_listed_with_a_command_that_reruns_only_them(project):
    run = run_bench(project, "--bench", "bench_a", BROKEN="1")
    assert run.returncode == 1
    assert result_values(project)["bench_a.track_broken"] is None  # asv: failed
    hint = run.stderr.split("rerun only those with: ")[1].strip()
    assert hint == """make bench ASV_ARGS='--bench "^(bench_a)\\."'"""
    regex = hint.split('"')[1]  # what the shell hands asv: backslashes stay inside double quotes
    run = run_bench(project, "--bench", regex)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "rerun" not in run.stderr
    assert result_values(project)["bench_a.track_broken"] == [0.0]
    assert _listing(project) == ALL


def test_listing_replaces_only_the_areas_that_listed_themselves():
    from bench_lib.tracking.bench_run import merged_listing

    before = {"version": 2, "bench_a.old": 1, "bench_a.kept": 1, "bench_b.x": 1, "bench_gone.y": 1}
    seen = {"version": 2, "bench_a.kept": 2, "bench_a.new": 2}
    # bench_b's run listed nothing (say its file failed to import): its entries stay.
    assert merged_listing(before, seen, ["bench_a", "bench_b"], {"bench_a"}, complete=True) == \
        {"version": 2, "bench_a.kept": 2, "bench_a.new": 2, "bench_b.x": 1}
    # interrupted: nothing is dropped
    assert merged_listing(before, seen, ["bench_a", "bench_b"], {"bench_a"}, complete=False) == \
        {"version": 2, "bench_a.kept": 2, "bench_a.new": 2, "bench_b.x": 1, "bench_gone.y": 1}
