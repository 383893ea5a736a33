"""One asv run into a results folder of its own: the building block of the paired comparisons
(`upgrade-check`: two environments, one commit; `compare-commits` and `bisect`: two commits, one
environment). Each run registers the machine through the fingerprint first, so its results name
the environment they were measured in, and starts its benchmark processes as `make bench` does on a
CPU machine (LAUNCH_METHOD).
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from bench_lib.tracking import asv_results

# asv's launch method of `make bench` on a CPU machine: each benchmark process forked from one
# server that imported the (light) benchmark files, instead of a new interpreter importing them.
LAUNCH_METHOD = "forkserver"


def config(root: Path, results: Path, path: Path) -> Path:
    """The project's asv.conf.json with the benchmarks of `root` and results in `results`."""
    conf = json.loads((Path.cwd() / "asv.conf.json").read_text())
    conf.update(repo=str(Path.cwd()), benchmark_dir=str(root / "benchmarks"), results_dir=str(results),
                html_dir=str(results.parent / "html"))
    path.write_text(json.dumps(conf, indent=1))
    return path


def head(root: Path) -> str:
    return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def run(python: Path, root: Path, results: Path, bench: str, asv_args: list[str], log: Path) -> int:
    """asv run of the benchmarks in checkout `root` (its bench_lib imported, its HEAD recorded) by
    interpreter `python`, into `results`; asv's output is appended to `log`."""
    # asv drops PYTHONPATH from the benchmark processes' environment and sets ASV_PYTHONPATH in
    # its place: without it they would import the installed bench_lib, not this checkout's.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(root), "ASV_PYTHONPATH": str(root)}
    env.setdefault("BENCH_PROFILE", "smoke")
    machine = subprocess.run([str(python), "-m", "bench_lib.cli", "fingerprint", "--asv-machine",
                              "--results", str(results)], capture_output=True, text=True, check=True,
                             env=env, cwd=root).stdout.strip()
    conf = config(root, results, results.parent / f"asv-{results.name}.json")
    cmd = [str(python), "-m", "asv", "run", "--config", str(conf), "--python=same", "--launch-method", LAUNCH_METHOD,
           "--record-samples", "--machine", machine, "--set-commit-hash", head(root), "--bench", bench, *asv_args]
    with log.open("a") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        return subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env).returncode


def load_runs(dirs: list[Path]) -> dict[tuple, list[asv_results.Row]]:
    """row key -> that benchmark's row from each run, in run order."""
    out: dict[tuple, list[asv_results.Row]] = {}
    for d in dirs:
        if d.exists():
            for row in asv_results.load(d):
                out.setdefault(asv_results.row_key(row), []).append(row)
    return out
