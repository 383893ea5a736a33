"""Import the heavy libraries once in asv's forkserver, before it forks the benchmark processes.

asv starts one process per benchmark method and parameter combination. With `--launch-method
forkserver` (the CPU default of `make bench`) each of them is forked from one server process that
imported the benchmark files, which are light: a `time_` or `peakmem_` process then imports torch,
transformers and peft itself, 6-9 s on a 2-core machine, before its engine loads and asv's timing
starts. Imported in the server, they are paid once per asv run instead of once per process.

What a forked child measures changes, so these classes start a new asv series (`series_version`).
The import happens before the timed region in both cases (asv times only the benchmark method, after
`setup`), and nothing here runs a tensor operation, so no thread pool exists at the fork (OpenMP and
torch's pools start on first use, in the child). Still, measured side by side on the project's
2-core CPU machine (2026-12-04), the forked children timed faster: asv's `time_` values of
EngineGenerateTime, GenerateTime and TrainStepTime over 4 alternated runs each way had a median
ratio (preloaded / importing itself) of 0.87 (0.71 to 1.04 over 17 benchmarks), and a direct test of
one HF generation, 6 alternated processes each way, 0.94; the cause is not identified. `peakmem_`
reads the child's peak RSS, which then counts the inherited pages of these libraries that the child
touches instead of every page it loaded itself, and counts them in every engine's process,
llama.cpp's included (HF 0.92, llama.cpp 1.16 of the figure without the preload).

BENCH_FORK_PRELOAD  auto | on | off (default auto). `on`: the server imports MODULES; `off` and, in
a plain `asv run`, `auto`: it imports only the benchmark files. `make bench`, which runs asv once per
benchmark file, resolves `auto` per file: `on` only with `--launch-method forkserver` and for a file
that declares `time_`, `timeraw_` or `peakmem_` methods (the only ones whose forked processes load a
model), so the files whose processes only read a result computed by `setup_cache` do not pay the
import. Without forkserver nothing is forked, so it is always `off` there.
"""
from __future__ import annotations

import importlib
import os
import re
import sys
import time
from pathlib import Path

ENV = "BENCH_FORK_PRELOAD"
CHOICES = ("auto", "on", "off")

# What the timed processes import (an engine's model load, a train step). A module that is not
# installed is skipped: the child that needs it reports that itself, as without the preload.
MODULES = (
    "torch",
    "transformers",
    "peft",
    "transformers.models.qwen3.modeling_qwen3",
    "transformers.models.llama.modeling_llama",
    "llama_cpp",
)

_TIMED = re.compile(r"^\s*def (time|timeraw|peakmem)_\w+\(", re.M)


def setting() -> str:
    """BENCH_FORK_PRELOAD, checked: auto, on or off."""
    from bench_lib.config import ConfigError

    raw = os.environ.get(ENV, "").strip() or "auto"
    if raw not in CHOICES:
        raise ConfigError(f"{ENV}={raw!r} is not one of {', '.join(CHOICES)}; "
                          f"use {ENV}=off to import the libraries in each benchmark process, or unset it")
    return raw


def _on() -> bool:
    """Whether the setting is `on`; a bad value counts as off here, since preflight stops the run
    with one line before any benchmark is measured."""
    try:
        return setting() == "on"
    except ValueError:
        return False


def in_forkserver(argv: list[str] | None = None) -> bool:
    """Whether this process is asv's forkserver (`benchmark.py run_server DIR SOCKET`)."""
    argv = sys.argv if argv is None else argv
    return len(argv) >= 2 and argv[1] == "run_server"


def declares_timed(benchmark_file: Path) -> bool:
    """Whether a benchmark file has a method whose forked process runs the workload itself."""
    try:
        return bool(_TIMED.search(Path(benchmark_file).read_text(encoding="utf-8")))
    except OSError:
        return False


def for_area(benchmark_file: Path | None, launch_method: str | None) -> str:
    """The value `make bench` gives asv's run of one benchmark file (None: a run narrowed by --bench,
    which may reach any file) with asv's --launch-method: the user's on or off as set, auto resolved."""
    want = setting()
    if launch_method != "forkserver":
        return "off"
    if want != "auto":
        return want
    return "on" if benchmark_file is None or declares_timed(benchmark_file) else "off"


def series_version(base: str) -> str:
    """The asv version of a class with `time_`/`peakmem_` methods: `base`, or another series when
    its processes are forked from a server that preloaded the libraries (BENCH_FORK_PRELOAD=on, as
    `make bench` sets it for the timed files with forkserver)."""
    return f"{base}+forked-after-preload" if _on() else base


def preload(modules: tuple[str, ...] | None = None) -> dict[str, float | str]:
    """Import each module (default MODULES); {name: seconds} for those imported, {name: reason} for
    the rest. Never raises: a failure here must not stop asv's discovery of the benchmark files."""
    done: dict[str, float | str] = {}
    for name in MODULES if modules is None else modules:
        start = time.perf_counter()
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - an optional package missing or broken
            done[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            continue
        done[name] = time.perf_counter() - start
    return done


def in_server() -> dict[str, float | str] | None:
    """Called by benchmarks/common.py at import: preload in asv's forkserver when the setting is on
    (a bad setting is left to preflight, which stops the run with one line)."""
    return preload() if in_forkserver() and _on() else None
