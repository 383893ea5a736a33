"""Log-likelihood of continuations, as lm-evaluation-harness's HF model computes it, and ARC
scored that way (bench_lib.calibration has the metric definitions).

Tokens: lm-eval's `_encode_pair`: trailing spaces of the context move to the continuation, the
whole string and the context are encoded without special tokens, and the continuation tokens
are the whole string's tokens after the context's. The model reads context + continuation
without the last token; the log-softmax at each continuation position is summed. ARC is asked
as lm-eval's arc_challenge asks it, zero-shot and without a chat template:
"Question: {question}\\nAnswer:" then " {choice}".
"""
from __future__ import annotations

from typing import Sequence

from bench_lib import calibration
from bench_lib.tasks.base import Example


def encode_pair(tokenizer, context: str, continuation: str) -> tuple[list[int], list[int]]:
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation, context = context[-n_spaces:] + continuation, context[:-n_spaces]
    whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
    return ctx, whole[len(ctx):]


def loglikelihoods(model, tokenizer, context: str, continuations: Sequence[str]) -> list[float]:
    """Summed log-probability of each continuation after `context`, one padded batch per call."""
    import torch

    pairs = [encode_pair(tokenizer, context, c) for c in continuations]
    seqs = [(ctx + cont)[:-1] for ctx, cont in pairs]
    width = max(len(s) for s in seqs)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = next(model.parameters()).device
    ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=device)
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=device)
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
    out = []
    for row, (ctx, cont) in enumerate(pairs):
        start = len(ctx) - 1            # logits at position t predict token t + 1
        positions = torch.arange(start, start + len(cont), device=device)
        targets = torch.tensor(cont, device=device)
        out.append(float(logp[row, positions, targets].sum()))
    return out


def arc_context(example: Example) -> str:
    return f"Question: {example.extra['question']}\nAnswer:"


def arc_records(model, tokenizer, examples: Sequence[Example]) -> list[dict]:
    """One calibration.choice_record per question."""
    records = []
    for ex in examples:
        choices = ex.extra["choices"]
        lls = loglikelihoods(model, tokenizer, arc_context(ex), [" " + c for c in choices])
        records.append(calibration.choice_record(lls, choices, ex.extra["labels"].index(ex.gold)))
    return records
