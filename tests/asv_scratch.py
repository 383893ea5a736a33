"""A scratch asv project for tests that run `make bench`'s asv step for real on a small suite.

`scratch_project(tmp, suite)` writes the suite's files, points a copy of the repository's
asv.conf.json at them, clears the caller's BENCH_* settings (a test must not inherit a
developer's `BENCH_TIER=regular`) and registers the asv machine "box". `bench_run_cmd` is the
command line of `python -m bench_lib.tracking.bench_run` for it, and `result_values` reads the
one result file that asv wrote for the checkout's HEAD.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASV = str(Path(sys.executable).parent / "asv")


def scratch_project(tmp: Path, suite: dict[str, str]) -> dict:
    """{"dir", "env", "head"} of a new asv project in `tmp` whose benchmarks are `suite`
    (file name -> source); skips the test where the checkout has no commit."""
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True).returncode:
        pytest.skip("asv records results per commit: needs a git checkout with a commit")
    (tmp / "suite").mkdir()
    for name, text in {"__init__.py": "", **suite}.items():
        (tmp / "suite" / name).write_text(text)
    conf = json.loads((ROOT / "asv.conf.json").read_text())
    conf.update(repo=str(ROOT), benchmark_dir="suite", results_dir="results", html_dir="html")
    (tmp / "asv.conf.json").write_text(json.dumps(conf))
    env = dict(os.environ, HOME=str(tmp), PYTHONPATH=str(ROOT), BENCH_CACHE_DIR=str(tmp / "cache"))
    for var in [v for v in env if v.startswith("BENCH_") and v != "BENCH_CACHE_DIR"]:
        del env[var]
    subprocess.run([ASV, "machine", "--yes", "--machine", "box"], cwd=tmp, env=env, check=True, capture_output=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"dir": tmp, "env": env, "head": head}


def bench_run_cmd(project: dict, *extra: str, launch: str = "spawn") -> list[str]:
    return [sys.executable, "-m", "bench_lib.tracking.bench_run", "--asv", ASV, "--", "--python=same", "--quick",
            "--launch-method", launch, "--machine", "box", "--set-commit-hash", project["head"], *extra]


def run_bench(project: dict, *extra: str, launch: str = "spawn", **env) -> subprocess.CompletedProcess:
    return subprocess.run(bench_run_cmd(project, *extra, launch=launch), cwd=project["dir"],
                          env={**project["env"], **env}, capture_output=True, text=True, timeout=600)


def result_values(project: dict) -> dict[str, list | None]:
    """Benchmark name -> asv's `result` list (None for a failed benchmark) for HEAD."""
    [path] = (project["dir"] / "results" / "box").glob(f"{project['head'][:8]}-*.json")
    data = json.loads(path.read_text())
    return {name: dict(zip(data["result_columns"], row))["result"] for name, row in data["results"].items()}
