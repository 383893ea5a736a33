"""Prompts of the serving workloads, built from the task sets' test prompts (BENCH_TASKS).

BENCH_SERVE_WORKLOAD   single (default): one task prompt per request;
                       shared-prefix: every request starts with the same system prompt of
                         BENCH_SERVE_SHARED_PREFIX tokens (default 256), the same on every load,
                         so a prefix cache serves it once warmed up (the warm-up sends it too);
                       multi-turn: conversations of BENCH_SERVE_TURNS turns (default 3); turn k
                         resends turns 1..k-1 (user prompt and the task's reference answer as the
                         assistant's reply) before its own prompt, so each turn extends the
                         previous turn's prompt and prefix caching matters. Turns are sent in
                         order on the schedule, conversations interleaved.
BENCH_SERVE_INPUT_LEN  task (default): the prompts as they are; fixed:<n> or uniform:<lo>-<hi>:
                       the user turn cut or extended (with further task text) to that many tokens
BENCH_SERVE_OUTPUT_LEN fixed (default): every request's budget is BENCH_SERVE_MAX_TOKENS;
                       uniform:<lo>-<hi>: drawn per request (seeded)
Token counts are the served model's own tokenizer's (the model the server loads).
Every user turn starts with a tag naming its load and position, so no load's prompts repeat an
earlier load's (shared-prefix: after the shared system prompt).
"""
from __future__ import annotations

import math
import os

import numpy as np

from bench_lib import config, resources
from bench_lib.models import get_spec
from bench_lib.serve import client as serve

WORKLOADS = ("single", "shared-prefix", "multi-turn")


def workload() -> str:
    name = os.environ.get("BENCH_SERVE_WORKLOAD", "single")
    if name not in WORKLOADS:
        raise config.ConfigError(f"BENCH_SERVE_WORKLOAD={name!r}; use one of {', '.join(WORKLOADS)}")
    return name


def length_spec(name: str, default: str) -> tuple[str, int, int]:
    """("task"|"fixed"|"uniform", lo, hi) from task, fixed, fixed:<n> or uniform:<lo>-<hi>."""
    text = os.environ.get(name, default).strip()
    kind, _, rest = text.partition(":")
    try:
        if kind in ("task", "fixed") and not rest:
            return kind, 0, 0
        if kind == "fixed" and int(rest) >= 1:
            return kind, int(rest), int(rest)
        lo, hi = (int(x) for x in rest.split("-"))
        if kind == "uniform" and 1 <= lo <= hi:
            return kind, lo, hi
    except ValueError:
        pass
    raise config.ConfigError(f"{name}={text!r}; use {default}, fixed:<tokens> or uniform:<lo>-<hi>, e.g. uniform:16-64")


def _int_env(name: str, default: int) -> int:
    text = os.environ.get(name, str(default))
    if not text.isdigit() or int(text) < 1:
        raise config.ConfigError(f"{name}={text!r}; use a whole number >= 1, e.g. {default}")
    return int(text)


def _fit(tok, text: str, filler: str, n: int) -> str:
    """`text` cut or extended with `filler` to n tokens (by `tok`)."""
    ids = tok(text, add_special_tokens=False).input_ids
    while len(ids) < n:
        ids += tok(" " + filler, add_special_tokens=False).input_ids
    return tok.decode(ids[:n])


def build(model: str, endpoint_name: str, n: int, max_tokens: int, min_equals_max: bool, tag: str = "",
          seed: int = 0) -> list[serve.ServeRequest]:
    tok = resources.tokenizer_for(get_spec(model))
    tasks = config.task_names()
    per_task = [resources.examples_for(t, max(math.ceil(n / len(tasks)), 8)) for t in tasks]
    examples = [ex for group in zip(*per_task) for ex in group]
    filler = " ".join(ex.prompt for ex in examples)
    wl, rng = workload(), np.random.default_rng(seed)
    in_kind, in_lo, in_hi = length_spec("BENCH_SERVE_INPUT_LEN", "task")
    out_kind, out_lo, out_hi = length_spec("BENCH_SERVE_OUTPUT_LEN", "fixed")
    system = _fit(tok, "You answer questions briefly.", filler, _int_env("BENCH_SERVE_SHARED_PREFIX", 256)) \
        if wl == "shared-prefix" else None
    turns = _int_env("BENCH_SERVE_TURNS", 3) if wl == "multi-turn" else 1
    out = []
    for i in range(n):
        conv, turn = (i % math.ceil(n / turns), i // math.ceil(n / turns)) if turns > 1 else (i, 0)
        messages = [{"role": "system", "content": system}] if system else []
        for k in range(turn + 1):
            ex = examples[(conv * turns + k) % len(examples)]
            label = f"{tag}.{conv}.{k}" if turns > 1 else f"{tag}.{i}"
            user = f"[{label}] {ex.prompt}" if tag else ex.prompt
            if in_kind != "task":
                user = _fit(tok, user, filler, int(rng.integers(in_lo, in_hi + 1)))
            messages.append({"role": "user", "content": user})
            if k < turn:
                messages.append({"role": "assistant", "content": ex.reference})
        budget = int(rng.integers(out_lo, out_hi + 1)) if out_kind == "uniform" else out_lo or max_tokens
        text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False, enable_thinking=False)
        prompt_len = len(tok(text, add_special_tokens=False).input_ids)
        out.append(serve.ServeRequest(messages if endpoint_name == "chat" else text, prompt_len, budget,
                                      budget if min_equals_max else 0))
    return out


def describe() -> dict:
    return {"workload": workload(), "input_len": os.environ.get("BENCH_SERVE_INPUT_LEN", "task"),
            "output_len": os.environ.get("BENCH_SERVE_OUTPUT_LEN", "fixed")}
