"""llm-bench cost on real asv result files (the synthetic suite of test_alerts_fixture): one row
per class, processes counted per method and parameter combination, shares that add up."""
from __future__ import annotations

import argparse

import pytest

from bench_lib.tracking import asv_results, cost

try:  # tests/ as a package (pytest imports it as `tests`) or as a plain directory
    from tests import test_alerts_fixture as fx
except ImportError:
    import test_alerts_fixture as fx

pytestmark = pytest.mark.slow


def test_cost_table_of_a_real_run(tmp_path, capsys):
    synth = fx.build_single(tmp_path)
    (path,) = asv_results.result_files(synth["results"])
    rows, wall = cost.table(path, asv_results.benchmark_info(synth["results"]))
    by_class = {r["class"]: r for r in rows}
    assert set(by_class) == {"bench_synth.Sleep", "bench_synth.SquadSynth", "bench_synth.ArcInference"}
    assert (by_class["bench_synth.Sleep"]["methods"], by_class["bench_synth.Sleep"]["processes"]) == (1, 2)
    assert (by_class["bench_synth.SquadSynth"]["methods"], by_class["bench_synth.SquadSynth"]["processes"]) == (3, 9)
    assert (by_class["bench_synth.ArcInference"]["methods"], by_class["bench_synth.ArcInference"]["processes"]) == (4, 8)
    # Two 0.2 s sleeps, five repeats each: the Sleep class cannot have cost less than 2 s.
    assert by_class["bench_synth.Sleep"]["benchmark_s"] >= 2.0 and rows[0]["class"] == "bench_synth.Sleep"
    assert wall >= by_class["bench_synth.Sleep"]["benchmark_s"] * 0.99
    parser = argparse.ArgumentParser()
    cost.add_arguments(parser)
    assert cost.run(parser.parse_args(["--results", str(synth["results"])])) == 0
    out = capsys.readouterr().out
    assert "| bench_synth.Sleep | 1 | 2 |" in out and "19 benchmark processes" in out
    assert cost.run(parser.parse_args(["--results", str(tmp_path / "none")])) == 2
