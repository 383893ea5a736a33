"""Clocks that wait for the device before they read the time.

A CUDA kernel launch returns before the work is done, so reading the clock without a
synchronize measures the launch, not the work. The engine says how it synchronizes; the
clock knows nothing about devices; `device_sync(device)` is the one place that knows how to wait
for a torch device.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence


def no_sync() -> None:
    pass


def device_sync(device: str) -> Callable[[], None]:
    """A function that waits for the work queued on a torch device: CUDA synchronizes, a CPU's
    work is done when the call returns. torch is imported on the first call only, so engines
    that run out of process (servers, llama.cpp) never pay for it."""
    if not str(device).startswith("cuda"):
        return no_sync

    def sync() -> None:
        import torch

        torch.cuda.synchronize(device)
    return sync


@dataclass
class Clock:
    sync: Callable[[], None] = no_sync

    def now(self) -> float:
        self.sync()
        return time.perf_counter()


@dataclass
class Stopwatch:
    """`with Stopwatch(clock) as sw: ...` then `sw.seconds`."""
    clock: Clock = field(default_factory=Clock)
    start: float = 0.0
    seconds: float = float("nan")

    def __enter__(self) -> "Stopwatch":
        self.start = self.clock.now()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = self.clock.now() - self.start


@dataclass
class DecodeRun:
    """One greedy decode of one sequence: its tokens and, in seconds from the request's start,
    when the first and the last token arrived. The prefill ends with the first token, so decode
    speed is (tokens - 1) / (last - first). `cache` is the KV cache it filled, where kept."""
    token_ids: list[int]
    first_s: float
    last_s: float
    cache: object = None

    @property
    def prefill_s(self) -> float:
        return self.first_s

    @property
    def decode_s(self) -> float:
        return self.last_s - self.first_s

    @property
    def decode_tokens_per_s(self) -> float:
        n = len(self.token_ids)
        return (n - 1) / self.decode_s if n >= 2 and self.decode_s > 0 else float("nan")


def agreeing_prefix(reference: Sequence, test: Sequence) -> int:
    """How many leading tokens two greedy outputs share: the index of the first differing token,
    or the shorter length where one is a prefix of the other."""
    return next((i for i, (a, b) in enumerate(zip(reference, test)) if a != b), min(len(reference), len(test)))


@dataclass(frozen=True)
class Spread:
    """Median and spread of repeated measurements; quote the median with its IQR.

    `samples` keeps the measured values in the order they were taken: they reach asv as the
    benchmark's repeat samples (benchmarks/common.track), so the alerts' significance tests see
    every repeat and not only the median."""
    median: float
    q1: float
    q3: float
    minimum: float
    maximum: float
    n: int
    samples: tuple[float, ...] = ()

    @classmethod
    def of(cls, values: Sequence[float]) -> "Spread":
        kept = tuple(float(v) for v in values if v == v)  # drop NaN
        vals = sorted(kept)
        if not vals:
            nan = float("nan")
            return cls(nan, nan, nan, nan, nan, 0)
        if len(vals) == 1:
            return cls(vals[0], vals[0], vals[0], vals[0], vals[0], 1, kept)
        q1, _, q3 = statistics.quantiles(vals, n=4, method="inclusive")
        return cls(statistics.median(vals), q1, q3, vals[0], vals[-1], len(vals), kept)

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def cv(self) -> float:
        """Coefficient of variation of the samples (sample standard deviation over the mean);
        NaN with fewer than two samples."""
        if len(self.samples) < 2:
            return float("nan")
        return statistics.stdev(self.samples) / statistics.fmean(self.samples)
