"""Bare decode loops, one per engine, for the overhead check: how much of an engine's speed
the suite's `generate` path costs.

Each loop drives the same loaded model object the engine holds, greedy, one sequence, and
returns per-token timestamps read through the same Clock. Both sides ignore end-of-generation
(vLLM's `ignore_eos`, llama-bench's fixed token count), so every run decodes the same number of
tokens, enough that timer resolution and scheduling noise stay small beside the decode time.
Decode tokens/s is (tokens - 1) / (last token time - first token time) for both sides, so
prefill is left out and only the per-token loop is compared. The suite and the bare loop
alternate (the order flips every repeat) so drifting machine load hits both alike.
"""
from __future__ import annotations

from typing import Callable, Sequence

from bench_lib.measure.timing import DecodeRun, Spread


def hf_bare_loop(engine, prompt: Sequence[int], max_new_tokens: int) -> DecodeRun:
    """model forward with a KV cache and argmax, nothing else."""
    import torch
    from transformers import DynamicCache

    model, clock = engine.model, engine.clock
    with torch.inference_mode():
        start = clock.now()
        cache = DynamicCache(config=model.config)
        ids = torch.tensor([list(prompt)], dtype=torch.long, device=engine.device)
        out = model(input_ids=ids, past_key_values=cache, use_cache=True)
        token = int(out.logits[0, -1].argmax())
        tokens, times = [token], [clock.now() - start]
        while len(tokens) < max_new_tokens:
            step = torch.tensor([[token]], dtype=torch.long, device=engine.device)
            out = model(input_ids=step, past_key_values=out.past_key_values, use_cache=True)
            token = int(out.logits[0, -1].argmax())
            tokens.append(token)
            times.append(clock.now() - start)
    return DecodeRun(tokens, times[0], times[-1])


def llamacpp_bare_loop(engine, prompt: Sequence[int], max_new_tokens: int) -> DecodeRun:
    """llama.cpp's C API: llama_decode one token at a time, greedy sampler, no Python wrapper."""
    import llama_cpp as lc

    from bench_lib.engines.llamacpp import check_decode

    llm, clock = engine.llm, engine.clock
    ctx = llm.ctx
    lc.llama_memory_clear(lc.llama_get_memory(ctx), True)
    llm.reset()  # the wrapper's own token bookkeeping must agree with the cleared cache
    sampler = lc.llama_sampler_init_greedy()
    try:
        start = clock.now()
        arr = (lc.llama_token * len(prompt))(*prompt)
        check_decode(lc.llama_decode(ctx, lc.llama_batch_get_one(arr, len(prompt))))
        token = lc.llama_sampler_sample(sampler, ctx, -1)
        tokens, times = [token], [clock.now() - start]
        one = (lc.llama_token * 1)()
        while len(tokens) < max_new_tokens:
            one[0] = token
            check_decode(lc.llama_decode(ctx, lc.llama_batch_get_one(one, 1)))
            token = lc.llama_sampler_sample(sampler, ctx, -1)
            tokens.append(token)
            times.append(clock.now() - start)
    finally:
        lc.llama_sampler_free(sampler)
        lc.llama_memory_clear(lc.llama_get_memory(ctx), True)
    return DecodeRun(tokens, times[0], times[-1])


def vllm_bare_loop(engine, prompt: Sequence[int], max_new_tokens: int) -> DecodeRun:
    """vLLM's engine step loop for one request, in this process (the official build)."""
    if getattr(engine, "llm", None) is None:
        raise NotImplementedError("vLLM runs as a server in another process here; a bare loop in this "
                                  "process does not exist for it (the overhead check needs in-process vLLM)")
    from vllm import SamplingParams

    params = SamplingParams(temperature=0.0, top_k=-1, top_p=1.0, max_tokens=max_new_tokens, ignore_eos=True,
                            detokenize=False)
    core, clock = engine.llm.llm_engine, engine.clock
    start = clock.now()
    core.add_request("bare", {"prompt_token_ids": list(prompt)}, params)
    tokens, times = [], []
    while core.has_unfinished_requests():
        for out in core.step():
            if out.outputs and len(out.outputs[0].token_ids) > len(tokens):
                now = clock.now() - start
                new = list(out.outputs[0].token_ids)[len(tokens):]
                tokens.extend(new)
                times.extend([now] * len(new))
    return DecodeRun(tokens, times[0], times[-1])


# hf-generate has the same bare loop as hf: its ratio is what `generate` costs over the forward loop.
BARE_LOOPS: dict[str, Callable] = {"hf": hf_bare_loop, "hf-generate": hf_bare_loop, "llamacpp": llamacpp_bare_loop,
                                   "vllm": vllm_bare_loop}


def suite_run(engine, prompt: Sequence[int], max_new_tokens: int) -> DecodeRun:
    """The suite's path: the engine's `generate` on one prompt, read from its request timing."""
    gen = engine.generate([list(prompt)], max_new_tokens, ignore_eos=True)
    t = gen.timings[0]
    return DecodeRun(gen.token_ids[0], t.first_token_s, t.finish_s)


def compare(engine, prompt: Sequence[int], max_new_tokens: int, repeats: int, warmup: int = 1) -> dict:
    """Interleaved suite/bare runs; the ratio suite/bare of decode tokens/s per pair, with spread."""
    if repeats < 1 or max_new_tokens < 2:
        # No pair, or no decode step after the prefill's token: there is no ratio to report.
        raise ValueError(f"overhead needs repeats >= 1 and max_new_tokens >= 2 (got {repeats}, {max_new_tokens})")
    if engine.name not in BARE_LOOPS:
        raise NotImplementedError(f"no bare decode loop is defined for engine {engine.name!r}; "
                                  f"defined for: {', '.join(BARE_LOOPS)}")
    bare = BARE_LOOPS[engine.name]
    for _ in range(warmup):  # bare first: an engine without a usable bare loop stops here, cheaply
        bare(engine, prompt, max_new_tokens)
        suite_run(engine, prompt, max_new_tokens)
    ratios, suite_tps, bare_tps, same = [], [], [], True
    for i in range(repeats):
        if i % 2 == 0:
            s, b = suite_run(engine, prompt, max_new_tokens), bare(engine, prompt, max_new_tokens)
        else:
            b, s = bare(engine, prompt, max_new_tokens), suite_run(engine, prompt, max_new_tokens)
        same &= s.token_ids == b.token_ids
        suite_tps.append(s.decode_tokens_per_s)
        bare_tps.append(b.decode_tokens_per_s)
        ratios.append(s.decode_tokens_per_s / b.decode_tokens_per_s)
    return {"ratio": Spread.of(ratios), "suite_tokens_per_s": Spread.of(suite_tps),
            "bare_tokens_per_s": Spread.of(bare_tps), "decode_tokens": len(s.token_ids) - 1,
            "same_tokens": same, "engine": engine.name}
