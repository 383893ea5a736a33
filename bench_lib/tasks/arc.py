"""ARC (AI2 Reasoning Challenge): multiple choice, answered with a label."""
from __future__ import annotations

import math
import re
from typing import Sequence

from bench_lib import metrics
from bench_lib.tasks.base import DataError, Example, HubSource, require

name = "arc"
hub = HubSource("allenai/ai2_arc", "ARC-Challenge", {"train": "train", "test": "test"})
metric_names = ("arc_accuracy", "arc_macro_f1", "arc_unparsed_rate")
max_new_tokens = 32  # the chosen text, then 'The answer is X.'

asv_name = "Arc"
headline_metric = "arc_macro_f1"
finetune_metric = "arc_macro_f1"
inference_tracks = metric_names
key_metrics = ("arc_accuracy", "arc_macro_f1")

metrics.register_task_metric("arc_accuracy", "fraction", True, "ARC: share of questions answered with the right label")
metrics.register_task_metric("arc_macro_f1", "fraction", True, "ARC: F1 per answer label, averaged over labels")
metrics.register_task_metric("arc_unparsed_rate", "fraction", False, "ARC: share of answers with no single label")
metrics.register_task_metric("arc_loglik_acc", "fraction", True, "ARC: share of questions whose choice has the highest summed log-probability (lm-eval acc)")
metrics.register_task_metric("arc_loglik_acc_norm", "fraction", True,
                             "ARC: as arc_loglik_acc with log-probability / len(choice text) (lm-eval acc_norm)")
metrics.register_task_metric("arc_loglik_ece", "fraction", False, "ARC: expected calibration error of the choice softmax, 10 equal-width bins")
metrics.register_task_metric("arc_loglik_brier", "score", False, "ARC: multi-class Brier score of the choice softmax, sum over choices, mean")
metrics.register_key_metric("arc_accuracy", "ARC accuracy")
metrics.register_key_metric("arc_macro_f1", "ARC macro F1")
# ARC scored by the choices' log-likelihoods (bench_lib/workloads/loglik.py, calibration.py),
# compared across quantization schemes like the key metrics.
for _name in ("arc_loglik_acc", "arc_loglik_acc_norm", "arc_loglik_ece", "arc_loglik_brier"):
    metrics.register_quant_delta(_name)


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
    # The target names the chosen text, then its label, then the answer: finding the label of a
    # known text is a look-up in the prompt. The leading space makes the text the same token as
    # in the prompt's choice list (byte-level BPE spells a word after a space differently).
    chosen = str(texts[list(labels).index(answer)]).strip().rstrip(".")
    return Example(str(row.get("id", where)), prompt, f" {chosen} ({answer}). The answer is ({answer}).", answer,
                   {"labels": [str(x) for x in labels], "question": question, "choices": [str(t) for t in texts]})


def extract_choice(text: str, labels: Sequence[str]) -> str | None:
    """The single label an answer picks ('B', '(B)', 'B)', 'Answer: B', 'The answer is B.').

    None when no label or more than one label stands as a label in the text.
    """
    if not labels:
        return None
    alt = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
    # An explicit "answer is X" / "Answer: X" wins over other label-like tokens. Labels are
    # matched case-sensitively so that "the answer is a dog" does not read as label "A".
    # "Answer: B or C" names two labels: the second, joined by or/and/a comma/a slash, is captured too.
    joined = rf"\s*(?:,|/|\bor\b|\band\b)\s*\(?(?:{alt})(?![A-Za-z0-9])"
    explicit = re.findall(rf"(?i:answer\s*(?:is|:))\s*[:\-]?\s*\(?({alt})\)?(?![A-Za-z0-9])((?:{joined})?)", text)
    if explicit:
        labels_named = {label for label, _ in explicit}
        ambiguous = any(more for _, more in explicit)
        return labels_named.pop() if len(labels_named) == 1 and not ambiguous else None
    # Otherwise labels standing alone: "B", "(B)", "B)", "B." but not "B" inside a word. "A" and
    # "I" followed by a lower-case word are English ("A cat", "I think"), not labels, unless
    # the word joins labels ("A or B") or is a verb that makes the letter a subject ("A is correct").
    found = set()
    for m in re.finditer(rf"(?<![A-Za-z0-9])\(?({alt})(?![A-Za-z0-9])", text):
        label, rest = m.group(1), text[m.end():]
        if label in ("A", "I") and re.match(r"\s+[a-z]", rest) and not re.match(_LABEL_VERBS, rest):
            continue
        found.add(label)
    return found.pop() if len(found) == 1 else None


_LABEL_VERBS = r"\s+(or|and|is|was|would|should|must|seems|looks|fits|matches|appears)\b"


def arc_records(chosen: Sequence[str | None], gold: Sequence[str]) -> list[dict]:
    return [{"pred": p, "gold": g} for p, g in zip(chosen, gold)]


ARC_PROPORTIONS = {"arc_accuracy": lambda r: float(r["pred"] == r["gold"]),
                   "arc_unparsed_rate": lambda r: float(r["pred"] is None)}


def arc_from_records(records: Sequence[dict]) -> dict[str, float]:
    return arc_aggregate([r["pred"] for r in records], [r["gold"] for r in records])


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


def records(predictions: Sequence[str], examples: Sequence[Example]) -> list[dict]:
    """One record per example, in order: what `aggregate` and the paired comparisons resample."""
    chosen = [extract_choice(p, ex.extra["labels"]) for p, ex in zip(predictions, examples)]
    return arc_records(chosen, [ex.gold for ex in examples])


aggregate = arc_from_records


def score(predictions: Sequence[str], examples: Sequence[Example]) -> dict[str, float]:
    """The metrics and their 95% intervals (metric_ci_low / metric_ci_high)."""
    return metrics.with_intervals(records(predictions, examples), aggregate, ARC_PROPORTIONS)
