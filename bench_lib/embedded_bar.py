"""The skill bar of the embedded default model, judged on asv results.

The embedded `tiny-qwen3` is the only model CI and machines without hub access have, so its task
scores must sit in the middle, far from floor and ceiling: a damaged quantizer, KV cache or chat
template then moves them, and an improvement shows too. The bar (greedy answers, HF engine, fp32,
batch size 1, the test split's first n examples of the tier): ARC accuracy >= 0.6, SQuAD v2 HasAns
F1 >= 60 and NoAns exact >= 60, OpenMath exact >= 0.3; the draft model's acceptance rate in
speculative decoding neither about 0 nor about 1 (between 0.1 and 0.9).

`llm-bench summary` prints the check after its table, each value with its 95% interval over the
examples, so a value that clears the bar only by its sampling noise is visible as such.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

MODEL = "tiny-qwen3"


@dataclass(frozen=True)
class Bar:
    label: str
    benchmark: str          # the asv benchmark that records the value
    params: dict            # the configuration it is read at
    low: float              # the value must be >= low ...
    high: float = math.inf  # ... and <= high


BARS = (
    Bar("ARC accuracy", "bench_inference.ArcInference.track_accuracy", {"model": MODEL, "batch_size": "1"}, 0.6),
    Bar("SQuAD v2 HasAns F1", "bench_inference.SquadInference.track_hasans_f1", {"model": MODEL, "batch_size": "1"}, 60.0),
    Bar("SQuAD v2 NoAns exact", "bench_inference.SquadInference.track_noans_exact", {"model": MODEL, "batch_size": "1"}, 60.0),
    Bar("OpenMath exact", "bench_inference.OpenMathInference.track_exact", {"model": MODEL, "batch_size": "1"}, 0.3),
    Bar("draft acceptance rate (ARC)", "bench_speculative.SpeculativeHF.track_acceptance_rate",
        {"model": MODEL, "method": "draft", "task": "arc"}, 0.1, 0.9),
)


@dataclass
class Verdict:
    bar: Bar
    value: float | None     # None: no result (not run, failed or skipped)
    ci: tuple[float, float] | None

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.bar.low <= self.value <= self.bar.high

    def line(self) -> str:
        bound = f">= {self.bar.low:g}" if math.isinf(self.bar.high) else f"in [{self.bar.low:g}, {self.bar.high:g}]"
        if self.value is None:
            return f"- {self.bar.label}: no result ({self.bar.benchmark} did not run here); bar {bound}"
        ci = f" [95% {self.ci[0]:.3g}, {self.ci[1]:.3g}]" if self.ci else ""
        return f"- {self.bar.label}: {self.value:.3g}{ci}, bar {bound}: {'met' if self.met else 'NOT met'}"


def _find(rows: Sequence, benchmark: str, params: dict) -> float | None:
    for r in rows:
        if r.benchmark == benchmark and all(r.params.get(k) == v for k, v in params.items()):
            if r.value is None or (isinstance(r.value, float) and math.isnan(r.value)):
                return None
            return float(r.value)
    return None


def judge(rows: Sequence) -> list[Verdict]:
    """One verdict per bar from one machine's newest asv rows."""
    out = []
    for bar in BARS:
        value = _find(rows, bar.benchmark, bar.params)
        low, high = (_find(rows, bar.benchmark + s, bar.params) for s in ("_ci_low", "_ci_high"))
        out.append(Verdict(bar, value, (low, high) if low is not None and high is not None else None))
    return out


def report(rows: Sequence) -> list[str]:
    """The summary's lines; none where the embedded model did not run at all."""
    verdicts = judge(rows)
    if all(v.value is None for v in verdicts):
        return []
    met = sum(v.met is True for v in verdicts)
    judged = sum(v.met is not None for v in verdicts)
    return [f"embedded model bar ({MODEL}, greedy, HF fp32, batch size 1): {met} of {judged} met",
            *(v.line() for v in verdicts)]
