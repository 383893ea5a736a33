"""`llm-bench upgrade-check`: what a library upgrade does to the numbers, measured before it lands.

    llm-bench upgrade-check --set transformers==5.24.0 --bench 'SpeculativeHF|Inference'
    llm-bench upgrade-check --latest transformers,peft --bench TrainStep

1. **Resolve.** The lock (requirements/<profile>.txt) is copied and re-resolved by the same
   `scripts/lock.sh` that `make lock` runs, with only the named packages allowed to move (uv's
   --upgrade-package; the rest keeps its locked version unless the upgrade needs it to move).
2. **Build.** The candidate environment is an overlay beside the locked one: a venv whose own
   site-packages holds exactly the packages whose locked version changed (installed from the
   candidate lock, hashes checked, no resolution) and which reads everything else from the locked
   environment behind it. Python imports the candidate's copy first, so the two environments
   differ in exactly the packages the candidate lock changed, and building one takes seconds.
3. **Measure.** The same asv benchmarks run on the same commit and machine in both environments,
   alternating locked, candidate, locked, candidate (`--rounds`), so a drift of the machine's speed
   hits both alike. Each run registers the machine through the fingerprint, so each result names
   its environment.
4. **Report.** Per benchmark: the medians over rounds, the change, its direction from the metric
   record, and the confidence: with two or more rounds, Mann-Whitney U on the rounds' values,
   p < 0.05 (runs are the unit: samples within a run share its minutes of load; 4 rounds are the
   fewest that can show a change); with one round,
   Mann-Whitney U on asv's samples of time_/peakmem_ benchmarks; and what failed or was
   skipped in one environment only.

Exit status: 0 nothing regressed or broke, 1 a regression or a benchmark that fails only in the
candidate, 2 bad input, 3 the candidate environment could not be built.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from bench_lib import environment, formatting

from bench_lib.tracking import alerts, asv_results, asv_run

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


class UpgradeError(Exception):
    """Bad input or a step that could not be done; `exit_code` says which."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


# --- locks ----------------------------------------------------------------------------------------


def lock_blocks(text: str) -> dict[str, str]:
    """normalized name -> that package's requirement block (the pin line and its hash lines)."""
    blocks: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        m = PIN.match(line)
        if m:
            current = environment.normalize(m.group(1))
            blocks[current] = [line]
        elif current and line.startswith((" ", "\t")) and not line.strip().startswith("#"):
            blocks[current].append(line)
        else:
            current = None
    return {name: "\n".join(lines) for name, lines in blocks.items()}


def lock_versions(text: str) -> dict[str, str]:
    return {name: PIN.match(block).group(2) for name, block in lock_blocks(text).items()}


def upgrade_specs(sets: list[str], latest: list[str]) -> list[str]:
    specs = []
    for spec in sets:
        if not PIN.match(spec) or spec.count("==") != 1:
            raise UpgradeError(f"--set {spec!r}: give NAME==VERSION, e.g. --set transformers==5.24.0")
        specs.append(spec)
    for name in latest:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise UpgradeError(f"--latest {name!r}: give package names separated by commas, e.g. --latest transformers,peft")
        specs.append(name)
    if not specs:
        raise UpgradeError("nothing to upgrade: give --set NAME==VERSION or --latest NAME[,NAME]")
    return specs


def uv_executable() -> str:
    for candidate in (Path(sys.prefix) / "bin" / "uv", shutil.which("uv")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise UpgradeError("uv is not installed in this environment: run `make install` (the lock includes it)")


def resolve(lock: Path, specs: list[str], workdir: Path, profile: str) -> Path:
    """The candidate lock: `lock` re-resolved with only `specs` allowed to move."""
    out_dir = workdir / "lock"
    out_dir.mkdir(parents=True, exist_ok=True)
    candidate = out_dir / f"{profile}.txt"
    shutil.copy(lock, candidate)  # the preference: everything else stays where it is
    env = {**os.environ, "UV": uv_executable(), "LOCK_DIR": str(out_dir), "PROFILES": profile,
           "UPGRADE_PACKAGES": " ".join(specs)}
    proc = subprocess.run(["bash", "scripts/lock.sh"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
        raise UpgradeError("the upgrade cannot be resolved against the lock:\n  " + "\n  ".join(tail), 3)
    return candidate


# --- the candidate environment --------------------------------------------------------------------


def overlay_site(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def build_overlay(venv: Path, candidate_lock: Path, changed: list[str]) -> Path:
    """A venv with the changed packages in its own site-packages and the locked environment's
    site-packages behind them; returns its python."""
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = overlay_site(venv)
    base = sysconfig.get_paths()["purelib"]
    # addsitedir (not a plain path line) so the locked environment's own .pth files run too:
    # this project's editable install is one of them.
    (site / "zz_locked_environment.pth").write_text(f"import site; site.addsitedir({base!r})\n")
    blocks = lock_blocks(candidate_lock.read_text())
    req = venv / "changed.txt"
    req.write_text("\n".join(blocks[name] for name in changed if name in blocks) + "\n")
    if any(name in blocks for name in changed):
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--require-hashes",
                               "--no-compile", "--target", str(site), "-r", str(req)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise UpgradeError("the candidate packages could not be installed:\n  "
                               + "\n  ".join(proc.stderr.strip().splitlines()[-6:]), 3)
    return venv / "bin" / "python"


def installed_in(python: Path) -> dict[str, str]:
    code = "import json; from bench_lib import environment as e; print(json.dumps(e.installed()))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    return json.loads(out.stdout)


# --- report -------------------------------------------------------------------------------------------


def render(rep: dict) -> str:
    rows = rep["rows"]
    count = lambda v: sum(r["verdict"] == v for r in rows)
    broke = [f for f in rep["failed"] if f["only_in"] == "locked"]
    out = [f"# llm-bench upgrade check: {', '.join(rep['specs'])}", "",
           "Candidate environment = the lock with "
           + environment.describe([tuple(p) for p in rep["packages"]], limit=20) + "; same commit, same machine, "
           f"`--bench {rep['bench']}`, {rep['rounds']} asv run(s) per environment alternating "
           f"locked/candidate ({rep['seconds']} s).", "",
           f"**{count('regression')} regression(s)**, {count('improvement')} improvement(s), "
           f"{count('direction unknown')} moved with unknown direction, {count('unchanged')} unchanged "
           f"(change under {rep.get('min_change', 0):.0%} or not significant), "
           f"**{len(broke)} failing only in the candidate**, "
           f"{len(rep['failed']) - len(broke)} failing only in the locked environment."]
    out += alerts.render_moved(rep)
    out += alerts.render_failed(rep)
    out += ["", f"asv's output: {rep['log']}"]
    return "\n".join(out) + "\n"


# --- command line -----------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="NAME==VERSION",
                        help="move this package to this version (repeatable)")
    parser.add_argument("--latest", default="", metavar="NAME[,NAME]",
                        help="move these packages to their newest release that fits")
    parser.add_argument("--bench", required=True, help="asv benchmark regex, as `asv run --bench` takes it")
    parser.add_argument("--rounds", type=int, default=4,
                        help="asv runs per environment, alternating locked and candidate (default 4, the fewest "
                             "whose runs can show a change at p < 0.05)")
    parser.add_argument("--profile", default="cpu", choices=("cpu", "gpu"), help="which lock (default cpu)")
    parser.add_argument("--workdir", type=Path, default=Path(".bench_cache/upgrade"),
                        help="where the candidate lock, environment, results and log go")
    parser.add_argument("--asv-args", default="-a rounds=1 -a repeat=5",
                        help="extra asv run arguments (default: the smoke tier's)")
    parser.add_argument("--min-change", type=float, default=0.05,
                        help="smallest relative change reported as moved (default 0.05)")
    parser.add_argument("--benchmarks", type=Path, default=Path("benchmarks"),
                        help="asv benchmark suite, read for each track_'s metric ('none': match names only)")
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    parser.add_argument("--json", type=Path, help="write the report as JSON here")


def check(args) -> tuple[list[str], Path]:
    if args.rounds < 1:
        raise UpgradeError(f"--rounds {args.rounds}: give at least 1")
    if not 0 <= args.min_change < 1:
        raise UpgradeError(f"--min-change {args.min_change}: give a fraction between 0 and 1, e.g. 0.05")
    lock = Path("requirements") / f"{args.profile}.txt"
    for needed in (lock, Path("scripts/lock.sh"), Path("asv.conf.json")):
        if not needed.exists():
            raise UpgradeError(f"{needed} not found: run upgrade-check from the project's checkout")
    try:
        re.compile(args.bench)
    except re.error as exc:
        raise UpgradeError(f"--bench {args.bench!r} is not a regular expression ({exc})") from None
    return upgrade_specs(args.set, [n for n in args.latest.split(",") if n]), lock


def run(args) -> int:
    try:
        specs, lock = check(args)
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"upgrade-check: resolving {' '.join(specs)} against {lock}", file=sys.stderr, flush=True)
        candidate_lock = resolve(lock, specs, workdir, args.profile)
        locked = lock_versions(lock.read_text())
        moved = environment.diff(locked, lock_versions(candidate_lock.read_text()))
        if not moved:
            raise UpgradeError(f"nothing would change: {', '.join(specs)} resolves to the locked versions")
        print(f"upgrade-check: candidate = lock with {environment.describe(moved, limit=20)}", file=sys.stderr)
        python = build_overlay(workdir / "venv", candidate_lock, [name for name, _, new in moved if new])
        seen = installed_in(python)
        wrong = [(n, new, seen.get(n)) for n, _, new in moved if new and seen.get(n) != new]
        if wrong:
            raise UpgradeError("the candidate environment does not import what its lock says: "
                               + ", ".join(f"{n} {got} instead of {want}" for n, want, got in wrong), 3)
    except UpgradeError as exc:
        print(f"llm-bench upgrade-check: {exc}", file=sys.stderr)
        return exc.exit_code

    results = workdir / "results"
    if results.exists():
        shutil.rmtree(results)
    log = workdir / "asv.log"
    log.write_text("")
    envs = {"locked": Path(sys.executable), "candidate": python}
    order = [(label, i) for i in range(args.rounds) for label in envs]
    started = time.monotonic()
    for step, (label, i) in enumerate(order, start=1):
        formatting.progress(step, len(order), started, f"asv run in the {label} environment, round {i + 1}")
        asv_run.run(envs[label], Path.cwd(), results / f"{label}-{i + 1}", args.bench, args.asv_args.split(), log)
    runs = {label: asv_run.load_runs([results / f"{label}-{i + 1}" for i in range(args.rounds)]) for label in envs}
    if not any(runs.values()):
        print(f"llm-bench upgrade-check: asv measured nothing for --bench {args.bench!r}; its output is in {log}",
              file=sys.stderr)
        return 2
    suite = (asv_results.suite_metrics(args.benchmarks) if str(args.benchmarks) != "none" else {})
    rep = alerts.compare_runs(runs["locked"], runs["candidate"], ("locked", "candidate"), suite, args.min_change)
    rep.update(specs=specs, packages=[list(m) for m in moved], rounds=args.rounds, bench=args.bench,
               min_change=args.min_change, log=str(log), seconds=round(time.monotonic() - started))
    text = render(rep)
    print(text, end="")
    if not alerts.write_outputs("upgrade-check", text, rep, args.markdown, args.json):
        return 3
    bad = any(r["verdict"] == "regression" for r in rep["rows"]) or any(
        f["only_in"] == "locked" for f in rep["failed"])
    return 1 if bad else 0
