"""ECE and Brier score on hand-made probability tables; lm-eval's acc / acc_norm on hand-made sums."""
import math

import pytest

from bench_lib import calibration


def test_ece_by_hand():
    # confidences 0.9 (right), 0.9 (wrong), 0.6 (right), 0.35 (right)
    probs = [[0.9, 0.1], [0.9, 0.1], [0.6, 0.4, 0.0], [0.35, 0.3, 0.2, 0.15]]
    gold = [0, 1, 0, 0]
    # bins (0.8, 0.9]: 2 answers, accuracy 0.5, confidence 0.9 → 2/4 · 0.4 = 0.2
    #      (0.5, 0.6]: 1 answer, accuracy 1, confidence 0.6 → 1/4 · 0.4 = 0.1
    #      (0.3, 0.4]: 1 answer, accuracy 1, confidence 0.35 → 1/4 · 0.65 = 0.1625
    assert calibration.ece(probs, gold) == pytest.approx(0.4625)


def test_ece_bin_edges_are_right_closed():
    # 0.5 lies in (0.4, 0.5], 0.51 in (0.5, 0.6]: separate bins, so no cancellation
    probs = [[0.5, 0.5], [0.51, 0.49]]
    gold = [0, 1]                  # first right (conf 0.5), second wrong (conf 0.51)
    assert calibration.ece(probs, gold) == pytest.approx(0.5 * 0.5 + 0.5 * 0.51)


def test_perfect_confident_answers_have_zero_ece_and_brier():
    probs = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert calibration.ece(probs, [0, 1]) == 0.0
    assert calibration.brier(probs, [0, 1]) == 0.0


def test_brier_by_hand():
    probs = [[0.7, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]]
    gold = [0, 3]
    # (0.3² + 0.2² + 0.1²) = 0.14 ; (3 · 0.0625 + 0.75²) = 0.75 ; mean 0.445
    assert calibration.brier(probs, gold) == pytest.approx(0.445)
    assert calibration.brier([[0.0, 1.0]], [0]) == 2.0      # confidently wrong: the maximum


def test_acc_and_acc_norm_follow_lm_eval():
    # sums -6 and -8: acc picks choice 0; per character -6/3 = -2 vs -8/8 = -1: acc_norm picks choice 1
    r = calibration.choice_record([-6.0, -8.0], ["cat", "elephant"], gold=1)
    assert (r["pred"], r["pred_norm"]) == (0, 1)
    assert r["probs"] == pytest.approx([1 / (1 + math.exp(-2)), math.exp(-2) / (1 + math.exp(-2))])
    out = calibration.aggregate([r, calibration.choice_record([-1.0, -5.0], ["a", "b"], gold=0)])
    assert out["arc_loglik_acc"] == 0.5 and out["arc_loglik_acc_norm"] == 1.0


def test_empty_tables_are_undefined():
    assert math.isnan(calibration.ece([], [])) and math.isnan(calibration.brier([], []))


@pytest.mark.slow  # runs the embedded model
def test_loglik_matches_a_direct_forward_pass_and_picks_the_best_choice(tiny_model, tiny_tokenizer):
    import torch

    from bench_lib.resources import examples_for
    from bench_lib.workloads import loglik

    model, tok = tiny_model, tiny_tokenizer
    for ex in examples_for("arc", 4):
        context, conts = loglik.arc_context(ex), [" " + c for c in ex.extra["choices"]]
        got = loglik.loglikelihoods(model, tok, context, conts)
        direct = []
        for cont in conts:
            # independent path: the model's own shifted cross-entropy with the context masked out
            ctx_ids = tok(context, add_special_tokens=False)["input_ids"]
            whole = tok(context + cont, add_special_tokens=False)["input_ids"]
            labels = [-100] * len(ctx_ids) + whole[len(ctx_ids):]
            with torch.no_grad():
                out = model(input_ids=torch.tensor([whole]), labels=torch.tensor([labels]))
            direct.append(-float(out.loss) * (len(whole) - len(ctx_ids)))
        assert got == pytest.approx(direct, abs=1e-3)
        record = calibration.choice_record(got, ex.extra["choices"], 0)
        assert record["pred"] == max(range(len(direct)), key=lambda i: direct[i])
        assert sum(record["probs"]) == pytest.approx(1.0)


@pytest.mark.slow  # runs the embedded model
def test_arc_loglik_case_reports_every_metric_with_its_interval():
    from bench_lib import inference, metrics

    out = inference.arc_loglik_result("tiny-qwen3")["metrics"]
    for name in calibration.PROPORTIONS | {"arc_loglik_ece": 0, "arc_loglik_brier": 0}:
        low, high = (out[k] for k in metrics.interval_names(name))
        assert low <= out[name] <= high
    assert 0.0 <= out["arc_loglik_brier"] <= 2.0 and 0.0 <= out["arc_loglik_ece"] <= 1.0


@pytest.mark.slow  # runs the embedded model
def test_quantized_model_has_its_calibration_row_and_a_paired_shift():
    from bench_lib.quant import cases as cases_quant
    from bench_lib.models import get_spec
    from bench_lib.quant.cache import get_or_build

    q, _ = get_or_build(get_spec("tiny-qwen3"), "pow2-int4", cases_quant.context(get_spec("tiny-qwen3")))
    out = cases_quant.calibration_metrics(q, get_spec("tiny-qwen3"))
    for name in ("arc_loglik_acc", "arc_loglik_ece", "arc_loglik_brier"):
        assert out[f"{name}_ci_low"] <= out[name] <= out[f"{name}_ci_high"]
        d = f"quant_delta_{name}"
        assert out[f"{d}_ci_low"] <= out[d] <= out[f"{d}_ci_high"]
        assert out[f"{d}_excludes_zero"] == float(out[f"{d}_ci_low"] > 0 or out[f"{d}_ci_high"] < 0)
    # the unquantized model against itself: no shift at all
    none, _ = get_or_build(get_spec("tiny-qwen3"), "none", cases_quant.context(get_spec("tiny-qwen3")))
    same = cases_quant.calibration_metrics(none, get_spec("tiny-qwen3"))
    assert same["quant_delta_arc_loglik_brier"] == 0.0 and same["quant_delta_arc_loglik_brier_excludes_zero"] == 0.0
