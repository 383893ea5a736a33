"""Decoding through a KV-cache type: a long prompt built from the task texts, a fixed number of
decoded tokens, their timings, the peak memory and the cache's bytes at the end."""
from __future__ import annotations

from typing import Sequence

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from bench_lib.kvspec import kvcache, protocol
from bench_lib.measure.memory import PeakMemory
from bench_lib.measure.timing import Clock, DecodeRun, agreeing_prefix, device_sync


def long_prompt(tokenizer, n_tokens: int) -> list[int]:
    """The first n_tokens of the chat-templated task conversations (the same fixed text the quality
    windows use), so every context length reads in-domain text."""
    from bench_lib import quality

    return quality.evaluation_tokens(tokenizer, n_tokens)


class _Steps(StoppingCriteria):
    """Timestamps of every generated token (generate calls this once per new token)."""

    def __init__(self, clock: Clock):
        self.clock, self.times = clock, []

    def __call__(self, input_ids, scores, **kwargs):
        self.times.append(self.clock.now())
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


@torch.inference_mode()
def decode_run(model, tokenizer, kv_type: str, context: int, n_decode: int, device: str) -> DecodeRun:
    """Prefill context - n_decode prompt tokens, then decode exactly n_decode tokens greedily
    (EOS suppressed so every type decodes the same number), ending with `context` cached tokens."""
    if context <= n_decode:
        raise ValueError(f"context {context} must exceed the {n_decode} decoded tokens")
    ids = torch.tensor([long_prompt(tokenizer, context - n_decode)], device=device)
    cache = kvcache.make_cache(kv_type, model)
    clock = Clock(device_sync(device))
    steps = _Steps(clock)
    start = clock.now()
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), past_key_values=cache,
                         max_new_tokens=n_decode, min_new_tokens=n_decode, do_sample=False, num_beams=1,
                         pad_token_id=tokenizer.pad_token_id, stopping_criteria=StoppingCriteriaList([steps]))
    return DecodeRun(out[0, ids.shape[1]:].tolist(), steps.times[0] - start, steps.times[-1] - start, cache)


def measure_decode(model, tokenizer, kv_type: str, context: int, n_decode: int, device: str,
                   repeats: int, warmup: int) -> dict:
    dtype_bytes = next(model.parameters()).element_size()
    for _ in range(max(warmup, 1)):  # the first quanto call builds its kernels: never time it
        decode_run(model, tokenizer, kv_type, context, n_decode, device)
    with PeakMemory(device) as mem:
        first = decode_run(model, tokenizer, kv_type, context, n_decode, device)
    runs = [first] + [decode_run(model, tokenizer, kv_type, context, n_decode, device) for _ in range(repeats - 1)]
    spreads = protocol.decode_spreads(runs)
    # The cache only holds what it was fed: the last token generated is never written back.
    fed = context - 1
    metrics = {
        "kvspec_cache_bytes": float(kvcache.expected_bytes(kv_type, model.config.get_text_config(), 1,
                                                           context - n_decode, fed - (context - n_decode), dtype_bytes)),
        "kvspec_cache_bytes_engine": float(kvcache.stored_bytes(first.cache)),
        **{name: s.median for name, s in spreads.items()},
        **mem.result.as_metrics(),
    }
    return {"metrics": metrics, "spreads": spreads, "token_ids": first.token_ids}


def prefix_agreement(reference: Sequence[int], test: Sequence[int]) -> float:
    """Share of the reference greedy tokens reproduced before the first differing token (after a
    difference the two continuations are conditioned on different text and stop being comparable)."""
    return agreeing_prefix(reference, test) / len(reference) if reference else float("nan")
