"""Speculative decoding with transformers: assisted generation with a draft model, prompt lookup,
and early-exit self-speculation; greedy, one prompt at a time (assisted generation's limit).

`generate` does not return acceptance counts, so they are read through public interfaces:
- a streamer receives the prompt, then once per verification step the tokens that step added
  (accepted draft tokens plus the target's own next token);
- a forward pre-hook on the target sees each verification pass's inputs: the tokens fed that were
  not in its cache yet, minus those already in the sequence, are the proposed draft tokens.
Early exit drafts with the target's own first layers, so its drafting passes reach the same hook;
they are told apart by the layer count transformers lowers while drafting.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from bench_lib.kvspec.acceptance import Acceptance
from bench_lib.measure.timing import Clock

# Draft tokens per step: constant, and every proposal kept (confidence threshold 0), so the
# schedule and hence the counts repeat run to run.
NUM_DRAFT_TOKENS = 4
PROMPT_LOOKUP_NGRAM = 2
EARLY_EXIT_LAYER = 1


def _fix_schedule(drafter) -> None:
    """transformers reads the draft schedule from the *drafting* model's generation_config (arguments
    given to generate do not reach it), so set it there: constant length, no confidence cut-off."""
    cfg = drafter.generation_config
    cfg.num_assistant_tokens = NUM_DRAFT_TOKENS
    cfg.num_assistant_tokens_schedule = "constant"
    cfg.assistant_confidence_threshold = 0.0


def method_kwargs(method: str, target, draft_model=None) -> dict:
    """`generate` arguments of a speculative method; "plain" is ordinary greedy decoding."""
    if method == "plain":
        return {}
    if method == "draft":
        if draft_model is None:
            raise ValueError("method 'draft' needs a draft model (draft_model=...)")
        _fix_schedule(draft_model)
        return {"assistant_model": draft_model}
    if method == "prompt-lookup":
        return {"prompt_lookup_num_tokens": NUM_DRAFT_TOKENS, "max_matching_ngram_size": PROMPT_LOOKUP_NGRAM}
    if method == "early-exit":
        n_layers = target.config.get_text_config().num_hidden_layers
        if EARLY_EXIT_LAYER >= n_layers:
            raise NotImplementedError(f"early exit at layer {EARLY_EXIT_LAYER} needs more than {n_layers} layers")
        _fix_schedule(target)
        return {"assistant_early_exit": EARLY_EXIT_LAYER}
    raise KeyError(f"unknown speculative method {method!r}; known: plain, {', '.join(METHODS)}")


METHODS = ("draft", "prompt-lookup", "early-exit")


class _Recorder:
    """Streamer + target pre-hook: per verification pass, drafted and accepted token counts."""

    def __init__(self, model):
        self.model, self.full_layers = model, model.config.num_hidden_layers
        self.seq_len, self.pending, self.acceptance = None, [], Acceptance()

    # streamer protocol
    def put(self, value) -> None:
        n = int(value.numel())
        if self.seq_len is None:  # the first call carries the prompt
            self.seq_len = n
            return
        drafted = self.pending.pop() if self.pending else 0
        # The step adds accepted drafts + one token of the target's; near max_new_tokens the
        # proposal is cut by generate itself, so accepted never exceeds what was proposed.
        self.acceptance.add(drafted, min(max(n - 1, 0), drafted))
        self.seq_len += n

    def end(self) -> None:
        pass

    def pre_hook(self, module, args, kwargs) -> None:
        if module.config.num_hidden_layers != self.full_layers:
            return  # an early-exit drafting pass
        ids = kwargs.get("input_ids", args[0] if args else None)
        cache = kwargs.get("past_key_values")
        # The last layer's length: early exit shares the first layers' cache with its drafts.
        cached = cache.get_seq_length(self.full_layers - 1) if cache is not None else 0
        self.pending = [max(cached + ids.shape[1] - (self.seq_len or 0), 0)]


@dataclass
class SpecRun:
    token_ids: list[int]
    wall_s: float
    acceptance: Acceptance


def _sync_for(device: str) -> Callable[[], None]:
    return (lambda: torch.cuda.synchronize(device)) if device.startswith("cuda") else (lambda: None)


@torch.inference_mode()
def generate_one(model, prompt: Sequence[int], max_new_tokens: int, eos_ids: list[int], pad_id: int,
                 kwargs: dict) -> SpecRun:
    """Greedy generation of one prompt, timed; tokens cut after the first EOS."""
    device = str(next(model.parameters()).device)
    ids = torch.tensor([list(prompt)], device=device)
    recorder = _Recorder(model)
    handle = model.register_forward_pre_hook(recorder.pre_hook, with_kwargs=True)
    clock = Clock(_sync_for(device))
    try:
        start = clock.now()
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, num_beams=1, eos_token_id=eos_ids, pad_token_id=pad_id,
                             streamer=recorder, **kwargs)
        wall = clock.now() - start
    finally:
        handle.remove()
    new = out[0, ids.shape[1]:].tolist()
    acc = recorder.acceptance
    if acc.accepted + acc.target_passes != len(new):
        raise RuntimeError(f"acceptance bookkeeping is off: {acc.accepted} accepted + {acc.target_passes} target "
                           f"passes != {len(new)} generated tokens; generate's streaming protocol has changed")
    n = next((i + 1 for i, t in enumerate(new) if t in eos_ids), len(new))
    return SpecRun(new[:n], wall, recorder.acceptance)
