"""Task metrics are judged on their 95% intervals over the examples, not on the relative floor."""
from __future__ import annotations

from types import SimpleNamespace

from bench_lib.tasks import get_task
from bench_lib.tracking import alerts
from bench_lib.tracking.asv_results import Row

get_task("squad")  # registers squad_f1 (higher is better)

BENCH = "bench_inference.SquadInference.track_f1"
OPTS = SimpleNamespace(suite=None, min_change=0.05, noise_factor=3.0, profile="smoke", results="results")


def _rows(commit, value, low, high, params=None):
    params = params or {"model": "tiny-qwen3", "batch_size": "1"}
    mk = lambda bench, v: Row("m", commit, bench, dict(params), v, "unit", {}, None, 1)
    return [mk(BENCH, value), mk(BENCH + "_ci_low", low), mk(BENCH + "_ci_high", high)]


def _verdict(base, cur):
    rep = alerts.compare(_rows("a", *base) + _rows("b", *cur), "m", "b", ["a"], ({}, {}), OPTS)
    return rep["changes"]


def test_a_drop_outside_the_intervals_is_a_regression_below_the_relative_floor():
    # 50 -> 47.9 is a 4.2% change, under the 5% floor, but well outside both narrow intervals.
    (change,) = _verdict((50.0, 49.5, 50.5), (47.9, 47.4, 48.4))
    assert change["verdict"] == "regression" and change["significant"] is True
    assert change["threshold"] == 0.0 and "z=" in change["evidence"]


def test_a_drop_inside_the_sampling_noise_is_unchanged_above_the_floor():
    # 50 -> 44 is 12% but the intervals are +-14 points wide (a few dozen examples).
    (change,) = _verdict((50.0, 36.0, 64.0), (44.0, 30.0, 58.0))
    assert change["verdict"] == "unchanged" and change["significant"] is False


def test_the_interval_bounds_are_not_judged_as_metrics_of_their_own():
    labels = [c["label"] for c in _verdict((50.0, 40.0, 60.0), (20.0, 10.0, 30.0))]
    assert labels == ["bench_inference.SquadInference.track_f1(model=tiny-qwen3, batch_size=1)"]


def test_interval_test_by_hand():
    # se = 10 / 3.92 on each side, so z = 10 / (sqrt(2) * 2.551) = 2.77
    significant, evidence = alerts.interval_test(50.0, (45.0, 55.0), 40.0, (35.0, 45.0))
    assert significant is True and "z=-2.77" in evidence
    assert alerts.interval_test(50.0, (50.0, 50.0), 50.0, (50.0, 50.0))[0] is False
    assert alerts.interval_test(50.0, (50.0, 50.0), 49.0, (49.0, 49.0))[0] is True


def test_a_new_benchmark_version_starts_a_new_series():
    # asv gives a benchmark a new version when what it measures changes; values of two versions
    # are never compared, so a 50% drop across the change is a new benchmark, not a regression.
    mk = lambda commit, v, version: Row("m", commit, BENCH, {"model": "tiny-qwen3"}, v, "unit", {}, None, 1,
                                        version=version)
    rep = alerts.compare([mk("a", 50.0, "1"), mk("b", 25.0, "2")], "m", "b", ["a"], ({}, {}), OPTS)
    assert rep["changes"] == [] and rep["new"] == [f"{BENCH}(model=tiny-qwen3)"]
    rep = alerts.compare([mk("a", 50.0, "2"), mk("b", 25.0, "2")], "m", "b", ["a"], ({}, {}), OPTS)
    assert [c["verdict"] for c in rep["changes"]] == ["regression"]


def test_interval_bounds_are_found_whatever_their_version():
    rows = _rows("a", 50.0, 49.5, 50.5) + _rows("b", 47.9, 47.4, 48.4)
    for r in rows:
        r.version = "metric" if r.benchmark == BENCH else "bound"
    (change,) = alerts.compare(rows, "m", "b", ["a"], ({}, {}), OPTS)["changes"]
    assert change["significant"] is True and "z=" in change["evidence"]
