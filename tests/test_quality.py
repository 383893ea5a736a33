"""bench_lib.quality against hand-computed values and llama.cpp's definitions."""
import math

import numpy as np
import pytest

from bench_lib import quality


def _logprobs(p):
    return np.log(np.asarray(p, dtype=np.float64))


def test_kld_of_two_token_distribution_matches_hand_value():
    base = _logprobs([[0.5, 0.5]])
    test = _logprobs([[0.9, 0.1]])  # logits = log-probs: softmax gives them back
    t = quality.per_token(base, test, np.array([0]))
    want = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert t.kld[0] == pytest.approx(want)
    assert t.nll[0] == pytest.approx(-math.log(0.9))
    assert t.p_diff[0] == pytest.approx(0.9 - 0.5)
    assert t.same_top[0]  # a tie in the base goes to the first index, as in llama.cpp's loop


def test_entries_below_the_log_p_floor_are_left_out_of_kld():
    base = np.array([[0.0, -20.0]])  # second entry has ln p_base = -20 < -16
    test = np.array([[0.0, 5.0]])
    t = quality.per_token(base, test, np.array([0]))
    test_lp = test[0] - np.log(np.exp(test[0]).sum())
    assert t.kld[0] == pytest.approx(1.0 * (0.0 - test_lp[0]))


def test_self_comparison_is_exactly_zero():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 50)) * 3
    base = quality._log_softmax(logits).astype(np.float32)
    s = quality.summarize(quality.per_token(base, logits, rng.integers(0, 50, 200)))
    assert s.kld_mean == 0.0 and s.kld_percentiles["max"] == 0.0
    assert s.same_top_p == 1.0 and s.ppl_ratio == 1.0 and s.rms_dp == 0.0


def test_summary_uses_llamacpp_uncertainty_and_percentile_definitions():
    rng = np.random.default_rng(1)
    base = quality._log_softmax(rng.normal(size=(300, 20))).astype(np.float32)
    test = base + rng.normal(scale=0.3, size=base.shape)
    t = quality.per_token(base, test, rng.integers(0, 20, 300))
    s = quality.summarize(t)
    n = len(t.kld)
    f = t.kld.mean()
    assert s.kld_mean == pytest.approx(f)
    assert s.kld_mean_unc == pytest.approx(math.sqrt(((t.kld ** 2).mean() - f * f) / (n - 1)))
    srt = np.sort(t.kld)
    pos = 0.99 * (n - 1)
    i = int(pos)
    assert s.kld_percentiles["99.0"] == pytest.approx(srt[i] + (pos - i) * (srt[i + 1] - srt[i]))
    assert s.ppl_ratio == pytest.approx(math.exp(t.nll.mean() - t.nll_base.mean()))
    assert s.rms_dp == pytest.approx(math.sqrt((t.p_diff ** 2).mean()))
    assert s.same_top_p == pytest.approx(t.same_top.mean())


def test_uncertainty_is_zero_for_ten_or_fewer_tokens():
    assert quality._mean_unc(np.array([1.0, 2.0, 3.0])) == (2.0, 0.0)


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(quality.QualityError, match="differ in shape"):
        quality.per_token(np.zeros((3, 4)), np.zeros((3, 5)), np.zeros(3, dtype=int))


def test_scored_positions_are_the_second_half_of_the_window():
    s = quality.scored_positions(8)
    assert list(range(8)[s]) == [4, 5, 6]  # predicting tokens 5, 6, 7


@pytest.mark.slow  # runs the embedded model
def test_embedded_model_against_itself_and_in_bfloat16(tiny_model, tiny_tokenizer):
    pytest.importorskip("torch")
    from bench_lib import models

    spec = models.get_spec("tiny-qwen3")
    windows = quality.evaluation_windows(tiny_tokenizer, n_ctx=32, n_windows=4)
    assert windows.shape == (4, 32)
    ref = quality.reference_logprobs(quality.hf_logits_fn(tiny_model), windows)
    assert ref.logprobs.shape[0] == 4 * 15 and np.array_equal(ref.targets[:15], windows[0, 17:])
    same = quality.compare(ref, quality.hf_logits_fn(models.load_model(spec)))  # a second load
    assert same.kld_mean == 0.0 and same.same_top_p == 1.0
    bf16 = quality.compare(ref, quality.hf_logits_fn(models.load_model(spec, dtype="bfloat16")))
    assert bf16.kld_mean > 0.0
