"""The HF engine on the embedded model: batching, timings, EOS handling."""
import math

import pytest

from bench_lib import resources
from bench_lib.engines.base import RequestTiming
from bench_lib.models import get_spec
from bench_lib.workloads.generate import encode_prompts, generate_all


slow = pytest.mark.slow  # generates with the embedded model


@pytest.fixture(scope="module")
def prompts(tiny_tokenizer):
    return encode_prompts(tiny_tokenizer, resources.examples_for("squad", 6))


@slow
def test_batched_generation_equals_one_by_one(hf_engine, prompts):
    """Left padding must not change greedy output: batch 6 gives the tokens batch 1 gives."""
    one = generate_all(hf_engine, prompts, 1, 12)
    many = generate_all(hf_engine, prompts, 6, 12)
    assert one.token_ids == many.token_ids


@slow
def test_timings_are_ordered_and_tokens_stop_at_eos(hf_engine, prompts):
    out = hf_engine.generate(prompts[:4], 12)
    for ids, t in zip(out.token_ids, out.timings):
        assert 0 < t.first_token_s <= t.finish_s <= out.wall_s
        assert t.output_tokens == len(ids) <= 12
        assert all(tok not in hf_engine.eos_ids for tok in ids[:-1])  # nothing generated after an EOS


@slow
def test_forward_loop_gives_generates_tokens(hf_engine, hf_generate_engine, tiny_tokenizer):
    """The suite's loop and `model.generate` agree token for token, padded batches included."""
    mixed = encode_prompts(tiny_tokenizer,
                           resources.examples_for("arc", 3) + resources.examples_for("openmath", 3))
    assert len({len(p) for p in mixed}) > 1  # the batch really is padded
    assert hf_engine.name == "hf" and hf_generate_engine.name == "hf-generate"
    for batch in (1, 6):
        ours, theirs = generate_all(hf_engine, mixed, batch, 16), generate_all(hf_generate_engine, mixed, batch, 16)
        assert ours.token_ids == theirs.token_ids


@slow
@pytest.mark.parametrize("which", ["hf_engine", "hf_generate_engine"])
def test_ignore_eos_decodes_the_full_length(which, request, prompts):
    eng = request.getfixturevalue(which)
    stopped = eng.generate(prompts[:3], 40)
    assert any(len(ids) < 40 for ids in stopped.token_ids)  # some prompt does stop early...
    fixed = eng.generate(prompts[:3], 40, ignore_eos=True)
    assert [len(ids) for ids in fixed.token_ids] == [40] * 3  # ...and runs on when EOS is ignored
    assert [t.output_tokens for t in fixed.timings] == [40] * 3
    for short, full in zip(stopped.token_ids, fixed.token_ids):
        assert full[:len(short)] == short


def test_generate_options_need_the_generate_loop():
    from bench_lib.engines.hf import HFEngine

    # the options are checked before the model is touched, so none is needed here
    with pytest.raises(ValueError, match="loop='generate'"):
        HFEngine(None, "cpu", 0, [2], {"cache_implementation": "quantized"})
    with pytest.raises(ValueError, match="use one of forward, generate"):
        HFEngine(None, "cpu", 0, [2], loop="beam")


def test_tpot_definition():
    t = RequestTiming(first_token_s=0.5, finish_s=2.5, output_tokens=5)
    assert t.tpot_s == pytest.approx(0.5)   # (2.5 - 0.5) / (5 - 1)
    assert math.isnan(RequestTiming(0.5, 0.5, 1).tpot_s)


def test_unknown_engine():
    from bench_lib.engines.registry import load_engine

    with pytest.raises(KeyError, match="known engines: hf"):
        load_engine("tensorrt", get_spec("tiny-qwen3"), "cpu", "float32")
