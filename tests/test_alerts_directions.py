"""Every track_ benchmark of the real suite maps to its metric record, so its direction is known."""
from __future__ import annotations

import inspect
import sys
from pathlib import Path

from bench_lib.tracking import asv_results
from bench_lib.metrics import all_metrics

ROOT = Path(__file__).resolve().parent.parent


def discovered_tracks():
    from asv_runner.discovery import disc_benchmarks

    sys.path.insert(0, str(ROOT))
    try:
        return [b for b in disc_benchmarks(str(ROOT / "benchmarks")) if b.name.rsplit(".", 1)[-1].startswith("track_")]
    finally:
        sys.path.remove(str(ROOT))


def test_suite_map_names_the_metric_of_every_common_track():
    METRICS = all_metrics()
    suite = asv_results.suite_metrics(ROOT / "benchmarks")
    tracks = discovered_tracks()
    assert tracks
    for bench in tracks:
        name = inspect.getclosurevars(bench.func).nonlocals.get("name")
        if name in METRICS:  # made by benchmarks.common.track
            assert suite[bench.name] == name
            match = asv_results.resolve_metric(bench.name, bench.unit, suite=suite)
            assert match.higher_is_better == METRICS[name].higher_is_better


def test_every_track_has_a_known_direction():
    suite = asv_results.suite_metrics(ROOT / "benchmarks")
    unknown = [b.name for b in discovered_tracks()
               if asv_results.resolve_metric(b.name, b.unit, suite=suite).higher_is_better is None]
    assert not unknown, f"track_ benchmarks with no registered metric (alerts cannot judge them): {unknown}"


def test_quality_metrics_are_judged_by_their_direction():
    """KLD and perplexity ratio must not rise, acceptance rate must not fall: asv alone would
    call a falling acceptance rate an improvement."""
    import pytest

    suite = asv_results.suite_metrics(ROOT / "benchmarks")
    wanted = {"quality_kld_mean": False, "quality_ppl_ratio": False, "kvspec_acceptance_rate": True}
    seen = {}
    for bench, name in suite.items():
        if name in wanted:
            seen[name] = asv_results.resolve_metric(bench, all_metrics()[name].unit, suite=suite).higher_is_better
    if not seen:
        pytest.skip("no quality or speculative-decoding benchmarks in the suite yet")
    assert seen == {k: wanted[k] for k in seen}
