"""The engine protocol. An engine takes token ids and returns token ids with per-request timings.

Every engine gets the same prompt token ids (chat template applied once, by the workload) and
its output is decoded by the same tokenizer, so engines are compared on identical inputs with
identical definitions. An engine reports wall-clock timestamps read *after* synchronizing its
device, relative to the moment its `generate` call started.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence


class EngineUnavailable(NotImplementedError):
    """This engine cannot run here (package missing, no device, unsupported model); says why.

    Subclasses NotImplementedError so that asv shows the benchmark as skipped.
    """


@dataclass
class RequestTiming:
    first_token_s: float       # time to first token (prefill + first decode step)
    finish_s: float            # time the last token of this request was available
    output_tokens: int         # generated tokens, EOS included when one was produced

    @property
    def tpot_s(self) -> float:
        """Time per output token after the first (vLLM's definition); NaN for one-token outputs."""
        if self.output_tokens <= 1:
            return float("nan")
        return (self.finish_s - self.first_token_s) / (self.output_tokens - 1)


@dataclass
class Generation:
    token_ids: list[list[int]]             # generated ids per prompt, prompt excluded
    timings: list[RequestTiming]
    wall_s: float                          # the whole call, synchronized
    engine_report: dict = field(default_factory=dict)  # the engine's own numbers, if it has any


class Engine(Protocol):
    name: str
    device: str

    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int, ignore_eos: bool = False) -> Generation:
        """Greedy generation for a batch of prompts given as token ids; each stops at its EOS (the
        EOS included) or after `max_new_tokens`, or with `ignore_eos` always after `max_new_tokens`
        (fixed-length decoding, for throughput and overhead runs)."""

    def synchronize(self) -> None:
        """Block until the device has finished queued work (no-op on CPU)."""

    def close(self) -> None:
        """Release the model and its memory."""
