"""compare-commits and bisect on a scratch git history measured by real asv: eight commits, a
slowdown planted in the fifth; the paired runs find that commit, and an unchanged pair of commits
gets no alert."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

try:  # tests/ as a package (pytest imports it as `tests`) or as a plain directory
    from tests import test_alerts_fixture as fx
except ImportError:
    import test_alerts_fixture as fx

pytestmark = pytest.mark.slow

SUITE = '''
import json, os, time


class Decode:
    """Sleeps for the time knobs.json sets: a stand-in for a decode step whose cost a commit changes."""
    number = 1
    repeat = 5
    warmup_time = 0
    min_run_count = 1
    version = "1"

    def setup(self):
        with open(os.path.join(os.path.dirname(__file__), "knobs.json")) as fh:
            self.delay = json.load(fh)["delay"]

    def time_step(self):
        time.sleep(self.delay)
'''
FAST, SLOW = 0.05, 0.08  # a 60% slowdown: far outside a loaded machine's wake-up jitter


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("paired")
    repo, home = fx.project(tmp)
    (repo / "benchmarks" / "bench_synth.py").write_text(SUITE)
    shas = []
    for i in range(1, 9):
        delay = SLOW if i >= 5 else FAST
        (repo / "benchmarks" / "knobs.json").write_text(json.dumps({"delay": delay}))
        (repo / "NOTES.md").write_text(f"commit {i}\n")
        fx.git(repo, "add", "-A")
        fx.git(repo, "commit", "-q", "-m", f"commit {i}" + (" (slower)" if i == 5 else ""),
               date=f"2026-01-0{i}T00:00:00")
        shas.append(fx.git(repo, "rev-parse", "HEAD"))
    return {"repo": repo, "home": home, "shas": shas}


def cli(history, *args: str) -> subprocess.CompletedProcess:
    env = {**fx.tool_env(history["home"]), "BENCH_PROFILE": "smoke"}
    return subprocess.run([sys.executable, "-m", "bench_lib.cli", *args, "--rounds", "4", "--asv-args", "",
                           "--benchmarks", "none"], cwd=history["repo"], env=env, capture_output=True, text=True,
                          timeout=900)


def test_bisect_finds_the_planted_commit(history, tmp_path):
    shas, out = history["shas"], tmp_path / "bisect.json"
    proc = cli(history, "bisect", "--good", shas[0], "--bad", shas[-1], "--bench", "Decode", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rep = json.loads(out.read_text())
    assert rep["first_bad"] == shas[4] and "commit 5 (slower)" in rep["subject"]
    assert "first bad commit" in proc.stdout and "commit 5 (slower)" in proc.stdout
    # Every step's verdict agrees with where the slowdown really is.
    assert all(s["bad"] == (shas.index(s["commit"]) >= 4) for s in rep["steps"])
    assert len(rep["steps"]) <= 4   # the bad end confirmed, then a binary search over 7 commits
    final = rep["final"]["rows"][0]
    assert final["verdict"] == "regression" and "4+4 runs" in final["evidence"]
    assert 0.3 < final["change"] < 1.0
    # The worktrees are gone afterwards.
    listed = fx.git(history["repo"], "worktree", "list")
    assert len(listed.splitlines()) == 1


def test_compare_commits_unchanged_and_slowed(history, tmp_path):
    shas = history["shas"]
    same = cli(history, "compare-commits", "--base", shas[1], "--head", shas[2], "--bench", "Decode",
               "--json", str(tmp_path / "same.json"))
    assert same.returncode == 0, same.stderr[-3000:]
    assert {r["verdict"] for r in json.loads((tmp_path / "same.json").read_text())["rows"]} == {"unchanged"}
    slowed = cli(history, "compare-commits", "--base", shas[3], "--head", shas[4], "--bench", "Decode",
                 "--json", str(tmp_path / "slowed.json"))
    assert slowed.returncode == 1
    (row,) = json.loads((tmp_path / "slowed.json").read_text())["rows"]
    assert row["verdict"] == "regression" and row["better"] == "base"
    assert "**1 regression(s)**" in slowed.stdout


def test_bad_refs_are_one_line(history):
    proc = cli(history, "compare-commits", "--base", "no-such-ref", "--bench", "Decode")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["llm-bench compare-commits: 'no-such-ref' is not a commit of this "
                                                "repository (try a hash, a branch or HEAD~1)"]
    shas = history["shas"]
    proc = cli(history, "bisect", "--good", shas[5], "--bad", shas[2], "--bench", "Decode")
    assert proc.returncode == 2 and "is not a descendant" in proc.stderr
