"""Report rows and Pareto plots: one point per distinct configuration, intervals as error bars,
numbered labels that do not print over each other."""
import pytest

from bench_lib.tracking import pareto, reports


def _cfg(cls, params, score, low=None, high=None, mem=6e8):
    metrics = {"arc_macro_f1": score, "peak_rss_bytes": mem, "e2e_latency_s": 0.05, "output_tokens_per_s": 100.0}
    if low is not None:
        metrics.update(arc_macro_f1_ci_low=low, arc_macro_f1_ci_high=high)
    return reports.Config("cpu", "c", cls, params, metrics)


def test_the_same_hf_run_from_two_classes_is_one_configuration():
    inference = _cfg("bench_inference.ArcInference", {"model": "'tiny'", "batch_size": "1"}, 0.4, 0.3, 0.5)
    engines_hf = _cfg("bench_engines.ArcEngines", {"engine": "'hf'", "model": "'tiny'", "batch_size": "1"}, 0.4, 0.3, 0.5)
    llamacpp = _cfg("bench_engines.ArcEngines", {"engine": "'llamacpp'", "model": "'tiny'", "batch_size": "1"}, 0.35)
    other_batch = _cfg("bench_inference.ArcInference", {"model": "'tiny'", "batch_size": "4"}, 0.4)
    rows = reports.summary_rows([inference, engines_hf, llamacpp, other_batch], {})
    labels = sorted(r["configuration"] for r in rows)
    assert len(rows) == 3 and "ArcInference(model='tiny', batch_size=1)" in labels
    kept = next(r for r in rows if r["configuration"] == "ArcInference(model='tiny', batch_size=1)")
    assert kept["also_measured_as"] == "ArcEngines(engine='hf', model='tiny', batch_size=1)"


def test_rows_carry_the_score_interval():
    (row,) = reports.summary_rows([_cfg("bench_inference.ArcInference", {"model": "m"}, 0.4, 0.31, 0.52)], {})
    assert (row["score_ci_low"], row["score_ci_high"]) == (0.31, 0.52)
    assert reports.score_cell(row) == "0.4 [0.31, 0.52]"
    (bare,) = reports.summary_rows([_cfg("bench_inference.ArcInference", {"model": "m"}, 0.4)], {})
    assert reports.score_cell(bare) == "0.4"


def test_close_points_share_one_label():
    # pixels: three on one spot, one 10 px away, one far
    groups = pareto.label_groups([(100, 100), (100, 100), (100, 100), (110, 95), (300, 100)])
    assert groups == [(0, [1, 2, 3, 4]), (4, [5])]


def test_plot_draws_error_bars_and_a_numbered_table(tmp_path):
    import matplotlib.image

    cfgs = [_cfg("bench_inference.ArcInference", {"model": f"m{i}", "batch_size": "1"}, 0.0, 0.0, 0.1, mem=6e8 + i)
            for i in range(6)]
    rows = reports.summary_rows(cfgs, {})
    path = tmp_path / "p.png"
    assert reports.pareto_plot(rows, "peak_memory_bytes", "peak memory (MiB)", path)
    img = matplotlib.image.imread(path)
    assert img.shape[1] > 1000   # the plot and its table side by side
    assert not reports.pareto_plot([dict(rows[0], score=None)], "peak_memory_bytes", "x", tmp_path / "q.png")

