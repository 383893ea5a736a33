"""Run settings, read from environment variables so asv, pytest and the CLI see the same ones.

BENCH_PROFILE  smoke | regular | full     size tier (default smoke)
BENCH_MODELS   comma-separated model names (default tiny-qwen3); see bench_lib.models
BENCH_TASKS    comma-separated task names (default arc,squad,openmath)
BENCH_DEVICE   auto | cpu | cuda | cuda:N  (default auto: cuda when available)
BENCH_DTYPE    auto | float32 | bfloat16 | float16 (default auto: bfloat16 on CUDA, float32 on CPU)
BENCH_THREADS  torch CPU threads (default: torch's own choice)
BENCH_ENGINES  engines of bench_engines.py (default hf,hf-generate,llamacpp,vllm)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Profile:
    name: str
    n_examples: int           # test examples per task
    batch_sizes: tuple[int, ...]
    repeats: int              # measured repeats per configuration; medians are reported
    warmup: int               # unmeasured runs first (allocator, caches, lazy init)
    # The per-commit tier: fewer configurations in every area (one quantization scheme per
    # family, one damage ladder, one KV context, per-task classes on the first task), never
    # fewer areas or engines. Each area reads it where it picks its configurations.
    subset: bool = False


PROFILES = {
    "smoke": Profile("smoke", n_examples=8, batch_sizes=(1, 4), repeats=3, warmup=1, subset=True),
    "regular": Profile("regular", n_examples=64, batch_sizes=(1, 8), repeats=5, warmup=1),
    "full": Profile("full", n_examples=200, batch_sizes=(1, 8, 32), repeats=5, warmup=2),
}


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable and the fix."""


def env_choices(var: str, default: str | Iterable[str], allowed: Iterable[str] | None = None,
                what: str = "name", sep: str = ",") -> tuple[str, ...]:
    """A list setting such as BENCH_MODELS: items split on `sep` (";" where items hold commas),
    stripped, empty ones dropped, each checked against `allowed` when given. Unset or empty means
    `default`, so `BENCH_X= make` behaves like leaving it out; an empty default makes the setting
    optional (unset gives ()). A value naming nothing, or an item outside `allowed`, is one
    ConfigError line naming the variable and the allowed values."""
    default_text = default if isinstance(default, str) else sep.join(default)
    raw = os.environ.get(var, "")
    items = tuple(x.strip() for x in (raw or default_text).split(sep) if x.strip())
    known = list(allowed) if allowed is not None else None
    if not items and raw:
        hint = f"one or more of {', '.join(known)}" if known else f"e.g. {var}={default_text}"
        raise ConfigError(f"{var} is empty ({raw!r}); give a list separated by {sep!r}, {hint}")
    unknown = [x for x in items if known is not None and x not in known]
    if unknown:
        raise ConfigError(f"{var}={raw!r} names unknown {what}(s) {', '.join(map(repr, unknown))}; "
                          f"known {what}s: {', '.join(known)}")
    return items


def profile() -> Profile:
    name = os.environ.get("BENCH_PROFILE", "smoke")
    if name not in PROFILES:
        raise ConfigError(f"BENCH_PROFILE={name!r} is not a size tier; use one of {', '.join(PROFILES)}")
    return PROFILES[name]


def model_names() -> tuple[str, ...]:
    """BENCH_MODELS, each name checked against the registry (a directory with a saved model also counts)."""
    from bench_lib.models import UnknownModelError, get_spec

    names = env_choices("BENCH_MODELS", "tiny-qwen3", what="model")
    for name in names:
        try:
            get_spec(name)
        except UnknownModelError as exc:
            raise ConfigError(f"BENCH_MODELS: {exc}") from None
    return names


def task_names() -> tuple[str, ...]:
    from bench_lib.tasks import TASKS

    return env_choices("BENCH_TASKS", TASKS, allowed=TASKS, what="task")


def task_skip(task: str) -> dict | None:
    """A grid's skip entry for a task that BENCH_TASKS leaves out, else None."""
    tasks = task_names()
    return None if task in tasks else {"_skip": f"task {task!r} is not in BENCH_TASKS={','.join(tasks)}"}


def device() -> str:
    want = os.environ.get("BENCH_DEVICE", "auto")
    import torch

    if want == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    index = want[5:] if want.startswith("cuda:") else "0"
    if want not in ("cpu", "cuda") and not (want.startswith("cuda:") and index.isdigit()):
        raise ConfigError(f"BENCH_DEVICE={want!r} is not one of auto, cpu, cuda, cuda:N")
    if want.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"BENCH_DEVICE={want} but torch sees no CUDA device (torch {torch.__version__}); "
                          "use BENCH_DEVICE=cpu or install a CUDA build of torch")
    if want.startswith("cuda:") and int(index) >= torch.cuda.device_count():
        raise ConfigError(f"BENCH_DEVICE={want} but torch sees {torch.cuda.device_count()} CUDA device(s): "
                          f"use cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return want


def dtype_name(dev: str | None = None) -> str:
    want = os.environ.get("BENCH_DTYPE", "auto")
    if want == "auto":
        return "bfloat16" if (dev or device()).startswith("cuda") else "float32"
    if want not in ("float32", "bfloat16", "float16"):
        raise ConfigError(f"BENCH_DTYPE={want!r} is not one of auto, float32, bfloat16, float16")
    return want


def threads() -> int | None:
    """BENCH_THREADS as a positive number of threads; None when unset (torch's own choice)."""
    raw = os.environ.get("BENCH_THREADS", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"BENCH_THREADS={raw!r} is not a number of threads; use a whole number >= 1, "
                          f"e.g. BENCH_THREADS={os.cpu_count() or 4}, or unset it")
    return int(raw)


def apply_threads() -> None:
    n = threads()
    if n is not None:
        import torch

        torch.set_num_threads(n)


def cache_dir() -> "Path":
    """Where built artifacts (GGUF files, quantized models, adapters) are kept between runs:
    BENCH_CACHE_DIR, default .bench_cache/ in the project root. Keys include the library version."""
    from pathlib import Path

    path = Path(os.environ.get("BENCH_CACHE_DIR") or Path(__file__).resolve().parent.parent / ".bench_cache")
    path.mkdir(parents=True, exist_ok=True)
    return path
