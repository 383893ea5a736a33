"""llama.cpp KV-cache types (type_k / type_v): bytes from ggml's block layouts checked against the
size llama.cpp itself reports, decode speed, and quality against an f32 cache.

llama.cpp allocates the cache for all n_ctx cells when the context is created, so its bytes are
those of the whole context, used or not. A quantized V cache needs flash attention, so every
quantized type runs with flash attention on; f32 and f16 run without it, as llama.cpp's default.
In llama.cpp a batch attends to keys and values read back from the cache, so unlike HF's cache the
quantization acts on the whole window, prompt included (the perplexity tool's situation).
"""
from __future__ import annotations

import contextlib
import io
import re

from bench_lib.engines.base import EngineUnavailable
from bench_lib.measure.memory import PeakMemory
from bench_lib.measure.timing import Clock, DecodeRun

# ggml block layouts: (bytes per block, elements per block). q8_0: fp16 scale + 32 int8;
# q4_0: fp16 scale + 32 4-bit values.
BLOCKS = {"f32": (4, 1), "f16": (2, 1), "q8_0": (34, 32), "q4_0": (18, 32)}
GGML_TYPE = {"f32": "GGML_TYPE_F32", "f16": "GGML_TYPE_F16", "q8_0": "GGML_TYPE_Q8_0", "q4_0": "GGML_TYPE_Q4_0"}
REFERENCE = "f32"
KV_TYPES = ("f16", "q8_0", "q4_0")  # the types the suite measures against REFERENCE
_REPORT = re.compile(r"(\d+) cells.*?K \((\w+)\):\s*([\d.]+) MiB, V \((\w+)\):\s*([\d.]+) MiB")


def expected_bytes(kv_type: str, text_config, cells: int) -> int:
    if kv_type not in BLOCKS:
        raise KeyError(f"unknown llama.cpp KV type {kv_type!r}; known: {', '.join(BLOCKS)}")
    heads = text_config.num_key_value_heads
    head_dim = getattr(text_config, "head_dim", None) or text_config.hidden_size // text_config.num_attention_heads
    block_bytes, block_elems = BLOCKS[kv_type]
    row = heads * head_dim
    if row % block_elems:
        raise ValueError(f"a K/V row of {row} elements is not a multiple of {kv_type}'s block of {block_elems}")
    return 2 * text_config.num_hidden_layers * cells * row // block_elems * block_bytes


def load_with_report(spec, kv_type: str, n_ctx: int):
    """(engine, cells, reported bytes): llama.cpp prints its cache size while the context is made,
    only in verbose mode, so the load runs verbose with stderr captured, then goes quiet."""
    from bench_lib import config
    from bench_lib.engines.registry import load_engine

    try:
        import llama_cpp
        from llama_cpp._logger import set_verbose
    except ImportError as exc:
        raise EngineUnavailable(f"llama-cpp-python is not installed ({exc}); run scripts/install_llamacpp.sh") from exc
    ggml = getattr(llama_cpp, GGML_TYPE[kv_type])
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        eng = load_engine("llamacpp", spec, config.device(), "float32", n_ctx=n_ctx, type_k=ggml, type_v=ggml,
                          flash_attn=kv_type not in ("f32", "f16"), logits_all=True, verbose=True)
    set_verbose(False)
    eng.llm.verbose = False
    m = _REPORT.search(captured.getvalue())
    if not m:
        return eng, n_ctx, None
    reported = round((float(m.group(3)) + float(m.group(5))) * 2**20)
    return eng, int(m.group(1)), reported


def decode_run(eng, prompt: list[int], n_decode: int) -> DecodeRun:
    """Greedy, exactly n_decode tokens (an end-of-generation token does not stop it, so every
    cache type decodes the same number)."""
    from bench_lib.engines.llamacpp import GREEDY

    clock = Clock(eng.synchronize)
    eng.llm.reset()
    ids, times = [], []
    start = clock.now()
    for token in eng.llm.generate(prompt, reset=True, **GREEDY):
        ids.append(int(token))
        times.append(clock.now())
        if len(ids) >= n_decode:
            break
    return DecodeRun(ids, times[0] - start, times[-1] - start)


def kv_cache_result(model: str, kv_type: str, context: int) -> dict:
    from bench_lib import config, quality, resources
    from bench_lib.kvspec.protocol import KV_DECODE_TOKENS, decode_spreads, kv_windows
    from bench_lib.kvspec.kvdecode import long_prompt, prefix_agreement
    from bench_lib.models import get_spec, load_config

    prof, spec = config.profile(), get_spec(model)
    tok = resources.tokenizer_for(spec)
    prompt = long_prompt(tok, context - KV_DECODE_TOKENS)
    windows = quality.evaluation_windows(tok, context, kv_windows(context, prof.name))
    ref_eng, _, _ = load_with_report(spec, REFERENCE, context)
    try:
        reference = quality.reference_logprobs(quality.llamacpp_logits_fn(ref_eng.llm), windows)
        ref_tokens = decode_run(ref_eng, prompt, KV_DECODE_TOKENS).token_ids
    finally:
        ref_eng.close()
    eng, cells, reported = load_with_report(spec, kv_type, context)
    try:
        for _ in range(max(prof.warmup, 1)):
            decode_run(eng, prompt, KV_DECODE_TOKENS)
        with PeakMemory(eng.device) as mem:
            runs = [decode_run(eng, prompt, KV_DECODE_TOKENS)]
        runs += [decode_run(eng, prompt, KV_DECODE_TOKENS) for _ in range(prof.repeats - 1)]
        stats = quality.compare(reference, quality.llamacpp_logits_fn(eng.llm))
    finally:
        eng.close()
    spreads = decode_spreads(runs)
    metrics = {"kvspec_cache_bytes": float(expected_bytes(kv_type, load_config(spec).get_text_config(), cells)),
               **{name: s.median for name, s in spreads.items()},
               "kvspec_greedy_agreement": prefix_agreement(ref_tokens, runs[0].token_ids), **mem.result.as_metrics()}
    if reported is not None:  # llama.cpp prints MiB with two decimals: ±0.005 MiB
        metrics["kvspec_cache_bytes_engine"] = float(reported)
    if spec.real_weights:
        metrics.update(stats.as_metrics())
    return {"metrics": metrics, "spreads": spreads,
            "model": model, "kv_type": kv_type, "context": context, "engine": "llamacpp", "cells": cells}


def grid(models, kv_types, contexts) -> dict:
    from bench_lib.grid import run_grid

    return run_grid(kv_cache_result, [(m, k, c) for m in models for k in kv_types for c in contexts])
