"""Acceptance statistics of speculative decoding, with vLLM's definitions (its spec-decode
metrics and examples/offline_inference/spec_decode.py), so every engine reports the same numbers:

- a *draft* is one verification step that checked at least one proposed token;
- acceptance rate = accepted tokens / drafted tokens;
- mean acceptance length = 1 + accepted tokens / drafts (tokens gained per draft, the target's
  own token included);
- acceptance at position i = drafts whose i-th proposed token was accepted / drafts.

Verification steps that proposed nothing (prompt lookup finding no match) are target forward
passes but not drafts, as in vLLM.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Step:
    drafted: int      # tokens proposed to this verification pass
    accepted: int     # of those, tokens the target agreed with (a prefix of them)


@dataclass
class Acceptance:
    steps: list[Step] = field(default_factory=list)

    def add(self, drafted: int, accepted: int) -> None:
        if not 0 <= accepted <= drafted:
            raise ValueError(f"accepted {accepted} tokens out of {drafted} drafted: counts are inconsistent")
        self.steps.append(Step(drafted, accepted))

    def extend(self, other: "Acceptance") -> None:
        self.steps.extend(other.steps)

    @property
    def target_passes(self) -> int:
        return len(self.steps)

    @property
    def drafts(self) -> int:
        return sum(s.drafted > 0 for s in self.steps)

    @property
    def drafted(self) -> int:
        return sum(s.drafted for s in self.steps)

    @property
    def accepted(self) -> int:
        return sum(s.accepted for s in self.steps)

    def rate(self) -> float:
        return self.accepted / self.drafted if self.drafted else float("nan")

    def mean_length(self) -> float:
        return 1 + self.accepted / self.drafts if self.drafts else float("nan")

    def per_position(self) -> list[float]:
        """Acceptance at positions 1..max drafted, over all drafts."""
        if not self.drafts:
            return []
        longest = max(s.drafted for s in self.steps)
        return [sum(s.accepted > i for s in self.steps) / self.drafts for i in range(longest)]

    def as_metrics(self) -> dict[str, float]:
        out = {"kvspec_acceptance_rate": self.rate(), "kvspec_acceptance_length": self.mean_length(),
               "kvspec_target_passes": float(self.target_passes), "kvspec_drafted_tokens": float(self.drafted)}
        for i, p in enumerate(self.per_position()[:4], start=1):
            out[f"kvspec_acceptance_pos{i}"] = p
        return out
