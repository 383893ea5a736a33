"""vLLM KV-cache dtypes (`kv_cache_dtype`: auto, fp8_e4m3, fp8_e5m2): bytes computed from the
cache's shapes and checked against vLLM's own allocation, decode speed, and quality against the
unquantized (auto: the model's dtype) cache on the same tokens.

vLLM's CPU attention reads keys and values back from the paged cache for prompt tokens too, so,
as in llama.cpp, the fp8 cache acts on the whole window, prompt included; the quality statistics
come from full-vocabulary prompt log-probabilities (`prompt_logprobs=-1`). No scales are
calibrated (k_scale = v_scale = 1, vLLM's default without a checkpoint that carries them).
vLLM allocates whole blocks, so the bytes of a context are those of the blocks holding it.

Everything here runs where vllm imports (on a CPU-only machine: .venv-vllm, through
bench_lib.engines.vllm_env): `grid` is the entry point from the main interpreter and runs the
whole grid in one process there, each cache type's engine built once.
"""
from __future__ import annotations

import gc
import json
import math
from typing import Iterable

import numpy as np

KV_TYPES = ("auto", "fp8_e4m3", "fp8_e5m2")
REFERENCE = "auto"
_ELEMENT_BYTES = {"fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1, "float32": 4, "float16": 2, "bfloat16": 2}


def expected_bytes(kv_type: str, text_config, tokens: int, model_dtype: str, block_size: int) -> int:
    """K and V of every layer for the blocks that hold `tokens` tokens."""
    elem = _ELEMENT_BYTES[model_dtype if kv_type == "auto" else kv_type]
    head_dim = getattr(text_config, "head_dim", None) or text_config.hidden_size // text_config.num_attention_heads
    blocks = math.ceil(tokens / block_size)
    per_token = 2 * text_config.num_hidden_layers * text_config.num_key_value_heads * head_dim * elem
    return blocks * block_size * per_token


def engine_bytes(llm, tokens: int) -> float:
    """The same from vLLM's own numbers: its cache budget over the blocks it made of it."""
    cc = llm.llm_engine.vllm_config.cache_config
    per_block = cc.kv_cache_memory_bytes // cc.num_gpu_blocks
    return float(math.ceil(tokens / cc.block_size) * per_block)


def logits_fn(llm, vocab: int):
    """Log-probabilities per window token (quality.LogitsFn). The window's last token is left
    out of the prompt so no extra position is needed: prompt_logprobs give rows 0..n-3 and the
    one generated step gives row n-2; row n-1 (never scored) repeats it."""
    from vllm import SamplingParams

    params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=-1, logprobs=-1, detokenize=False)

    def logits(ids) -> np.ndarray:
        out = llm.generate([{"prompt_token_ids": [int(t) for t in ids[:-1]]}], params, use_tqdm=False)[0]
        rows = [*out.prompt_logprobs[1:], out.outputs[0].logprobs[0]]
        arr = np.full((len(ids), vocab), -np.inf, dtype=np.float32)
        for i, row in enumerate(rows):
            arr[i, list(row)] = [lp.logprob for lp in row.values()]
        arr[-1] = arr[-2]
        return arr

    return logits


def _load(model: str, kv_type: str, max_len: int):
    from bench_lib import config
    from bench_lib.engines import vllm as vllm_engine
    from bench_lib.models import get_spec

    device = config.device()
    return vllm_engine.load(get_spec(model), device, config.dtype_name(device), mode="inprocess",
                            kv_cache_dtype=kv_type, max_model_len=max_len, enable_prefix_caching=False,
                            max_logprobs=-1)


def _decode(engine, prompt: list[int], n_decode: int):
    """Exactly n_decode greedy tokens (EOS ignored), as a `measure.timing.DecodeRun`."""
    from bench_lib.measure.timing import DecodeRun

    gen = engine.generate([prompt], n_decode, ignore_eos=True)
    t = gen.timings[0]
    return DecodeRun(gen.token_ids[0], t.first_token_s, t.finish_s)


def _measure(engine, model: str, kv_type: str, context: int, reference: dict) -> dict:
    from bench_lib import config, quality, resources
    from bench_lib.kvspec.protocol import KV_DECODE_TOKENS, decode_spreads, kv_windows
    from bench_lib.kvspec.kvdecode import long_prompt, prefix_agreement
    from bench_lib.models import get_spec, load_config

    prof, spec = config.profile(), get_spec(model)
    tok, text_config = resources.tokenizer_for(spec), load_config(spec).get_text_config()
    prompt = long_prompt(tok, context - KV_DECODE_TOKENS)
    for _ in range(max(prof.warmup, 1)):
        _decode(engine, prompt, KV_DECODE_TOKENS)
    runs = [_decode(engine, prompt, KV_DECODE_TOKENS) for _ in range(prof.repeats)]
    windows = quality.evaluation_windows(tok, context, kv_windows(context, prof.name))
    fn = logits_fn(engine.llm, text_config.vocab_size)
    if kv_type == REFERENCE:
        reference[(model, context)] = (quality.reference_logprobs(fn, windows), runs[0].token_ids)
    if (model, context) not in reference:
        raise RuntimeError(f"no reference ({REFERENCE} cache) for {model} at {context} tokens: it failed or "
                           f"was not in the grid")
    ref_logprobs, ref_tokens = reference[(model, context)]
    spreads = decode_spreads(runs)
    block = engine.llm.llm_engine.vllm_config.cache_config.block_size
    metrics = {"kvspec_cache_bytes": float(expected_bytes(kv_type, text_config, context, config.dtype_name(), block)),
               "kvspec_cache_bytes_engine": engine_bytes(engine.llm, context),
               **{name: s.median for name, s in spreads.items()},
               "kvspec_greedy_agreement": prefix_agreement(ref_tokens, runs[0].token_ids)}
    if spec.real_weights:
        metrics.update(quality.compare(ref_logprobs, fn).as_metrics())
    return {"metrics": metrics, "spreads": spreads,
            "model": model, "kv_type": kv_type, "context": context, "engine": "vllm", "block_size": block}


def grid_here(models: list[str], kv_types: list[str], contexts: list[int]) -> dict:
    """{json [model, kv_type, context]: result | skip | error}, in this (vLLM) process; the
    reference cache type runs first so the others compare against it."""
    import traceback

    from bench_lib.engines.base import EngineUnavailable

    order = sorted(kv_types, key=lambda k: k != REFERENCE)
    out, reference = {}, {}
    for model in models:
        for kv_type in order:
            keys = [json.dumps([model, kv_type, c]) for c in contexts]
            try:
                engine = _load(model, kv_type, max(contexts))
            except (EngineUnavailable, NotImplementedError) as exc:
                out.update({k: {"skip": str(exc)} for k in keys})
                continue
            except Exception as exc:  # recorded: the other cache types still run
                out.update({k: {"error": f"{type(exc).__name__}: {exc}"} for k in keys})
                continue
            try:
                for key, context in zip(keys, contexts):
                    try:
                        out[key] = {"result": _measure(engine, model, kv_type, context, reference)}
                    except Exception as exc:
                        out[key] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            finally:
                engine.close()
                gc.collect()
    return out


def grid(models: Iterable[str], kv_types: Iterable[str], contexts: Iterable[int]) -> dict:
    """{(model, kv_type, context): result | skip | error}, measured in vLLM's interpreter."""
    from bench_lib.engines import vllm_env

    models, kv_types, contexts = list(models), list(kv_types), list(contexts)
    combos = [(m, k, c) for m in models for k in kv_types for c in contexts]
    return vllm_env.call_grid("bench_lib.kvspec.kvcache_vllm:grid_here", combos, models, kv_types, contexts)
