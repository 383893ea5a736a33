"""Hugging Face transformers engine, greedy, batched with left padding, two decode loops.

`loop="forward"` (engine `hf`, the default): the suite's own KV-cached loop over the model's
forward, as gpt-fast and most engine benchmarks do: prefill, then one forward per token with
a DynamicCache, argmax, stop per row on EOS. Position ids and the attention mask are built as
`generate` builds them (cumsum of the mask), so the tokens are `generate`'s tokens (a test
checks that, padded batches included); what it leaves out is `generate`'s per-token
bookkeeping (input preparation, logits processors, stopping criteria), about 15% of a decode
step of the embedded tiny model on CPU (less on larger models).
`loop="generate"` (engine `hf-generate`): `model.generate`, the call most users make; its
per-step timestamps come from a StoppingCriteria, which `generate` calls once after every new
token. Extra `generate` keyword arguments (a quantized KV cache, an assistant model) need it.
"""
from __future__ import annotations

from typing import Sequence

import torch
from transformers import DynamicCache, GenerationConfig, StoppingCriteria, StoppingCriteriaList

from bench_lib.engines.base import Generation, RequestTiming
from bench_lib.measure.timing import Clock, device_sync
from bench_lib.models import ModelSpec, load_model

LOOPS = ("forward", "generate")


class _StepClock(StoppingCriteria):
    def __init__(self, clock: Clock, start: float):
        self.clock, self.start, self.steps = clock, start, []

    def __call__(self, input_ids, scores, **kwargs):
        self.steps.append(self.clock.now() - self.start)
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


class HFEngine:
    torch_allocator = True     # its tensors are torch's: the allocator's peaks are its memory
    def __init__(self, model, device: str, pad_id: int, eos_ids: list[int], generate_kwargs: dict | None = None,
                 loop: str = "forward"):
        if loop not in LOOPS:
            raise ValueError(f"HF engine loop {loop!r}; use one of {', '.join(LOOPS)}")
        self.generate_kwargs = generate_kwargs or {}
        if self.generate_kwargs and loop != "generate":
            raise ValueError(f"generate options {sorted(self.generate_kwargs)} need loop='generate' "
                             "(engine hf-generate); the forward loop runs plain greedy decoding only")
        self.model, self.device, self.pad_id, self.eos_ids, self.loop = model, device, pad_id, eos_ids, loop
        self.name = "hf" if loop == "forward" else "hf-generate"
        self.clock = Clock(self.synchronize)

    def synchronize(self) -> None:
        device_sync(self.device)()

    def _batch(self, prompts: Sequence[Sequence[int]]):
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, p in enumerate(prompts):  # left padding: every prompt ends at the same column
            ids[row, width - len(p):] = torch.tensor(list(p), dtype=torch.long)
            mask[row, width - len(p):] = 1
        return ids.to(self.device), mask.to(self.device)

    @torch.inference_mode()
    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int, ignore_eos: bool = False) -> Generation:
        """Greedy ids per prompt; with `ignore_eos` every row runs the full `max_new_tokens`."""
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        ids, mask = self._batch(prompts)
        stop = [] if ignore_eos else self.eos_ids
        start = self.clock.now()
        run = self._forward_loop if self.loop == "forward" else self._generate_loop
        new, steps = run(ids, mask, max_new_tokens, stop, start)
        wall = self.clock.now() - start
        token_ids, timings = [], []
        for row in new:
            n = next((i + 1 for i, t in enumerate(row) if t in stop), len(row))
            token_ids.append(row[:n])
            timings.append(RequestTiming(steps[0], steps[n - 1], n))
        return Generation(token_ids, timings, wall)

    def _generate_loop(self, ids, mask, max_new_tokens: int, stop: list[int], start: float):
        config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                  eos_token_id=stop, pad_token_id=self.pad_id)
        recorder = _StepClock(self.clock, start)
        out = self.model.generate(input_ids=ids, attention_mask=mask, generation_config=config,
                                  stopping_criteria=StoppingCriteriaList([recorder]), **self.generate_kwargs)
        return out[:, ids.shape[1]:].tolist(), recorder.steps

    def _forward_loop(self, ids, mask, max_new_tokens: int, stop: list[int], start: float):
        model, stop = self.model, set(stop)
        padded = bool((mask == 0).any())  # without padding the mask is all ones: leave it out, as the
        positions = (mask.cumsum(-1) - 1).clamp(min=0) if padded else None  # model then takes the causal one
        out = model(input_ids=ids, attention_mask=mask if padded else None, position_ids=positions,
                    past_key_values=DynamicCache(config=model.config), use_cache=True)
        done = [False] * ids.shape[0]
        rows, steps = [], []
        while True:
            # One host copy per step, which any loop that stops on EOS needs; a finished row
            # emits padding, as in generate.
            row = [self.pad_id if d else t for t, d in zip(out.logits[:, -1].argmax(-1).tolist(), done)]
            rows.append(row)
            done = [d or t in stop for t, d in zip(row, done)]
            steps.append(self.clock.now() - start)
            if len(rows) == max_new_tokens or all(done):
                break
            if padded:
                mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
                positions = positions[:, -1:] + 1
            step = torch.tensor(row, dtype=torch.long, device=ids.device)[:, None]
            out = model(input_ids=step, attention_mask=mask if padded else None, position_ids=positions,
                        past_key_values=out.past_key_values, use_cache=True)
        return [list(col) for col in zip(*rows)], steps

    def close(self) -> None:
        self.model = None
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()


def load(spec: ModelSpec, device: str, dtype: str, loop: str = "forward", **options) -> HFEngine:
    """`loop` forward (the suite's KV-cached loop) or generate; other options go to `generate`."""
    from bench_lib.models import load_tokenizer

    tokenizer = load_tokenizer(spec)
    model = options.pop("model", None) or load_model(spec, device, dtype)
    return HFEngine(model, device, tokenizer.pad_token_id, spec.stop_token_ids(tokenizer), options, loop)


def load_generate(spec: ModelSpec, device: str, dtype: str, **options) -> HFEngine:
    return load(spec, device, dtype, loop="generate", **options)
