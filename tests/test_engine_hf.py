"""The HF engine on the embedded model: batching, timings, EOS handling."""
import math

import pytest

from bench_lib import cases
from bench_lib.engines.base import RequestTiming
from bench_lib.workloads.generate import encode_prompts, generate_all


@pytest.fixture(scope="module")
def engine():
    return cases.engine_for("hf", "tiny-qwen3", "cpu", "float32")


@pytest.fixture(scope="module")
def prompts():
    return encode_prompts(cases.tokenizer_for("tiny-qwen3"), cases.examples_for("squad", 6))


def test_batched_generation_equals_one_by_one(engine, prompts):
    """Left padding must not change greedy output: batch 6 gives the tokens batch 1 gives."""
    one = generate_all(engine, prompts, 1, 12)
    many = generate_all(engine, prompts, 6, 12)
    assert one.token_ids == many.token_ids


def test_timings_are_ordered_and_tokens_stop_at_eos(engine, prompts):
    out = engine.generate(prompts[:4], 12)
    for ids, t in zip(out.token_ids, out.timings):
        assert 0 < t.first_token_s <= t.finish_s <= out.wall_s
        assert t.output_tokens == len(ids) <= 12
        assert all(tok not in engine.eos_ids for tok in ids[:-1])  # nothing generated after an EOS


def test_tpot_definition():
    t = RequestTiming(first_token_s=0.5, finish_s=2.5, output_tokens=5)
    assert t.tpot_s == pytest.approx(0.5)   # (2.5 - 0.5) / (5 - 1)
    assert math.isnan(RequestTiming(0.5, 0.5, 1).tpot_s)


def test_unknown_engine():
    from bench_lib.engines.registry import load_engine

    with pytest.raises(KeyError, match="known engines: hf"):
        load_engine("tensorrt", "tiny-qwen3", "cpu", "float32")
