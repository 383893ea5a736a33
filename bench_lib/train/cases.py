"""Case functions of the train suite, shared by benchmarks/bench_train.py, the tests and the CLI.

Every function builds a fresh model for its combination (a method rewrites the model it is
given), so combinations are independent; grids go through run_grid, which records a
skip or an error per combination instead of stopping.
"""
from __future__ import annotations

import functools
import gc
from typing import Callable, Iterable

from bench_lib import config
from bench_lib.grid import run_grid
from bench_lib.models import ModelSpec, get_spec

RATIO_MODEL = "arch:Qwen/Qwen3-8B"
# The published study's configurations (../shared/CONTEXT.md): LoRA and QLoRA at r=256, VeRA at r=512.
RATIO_RUNS = {"lora": 256, "qlora-nf4": 256, "vera": 512}
# Their adapter targets are not published; peft's default for Qwen3 (q_proj, v_proj, what a
# LoraConfig without target_modules gets) is the one their 20.2 / 7.6 / 16.2 GB are consistent
# with (all linear layers at r=256 would hold ~0.7 B trainable parameters on an 8B model).
RATIO_TARGETS = None


def _settings():
    from bench_lib.train import settings

    dev = config.device()
    return dev, config.dtype_name(dev), settings.tier()


def step_task() -> str:
    """Which task's train split feeds the step benchmark (its tokens only; speed does not depend on it)."""
    names = config.task_names()
    return "openmath" if "openmath" in names else names[0]


@functools.lru_cache(maxsize=4)
def _train_examples(task: str):
    from bench_lib.tasks.loading import load_examples

    return tuple(load_examples(task, "train"))


def fixed_batch(spec: ModelSpec, shape: str, seed: int = 0) -> dict:
    from bench_lib.resources import tokenizer_for
    from bench_lib.train import data, settings

    batch_size, seq_len = settings.parse_shape(shape)
    return data.fixed_batch(tokenizer_for(spec), _train_examples(step_task()), batch_size, seq_len, seed)


def _options(optimizer: str = "adamw", grad_ckpt: bool = False, rank: int | None = None, total_steps: int = 10,
             target_modules: str | tuple | None = "all-linear"):
    from bench_lib.train.methods import TrainOptions

    return TrainOptions(optimizer=optimizer, grad_ckpt=grad_ckpt, total_steps=total_steps,
                        target_modules=target_modules, **({"rank": rank} if rank else {}))


def _release(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def step_result(model: str, method: str, shape: str, optimizer: str = "adamw", grad_ckpt: bool = False,
                rank: int | None = None, save: bool = True, target_modules: str | tuple | None = "all-linear") -> dict:
    """One configuration's step: time, tokens/s, memory, parameters, optimizer state, FLOP/s."""
    import torch

    from bench_lib.train.step import build_trainer, step_metrics

    config.apply_threads()
    device, dtype, tier = _settings()
    spec = get_spec(model)
    batch = fixed_batch(spec, shape)
    opts = _options(optimizer, grad_ckpt, rank, tier.step_warmup + tier.step_repeats, target_modules)
    out, no_fit = None, None
    try:
        trainer = build_trainer(spec, method, opts, device, dtype, seed=0)
        out = step_metrics(trainer, batch, tier.step_warmup, tier.step_repeats, save=save)
    except (MemoryError, torch.OutOfMemoryError) as exc:
        # "does not fit" is an answer, not a failure; the message is kept, the traceback (and
        # the model its frames hold) is dropped before the memory is released
        no_fit = f"{model} {method} {shape} does not fit in {device} memory: {str(exc).splitlines()[0]}"
    finally:
        trainer = None
        _release(device)
    if no_fit:
        raise NotImplementedError(no_fit)
    out.update(model=model, method=method, shape=shape, optimizer=optimizer, grad_ckpt=grad_ckpt,
               device=device, dtype=dtype, profile=config.profile().name)
    return out


def step_callable(model: str, method: str, shape: str, optimizer: str = "adamw", grad_ckpt: bool = False) -> Callable:
    """A no-argument function running one more train step (asv time_/peakmem_, pytest-benchmark);
    the trainer is built and warmed up here, outside the timed call."""
    from bench_lib.train.step import build_trainer

    config.apply_threads()
    device, dtype, tier = _settings()
    spec = get_spec(model)
    batch = fixed_batch(spec, shape)
    trainer = build_trainer(spec, method, _options(optimizer, grad_ckpt, total_steps=1000), device, dtype, seed=0)
    for _ in range(tier.step_warmup):
        trainer.step(batch)
    return functools.partial(trainer.step, batch)


def step_grid(models: Iterable[str], methods: Iterable[str], shapes: Iterable[str], what: str | None = None) -> dict:
    return run_grid(step_result, [(m, meth, s) for m in models for meth in methods for s in shapes], what)


def options_grid(models: Iterable[str], methods: Iterable[str], optimizers: Iterable[str], grad_ckpts: Iterable[bool],
                 shape: str) -> dict:
    combos = [(m, meth, shape, o, g) for m in models for meth in methods for o in optimizers for g in grad_ckpts]
    return {(m, meth, o, g): v for (m, meth, _, o, g), v in run_grid(step_result, combos).items()}


def finetune_result(model: str, method: str, task: str) -> dict:
    """K steps then the task metric, for every seed; means and 95% intervals across seeds."""
    from bench_lib.tasks import get_task
    from bench_lib.train import settings
    from bench_lib.train.finetune import aggregate, finetune_once

    config.apply_threads()
    device, dtype, tier = _settings()
    prof = config.profile()
    batch_size, seq_len = settings.parse_shape(tier.finetune_shape)
    spec, per_seed = get_spec(model), []
    for seed in settings.seeds():
        per_seed.append(finetune_once(spec, method, task, _options(), device, dtype, seed, tier.steps,
                                      batch_size, seq_len, prof.n_examples, max(prof.batch_sizes)))
        _release(device)
    names = ("loss", "first_loss", *get_task(task).metric_names)
    return {"metrics": aggregate(per_seed, names), "per_seed": per_seed, "model": model, "method": method,
            "task": task, "steps": tier.steps, "shape": tier.finetune_shape, "seeds": len(per_seed),
            "device": device, "dtype": dtype}


def method_delta(task: str, per_seed_a: list[dict], per_seed_b: list[dict]) -> dict[str, dict]:
    """Method b minus method a on the task's metrics, with a paired bootstrap 95% interval: both
    ran the same seeds on the same test examples, so records are pooled over seeds and the
    (seed, example) pairs are resampled together (intervals.paired_difference)."""
    from bench_lib import intervals
    from bench_lib.tasks import get_task
    from bench_lib.tasks.loading import load_examples

    if len(per_seed_a) != len(per_seed_b):
        raise ValueError(f"method comparison needs the same seeds: {len(per_seed_a)} vs {len(per_seed_b)} runs")
    t = get_task(task)
    examples = load_examples(task, "test", limit=len(per_seed_a[0]["texts"]))
    a = [rec for run in per_seed_a for rec in t.records(run["texts"], examples)]
    b = [rec for run in per_seed_b for rec in t.records(run["texts"], examples)]
    return intervals.paired_difference(a, b, t.aggregate)


def finetune_grid(task: str, models: Iterable[str], methods: Iterable[str], what: str | None = None) -> dict:
    return run_grid(finetune_result, [(m, meth, task) for m in models for meth in methods], what)


def finetune_task_grid(task: str, models: Iterable[str], methods: Iterable[str]) -> dict:
    """setup_cache body of a task's fine-tune class: its grid, or why it is not run."""
    if skip := config.task_skip(task):
        return skip
    return finetune_grid(task, models, methods)


def memory_ratio_result(model: str = RATIO_MODEL, shape: str = "1x512", grad_ckpt: bool = False,
                        target_modules: str | tuple | None = RATIO_TARGETS) -> dict:
    """Training memory of LoRA r=256, QLoRA-nf4 r=256 and VeRA r=512 on one model, and the ratios
    QLoRA/LoRA and VeRA/LoRA that the published study reports as ≈0.38 and ≈0.80 (allocated)."""
    device, _, _ = _settings()
    if not device.startswith("cuda"):
        raise NotImplementedError(f"the memory-ratio check trains {model} and needs a CUDA GPU "
                                  "(the LoRA run alone holds a 16 GB bf16 base); "
                                  f"this run's device is {device}")
    runs = {meth: step_result(model, meth, shape, grad_ckpt=grad_ckpt, rank=rank, save=False,
                              target_modules=target_modules)["metrics"]
            for meth, rank in RATIO_RUNS.items()}
    lora = runs["lora"]
    metrics = {}
    for meth in ("qlora-nf4", "vera"):
        key = meth.split("-")[0]
        for kind in ("allocated", "reserved"):
            metrics[f"train_{key}_over_lora_{kind}"] = (runs[meth][f"cuda_max_{kind}_bytes"]
                                                        / lora[f"cuda_max_{kind}_bytes"])
    return {"metrics": metrics, "runs": runs, "model": model, "shape": shape, "grad_ckpt": grad_ckpt,
            "target_modules": target_modules or "peft default for the architecture"}


def ratio_grid(models: Iterable[str], shapes: Iterable[str]) -> dict:
    return run_grid(memory_ratio_result, [(m, s) for m in models for s in shapes])
