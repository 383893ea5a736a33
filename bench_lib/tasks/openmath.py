"""OpenMath (OpenMathInstruct-2 style): a problem with its answer in \\boxed{} (bench_lib.math_answer)."""
from __future__ import annotations

import math
import re
from typing import Sequence

from bench_lib import math_answer, metrics
from bench_lib.tasks.base import DataError, Example, HubSource, require

name = "openmath"
hub = HubSource("nvidia/OpenMathInstruct-2", None, {"train": "train_1M[:1000]", "test": "train_1M[-200:]"})
metric_names = ("openmath_exact", "openmath_exact_strict", "openmath_absdiff", "openmath_parse_rate",
                "openmath_boxed_parse_rate")
max_new_tokens = 32

asv_name = "OpenMath"
# reports judge the numeric closeness, fine-tuning the exact answer it is trained towards
headline_metric = "openmath_absdiff"
finetune_metric = "openmath_exact"
inference_tracks = metric_names
key_metrics = ("openmath_exact", "openmath_absdiff")

metrics.register_task_metric("openmath_exact", "fraction", True, "OpenMath: share of all answers equal to the expected answer; "
                             "the last \\boxed{} decides, else the last number (flexible extract; unparsed counts as wrong)")
metrics.register_task_metric("openmath_exact_strict", "fraction", True, "OpenMath: share of all answers whose last \\boxed{} equals the "
                             "expected answer (strict match; no box or a box not understood counts as wrong)")
metrics.register_task_metric("openmath_absdiff", "absolute difference", False,
                             "OpenMath: mean |predicted - expected| over answers where both are numbers (flexible extract)")
metrics.register_task_metric("openmath_parse_rate", "fraction", True, "OpenMath: share of answers with an answer, understood box or else a number")
metrics.register_task_metric("openmath_boxed_parse_rate", "fraction", True, "OpenMath: share of answers whose last \\boxed{} is understood")
metrics.register_key_metric("openmath_exact", "OpenMath exact match")
metrics.register_key_metric("openmath_absdiff", "OpenMath AbsDiff")


_NUMBER = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+"
_FRACTION_OR_NUMBER = re.compile(rf"(?P<num>{_NUMBER})(?:\s*/\s*(?P<den>{_NUMBER}))?\s*(?P<pct>%)?")


def _boxed_contents(text: str) -> list[str]:
    """Contents of every \\boxed{...}, with nested braces balanced."""
    out = []
    for m in re.finditer(r"\\boxed\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append(text[m.end(): i - 1])
    return out


def _to_float(s: str) -> float:
    return float(s.replace(",", ""))


def _last_number(text: str) -> float | None:
    # \frac{a}{b} inside a box is common in math answers.
    text = re.sub(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}", r"\1/\2", text)
    matches = list(_FRACTION_OR_NUMBER.finditer(text))
    if not matches:
        return None
    m = matches[-1]
    value = _to_float(m.group("num"))
    if m.group("den") is not None:
        den = _to_float(m.group("den"))
        if den == 0:
            return None
        value /= den
    return value


def extract_number(text: str) -> float | None:
    """The answer number: the last \\boxed{...} when its content is a number (math_answer.evaluate;
    a box holding anything else gives None, not a digit out of it), else after '####', else the
    last number in the text."""
    boxed = _boxed_contents(text)
    if boxed:
        return math_answer.evaluate(boxed[-1])
    if "####" in text:
        found = _last_number(text.rsplit("####", 1)[1])
        if found is not None:
            return found
    return _last_number(text)


def parse_expected(expected) -> math_answer.MathAnswer:
    """An expected answer taken as written: its exact value where it is a number, else its
    normalized expression (never the last digit of it)."""
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return math_answer.MathAnswer(float(expected), math_answer.normalize(str(expected)))
    return math_answer.parse(str(expected))


def openmath_records(predictions: Sequence[str], expected: Sequence[math_answer.MathAnswer]) -> list[dict]:
    """Per answer, lm-eval's two extractions. strict: the last \\boxed{}, counted as parsed only
    when its content is understood (a number, or equal to a non-numeric expected expression).
    flexible: that box when there is one, else the number after '####', else the last number."""
    out = []
    for text, gold in zip(predictions, expected):
        boxed = _boxed_contents(text)
        if boxed:
            ans = math_answer.parse(boxed[-1])
            strict = ans if ans.value is not None or (gold.value is None and ans.matches(gold)) else None
            flexible = strict
        else:
            strict, value = None, extract_number(text)
            flexible = math_answer.MathAnswer(value, "") if value is not None else None
        out.append({"exact": float(flexible is not None and flexible.matches(gold)),
                    "exact_strict": float(strict is not None and strict.matches(gold)),
                    "parsed": float(flexible is not None), "boxed": float(strict is not None),
                    "absdiff": (abs(flexible.value - gold.value)
                                if flexible is not None and flexible.value is not None and gold.value is not None
                                else None)})
    return out


OPENMATH_PROPORTIONS = {"openmath_exact": lambda r: r["exact"], "openmath_exact_strict": lambda r: r["exact_strict"],
                        "openmath_parse_rate": lambda r: r["parsed"], "openmath_boxed_parse_rate": lambda r: r["boxed"]}


def openmath_from_records(records: Sequence[dict]) -> dict[str, float]:
    n = len(records)
    diffs = [r["absdiff"] for r in records if r["absdiff"] is not None]
    out = {name: sum(f(r) for r in records) / n if n else math.nan for name, f in OPENMATH_PROPORTIONS.items()}
    out["openmath_absdiff"] = sum(diffs) / len(diffs) if diffs else math.nan
    return out


def openmath_aggregate(predictions: Sequence[str], expected: Sequence) -> dict[str, float]:
    gold = [e if isinstance(e, math_answer.MathAnswer) else parse_expected(e) for e in expected]
    return openmath_from_records(openmath_records(predictions, gold))


def parse_row(row: dict, where: str) -> Example:
    problem = require(row, "problem", str, where)
    expected = require(row, "expected_answer", (str, int, float), where)
    # Taken as written: a number where it is one, else a normalized expression, never a digit out of it.
    gold = parse_expected(expected)
    if not gold.expr:
        raise DataError(f"{where}: field 'expected_answer' is empty")
    solution = row.get("generated_solution") or f"The answer is \\boxed{{{expected}}}."
    prompt = f"Solve the problem and put the final number in \\boxed{{}}.\n{problem}"
    # A leading space: the solution's first number is then the same token as in the problem.
    return Example(str(row.get("id", where)), prompt, f" {str(solution).lstrip()}", gold)


def records(predictions: Sequence[str], examples: Sequence[Example]) -> list[dict]:
    """One record per example, in order: what `aggregate` and the paired comparisons resample."""
    return openmath_records(predictions, [ex.gold for ex in examples])


aggregate = openmath_from_records


def score(predictions: Sequence[str], examples: Sequence[Example]) -> dict[str, float]:
    """The metrics and their 95% intervals (metric_ci_low / metric_ci_high)."""
    return metrics.with_intervals(records(predictions, examples), aggregate, OPENMATH_PROPORTIONS)
