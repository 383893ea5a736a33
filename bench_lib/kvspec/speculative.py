"""Speculative decoding with transformers: assisted generation with a draft model, prompt lookup,
and early-exit self-speculation; greedy, one prompt at a time (assisted generation's limit).

`generate` does not return acceptance counts, so they are read off the target model itself, with
a forward pre-hook and a forward hook; nothing depends on how `generate` hands tokens to a
streamer or names its cache argument:
- every full-depth call of the target during `generate` is one verification pass (the prefill
  included, as in plain greedy decoding);
- its inputs are the tokens not yet in its KV cache: the part beyond the sequence generated so
  far is the proposed draft (length = cached + fed - sequence length);
- its logits give the target's verdict: the accepted tokens are the leading proposals equal to
  the argmax at their position, and the argmax after them is the target's own token.
Early exit drafts with the target's own first layers, so its drafting passes reach the same
hooks; they are told apart by the layer count transformers lowers while drafting.

The counts are checked against the tokens `generate` returned: the known part of every pass's
input and its accepted proposals must be the output's tokens, a rejected proposal must differ
from the output's token there, and accepted + passes must equal the generated tokens. The last
pass may be cut short by an end-of-sequence token among its accepted proposals; that pass's
count is then what the output kept (accepted = generated - passes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from bench_lib.kvspec.acceptance import Acceptance
from bench_lib.measure.timing import Clock, device_sync

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


class BookkeepingError(RuntimeError):
    """The target passes seen by the hooks do not account for the tokens `generate` returned."""


@dataclass
class _Pass:
    cached: int             # tokens in the target's cache before the pass
    fed: torch.Tensor       # the pass's input ids
    verdict: torch.Tensor   # the target's argmax after each of its last inputs (read after generate:
                            # converting inside the pass would synchronize the device every step)


def _find_cache(args, kwargs):
    from transformers.cache_utils import Cache

    return next((v for v in (*kwargs.values(), *args) if isinstance(v, Cache)), None)


class _Recorder:
    """Pre-hook and hook on the target: what each verification pass was fed and what it decided."""

    def __init__(self, model, prompt_len: int):
        self.full_layers, self.prompt_len = model.config.num_hidden_layers, prompt_len
        self.passes: list[_Pass] = []
        self._fed: tuple[int, torch.Tensor] | None = None

    def _drafting(self, module) -> bool:
        return module.config.num_hidden_layers != self.full_layers

    def pre_hook(self, module, args, kwargs) -> None:
        if self._drafting(module):
            return
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None or ids.dim() != 2 or ids.shape[0] != 1:
            raise BookkeepingError("the target was called without input_ids of one sequence; the hooks cannot "
                                   "read its verification passes")
        cache = _find_cache(args, kwargs)
        # The last layer's length: early exit fills the first layers' cache with its drafts.
        cached = cache.get_seq_length(self.full_layers - 1) if cache is not None else 0
        self._fed = (cached, ids[0])

    def hook(self, module, args, kwargs, output) -> None:
        if self._drafting(module):
            return
        cached, fed = self._fed
        logits = output.logits if hasattr(output, "logits") else output[0]
        # A pass after the first feeds at least one known token, the prefill the whole prompt:
        # the proposals and the position before them are at most this many last positions.
        keep = len(fed) if self.passes else len(fed) - self.prompt_len + 1
        self.passes.append(_Pass(cached, fed, logits[0, -max(keep, 1):].argmax(-1)))

    def acceptance(self, prompt: Sequence[int], new: Sequence[int], eos_ids: Sequence[int],
                   max_new_tokens: int) -> Acceptance:
        """Drafted and accepted tokens per pass, checked against the output of `generate`."""
        full, seq, acc = list(prompt) + list(new), len(prompt), Acceptance()
        for i, p in enumerate(self.passes):
            fed, verdict = p.fed.tolist(), p.verdict.tolist()
            drafted = p.cached + len(fed) - seq
            where = f"target pass {i + 1} of {len(self.passes)}"
            if not 0 <= drafted < len(fed) or seq >= len(full):
                raise BookkeepingError(f"{where} was fed {len(fed)} tokens on a cache of {p.cached} with {seq} "
                                       f"tokens in the sequence of {len(full)}: that is no verification pass")
            known, proposed = fed[:len(fed) - drafted], fed[len(fed) - drafted:]
            if known != full[p.cached:seq] or len(verdict) < drafted + 1:
                raise BookkeepingError(f"{where} was fed tokens that are not the generated sequence's, or "
                                       f"returned logits for fewer than its {drafted} proposals + 1")
            verdict = verdict[-(drafted + 1):]
            judged = _leading_matches(proposed, verdict)
            kept = full[seq:seq + drafted + 1]
            matched = _leading_matches(proposed, kept)
            if i < len(self.passes) - 1:
                accepted = judged
                # the output holds the accepted proposals, then the target's own token, which differs
                # from the first rejected proposal
                ok = matched == judged and len(kept) > judged
            else:
                # accepted = generated - passes; fewer than the target judged only where an EOS
                # among the accepted proposals, or max_new_tokens, ended the output
                accepted = len(full) - seq - 1
                cut = full[-1] in eos_ids or len(new) == max_new_tokens
                ok = 0 <= accepted <= matched and (accepted == judged or accepted < judged and cut)
            if not ok:
                raise BookkeepingError(
                    f"acceptance bookkeeping is off at {where}: {acc.accepted} accepted + {acc.target_passes} "
                    f"target passes before it, {len(new)} generated tokens; the target judged {judged} of "
                    f"{drafted} proposals accepted, the output kept {matched}")
            acc.add(drafted, accepted)
            seq += accepted + 1
        if acc.accepted + acc.target_passes != len(new):
            raise BookkeepingError(f"acceptance bookkeeping is off: {acc.accepted} accepted + {acc.target_passes} "
                                   f"target passes != {len(new)} generated tokens")
        return acc


def _leading_matches(proposed: Sequence[int], other: Sequence[int]) -> int:
    n = min(len(proposed), len(other))
    return next((j for j in range(n) if proposed[j] != other[j]), n)


@dataclass
class SpecRun:
    token_ids: list[int]
    wall_s: float
    acceptance: Acceptance


@torch.inference_mode()
def generate_one(model, prompt: Sequence[int], max_new_tokens: int, eos_ids: list[int], pad_id: int,
                 kwargs: dict) -> SpecRun:
    """Greedy generation of one prompt, timed; tokens cut after the first EOS."""
    device = str(next(model.parameters()).device)
    ids = torch.tensor([list(prompt)], device=device)
    recorder = _Recorder(model, len(prompt))
    handles = [model.register_forward_pre_hook(recorder.pre_hook, with_kwargs=True),
               model.register_forward_hook(recorder.hook, with_kwargs=True)]
    clock = Clock(device_sync(device))
    try:
        start = clock.now()
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, num_beams=1, eos_token_id=eos_ids, pad_token_id=pad_id, **kwargs)
        wall = clock.now() - start
    finally:
        for h in handles:
            h.remove()
    new = out[0, ids.shape[1]:].tolist()
    acceptance = recorder.acceptance(prompt, new, eos_ids, max_new_tokens)
    n = next((i + 1 for i, t in enumerate(new) if t in eos_ids), len(new))
    return SpecRun(new[:n], wall, acceptance)


def make_runner(model: str, method: str, prompts, n_prompts: int):
    """runner(prompt, speculative: bool) -> SpecRun on the HF engine (the protocol's runner)."""
    from bench_lib import resources
    from bench_lib.kvspec import protocol
    from bench_lib.models import get_spec

    device, dtype, _ = protocol.settings()
    spec = get_spec(model)
    if method == "draft":  # the target and its draft, loaded and held together
        target, draft = resources.hf_models((spec, get_spec(protocol.draft_for(model))), device, dtype)
    else:
        (target,), draft = resources.hf_models((spec,), device, dtype), None
    kwargs = method_kwargs(method, target, draft)
    tok = resources.tokenizer_for(spec)
    eos, pad = spec.stop_token_ids(tok), tok.pad_token_id
    return lambda prompt, spec: generate_one(target, prompt, protocol.SPEC_MAX_NEW_TOKENS, eos, pad,
                                             kwargs if spec else {})


def grid(models, methods, tasks, n_prompts: int | None) -> dict:
    from bench_lib.kvspec import protocol

    return protocol.speculative_grid(make_runner, "hf", models, methods, tasks, n_prompts)
