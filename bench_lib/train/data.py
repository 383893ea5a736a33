"""Task rows → training batches.

Each example is the chat-templated prompt (exactly as the generation workload encodes it)
followed by the reference answer and the end-of-turn token; only the answer is a label.
Examples are packed back to back into rows of the sequence length, so every position of a
batch is a real token: a step's token count is batch × sequence length, with no padding to
argue about. The order of examples is a function of the seed alone.
"""
from __future__ import annotations

import random
from typing import Iterator, Sequence

from bench_lib.tasks.base import Example
from bench_lib.workloads.generate import encode_prompts

IGNORE = -100  # label value the loss skips (transformers' convention)


def encode_example(tokenizer, example: Example) -> tuple[list[int], list[int]]:
    prompt = encode_prompts(tokenizer, [example])[0]
    answer = tokenizer.encode(example.reference + tokenizer.eos_token, add_special_tokens=False)
    return prompt + answer, [IGNORE] * len(prompt) + answer


def _token_stream(tokenizer, examples: Sequence[Example], seed: int) -> Iterator[tuple[int, int]]:
    rng = random.Random(seed)
    order = list(range(len(examples)))
    while True:  # epochs, each in a fresh seeded order
        rng.shuffle(order)
        for i in order:
            yield from zip(*encode_example(tokenizer, examples[i]))


def batches(tokenizer, examples: Sequence[Example], batch_size: int, seq_len: int, seed: int) -> Iterator[dict]:
    """Endless packed batches: {"input_ids": LongTensor[b, s], "labels": LongTensor[b, s]}."""
    import torch

    if not examples:
        raise ValueError("no training examples: the task's train split is empty")
    stream = _token_stream(tokenizer, examples, seed)
    while True:
        pairs = [next(stream) for _ in range(batch_size * seq_len)]
        ids = torch.tensor([p[0] for p in pairs], dtype=torch.long).view(batch_size, seq_len)
        labels = torch.tensor([p[1] for p in pairs], dtype=torch.long).view(batch_size, seq_len)
        if (labels != IGNORE).sum() == 0:
            continue  # a chunk of prompt tokens only has no loss; real packers skip it too
        yield {"input_ids": ids, "labels": labels}


def fixed_batch(tokenizer, examples: Sequence[Example], batch_size: int, seq_len: int, seed: int) -> dict:
    return next(batches(tokenizer, examples, batch_size, seq_len, seed))
