"""Case functions of the KV-cache and speculative-decoding suites; asv classes
(benchmarks/bench_kvcache.py, bench_speculative.py), tests and `llm-bench kvspec` call these.

Every grid records per combination a result, a skip reason or an error (cases.run_grid).
"""
from __future__ import annotations

import functools
import importlib.util
import statistics

from bench_lib import cases, config
from bench_lib.models import get_spec

# Tokens in the cache at the end of a decode run ("context"), and decoded tokens per run.
KV_CONTEXTS = (256, 1024)
KV_DECODE_TOKENS = 32
# Scored tokens per context and tier: quality.py scores the second half of each window, so a
# context of c gives c/2 per window; smoke stays above the 100 llama.cpp asks for.
KV_SCORED_TOKENS = {"smoke": 256, "regular": 2048, "full": 8192}


def kv_windows(context: int, profile_name: str) -> int:
    return max(1, -(-KV_SCORED_TOKENS[profile_name] // (context // 2)))


@functools.lru_cache(maxsize=2)
def _model(model: str, device: str, dtype: str):
    from bench_lib.models import load_model

    config.apply_threads()
    return load_model(get_spec(model), device, dtype)


def _settings():
    dev = config.device()
    return dev, config.dtype_name(dev), config.profile()


# --- KV cache ---------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _kv_reference(model: str, context: int, device: str, dtype: str, n_windows: int):
    from bench_lib import quality
    from bench_lib.kvspec import kvcache

    windows = quality.evaluation_windows(cases.tokenizer_for(model), context, n_windows)
    return quality.reference_logprobs(kvcache.decode_logits_fn(_model(model, device, dtype), "dynamic"), windows)


@functools.lru_cache(maxsize=4)
def _kv_reference_greedy(model: str, context: int, device: str, dtype: str) -> tuple[int, ...]:
    from bench_lib.kvspec import kvdecode

    run = kvdecode.decode_run(_model(model, device, dtype), cases.tokenizer_for(model), "dynamic", context,
                              KV_DECODE_TOKENS, device)
    return tuple(run.token_ids)


def kv_cache_result(model: str, kv_type: str, context: int, engine: str = "hf") -> dict:
    """Cache bytes, decode speed, peak memory and quality against the full-precision cache of one
    KV-cache type at one context length."""
    if engine != "hf":
        from bench_lib.kvspec import kvcache_llamacpp

        return kvcache_llamacpp.kv_cache_result(model, kv_type, context)
    from bench_lib import quality
    from bench_lib.kvspec import kvcache, kvdecode

    device, dtype, prof = _settings()
    spec = get_spec(model)
    kvcache.kv_config(kv_type)  # skips here when the backend's package is missing
    lm, tok = _model(model, device, dtype), cases.tokenizer_for(model)
    speed = kvdecode.measure_decode(lm, tok, kv_type, context, KV_DECODE_TOKENS, device, prof.repeats, prof.warmup)
    reference = _kv_reference_greedy(model, context, device, dtype)
    metrics = dict(speed["metrics"])
    metrics["kvspec_greedy_agreement"] = kvdecode.prefix_agreement(reference, speed["token_ids"])
    if spec.real_weights:
        ref = _kv_reference(model, context, device, dtype, kv_windows(context, prof.name))
        stats = quality.compare(ref, kvcache.decode_logits_fn(lm, kv_type))
        metrics.update(stats.as_metrics())
    return {"metrics": metrics, "spreads": speed["spreads"], "model": model, "kv_type": kv_type,
            "context": context, "engine": engine, "device": device, "dtype": dtype, "profile": prof.name}


def kv_task_result(model: str, kv_type: str, task: str, engine: str = "hf") -> dict:
    """The task metric of generation through a KV-cache type (the embedded prompts are short, so
    this is the short-context end of the quality picture)."""
    from bench_lib.engines.hf import load as load_hf
    from bench_lib.kvspec import kvcache
    from bench_lib.tasks import get_task
    from bench_lib.workloads.generate import measure_generation

    if engine != "hf":
        raise NotImplementedError(f"the KV-cache task metric is measured on the hf engine only, not {engine!r}")
    device, dtype, prof = _settings()
    spec = get_spec(model)
    if not spec.real_weights:
        raise NotImplementedError(f"{model} has random weights: a task metric would be meaningless")
    # every cache type through generate, the unquantized one too, so only the cache differs
    eng = load_hf(spec, device, dtype, loop="generate", model=_model(model, device, dtype),
                  **kvcache.generate_kwargs(kv_type))
    t = get_task(task)
    out = measure_generation(eng, cases.tokenizer_for(model), t, cases.examples_for(task, prof.n_examples),
                             batch_size=1, repeats=1, warmup=0)
    from bench_lib.metrics import interval_names

    keys = [key for name in t.metric_names for key in (name, *interval_names(name))]
    return {"metrics": {k: out["metrics"][k] for k in keys}, "texts": out["texts"]}


def kv_grid(models, kv_types, contexts, engine: str = "hf") -> dict:
    if engine == "vllm":  # one vLLM process for the whole grid (each engine start takes a minute)
        from bench_lib.kvspec import kvcache_vllm

        return kvcache_vllm.grid(models, kv_types, contexts)
    combos = [(m, k, c, engine) for m in models for k in kv_types for c in contexts]
    return {(m, k, c): v for (m, k, c, _), v in cases.run_grid(kv_cache_result, combos).items()}


def kv_task_grid(models, kv_types, tasks) -> dict:
    combos = [(m, k, t) for m in models for k in kv_types for t in tasks]
    return cases.run_grid(kv_task_result, combos)


# --- speculative decoding ----------------------------------------------------------------------

# The draft each target gets (same tokenizer); BENCH_DRAFT_MODEL overrides.
DRAFTS = {
    "tiny-qwen3": "tiny-qwen3-draft",
    "Qwen/Qwen3-8B": "Qwen/Qwen3-1.7B", "Qwen/Qwen3-4B": "Qwen/Qwen3-0.6B", "Qwen/Qwen3-1.7B": "Qwen/Qwen3-0.6B",
    "arch:Qwen/Qwen3-8B": "arch:Qwen/Qwen3-1.7B", "arch:Qwen/Qwen3-4B": "arch:Qwen/Qwen3-0.6B",
    "meta-llama/Llama-3.1-8B": "meta-llama/Llama-3.2-1B", "arch:meta-llama/Llama-3.1-8B": "arch:meta-llama/Llama-3.2-1B",
}
SPEC_MAX_NEW_TOKENS = 64


def draft_for(model: str) -> str:
    import os

    name = os.environ.get("BENCH_DRAFT_MODEL") or DRAFTS.get(model)
    if not name:
        raise NotImplementedError(f"no draft model is known for {model!r}; set BENCH_DRAFT_MODEL to one that "
                                  "shares its tokenizer")
    return name


class SpeculativeMismatch(AssertionError):
    """Greedy speculative output differs from plain greedy output: a correctness failure."""


def spec_prompts(model: str, task: str, n: int) -> list[list[int]]:
    from bench_lib.workloads.generate import encode_prompts

    return encode_prompts(cases.tokenizer_for(model), cases.examples_for(task, n))


def speculative_result(model: str, method: str, task: str, engine: str = "hf", n_prompts: int | None = None) -> dict:
    """Acceptance statistics, exactness and speedup of one method on a task's prompts; plain greedy
    decoding runs on the same prompts in the same loop, alternating which goes first."""
    device, dtype, prof = _settings()
    prompts = spec_prompts(model, task, n_prompts or prof.n_examples)
    if engine == "hf":
        runner = _hf_runner(model, method, device, dtype)
    elif engine == "llamacpp":
        from bench_lib.kvspec import speculative_llamacpp

        runner = speculative_llamacpp.runner(model, method, draft_for(model) if method == "draft" else None,
                                             max(len(p) for p in prompts) + SPEC_MAX_NEW_TOKENS)
    elif engine == "vllm":
        from bench_lib.kvspec import speculative_vllm

        runner = speculative_vllm.shared_runner(model, method, n_prompts or prof.n_examples)
    else:
        raise NotImplementedError(f"speculative decoding is not wired for engine {engine!r} (hf, llamacpp, vllm)")
    out = compare_with_plain(runner, prompts, prof.repeats, prof.warmup, f"{method} on {model} ({engine}), {task}")
    out.update(model=model, method=method, task=task, engine=engine, device=device, n_prompts=len(prompts),
               draft=draft_for(model) if method == "draft" else None)
    return out


def _hf_runner(model: str, method: str, device: str, dtype: str):
    """runner(prompt, speculative: bool) -> SpecRun on the HF engine."""
    from bench_lib.engines.hf import _eos_ids
    from bench_lib.kvspec import speculative as sp

    target = _model(model, device, dtype)
    draft = _model(draft_for(model), device, dtype) if method == "draft" else None
    kwargs = sp.method_kwargs(method, target, draft)
    tok = cases.tokenizer_for(model)
    eos, pad = _eos_ids(target, tok.eos_token_id), tok.pad_token_id
    return lambda prompt, spec: sp.generate_one(target, prompt, SPEC_MAX_NEW_TOKENS, eos, pad, kwargs if spec else {})


def compare_with_plain(runner, prompts, repeats: int, warmup: int, what: str) -> dict:
    """Plain and speculative generation of every prompt, interleaved (the order alternates per
    prompt and repeat so drift hits both alike); speedup = plain / speculative wall time per repeat."""
    from bench_lib.kvspec.acceptance import Acceptance
    from bench_lib.measure.timing import Spread

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
                    f"{_first_difference(plain.token_ids, spec.token_ids)} "
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


def _first_difference(a, b) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def speculative_grid(models, methods, tasks, engine: str = "hf", n_prompts: int | None = None) -> dict:
    if engine == "vllm" and importlib.util.find_spec("vllm") is None:
        from bench_lib.kvspec import speculative_vllm

        return speculative_vllm.grid(list(models), list(methods), list(tasks), n_prompts)
    combos = [(m, meth, t, engine, n_prompts) for m in models for meth in methods for t in tasks]
    return {(m, meth, t): v for (m, meth, t, _, _), v in cases.run_grid(speculative_result, combos).items()}
