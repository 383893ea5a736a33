"""What every KV-cache and speculative-decoding backend shares: the measured sizes, the draft
each target gets, the prompts and the plain-versus-speculative protocol.

Backends (kvcache_hf, kvcache_llamacpp, kvcache_vllm; speculative, speculative_llamacpp,
speculative_vllm) import this module; it imports none of them, and no case module.
A KV-cache backend exposes KV_TYPES, REFERENCE and `grid(models, kv_types, contexts)`; a
speculative backend exposes METHODS, `make_runner(model, method, prompts, n_prompts)` and
`grid(models, methods, tasks, n_prompts)`. kvspec/registry.py maps engine names to them.
"""
from __future__ import annotations

import functools
import os

from bench_lib import config, resources
from bench_lib.grid import run_grid
from bench_lib.models import get_spec

# Tokens in the cache at the end of a decode run ("context"), and decoded tokens per run.
KV_CONTEXTS = (256, 1024)
KV_DECODE_TOKENS = 32
# Scored tokens per context and tier: quality.py scores the second half of each window, so a
# context of c gives c/2 per window; smoke stays above the 100 llama.cpp asks for.
KV_SCORED_TOKENS = {"smoke": 256, "regular": 2048, "full": 8192}

# The draft each target gets (same tokenizer); BENCH_DRAFT_MODEL overrides.
DRAFTS = {
    "tiny-qwen3": "tiny-qwen3-draft",
    "Qwen/Qwen3-8B": "Qwen/Qwen3-1.7B", "Qwen/Qwen3-4B": "Qwen/Qwen3-0.6B", "Qwen/Qwen3-1.7B": "Qwen/Qwen3-0.6B",
    "arch:Qwen/Qwen3-8B": "arch:Qwen/Qwen3-1.7B", "arch:Qwen/Qwen3-4B": "arch:Qwen/Qwen3-0.6B",
    "meta-llama/Llama-3.1-8B": "meta-llama/Llama-3.2-1B", "arch:meta-llama/Llama-3.1-8B": "arch:meta-llama/Llama-3.2-1B",
}
SPEC_MAX_NEW_TOKENS = 64


def kv_contexts() -> tuple[int, ...]:
    """The contexts of this tier's KV-cache grids: the shorter alone in the smoke tier."""
    return KV_CONTEXTS[:1] if config.profile().subset else KV_CONTEXTS


def kv_windows(context: int, profile_name: str) -> int:
    return max(1, -(-KV_SCORED_TOKENS[profile_name] // (context // 2)))


def decode_spreads(runs) -> dict:
    """Decode speed and prefill time of repeated `measure.timing.DecodeRun`s, by metric name
    (the same two figures for every KV-cache backend)."""
    from bench_lib.measure.timing import Spread

    return {"kvspec_decode_tokens_per_s": Spread.of([r.decode_tokens_per_s for r in runs]),
            "kvspec_prefill_s": Spread.of([r.prefill_s for r in runs])}


def settings():
    dev = config.device()
    return dev, config.dtype_name(dev), config.profile()


def draft_for(model_name: str) -> str:
    name = os.environ.get("BENCH_DRAFT_MODEL") or DRAFTS.get(model_name)
    if not name:
        raise NotImplementedError(f"no draft model is known for {model_name!r}; set BENCH_DRAFT_MODEL to one that "
                                  "shares its tokenizer")
    return name


class SpeculativeMismatch(AssertionError):
    """Greedy speculative output differs from plain greedy output: a correctness failure."""


def spec_prompts(model_name: str, task: str, n: int) -> list[list[int]]:
    from bench_lib.workloads.generate import encode_prompts

    return encode_prompts(resources.tokenizer_for(get_spec(model_name)), resources.examples_for(task, n))


def speculative_result(make_runner, engine: str, model_name: str, method: str, task: str,
                       n_prompts: int | None = None) -> dict:
    """Acceptance statistics, exactness and speedup of one method on a task's prompts; plain greedy
    decoding runs on the same prompts in the same loop, alternating which goes first."""
    device, _, prof = settings()
    n = n_prompts or prof.n_examples
    prompts = spec_prompts(model_name, task, n)
    runner = make_runner(model_name, method, prompts, n)
    out = compare_with_plain(runner, prompts, prof.repeats, prof.warmup,
                             f"{method} on {model_name} ({engine}), {task}")
    out.update(model=model_name, method=method, task=task, engine=engine, device=device, n_prompts=len(prompts),
               draft=draft_for(model_name) if method == "draft" else None)
    return out


def speculative_grid(make_runner, engine: str, models, methods, tasks, n_prompts: int | None) -> dict:
    """{(model, method, task): result | skip | error} of one backend's runners, in this process."""
    combos = [(m, meth, t) for m in models for meth in methods for t in tasks]
    return run_grid(functools.partial(speculative_result, make_runner, engine, n_prompts=n_prompts), combos)


def compare_with_plain(runner, prompts, repeats: int, warmup: int, what: str) -> dict:
    """Plain and speculative generation of every prompt, interleaved (the order alternates per
    prompt and repeat so drift hits both alike); speedup = plain / speculative wall time per repeat."""
    from bench_lib.kvspec.acceptance import Acceptance
    from bench_lib.measure.timing import Spread, agreeing_prefix

    for _ in range(warmup):
        runner(prompts[0], False)
        runner(prompts[0], True)
    ratios, plain_tps, spec_tps, acceptance = [], [], [], None
    for rep in range(repeats):
        plain_s = spec_s = 0.0
        tokens, stats = 0, Acceptance()
        for i, prompt in enumerate(prompts):
            order = (False, True) if (rep + i) % 2 == 0 else (True, False)
            runs = {spec: runner(prompt, spec) for spec in order}
            plain, spec = runs[False], runs[True]
            if spec.token_ids != plain.token_ids:
                raise SpeculativeMismatch(
                    f"{what} prompt {i}: greedy speculative output differs from plain greedy at token "
                    f"{agreeing_prefix(plain.token_ids, spec.token_ids)} "
                    f"(plain {plain.token_ids[:16]}..., speculative {spec.token_ids[:16]}...)")
            plain_s, spec_s = plain_s + plain.wall_s, spec_s + spec.wall_s
            tokens += len(plain.token_ids)
            stats.extend(spec.acceptance)
        ratios.append(plain_s / spec_s)
        plain_tps.append(tokens / plain_s)
        spec_tps.append(tokens / spec_s)
        acceptance = acceptance or stats  # identical every repeat: greedy with a fixed schedule
    spreads = {"kvspec_speedup": Spread.of(ratios), "kvspec_plain_tokens_per_s": Spread.of(plain_tps),
               "kvspec_spec_tokens_per_s": Spread.of(spec_tps)}
    metrics = {k: v.median for k, v in spreads.items()}
    metrics.update(acceptance.as_metrics())
    metrics["kvspec_greedy_exact"] = 1.0  # reached only when every output matched
    return {"metrics": metrics, "spreads": spreads, "per_position": acceptance.per_position()}

