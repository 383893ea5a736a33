"""ARC (AI2 Reasoning Challenge): multiple choice, answered with a label."""
from __future__ import annotations

from typing import Sequence

from bench_lib import metrics
from bench_lib.tasks.base import DataError, Example, HubSource, require

name = "arc"
hub = HubSource("allenai/ai2_arc", "ARC-Challenge", {"train": "train", "test": "test"})
metric_names = ("arc_accuracy", "arc_macro_f1", "arc_unparsed_rate")
max_new_tokens = 8

# The registry's per-task declarations: the asv class name prefix, the score reports and the
# fine-tuning table are judged by, and the metrics the inference and engine classes track.
asv_name = "Arc"
headline_metric = "arc_macro_f1"
finetune_metric = "arc_macro_f1"
inference_tracks = metric_names
key_metrics = ("arc_accuracy", "arc_macro_f1")


def parse_row(row: dict, where: str) -> Example:
    question = require(row, "question", str, where)
    choices = require(row, "choices", dict, where)
    texts = require(choices, "text", (list, tuple), f"{where}: field 'choices'")
    labels = require(choices, "label", (list, tuple), f"{where}: field 'choices'")
    answer = require(row, "answerKey", str, where)
    if len(texts) != len(labels) or not labels:
        raise DataError(f"{where}: field 'choices' has {len(texts)} texts but {len(labels)} labels")
    if answer not in labels:
        raise DataError(f"{where}: field 'answerKey' is {answer!r}, not one of the labels {list(labels)}")
    options = "\n".join(f"{label}. {text}" for label, text in zip(labels, texts))
    prompt = f"Question: {question}\nChoices:\n{options}\nAnswer with the letter of the correct choice."
    return Example(str(row.get("id", where)), prompt, f"The answer is {answer}.", answer,
                   {"labels": [str(x) for x in labels], "question": question, "choices": [str(t) for t in texts]})


def records(predictions: Sequence[str], examples: Sequence[Example]) -> list[dict]:
    """One record per example, in order: what `aggregate` and the paired comparisons resample."""
    chosen = [metrics.extract_choice(p, ex.extra["labels"]) for p, ex in zip(predictions, examples)]
    return metrics.arc_records(chosen, [ex.gold for ex in examples])


aggregate = metrics.arc_from_records


def score(predictions: Sequence[str], examples: Sequence[Example]) -> dict[str, float]:
    """The metrics and their 95% intervals (metric_ci_low / metric_ci_high)."""
    return metrics.with_intervals(records(predictions, examples), aggregate, metrics.ARC_PROPORTIONS)
