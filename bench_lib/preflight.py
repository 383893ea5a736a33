"""Every BENCH_* setting checked once, before anything is measured or written.

`python -m bench_lib.cli check-config` (run by `make bench` before asv) and the CLI's grid commands
call `errors()`: one line per bad setting, naming the variable, the value and what it accepts.
Each check reuses the function the suite itself reads the setting with, so the check and the run
can never disagree. Nothing here loads a model; torch is imported only when BENCH_DEVICE asks for
CUDA (to see whether there is one).
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Callable

from bench_lib import config

# Every variable the suite reads. A BENCH_* name outside this list is almost always a typo of
# one inside it, which would otherwise silently run the default.
KNOWN = ("BENCH_PROFILE", "BENCH_MODELS", "BENCH_TASKS", "BENCH_DEVICE", "BENCH_DTYPE", "BENCH_THREADS",
         "BENCH_ENGINES", "BENCH_CACHE_DIR", "BENCH_DATA_DIR", "BENCH_DATA_SOURCE", "BENCH_QUANT_SCHEMES",
         "BENCH_SEEDS", "BENCH_TRAIN_SHAPES", "BENCH_TRAIN_METHODS", "BENCH_DRAFT_MODEL", "BENCH_SERVE_LOADS",
         "BENCH_SERVE_ENDPOINT", "BENCH_SERVE_GOODPUT", "BENCH_SERVE_URL", "BENCH_SERVE_MODEL",
         "BENCH_SERVE_MAX_TOKENS", "BENCH_SERVE_FIXED_OUTPUT", "BENCH_FORK_PRELOAD")


def _fork_preload():
    from bench_lib.tracking import preload

    preload.setting()


def _models():
    config.model_names()


def _device_and_dtype():
    want = os.environ.get("BENCH_DEVICE", "auto")
    # Only a CUDA request needs torch to answer; auto and cpu are always usable.
    config.dtype_name(config.device() if want not in ("auto", "cpu") else "cpu")


def _engines():
    from bench_lib.engines import cases as cases_engines

    cases_engines.engine_names()


def _quant_schemes():
    from bench_lib.quant.registry import SCHEMES

    config.env_choices("BENCH_QUANT_SCHEMES", SCHEMES, allowed=SCHEMES, what="scheme")


def _train():
    from bench_lib.train import settings

    try:
        settings.shapes()
    except config.ConfigError as exc:
        if str(exc).startswith("BENCH_"):
            raise
        raise config.ConfigError(f"BENCH_TRAIN_SHAPES: {exc}") from None
    settings.seeds()
    settings.methods()


def _data():
    from bench_lib.tasks.loading import find_file

    folder = os.environ.get("BENCH_DATA_DIR")
    if folder and not Path(folder).is_dir():
        raise config.ConfigError(f"BENCH_DATA_DIR={folder!r} is not a folder; give a folder holding "
                                 "<task>-<split>.parquet or .jsonl files, or unset it")
    if folder:
        # Every benchmark of a task reads its test split: without it each one would fail.
        for task in config.task_names():
            try:
                find_file(Path(folder), task, "test")
            except ValueError as exc:
                raise config.ConfigError(f"BENCH_DATA_DIR: {exc}; or narrow BENCH_TASKS") from None
    source = os.environ.get("BENCH_DATA_SOURCE", "fixtures")
    if not folder and source not in ("fixtures", "hub") and not source.startswith("hub:"):
        raise config.ConfigError(f"BENCH_DATA_SOURCE={source!r} is not one of fixtures, hub, hub:<dataset path>")


def _cache_dir():
    try:
        path = config.cache_dir()
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise config.ConfigError(f"BENCH_CACHE_DIR={os.environ.get('BENCH_CACHE_DIR', '')!r} cannot be written "
                                 f"({exc.strerror or exc}); point it at a writable folder") from None


def _draft():
    from bench_lib.models import UnknownModelError, get_spec

    name = os.environ.get("BENCH_DRAFT_MODEL")
    if name:
        try:
            get_spec(name)
        except UnknownModelError as exc:
            raise config.ConfigError(f"BENCH_DRAFT_MODEL: {exc}") from None


def _serve():
    import importlib

    raw = os.environ.get("BENCH_SERVE_MAX_TOKENS")
    if raw is not None and (not raw.strip().isdigit() or int(raw) < 1):
        raise config.ConfigError(f"BENCH_SERVE_MAX_TOKENS={raw!r} is not a number of tokens; use a whole number "
                                 ">= 1, e.g. BENCH_SERVE_MAX_TOKENS=32")
    url = os.environ.get("BENCH_SERVE_URL")
    if url and not url.startswith(("http://", "https://")):
        raise config.ConfigError(f"BENCH_SERVE_URL={url!r} is not an http:// or https:// address, "
                                 "e.g. BENCH_SERVE_URL=http://127.0.0.1:8000")
    # The serving modules own the syntax of their settings; each reader raises ConfigError. Readers
    # are looked up by name, so that this check follows those modules as they change.
    readers = [("bench_lib.serve.cases", "size", ()), ("bench_lib.serve.cases", "burstiness", ()),
               ("bench_lib.serve.cases", "warmup_count", ()), ("bench_lib.serve.cases", "loads", ()),
               ("bench_lib.serve.cases", "goodput_limits_s", ()), ("bench_lib.serve.cases", "fixed_output", ()),
               ("bench_lib.serve.cases", "endpoint", ()), ("bench_lib.serve.prompts", "workload", ()),
               ("bench_lib.serve.prompts", "length_spec", ("BENCH_SERVE_INPUT_LEN", "task")),
               ("bench_lib.serve.prompts", "length_spec", ("BENCH_SERVE_OUTPUT_LEN", "fixed")),
               ("bench_lib.serve.prompts", "_int_env", ("BENCH_SERVE_SHARED_PREFIX", 256)),
               ("bench_lib.serve.prompts", "_int_env", ("BENCH_SERVE_TURNS", 3)),
               ("bench_lib.serve.cases_slo", "slos", ()),
               ("bench_lib.serve.cases_slo", "_coarse", ("BENCH_SERVE_SLO_RATES", "DEFAULT_RATES", float)),
               ("bench_lib.serve.cases_slo", "_coarse", ("BENCH_SERVE_SLO_CONCURRENCY", "DEFAULT_CONCURRENCY", int))]
    for module_name, name, args in readers:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        reader = getattr(module, name, None)
        if name == "_coarse":  # (variable, name of the module's default, type)
            if not hasattr(module, args[1]):
                continue
            args = (args[0], getattr(module, args[1]), args[2])
        try:
            if reader is not None:
                reader(*args)
        except config.ConfigError as exc:
            if "BENCH_" in str(exc):
                raise
            raise config.ConfigError(f"BENCH_SERVE_LOADS: {exc}" if name == "loads" else str(exc)) from None
    budget = os.environ.get("BENCH_SERVE_SLO_BUDGET")
    if budget:
        try:
            ok = float(budget) > 0
        except ValueError:
            ok = False
        if not ok:
            raise config.ConfigError(f"BENCH_SERVE_SLO_BUDGET={budget!r} is not a number of seconds > 0, "
                                     "e.g. BENCH_SERVE_SLO_BUDGET=600")


CHECKS: tuple[Callable[[], None], ...] = (
    config.profile, _models, config.task_names, _device_and_dtype, config.threads, _engines, _quant_schemes,
    _train, _data, _cache_dir, _draft, _serve, _fork_preload)


def errors() -> list[str]:
    """One line per setting that cannot be used; empty when the run can start."""
    from bench_lib.models import UnknownModelError

    out = []
    for check in CHECKS:
        try:
            check()
        except (config.ConfigError, UnknownModelError, KeyError) as exc:
            line = str(exc).strip("'\"")
            if line not in out:  # a bad BENCH_PROFILE also fails the checks that read the tier
                out.append(line)
    return out


def unknown_variables() -> list[str]:
    """A line per BENCH_* variable the suite does not read, with the nearest known name. The serving
    area has many settings of its own (BENCH_SERVE_*), checked by its readers above."""
    out = []
    for name in sorted(v for v in os.environ
                       if v.startswith("BENCH_") and v not in KNOWN and not v.startswith("BENCH_SERVE_")):
        near = difflib.get_close_matches(name, KNOWN, n=1)
        hint = f"did you mean {near[0]}?" if near else f"known: {', '.join(KNOWN)}"
        out.append(f"{name} is not a setting llm-bench reads ({hint}); it is ignored")
    return out


def check(prog: str = "llm-bench") -> int:
    """Print the problems, one line each, on stderr; 0 when the run can start, 2 otherwise."""
    import sys

    for line in unknown_variables():
        print(f"{prog}: warning: {line}", file=sys.stderr)
    problems = errors()
    for line in problems:
        print(f"{prog}: {line}", file=sys.stderr)
    return 2 if problems else 0
