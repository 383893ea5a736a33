"""Size-tiered defaults of the train suite, read from the same BENCH_PROFILE as everything else.

BENCH_SEEDS        seeds per fine-tune configuration (default 1 in the smoke tier; 3 in the regular and full tiers)
BENCH_TRAIN_SHAPES batch×sequence shapes of the step grid, e.g. "1x128,4x256"
BENCH_TRAIN_METHODS methods of the grids (default: every registered method), e.g. "lora,dora"
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from bench_lib import config


@dataclass(frozen=True)
class TrainTier:
    shapes: tuple[str, ...]      # "batch x sequence length" of the step benchmark
    steps: int                   # K: fine-tune steps before scoring
    finetune_shape: str          # batch × sequence of the fine-tune
    step_repeats: int            # measured steps; medians are reported
    step_warmup: int             # unmeasured steps first (optimizer state, allocator)
    seeds: int


TIERS = {
    "smoke": TrainTier(("2x64", "4x128"), steps=12, finetune_shape="4x128", step_repeats=3, step_warmup=1, seeds=1),
    "regular": TrainTier(("1x256", "4x512"), steps=100, finetune_shape="8x256", step_repeats=5, step_warmup=2, seeds=3),
    "full": TrainTier(("1x512", "4x1024", "8x2048"), steps=300, finetune_shape="8x512", step_repeats=10,
                      step_warmup=3, seeds=3),
}


def tier() -> TrainTier:
    return TIERS[config.profile().name]


def parse_shape(shape: str) -> tuple[int, int]:
    try:
        batch, seq = (int(x) for x in shape.lower().split("x"))
    except ValueError:
        raise config.ConfigError(f"shape {shape!r} is not 'BATCHxSEQ' (for example 4x128)") from None
    if batch < 1 or seq < 8:
        raise config.ConfigError(f"shape {shape!r}: batch must be >= 1 and sequence length >= 8")
    return batch, seq


def shapes() -> tuple[str, ...]:
    out = config.env_choices("BENCH_TRAIN_SHAPES", tier().shapes, what="shape")
    for s in out:
        parse_shape(s)
    return out


def seeds() -> tuple[int, ...]:
    raw = os.environ.get("BENCH_SEEDS")
    try:
        n = int(raw) if raw else tier().seeds
    except ValueError:
        raise config.ConfigError(f"BENCH_SEEDS={raw!r} is not a number of seeds; use e.g. BENCH_SEEDS=3") from None
    if n < 1:
        raise config.ConfigError(f"BENCH_SEEDS={raw!r}: need at least one seed")
    return tuple(range(n))


def methods() -> tuple[str, ...]:
    from bench_lib.train.methods import METHODS

    return config.env_choices("BENCH_TRAIN_METHODS", METHODS, allowed=METHODS, what="method")
