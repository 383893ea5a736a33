"""The asv step of `make bench`, run so that no measured result is lost.

    python -m bench_lib.tracking.bench_run [--asv ASV] [--config asv.conf.json] -- <asv run arguments>

- Every BENCH_* setting is checked first (bench_lib.preflight): a setting that would make every
  combination fail stops here, exit 2, before asv writes anything.
- Without `--bench` in the arguments, asv runs once per benchmark file (area). asv saves a commit's
  result file at the end of each run and merges it with what the file already held, so an
  interrupted run keeps every area that finished; only the area in flight is lost.
- asv rewrites results/benchmarks.json with only the benchmarks of its run. After each run, the
  list is merged back into the one that was there: a narrowed or interrupted run never drops the
  other benchmarks from it. A complete run leaves exactly the suite's list.
- With `--launch-method forkserver`, asv's server imports torch, transformers and peft before it
  forks the processes of a file that declares `time_`/`peakmem_` methods (BENCH_FORK_PRELOAD,
  bench_lib.tracking.preload): each of them would otherwise import these itself.
- Each area's asv output is also written to logs/bench/<area>.log; at the end, the benchmarks
  that failed at this commit are listed with the command that reruns only them.

Exit status: 0 done, 1 when asv reported a failure, 2 for a bad setting (asv never ran), 130 when
interrupted.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

PROG = "make bench"


def areas(benchmark_dir: Path) -> list[str]:
    """Benchmark files of the suite (module names), in name order."""
    return sorted(p.stem for p in Path(benchmark_dir).glob("*.py") if not p.name.startswith(("_", "common")))


def narrowed(asv_args: list[str]) -> bool:
    """Whether the arguments pick benchmarks themselves (`--bench X`, `-b X`, `--bench=X`, `-bX`)."""
    return any(a in ("--bench", "-b") or a.startswith("--bench=") or (a.startswith("-b") and not a.startswith("--"))
               for a in asv_args)


def _option(asv_args: list[str], name: str) -> str | None:
    for i, a in enumerate(asv_args):
        if a == name and i + 1 < len(asv_args):
            return asv_args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def _read_list(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_list(path: Path, data: dict, original: bytes | None) -> None:
    """asv's own layout (indent 4, sorted keys); the original bytes when nothing changed."""
    if original is not None and _loads(original) == data:
        if path.read_bytes() != original:
            path.write_bytes(original)
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=4, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _loads(raw: bytes) -> dict | None:
    try:
        data = json.loads(raw)
        return data if isinstance(data, dict) else None
    except ValueError:
        return None


def _run_logged(cmd: list[str], log: Path, extra_env: dict[str, str] | None = None) -> int:
    """Run `cmd`, its output both on stdout and in `log`; an interrupt is passed on to it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8", buffering=1) as out:  # line-buffered: the log is current
        # Unbuffered: asv's lines reach the screen and the log as they are printed, not at exit.
        # A process group of its own, so that an interrupt reaches asv's benchmark processes too.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                env={**os.environ, **(extra_env or {}), "PYTHONUNBUFFERED": "1"},
                                start_new_session=True)
        try:
            for line in proc.stdout:
                sys.stdout.write(line)
                out.write(line)
            return proc.wait()
        except KeyboardInterrupt:
            _stop_group(proc)
            raise


def _stop_group(proc: subprocess.Popen) -> None:
    for sig, wait_s in ((signal.SIGINT, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def failed_benchmarks(results_dir: Path, machine: str | None, commit: str | None) -> list[str]:
    """Benchmark classes with a failed value (null) in this commit's result file."""
    from bench_lib.tracking import asv_results

    rows = [r for r in asv_results.load(results_dir)
            if (machine is None or r.machine == machine) and (commit is None or r.commit == commit)]
    return sorted({r.benchmark.rsplit(".", 1)[0] for r in rows if r.value is None})


def rerun_hint(classes: list[str]) -> str:
    regex = "^(" + "|".join(re.escape(c) for c in classes) + r")\."
    return f"make bench ASV_ARGS='--bench \"{regex}\"'"


def merged_listing(before: dict, seen: dict, suite: list[str], refreshed: set[str], complete: bool) -> dict:
    """benchmarks.json after the run: what asv listed now, over what was there. An area (benchmark
    file) whose own run listed it is replaced whole, so benchmarks deleted from it go; after a
    complete run so do the areas no longer in the suite. Everything else is kept as it was."""
    def area(key: str) -> str:
        return key.split(".", 1)[0]

    kept = {k: v for k, v in before.items()
            if area(k) not in refreshed and (not complete or k == "version" or area(k) in suite)}
    return {**kept, **seen}


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    from bench_lib import preflight
    from bench_lib.tracking import preload

    argv = sys.argv[1:] if argv is None else argv
    ours, asv_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    asv, config_path = str(Path(sys.executable).parent / "asv"), Path("asv.conf.json")
    for flag, value in zip(ours[::2], ours[1::2]):
        if flag == "--asv":
            asv = value
        elif flag == "--config":
            config_path = Path(value)
        else:
            print(f"{PROG}: unknown option {flag}; use --asv ASV --config FILE -- <asv run arguments>", file=sys.stderr)
            return 2
    if preflight.check(PROG):
        return 2
    conf = json.loads(config_path.read_text())
    # asv reads the configuration's directories relative to the working directory, as here.
    results_dir = Path(conf.get("results_dir", "results"))
    benchmark_dir = Path(conf.get("benchmark_dir", "benchmarks"))
    suite = areas(benchmark_dir)
    listing = results_dir / "benchmarks.json"
    original = listing.read_bytes() if listing.exists() else None
    before = _loads(original) if original is not None else {}
    if before is None:
        print(f"{PROG}: warning: {listing} is not JSON; it is replaced by this run's list", file=sys.stderr)
        before = {}

    plan = [(None, "selected")] if narrowed(asv_args) else [(f"^{re.escape(a)}\\.", a) for a in suite]
    seen: dict = {}
    rc, done, refreshed = 0, [], set()
    # An interrupt must stop the run even where it was started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        for regex, name in plan:
            cmd = [asv, "run", "--config", str(config_path), *asv_args, *(["--bench", regex] if regex else [])]
            print(f"{PROG}: {name}: {' '.join(cmd[1:])}", flush=True)
            # The forkserver imports torch and friends only for a file whose processes load a model.
            fork_preload = preload.for_area(benchmark_dir / f"{name}.py" if regex else None,
                                            _option(asv_args, "--launch-method"))
            code = _run_logged(cmd, Path("logs", "bench", f"{name}.log"), {preload.ENV: fork_preload})
            listed = _read_list(listing)
            seen.update(listed)
            if regex and any(k.startswith(name + ".") for k in listed):
                refreshed.add(name)
            rc = rc or (1 if code else 0)  # asv exits 2 for a failed benchmark; 2 here means a bad setting
            done.append(name)
    except KeyboardInterrupt:
        seen.update(_read_list(listing))
        rc = 130
    finally:
        if listing.exists() or before:
            _write_list(listing, merged_listing(before, seen, suite, refreshed, complete=rc != 130), original)
    if rc == 130:
        left = [name for _, name in plan if name not in done]
        print(f"{PROG}: interrupted; kept the results of {', '.join(done) or 'no area'}; "
              f"not finished: {', '.join(left)}", file=sys.stderr)
        return 130
    failed = failed_benchmarks(results_dir, _option(asv_args, "--machine"), _option(asv_args, "--set-commit-hash"))
    if failed:
        print(f"{PROG}: {len(failed)} benchmark class(es) have failed values (see logs/bench/*.log): "
              f"{', '.join(failed)}\n{PROG}: rerun only those with: {rerun_hint(failed)}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
