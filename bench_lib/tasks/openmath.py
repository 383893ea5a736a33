"""OpenMath (OpenMathInstruct-2 style): a problem with its answer in \\boxed{} (bench_lib.math_answer)."""
from __future__ import annotations

from typing import Sequence

from bench_lib import metrics
from bench_lib.tasks.base import DataError, Example, HubSource, require

name = "openmath"
hub = HubSource("nvidia/OpenMathInstruct-2", None, {"train": "train_1M[:1000]", "test": "train_1M[-200:]"})
metric_names = ("openmath_exact", "openmath_exact_strict", "openmath_absdiff", "openmath_parse_rate",
                "openmath_boxed_parse_rate")
max_new_tokens = 32

# The registry's per-task declarations: the asv class name prefix, the score reports and the
# fine-tuning table are judged by, and the metrics the inference and engine classes track.
asv_name = "OpenMath"
# reports judge the numeric closeness, fine-tuning the exact answer it is trained towards
headline_metric = "openmath_absdiff"
finetune_metric = "openmath_exact"
inference_tracks = metric_names
key_metrics = ("openmath_exact", "openmath_absdiff")


def parse_row(row: dict, where: str) -> Example:
    problem = require(row, "problem", str, where)
    expected = require(row, "expected_answer", (str, int, float), where)
    # Taken as written: a number where it is one, else a normalized expression, never a digit out of it.
    gold = metrics.parse_expected(expected)
    if not gold.expr:
        raise DataError(f"{where}: field 'expected_answer' is empty")
    solution = row.get("generated_solution") or f"The answer is \\boxed{{{expected}}}."
    prompt = f"Solve the problem and put the final number in \\boxed{{}}.\n{problem}"
    return Example(str(row.get("id", where)), prompt, str(solution), gold)


def records(predictions: Sequence[str], examples: Sequence[Example]) -> list[dict]:
    """One record per example, in order: what `aggregate` and the paired comparisons resample."""
    return metrics.openmath_records(predictions, [ex.gold for ex in examples])


aggregate = metrics.openmath_from_records


def score(predictions: Sequence[str], examples: Sequence[Example]) -> dict[str, float]:
    """The metrics and their 95% intervals (metric_ci_low / metric_ci_high)."""
    return metrics.with_intervals(records(predictions, examples), aggregate, metrics.OPENMATH_PROPORTIONS)
