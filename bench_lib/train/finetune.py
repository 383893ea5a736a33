"""Does it learn: K steps on a task's train split, then the task metric on its test split.

Every seed trains a fresh model (seeded adapter initialisation and data order); the results
across seeds are reduced to a mean and a 95% t-interval per metric (stats.mean_ci95).
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Sequence

from bench_lib.models import ModelSpec, load_tokenizer
from bench_lib.tasks import get_task
from bench_lib.tasks.loading import load_examples
from bench_lib.train import data, stats
from bench_lib.train.methods import TrainOptions
from bench_lib.train.step import build_trainer
from bench_lib.workloads.generate import encode_prompts, generate_all


def train_k_steps(trainer, tokenizer, examples, batch_size: int, seq_len: int, steps: int, seed: int) -> list[float]:
    stream = data.batches(tokenizer, examples, batch_size, seq_len, seed)
    return [trainer.step(next(stream)) for _ in range(steps)]


def evaluate(model, spec, tokenizer, task, examples, device: str, dtype: str, batch_size: int) -> dict[str, float]:
    from bench_lib.engines import hf

    model.eval()
    engine = hf.load(spec, device, dtype, model=model)
    run = generate_all(engine, encode_prompts(tokenizer, examples), batch_size, task.max_new_tokens)
    texts = [tokenizer.decode(ids, skip_special_tokens=True) for ids in run.token_ids]
    # the answers travel with the scores: a method comparison resamples them pairwise (cases_train.method_delta)
    return {**task.score(texts, examples), "texts": texts}


def finetune_once(spec: ModelSpec, method: str, task_name: str, opts: TrainOptions, device: str, dtype: str, seed: int,
                  steps: int, batch_size: int, seq_len: int, n_eval: int, eval_batch: int) -> dict:
    spec.require_real_weights("a task score after fine-tuning")
    task = get_task(task_name)
    tokenizer = load_tokenizer(spec)
    trainer = build_trainer(spec, method, replace(opts, total_steps=steps), device, dtype, seed)
    losses = train_k_steps(trainer, tokenizer, load_examples(task_name, "train"), batch_size, seq_len, steps, seed)
    scores = evaluate(trainer.model, spec, tokenizer, task, load_examples(task_name, "test", limit=n_eval),
                      device, dtype, eval_batch)
    # the last fifth of the run, as trainers log a smoothed loss; every method sees the same batches
    tail = losses[-max(1, math.ceil(steps / 5)):]
    return {"first_loss": losses[0], "loss": sum(tail) / len(tail), "losses": losses, **scores}


def aggregate(per_seed: Sequence[dict], names: Sequence[str]) -> dict[str, float]:
    """{name_mean, name_ci95} per metric; no ci95 entry from a single seed, and no entry at all
    for a metric undefined in every seed (AbsDiff with no parsed number), so it reads as skipped."""
    out = {}
    for name in names:
        mean, half = stats.mean_ci95([float(r[name]) for r in per_seed])
        if mean != mean:
            continue
        out[f"train_ft_{name}_mean"] = mean
        if half is not None:
            out[f"train_ft_{name}_ci95"] = half
    return out
