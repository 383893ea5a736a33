"""SQuAD v2: extractive QA where a third of the questions have no answer in the context.

The model is asked to say "unanswerable" for those; that reply is scored as the empty
prediction, which is how the official script represents "no answer".
"""
from __future__ import annotations

import collections
import math
import re
import string
from typing import Iterable, Sequence

from bench_lib import metrics
from bench_lib.tasks.base import DataError, Example, HubSource, require

name = "squad"
hub = HubSource("rajpurkar/squad_v2", None, {"train": "train", "test": "validation"})
metric_names = ("squad_exact", "squad_f1", "squad_hasans_exact", "squad_hasans_f1", "squad_noans_exact")
max_new_tokens = 12

asv_name = "Squad"
headline_metric = "squad_f1"
finetune_metric = "squad_f1"
inference_tracks = ("squad_exact", "squad_f1", "squad_hasans_f1", "squad_noans_exact")
key_metrics = ("squad_exact", "squad_f1")
NO_ANSWER = "unanswerable"

metrics.register_task_metric("squad_exact", "percent", True, "SQuAD v2: exact match, all questions")
metrics.register_task_metric("squad_f1", "percent", True, "SQuAD v2: token F1, all questions")
metrics.register_task_metric("squad_hasans_exact", "percent", True, "SQuAD v2: exact match, answerable questions")
metrics.register_task_metric("squad_hasans_f1", "percent", True, "SQuAD v2: F1, answerable questions")
metrics.register_task_metric("squad_noans_exact", "percent", True, "SQuAD v2: exact match, unanswerable questions")
metrics.register_key_metric("squad_exact", "SQuAD v2 exact match")
metrics.register_key_metric("squad_f1", "SQuAD v2 F1")


def parse_row(row: dict, where: str) -> Example:
    context = require(row, "context", str, where)
    question = require(row, "question", str, where)
    answers = require(row, "answers", dict, where)
    texts = require(answers, "text", (list, tuple), f"{where}: field 'answers'")
    if not all(isinstance(t, str) for t in texts):
        raise DataError(f"{where}: field 'answers.text' should hold strings, got {list(texts)!r:.80}")
    prompt = (f"Context: {context}\nQuestion: {question}\n"
              f"Answer with a short span from the context, or '{NO_ANSWER}' if the context does not say.")
    # A span gets its leading space, so that it is the same token as in the context; the prompt
    # quotes NO_ANSWER without one.
    return Example(str(row.get("id", where)), prompt, f" {texts[0]}" if texts else NO_ANSWER, list(texts))


# Scoring with the official SQuAD v2 evaluation script's semantics (normalize_answer,
# compute_exact, compute_f1, max over gold answers; an unanswerable question has the single
# gold answer "").

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
    return squad_from_records(squad_records(predictions, gold_answers))


def squad_records(predictions: Sequence[str], gold_answers: Sequence[Sequence[str]]) -> list[dict]:
    """Per question: answerable or not, exact match and F1 (0..1). Answerable means a non-empty raw
    answer list, as the official script's qid_to_has_ans = bool(qa['answers']); a gold answer
    that normalizes to "" still makes its question answerable."""
    return [{"has": bool(list(g)), "em": squad_exact(p, list(g)), "f1": squad_f1(p, list(g))}
            for p, g in zip(predictions, gold_answers)]


SQUAD_PROPORTIONS = {"squad_exact": lambda r: r["em"], "squad_hasans_exact": lambda r: r["em"] if r["has"] else None,
                     "squad_noans_exact": lambda r: r["em"] if not r["has"] else None}


def squad_from_records(records: Sequence[dict]) -> dict[str, float]:
    has = [r["has"] for r in records]
    em = [r["em"] for r in records]
    f1 = [r["f1"] for r in records]

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


def to_prediction(text: str) -> str:
    answer = text.strip().strip(".").strip()
    return "" if normalize_answer(answer) == NO_ANSWER else answer


def records(predictions: Sequence[str], examples: Sequence[Example]) -> list[dict]:
    """One record per example, in order: what `aggregate` and the paired comparisons resample."""
    return squad_records([to_prediction(p) for p in predictions], [ex.gold for ex in examples])


aggregate = squad_from_records


def score(predictions: Sequence[str], examples: Sequence[Example]) -> dict[str, float]:
    """The metrics and their 95% intervals (metric_ci_low / metric_ci_high)."""
    return metrics.with_intervals(records(predictions, examples), aggregate, SQUAD_PROPORTIONS)
