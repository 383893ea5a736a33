"""Hugging Face transformers engine: `model.generate`, greedy, batched with left padding.

Per-step timestamps come from a StoppingCriteria, which `generate` calls once after every new
token: the first call is the first token, call n is token n. That works for any batch size,
unlike a streamer, and it sees the same loop users run.
"""
from __future__ import annotations

from typing import Sequence

import torch
from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

from bench_lib.engines.base import Generation, RequestTiming
from bench_lib.measure.timing import Clock
from bench_lib.models import ModelSpec, load_model


class _StepClock(StoppingCriteria):
    def __init__(self, clock: Clock, start: float):
        self.clock, self.start, self.steps = clock, start, []

    def __call__(self, input_ids, scores, **kwargs):
        self.steps.append(self.clock.now() - self.start)
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def _eos_ids(model, tokenizer_eos: int | None) -> list[int]:
    eos = model.generation_config.eos_token_id
    ids = list(eos) if isinstance(eos, (list, tuple)) else ([eos] if eos is not None else [])
    if tokenizer_eos is not None and tokenizer_eos not in ids:
        ids.append(tokenizer_eos)
    return ids


class HFEngine:
    name = "hf"

    def __init__(self, model, device: str, pad_id: int, eos_ids: list[int], generate_kwargs: dict | None = None):
        self.model, self.device, self.pad_id, self.eos_ids = model, device, pad_id, eos_ids
        self.generate_kwargs = generate_kwargs or {}
        self.clock = Clock(self.synchronize)

    def synchronize(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.device)

    def _batch(self, prompts: Sequence[Sequence[int]]):
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, p in enumerate(prompts):  # left padding: every prompt ends at the same column
            ids[row, width - len(p):] = torch.tensor(list(p), dtype=torch.long)
            mask[row, width - len(p):] = 1
        return ids.to(self.device), mask.to(self.device)

    @torch.inference_mode()
    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int) -> Generation:
        ids, mask = self._batch(prompts)
        config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                  eos_token_id=self.eos_ids, pad_token_id=self.pad_id)
        start = self.clock.now()
        recorder = _StepClock(self.clock, start)
        out = self.model.generate(input_ids=ids, attention_mask=mask, generation_config=config,
                                  stopping_criteria=StoppingCriteriaList([recorder]), **self.generate_kwargs)
        wall = self.clock.now() - start
        new = out[:, ids.shape[1]:].tolist()
        token_ids, timings = [], []
        for row in new:
            n = next((i + 1 for i, t in enumerate(row) if t in self.eos_ids), len(row))
            token_ids.append(row[:n])
            timings.append(RequestTiming(recorder.steps[0], recorder.steps[n - 1], n))
        return Generation(token_ids, timings, wall)

    def close(self) -> None:
        self.model = None
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()


def load(spec: ModelSpec, device: str, dtype: str, **options) -> HFEngine:
    from bench_lib.models import load_tokenizer

    tokenizer = load_tokenizer(spec)
    model = options.pop("model", None) or load_model(spec, device, dtype)
    return HFEngine(model, device, tokenizer.pad_token_id, _eos_ids(model, tokenizer.eos_token_id), options)
