"""Speculative decoding in llama-cpp-python: prompt lookup (its LlamaPromptLookupDecoding) and a
small-model draft (LlamaModelDraft below, a LlamaDraftModel wrapping a second Llama).

llama-cpp-python's `generate` evaluates [last token] + draft in one pass, yields the target's
tokens one by one and rolls back at the first disagreement, then asks the draft again. So every
call of the draft closes one verification round: the tokens yielded in a round are the accepted
draft tokens plus one of the target's own. A generation stopped at max_new_tokens cuts its last
round short, so that round's acceptance can be undercounted by what was never read.
Known issue: with a draft model and logits_all=False, prompts longer than n_batch crash, so the
target is always built with logits_all=True.
"""
from __future__ import annotations

import numpy as np

from bench_lib.kvspec.acceptance import Acceptance
from bench_lib.kvspec.protocol import SPEC_MAX_NEW_TOKENS, draft_for, speculative_grid
from bench_lib.kvspec.speculative import NUM_DRAFT_TOKENS, PROMPT_LOOKUP_NGRAM, SpecRun
from bench_lib.measure.timing import Clock

METHODS = ("draft", "prompt-lookup")

try:
    from llama_cpp.llama_speculative import LlamaDraftModel, LlamaPromptLookupDecoding
except ImportError:  # the module still imports; runner() raises EngineUnavailable
    LlamaDraftModel, LlamaPromptLookupDecoding = object, None


class LlamaModelDraft(LlamaDraftModel):
    """Greedy drafts from a second Llama (built with logits_all=True), reusing its cache for the
    prefix it has already seen."""

    def __init__(self, llm, eog, num_pred_tokens: int = NUM_DRAFT_TOKENS):
        self.llm, self.eog, self.num_pred_tokens = llm, eog, num_pred_tokens

    def __call__(self, input_ids, /, **kwargs):
        ids = [int(t) for t in input_ids]
        seen = self.llm.input_ids[: self.llm.n_tokens].tolist()
        common = 0
        for a, b in zip(seen, ids[:-1]):  # keep at least one token to evaluate for fresh logits
            if a != b:
                break
            common += 1
        self.llm.n_tokens = common  # eval() drops the cache beyond this point
        self.llm.eval(ids[common:])
        out = []
        for _ in range(self.num_pred_tokens):
            token = int(np.argmax(self.llm.scores[self.llm.n_tokens - 1]))
            out.append(token)
            if self.eog(token) or len(out) == self.num_pred_tokens:
                break
            self.llm.eval([token])
        return np.array(out, dtype=np.intc)


class _Recording(LlamaDraftModel):
    """Passes proposals through and remembers how many tokens each one had."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __call__(self, input_ids, /, **kwargs):
        out = self.inner(input_ids, **kwargs)
        self.calls.append(len(out))
        return out


def _generate(eng, prompt, max_new: int, recorder: _Recording | None) -> SpecRun:
    from bench_lib.engines.llamacpp import GREEDY

    clock = Clock(eng.synchronize)
    eng.llm.draft_model = recorder
    if recorder is not None:
        recorder.calls = []
    eng.llm.reset()
    ids, round_of = [], []
    start = clock.now()
    for token in eng.llm.generate(list(prompt), reset=True, **GREEDY):
        ids.append(int(token))
        round_of.append(len(recorder.calls) if recorder is not None else len(ids))
        if eng.is_eog(token) or len(ids) >= max_new:
            break
    wall = clock.now() - start
    acceptance = Acceptance()
    rounds = sorted(set(round_of))
    for r in rounds:
        drafted = recorder.calls[r - 1] if recorder is not None and r > 0 else 0
        acceptance.add(drafted, min(round_of.count(r) - 1, drafted))
    return SpecRun(ids, wall, acceptance)


def runner(model: str, method: str, draft: str | None, n_ctx: int):
    """runner(prompt, speculative: bool) -> SpecRun on llama.cpp; one target context, its draft
    switched on and off between calls so plain and speculative runs share everything else."""
    from bench_lib import config
    from bench_lib.engines.base import EngineUnavailable
    from bench_lib.engines.registry import load_engine
    from bench_lib.models import get_spec

    if LlamaPromptLookupDecoding is None:
        raise EngineUnavailable("llama-cpp-python is not installed; run scripts/install_llamacpp.sh")
    device = config.device()
    eng = load_engine("llamacpp", get_spec(model), device, "float32", n_ctx=n_ctx, logits_all=True)
    if method == "prompt-lookup":
        inner = LlamaPromptLookupDecoding(max_ngram_size=PROMPT_LOOKUP_NGRAM, num_pred_tokens=NUM_DRAFT_TOKENS)
    elif method == "draft":
        draft_eng = load_engine("llamacpp", get_spec(draft), device, "float32", n_ctx=n_ctx, logits_all=True)
        inner = LlamaModelDraft(draft_eng.llm, draft_eng.is_eog)
    else:
        raise NotImplementedError(f"llama.cpp has no {method!r} speculative method here ({', '.join(METHODS)})")
    recorder = _Recording(inner)
    return lambda prompt, spec: _generate(eng, prompt, SPEC_MAX_NEW_TOKENS, recorder if spec else None)


def make_runner(model: str, method: str, prompts, n_prompts: int):
    """The protocol's runner: one context long enough for the longest prompt and its output."""
    return runner(model, method, draft_for(model) if method == "draft" else None,
                  max(len(p) for p in prompts) + SPEC_MAX_NEW_TOKENS)


def grid(models, methods, tasks, n_prompts: int | None) -> dict:
    return speculative_grid(make_runner, "llamacpp", models, methods, tasks, n_prompts)
