"""OpenMath (OpenMathInstruct-2 style): a problem with a numeric answer in \\boxed{}."""
from __future__ import annotations

from typing import Sequence

from bench_lib import metrics
from bench_lib.tasks.base import DataError, Example, HubSource, require

name = "openmath"
hub = HubSource("nvidia/OpenMathInstruct-2", None, {"train": "train_1M[:1000]", "test": "train_1M[-200:]"})
metric_names = ("openmath_exact", "openmath_absdiff", "openmath_parse_rate")
max_new_tokens = 32


def parse_row(row: dict, where: str) -> Example:
    problem = require(row, "problem", str, where)
    expected = require(row, "expected_answer", (str, int, float), where)
    value = metrics.extract_number(str(expected))
    if value is None:
        raise DataError(f"{where}: field 'expected_answer' is {expected!r}, which holds no number")
    solution = row.get("generated_solution") or f"The answer is \\boxed{{{expected}}}."
    prompt = f"Solve the problem and put the final number in \\boxed{{}}.\n{problem}"
    return Example(str(row.get("id", where)), prompt, str(solution), value)


def score(predictions: Sequence[str], examples: Sequence[Example]) -> dict[str, float]:
    return metrics.openmath_aggregate(predictions, [ex.gold for ex in examples])
