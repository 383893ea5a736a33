"""Task metrics and metric records.

Every number the suite reports is described by a `Metric` record: its unit and whether higher
is better. asv treats any rising `track_` value as a regression, so the alerting code reads
`higher_is_better` from here instead of trusting asv's direction.

SQuAD scoring follows the official SQuAD v2 evaluation script (normalize_answer, compute_exact,
compute_f1, max over gold answers; an unanswerable question has the single gold answer "").
"""
from __future__ import annotations

import collections
import math
import re
import string
from dataclasses import dataclass
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    higher_is_better: bool
    description: str


METRICS: dict[str, Metric] = {}


def register(name: str, unit: str, higher_is_better: bool, description: str) -> Metric:
    if name in METRICS:
        raise ValueError(f"metric {name!r} is registered twice")
    METRICS[name] = Metric(name, unit, higher_is_better, description)
    return METRICS[name]


def metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known metrics: {', '.join(sorted(METRICS))}") from None


# Inference speed and memory (definitions as in vLLM's benchmark_serving: TTFT includes the
# prefill, TPOT excludes the first token).
register("ttft_s", "seconds", False, "time to first token, median over requests")
register("tpot_s", "seconds", False, "time per output token after the first, median over requests")
register("e2e_latency_s", "seconds", False, "end-to-end latency per request, median")
register("output_tokens_per_s", "tokens/s", True, "generated tokens per second of wall time, whole batch")
register("output_tokens", "tokens", True, "tokens generated over the evaluated examples")
register("peak_rss_bytes", "bytes", False, "peak process resident set size during the workload")
register("cuda_max_allocated_bytes", "bytes", False, "torch.cuda.max_memory_allocated during the workload")
register("cuda_max_reserved_bytes", "bytes", False, "torch.cuda.max_memory_reserved during the workload")
# Task quality.
register("arc_accuracy", "fraction", True, "ARC: share of questions answered with the right label")
register("arc_macro_f1", "fraction", True, "ARC: F1 per answer label, averaged over labels")
register("arc_unparsed_rate", "fraction", False, "ARC: share of answers with no single label")
register("squad_exact", "percent", True, "SQuAD v2: exact match, all questions")
register("squad_f1", "percent", True, "SQuAD v2: token F1, all questions")
register("squad_hasans_exact", "percent", True, "SQuAD v2: exact match, answerable questions")
register("squad_hasans_f1", "percent", True, "SQuAD v2: F1, answerable questions")
register("squad_noans_exact", "percent", True, "SQuAD v2: exact match, unanswerable questions")
register("openmath_exact", "fraction", True, "OpenMath: share of parsed answers equal to the expected number")
register("openmath_absdiff", "absolute difference", False, "OpenMath: mean |predicted - expected| over parsed answers")
register("openmath_parse_rate", "fraction", True, "OpenMath: share of answers containing a number")


# --- SQuAD v2 (official evaluation semantics) -------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _tokens(s: str) -> list[str]:
    return normalize_answer(s).split() if s else []


def _exact_one(prediction: str, gold: str) -> float:
    return float(normalize_answer(gold) == normalize_answer(prediction))


def _f1_one(prediction: str, gold: str) -> float:
    gold_toks, pred_toks = _tokens(gold), _tokens(prediction)
    if not gold_toks or not pred_toks:
        # No-answer on either side: F1 is 1 if both are no-answer, else 0.
        return float(gold_toks == pred_toks)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_toks)
    recall = num_same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def _gold_or_noanswer(gold_answers: Sequence[str]) -> list[str]:
    # The official script drops golds that normalize to "" and treats an empty list as [""].
    golds = [a for a in gold_answers if normalize_answer(a)]
    return golds or [""]


def squad_exact(prediction: str, gold_answers: list[str]) -> float:
    return max(_exact_one(prediction, g) for g in _gold_or_noanswer(gold_answers))


def squad_f1(prediction: str, gold_answers: list[str]) -> float:
    return max(_f1_one(prediction, g) for g in _gold_or_noanswer(gold_answers))


def squad_aggregate(predictions: Sequence[str], gold_answers: Sequence[Sequence[str]]) -> dict[str, float]:
    """EM and F1 in percent, overall and split into HasAns / NoAns, as the official script prints."""
    has = [bool(_gold_or_noanswer(g)[0]) for g in gold_answers]
    em = [squad_exact(p, list(g)) for p, g in zip(predictions, gold_answers)]
    f1 = [squad_f1(p, list(g)) for p, g in zip(predictions, gold_answers)]

    def pct(values: Iterable[float]) -> float:
        values = list(values)
        return 100.0 * sum(values) / len(values) if values else math.nan

    return {
        "squad_exact": pct(em),
        "squad_f1": pct(f1),
        "squad_hasans_exact": pct(e for e, h in zip(em, has) if h),
        "squad_hasans_f1": pct(f for f, h in zip(f1, has) if h),
        "squad_noans_exact": pct(e for e, h in zip(em, has) if not h),
    }


# --- numeric answers --------------------------------------------------------------------------

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
    """The answer number: last \\boxed{...}, else after '####', else the last number in the text."""
    boxed = _boxed_contents(text)
    if boxed:
        return _last_number(boxed[-1])
    if "####" in text:
        found = _last_number(text.rsplit("####", 1)[1])
        if found is not None:
            return found
    return _last_number(text)


def openmath_aggregate(predictions: Sequence[str], expected: Sequence[float]) -> dict[str, float]:
    parsed = [(extract_number(p), e) for p, e in zip(predictions, expected)]
    ok = [(p, e) for p, e in parsed if p is not None]
    n = len(parsed)
    return {
        "openmath_exact": sum(math.isclose(p, e, rel_tol=1e-9, abs_tol=1e-9) for p, e in ok) / n if n else math.nan,
        "openmath_absdiff": sum(abs(p - e) for p, e in ok) / len(ok) if ok else math.nan,
        "openmath_parse_rate": len(ok) / n if n else math.nan,
    }


# --- multiple choice --------------------------------------------------------------------------


def extract_choice(text: str, labels: Sequence[str]) -> str | None:
    """The single label an answer picks ('B', '(B)', 'B)', 'Answer: B', 'The answer is B.').

    None when no label or more than one label stands as a label in the text.
    """
    if not labels:
        return None
    alt = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
    # An explicit "answer is X" / "Answer: X" wins over other label-like tokens. Labels are
    # matched case-sensitively so that "the answer is a dog" does not read as label "A".
    explicit = set(re.findall(rf"(?i:answer\s*(?:is|:))\s*[:\-]?\s*\(?({alt})(?![A-Za-z0-9])", text))
    if explicit:
        return explicit.pop() if len(explicit) == 1 else None
    # Otherwise labels standing alone: "B", "(B)", "B)", "B." but not "B" inside a word. "A" and
    # "I" followed by a lower-case word are English ("A cat", "I think"), not labels, unless
    # the word joins labels ("A or B").
    found = set()
    for m in re.finditer(rf"(?<![A-Za-z0-9])\(?({alt})(?![A-Za-z0-9])", text):
        label, rest = m.group(1), text[m.end():]
        if label in ("A", "I") and re.match(r"\s+[a-z]", rest) and not re.match(r"\s+(or|and)\b", rest):
            continue
        found.add(label)
    return found.pop() if len(found) == 1 else None


def arc_aggregate(predictions: Sequence[str | None], gold: Sequence[str]) -> dict[str, float]:
    n = len(gold)
    labels = sorted(set(gold) | {p for p in predictions if p is not None})
    f1s = []
    for label in labels:
        tp = sum(p == label and g == label for p, g in zip(predictions, gold))
        fp = sum(p == label and g != label for p, g in zip(predictions, gold))
        fn = sum(p != label and g == label for p, g in zip(predictions, gold))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return {
        "arc_accuracy": sum(p == g for p, g in zip(predictions, gold)) / n if n else math.nan,
        "arc_macro_f1": sum(f1s) / len(f1s) if f1s else math.nan,
        "arc_unparsed_rate": sum(p is None for p in predictions) / n if n else math.nan,
    }
