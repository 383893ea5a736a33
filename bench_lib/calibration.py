"""Multiple choice scored by log-likelihood, and the calibration of its choice probabilities.

Scoring follows lm-evaluation-harness's `multiple_choice` output type (ARC: context
"Question: {question}\\nAnswer:", one continuation " {choice text}" per choice):
- acc: the choice with the highest summed log-probability of its continuation tokens is right;
- acc_norm: the same after dividing each sum by len(choice text), which lm-eval's code computes as
  `float(len(i)) for i in choices` (characters of the choice without the leading space; bytes for
  ASCII text, which its docs call the byte length).
Calibration reads the choice probabilities p_k = softmax_k(summed log-probability_k) (the
un-normalized sums, the distribution `acc` ranks):
- ECE (Guo et al. 2017): 10 equal-width confidence bins ((m-1)/10, m/10], confidence = max_k p_k,
  ECE = sum over bins of |bin| / N * |accuracy(bin) - mean confidence(bin)|; a confidence of
  exactly 0 goes to the first bin.
- Brier score (Brier 1950, multi-class): mean over questions of sum_k (p_k - [k is right])^2, in
  [0, 2]; lower is better.
"""
from __future__ import annotations

import math
from typing import Sequence

N_BINS = 10


def softmax(logits: Sequence[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(x - top) for x in logits]
    total = sum(exps)
    return [e / total for e in exps]


def _argmax(values: Sequence[float]) -> int:
    # first maximum, as numpy.argmax
    return max(range(len(values)), key=lambda i: (values[i], -i))


def ece(probs: Sequence[Sequence[float]], gold: Sequence[int], n_bins: int = N_BINS) -> float:
    if not probs:
        return math.nan
    bins: list[list[tuple[float, float]]] = [[] for _ in range(n_bins)]
    for p, g in zip(probs, gold):
        k = _argmax(p)
        conf = p[k]
        m = max(0, min(n_bins - 1, math.ceil(conf * n_bins) - 1))
        bins[m].append((conf, float(k == g)))
    n = len(probs)
    return sum(len(b) / n * abs(sum(c for _, c in b) / len(b) - sum(f for f, _ in b) / len(b))
               for b in bins if b)


def brier(probs: Sequence[Sequence[float]], gold: Sequence[int]) -> float:
    if not probs:
        return math.nan
    return sum(sum((pk - float(k == g)) ** 2 for k, pk in enumerate(p)) for p, g in zip(probs, gold)) / len(probs)


def choice_record(logliks: Sequence[float], choices: Sequence[str], gold: int) -> dict:
    """One question: the summed log-probability of each choice, lm-eval's predictions, the softmax."""
    lengths = [float(len(c)) for c in choices]
    return {"gold": gold, "pred": _argmax(logliks), "pred_norm": _argmax([ll / n for ll, n in zip(logliks, lengths)]),
            "probs": softmax(logliks)}


PROPORTIONS = {"arc_loglik_acc": lambda r: float(r["pred"] == r["gold"]),
               "arc_loglik_acc_norm": lambda r: float(r["pred_norm"] == r["gold"])}


def aggregate(records: Sequence[dict]) -> dict[str, float]:
    n = len(records)
    out = {name: sum(f(r) for r in records) / n if n else math.nan for name, f in PROPORTIONS.items()}
    probs, gold = [r["probs"] for r in records], [r["gold"] for r in records]
    out["arc_loglik_ece"] = ece(probs, gold)
    out["arc_loglik_brier"] = brier(probs, gold)
    return out
