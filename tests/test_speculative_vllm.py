"""vLLM speculative decoding (n-gram prompt lookup, a draft model): greedy output equals plain greedy
token for token and the acceptance bookkeeping adds up. vLLM runs in its own environment
(.venv-vllm) through bench_lib.engines.vllm_env; without one anywhere the vLLM tests skip."""
from __future__ import annotations

import importlib.util
import math

import pytest

from bench_lib.kvspec import speculative_vllm as sv
from bench_lib.kvspec.speculative import NUM_DRAFT_TOKENS


def _counted(drafts, draft_tokens, accepted, per_pos, passes) -> dict:
    return {sv.DRAFTS: [drafts], sv.DRAFT_TOKENS: [draft_tokens], sv.ACCEPTED: [accepted],
            sv.ACCEPTED_PER_POS: per_pos, sv.ITERATIONS: [passes]}


def test_acceptance_drops_drafts_accepted_after_the_stop():
    # a recorded run: EOS was accepted in the last draft, and 2 accepted tokens after it were cut
    acc = sv.acceptance_of([4] * 5, [1, 1, 4, 2, 3], _counted(5, 20, 11, [5, 3, 2, 1], 6), 15)
    assert [(s.drafted, s.accepted) for s in acc.steps] == [(4, 1), (4, 1), (4, 4), (4, 2), (4, 1), (0, 0)]
    assert acc.accepted + acc.target_passes == 15


def test_acceptance_refuses_counts_that_do_not_add_up():
    with pytest.raises(RuntimeError, match="disagree"):
        sv.acceptance_of([4, 4], [0, 1], _counted(2, 8, 2, [1, 0, 0, 0], 14), 15)
    with pytest.raises(RuntimeError, match="bookkeeping is off"):
        sv.acceptance_of([4, 4], [0, 1], _counted(2, 8, 1, [1, 0, 0, 0], 12), 15)


def test_unknown_method_names_the_known_ones():
    with pytest.raises(NotImplementedError, match="draft, prompt-lookup"):
        sv.speculative_config("early-exit", None)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm imports in this interpreter")
def test_runner_without_vllm_says_how_to_install():
    from bench_lib.engines.base import EngineUnavailable

    with pytest.raises(EngineUnavailable, match="install_vllm_cpu.sh"):
        sv.runner("tiny-qwen3", "prompt-lookup", None, 128)


@pytest.mark.slow
@pytest.mark.parametrize("method", sv.METHODS)
def test_greedy_exact(method, vllm_python):
    from bench_lib.engines import vllm_env

    out = vllm_env.call("bench_lib.kvspec.speculative_vllm:exactness_check", "tiny-qwen3", method, 2)
    drafted = 0
    for i, p in enumerate(out["prompts"]):
        assert p["speculative"] == p["plain"], f"prompt {i}: speculative output differs from plain greedy"
        assert p["accepted"] + p["target_passes"] == len(p["speculative"])
        assert p["drafts"] <= p["target_passes"] and p["drafted"] <= NUM_DRAFT_TOKENS * p["drafts"]
        if p["drafted"]:
            assert 0.0 <= p["rate"] <= 1.0
            assert all(1.0 >= a >= b >= 0.0 for a, b in zip(p["per_position"], p["per_position"][1:]))
        else:
            assert math.isnan(p["rate"])
        drafted += p["drafted"]
    assert drafted > 0
