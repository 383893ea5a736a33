"""95% intervals of task metrics and paired differences, on hand-made data."""
import math

import pytest

from bench_lib import intervals, metrics
from bench_lib.tasks import get_task
from bench_lib.tasks.loading import load_examples


@pytest.mark.parametrize("k,n,low,high", [
    # Wilson by hand, z = 1.96: 0/10 → centre = half = (z²/20)/(1 + z²/10) = 0.13877
    (0, 10, 0.0, 0.27753),
    # 5/10: centre 0.5, half = z·sqrt(0.025 + z²/400)/(1 + z²/10) = 0.26342
    (5, 10, 0.23659, 0.76341),
    (10, 10, 0.72247, 1.0),
])
def test_wilson_by_hand(k, n, low, high):
    got = intervals.wilson(k, n)
    assert got == pytest.approx((low, high), abs=1e-5)


def test_wilson_of_no_examples_is_undefined():
    assert all(math.isnan(x) for x in intervals.wilson(0, 0))


def test_percentile_interpolates_like_numpy():
    assert intervals.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert intervals.percentile([1.0, 2.0, 3.0, 4.0], 0.025) == pytest.approx(1.075)


def _mean(rs):
    return {"mean": sum(rs) / len(rs)}


def test_bootstrap_is_seeded_and_brackets_the_mean():
    data = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    a = intervals.bootstrap(data, lambda rs: sum(rs) / len(rs))
    assert a == intervals.bootstrap(data, lambda rs: sum(rs) / len(rs))
    assert a[0] < 4.5 < a[1] and 0.0 <= a[0] and a[1] <= 9.0
    # a constant has no spread to resample
    assert intervals.bootstrap([2.0] * 8, lambda rs: sum(rs) / len(rs)) == (2.0, 2.0)


def test_paired_difference_cancels_shared_difficulty():
    a = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    b = [x + 0.5 for x in a]
    # unpaired, the two intervals overlap widely; paired, every replicate's difference is 0.5
    low_a, high_a = intervals.bootstrap(a, lambda rs: sum(rs) / len(rs))
    assert low_a < sum(b) / len(b) < high_a
    out = intervals.paired_difference(a, b, _mean)["mean"]
    assert out["delta"] == 0.5 and out["excludes_zero"]
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((0.5, 0.5), abs=1e-12)
    same = intervals.paired_difference(a, list(a), _mean)["mean"]
    assert same["delta"] == 0.0 and not same["excludes_zero"]


def test_paired_difference_of_a_noisy_change_straddles_zero():
    a = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    b = [0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0]   # same mean, different examples right
    out = intervals.paired_difference(a, b, _mean)["mean"]
    assert out["delta"] == 0.0 and out["ci_low"] < 0 < out["ci_high"] and not out["excludes_zero"]


def test_paired_difference_needs_the_same_examples():
    with pytest.raises(ValueError, match="same examples"):
        intervals.paired_difference([1.0], [1.0, 2.0], _mean)


def test_task_score_carries_wilson_and_bootstrap_intervals():
    arc = get_task("arc")
    records = arc.arc_records(["A", "B", "C", None], ["A", "B", "C", "D"])
    out = metrics.with_intervals(records, arc.aggregate, arc.ARC_PROPORTIONS)
    assert out["arc_accuracy"] == 0.75
    assert (out["arc_accuracy_ci_low"], out["arc_accuracy_ci_high"]) == intervals.wilson(3, 4)
    assert (out["arc_unparsed_rate_ci_low"], out["arc_unparsed_rate_ci_high"]) == intervals.wilson(1, 4)
    assert out["arc_macro_f1_ci_low"] <= out["arc_macro_f1"] <= out["arc_macro_f1_ci_high"]


def test_squad_proportion_intervals_are_percent_over_their_subset():
    squad = get_task("squad")
    records = squad.squad_records(["Paris", "", "Rome", "x"], [["Paris"], [], [], ["y"]])
    out = metrics.with_intervals(records, squad.aggregate, squad.SQUAD_PROPORTIONS)
    assert out["squad_noans_exact"] == 50.0
    low, high = intervals.wilson(1, 2)              # 1 of the 2 unanswerable questions
    assert out["squad_noans_exact_ci_low"] == pytest.approx(100 * low)
    assert out["squad_noans_exact_ci_high"] == pytest.approx(100 * high)


@pytest.mark.parametrize("task", ["arc", "squad", "openmath"])
def test_every_task_metric_has_a_registered_interval(task):
    t = get_task(task)
    examples = load_examples(task, "test", limit=20)
    out = t.score([e.reference for e in examples], examples)
    for name in t.metric_names:
        low_name, high_name = metrics.interval_names(name)
        assert metrics.metric(low_name).unit == metrics.metric(name).unit
        if not math.isnan(out[name]):
            assert out[low_name] <= out[name] <= out[high_name]


def test_quant_task_delta_is_paired_and_says_whether_it_excludes_zero():
    from bench_lib import config
    from bench_lib.quant import cases as cases_quant

    examples = cases_quant.examples_for("arc", config.profile().n_examples)
    right = [e.reference for e in examples]
    # every second answer made wrong: accuracy drops by half of the examples, beyond noise
    wrong = [("The answer is Z." if i % 2 else r) for i, r in enumerate(right)]
    out = cases_quant.task_deltas("arc", right, wrong)
    n = len(examples)
    assert out["quant_delta_arc_accuracy"] == pytest.approx(-(n // 2) / n)
    assert out["quant_delta_arc_accuracy_ci_high"] < 0 and out["quant_delta_arc_accuracy_excludes_zero"] == 1.0
    same = cases_quant.task_deltas("arc", right, list(right))
    assert same["quant_delta_arc_accuracy"] == 0.0 and same["quant_delta_arc_accuracy_excludes_zero"] == 0.0


def test_method_delta_pairs_seeds_and_examples():
    from bench_lib.train import cases as cases_train

    examples = load_examples("openmath", "test", limit=10)
    right = [e.reference for e in examples]
    worse = ["\\boxed{-1}"] * 6 + right[6:]
    a = [{"texts": right}, {"texts": right}]
    b = [{"texts": worse}, {"texts": right}]       # seed 0 loses 6 of 10, seed 1 is unchanged
    d = cases_train.method_delta("openmath", a, b)["openmath_exact"]
    assert d["delta"] == pytest.approx(-6 / 20)
    assert d["ci_high"] < 0 and d["excludes_zero"]
    with pytest.raises(ValueError, match="same seeds"):
        cases_train.method_delta("openmath", a, b[:1])
