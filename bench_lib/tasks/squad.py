"""SQuAD v2: extractive QA where a third of the questions have no answer in the context.

The model is asked to say "unanswerable" for those; that reply is scored as the empty
prediction, which is how the official script represents "no answer".
"""
from __future__ import annotations

from typing import Sequence

from bench_lib import metrics
from bench_lib.tasks.base import DataError, Example, HubSource, require

name = "squad"
hub = HubSource("rajpurkar/squad_v2", None, {"train": "train", "test": "validation"})
metric_names = ("squad_exact", "squad_f1", "squad_hasans_exact", "squad_hasans_f1", "squad_noans_exact")
max_new_tokens = 12

# The registry's per-task declarations: the asv class name prefix, the score reports and the
# fine-tuning table are judged by, and the metrics the inference and engine classes track.
asv_name = "Squad"
headline_metric = "squad_f1"
finetune_metric = "squad_f1"
inference_tracks = ("squad_exact", "squad_f1", "squad_hasans_f1", "squad_noans_exact")
key_metrics = ("squad_exact", "squad_f1")
NO_ANSWER = "unanswerable"


def parse_row(row: dict, where: str) -> Example:
    context = require(row, "context", str, where)
    question = require(row, "question", str, where)
    answers = require(row, "answers", dict, where)
    texts = require(answers, "text", (list, tuple), f"{where}: field 'answers'")
    if not all(isinstance(t, str) for t in texts):
        raise DataError(f"{where}: field 'answers.text' should hold strings, got {list(texts)!r:.80}")
    prompt = (f"Context: {context}\nQuestion: {question}\n"
              f"Answer with a short span from the context, or '{NO_ANSWER}' if the context does not say.")
    return Example(str(row.get("id", where)), prompt, texts[0] if texts else NO_ANSWER, list(texts))


def to_prediction(text: str) -> str:
    answer = text.strip().strip(".").strip()
    return "" if metrics.normalize_answer(answer) == NO_ANSWER else answer


def records(predictions: Sequence[str], examples: Sequence[Example]) -> list[dict]:
    """One record per example, in order: what `aggregate` and the paired comparisons resample."""
    return metrics.squad_records([to_prediction(p) for p in predictions], [ex.gold for ex in examples])


aggregate = metrics.squad_from_records


def score(predictions: Sequence[str], examples: Sequence[Example]) -> dict[str, float]:
    """The metrics and their 95% intervals (metric_ci_low / metric_ci_high)."""
    return metrics.with_intervals(records(predictions, examples), aggregate, metrics.SQUAD_PROPORTIONS)
