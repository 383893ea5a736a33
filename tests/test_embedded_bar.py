"""The embedded model's skill bar, judged on hand-made asv rows."""
import math

from bench_lib import embedded_bar
from bench_lib.tracking.asv_results import Row


def _row(benchmark, value, **params):
    return Row(machine="m", commit="c", benchmark=benchmark, params=params, value=value, unit="unit",
               stats={}, samples=None, date=1)


def _rows(arc=0.65, hasans=61.0, noans=59.0, openmath=0.3, accept=0.69):
    inf = {"model": "tiny-qwen3", "batch_size": "1"}
    rows = [_row("bench_inference.ArcInference.track_accuracy", arc, **inf),
            _row("bench_inference.ArcInference.track_accuracy_ci_low", arc - 0.1, **inf),
            _row("bench_inference.ArcInference.track_accuracy_ci_high", arc + 0.1, **inf),
            # another batch size must not be read
            _row("bench_inference.ArcInference.track_accuracy", 0.0, model="tiny-qwen3", batch_size="4"),
            _row("bench_inference.SquadInference.track_hasans_f1", hasans, **inf),
            _row("bench_inference.SquadInference.track_noans_exact", noans, **inf),
            _row("bench_inference.OpenMathInference.track_exact", openmath, **inf)]
    if accept is not None:
        rows.append(_row("bench_speculative.SpeculativeHF.track_acceptance_rate", accept,
                         model="tiny-qwen3", method="draft", task="arc"))
    return rows


def test_bar_verdicts_per_metric():
    verdicts = {v.bar.label: v for v in embedded_bar.judge(_rows())}
    assert verdicts["ARC accuracy"].met is True
    assert verdicts["ARC accuracy"].ci == (0.65 - 0.1, 0.65 + 0.1)
    assert verdicts["SQuAD v2 HasAns F1"].met is True
    assert verdicts["SQuAD v2 NoAns exact"].met is False   # 59 < 60
    assert verdicts["OpenMath exact"].met is True          # the bound itself meets the bar
    assert verdicts["draft acceptance rate (ARC)"].met is True


def test_acceptance_near_one_fails_and_missing_or_skipped_is_no_result():
    verdicts = {v.bar.label: v for v in embedded_bar.judge(_rows(accept=0.97, arc=math.nan))}
    assert verdicts["draft acceptance rate (ARC)"].met is False
    assert verdicts["ARC accuracy"].value is None and verdicts["ARC accuracy"].met is None
    lines = embedded_bar.report(_rows(accept=None))
    assert lines[0].endswith("3 of 4 met")
    assert any("no result" in line and "acceptance" in line for line in lines)
    assert "NOT met" in next(line for line in lines if "NoAns" in line)


def test_no_embedded_rows_no_report():
    assert embedded_bar.report([_row("bench_x.X.track_y", 1.0, model="Qwen/Qwen3-0.6B")]) == []
