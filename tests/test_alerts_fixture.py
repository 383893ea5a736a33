"""A real asv project in a temp git repo whose numbers are set by a knob file, run by real asv.

The alert and report tests read the result files asv writes here, so they see asv's exact
format (result columns, stats, recorded samples, benchmarks.json), not dicts written by hand.
time_sleep sleeps for a set time; the track_ methods return set values. Commits:
  A   baseline knobs                      (run twice: the A/A calibration pair)
  A2  a docs-only commit, same knobs      (an unchanged A/A pair against A)
  B   'slowed' sleeps 15% longer; 'drop' cases of F1 and tokens/s fall 20%, 'rise' cases rise 20%;
      an unregistered metric (track_wibble) doubles in one case and fails in another
  C   a docs-only commit measured in another software environment (transformers at another
      version), whose 'slowed' case sleeps 15% longer again
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASV = str(Path(sys.executable).with_name("asv"))

SUITE = '''
import json, os, time

def _knobs():
    with open(os.path.join(os.path.dirname(__file__), "knobs.json")) as fh:
        return json.load(fh)


class Sleep:
    """Sleeps for a set time. On a loaded machine the wake-up comes a few ms late; against a
    200 ms sleep that is a few percent, well under the 15% injected on commit B."""
    params = [["slowed", "steady"]]
    param_names = ["case"]
    number = 1
    repeat = 5
    warmup_time = 0
    min_run_count = 1
    version = "1"

    def setup(self, case):
        self.delay = _knobs()["delay"][case]

    def time_sleep(self, case):
        time.sleep(self.delay)


def _track(key, unit):
    def method(self, *params):
        value = _knobs()[key][",".join(params)]
        if value is None:
            raise RuntimeError("this knob makes the benchmark fail")
        return value
    method.unit = unit
    return method


class SquadSynth:
    params = [["drop", "rise", "steady"]]
    param_names = ["case"]
    version = "1"
    track_f1 = _track("f1", "percent")
    track_tokens_per_s = _track("tps", "tokens/s")
    track_wibble = _track("wibble", "widgets")


class ArcInference:
    params = [["small", "big"], ["1"]]
    param_names = ["model", "batch_size"]
    version = "1"
    track_macro_f1 = _track("arc_f1", "fraction")
    track_peak_rss = _track("rss", "bytes")
    track_e2e_latency = _track("latency", "seconds")
    track_tokens_per_s = _track("arc_tps", "tokens/s")
'''

KNOBS_A = {
    "delay": {"slowed": 0.2, "steady": 0.2},
    "f1": {"drop": 50.0, "rise": 50.0, "steady": 50.0},
    "tps": {"drop": 100.0, "rise": 100.0, "steady": 100.0},
    "wibble": {"drop": 1.0, "rise": 1.0, "steady": 1.0},
    "arc_f1": {"small,1": 0.40, "big,1": 0.55},
    "rss": {"small,1": 4.0e8, "big,1": 9.0e8},
    "latency": {"small,1": 0.10, "big,1": 0.25},
    "arc_tps": {"small,1": 200.0, "big,1": 80.0},
}


def knobs_b() -> dict:
    k = json.loads(json.dumps(KNOBS_A))
    k["delay"]["slowed"] = 0.2 * 1.15
    for key in ("f1", "tps"):
        k[key]["drop"] *= 0.8
        k[key]["rise"] *= 1.2
    k["wibble"]["drop"] = 2.0
    k["wibble"]["steady"] = None  # fails on B: had a value on the baseline, none now
    return k


def git(repo: Path, *args: str, date: str | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def commit(repo: Path, knobs: dict, message: str, date: str) -> str:
    (repo / "benchmarks" / "knobs.json").write_text(json.dumps(knobs))
    (repo / "NOTES.md").write_text(message + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, date=date)
    return git(repo, "rev-parse", "HEAD")


def tool_env(home: Path) -> dict:
    """asv reads ~/.asv-machine.json: a private HOME keeps the developer's own file untouched."""
    return {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}


def asv_run(repo: Path, home: Path, machine: str, sha: str) -> Path:
    subprocess.run([ASV, "run", "--python=same", "--record-samples", "--machine", machine,
                    "--launch-method", "forkserver", "--set-commit-hash", sha, "--show-stderr"],
                   cwd=repo, env=tool_env(home), capture_output=True, text=True, timeout=300)
    # asv exits non-zero when a benchmark fails (commit B makes one fail on purpose); the result
    # file records it, and its absence means asv itself did not run.
    (path,) = (repo / "results" / machine).glob(f"{sha[:8]}-*.json")
    return path


OTHER_TRANSFORMERS = "99.0.0"


def register_machine(repo: Path, home: Path, fake_gpu: str | None = None, other_env: bool = False) -> str:
    """Register an asv machine through `llm-bench fingerprint --asv-machine`; with fake_gpu, as
    if nvidia-smi had printed that line (a second, GPU machine for the cross-hardware test); with
    other_env, as if transformers were installed at OTHER_TRANSFORMERS."""
    code = ("import sys; from bench_lib import environment as e, fingerprint as f\n"
            "from bench_lib.tracking import fingerprint_cli as c\n"
            "if sys.argv[1]:\n"
            "    f.cuda_gpus = lambda: f.parse_nvidia_smi(sys.argv[1])\n"
            "    f.cuda_runtime = lambda: '12.8'\n"
            "if sys.argv[2]:\n"
            "    real = e.installed\n"
            "    e.installed = lambda: {**real(), 'transformers': sys.argv[2]}\n"
            "print(c.register_asv_machine(f.collect(), 'results').parent.name)\n")
    out = subprocess.run([sys.executable, "-c", code, fake_gpu or "", OTHER_TRANSFORMERS if other_env else ""],
                         cwd=repo, env=tool_env(home), check=True, capture_output=True, text=True)
    return out.stdout.strip()


def project(tmp: Path) -> tuple[Path, Path]:
    """The synthetic asv project (a git repo) and a private HOME for asv's machine file."""
    repo, home = tmp / "proj", tmp / "home"
    (repo / "benchmarks").mkdir(parents=True)
    home.mkdir()
    (repo / "benchmarks" / "__init__.py").write_text("")
    (repo / "benchmarks" / "bench_synth.py").write_text(SUITE)
    conf = {"version": 1, "project": "synth", "project_url": "", "repo": ".", "branches": ["main"],
            "environment_type": "existing", "benchmark_dir": "benchmarks", "results_dir": "results",
            "html_dir": "html", "build_command": [], "install_command": [], "uninstall_command": []}
    (repo / "asv.conf.json").write_text(json.dumps(conf))
    git(repo, "init", "-q", "-b", "main")
    return repo, home


def build(tmp: Path) -> dict:
    repo, home = project(tmp)
    machine = register_machine(repo, home)
    gpu_machine = register_machine(repo, home, "NVIDIA H100 80GB HBM3, 81559, 550.54.15, 9.0")
    a = commit(repo, KNOBS_A, "A", "2026-01-01T00:00:00")
    aa_first = asv_run(repo, home, machine, a)
    saved = tmp / "aa-first.json"
    shutil.copy(aa_first, saved)
    aa_second = asv_run(repo, home, machine, a)
    a2 = commit(repo, KNOBS_A, "A2: docs only", "2026-01-02T00:00:00")
    asv_run(repo, home, machine, a2)
    b = commit(repo, knobs_b(), "B: slower, worse", "2026-01-03T00:00:00")
    asv_run(repo, home, machine, b)
    # The same commit on the second machine, which sleeps half as long and measures 3x the tokens/s.
    fast = knobs_b()
    fast["delay"] = {k: v / 2 for k, v in fast["delay"].items()}
    fast["tps"] = {k: v * 3 for k, v in fast["tps"].items()}
    (repo / "benchmarks" / "knobs.json").write_text(json.dumps(fast))
    asv_run(repo, home, gpu_machine, b)
    register_machine(repo, home, other_env=True)
    slower = knobs_b()
    slower["delay"]["slowed"] *= 1.15
    c = commit(repo, slower, "C: docs only, other environment", "2026-01-04T00:00:00")
    asv_run(repo, home, machine, c)
    register_machine(repo, home)
    return {"repo": repo, "home": home, "results": repo / "results", "machine": machine,
            "gpu_machine": gpu_machine, "a": a, "a2": a2, "b": b, "c": c, "aa_pair": (saved, aa_second)}


def build_single(tmp: Path) -> dict:
    """One commit measured on one machine, published with `asv publish` (for the report tests)."""
    repo, home = project(tmp)
    machine = register_machine(repo, home)
    a = commit(repo, KNOBS_A, "A", "2026-01-01T00:00:00")
    asv_run(repo, home, machine, a)
    subprocess.run([ASV, "publish"], cwd=repo, env=tool_env(home), check=True, capture_output=True, timeout=300)
    return {"repo": repo, "home": home, "results": repo / "results", "machine": machine, "a": a}
