"""The task protocol: rows in a hub schema → prompts → predictions → metric values."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence


class DataError(ValueError):
    """A task file or row that cannot be used; the message names the file, row and field."""


@dataclass(frozen=True)
class Example:
    id: str
    prompt: str            # the user turn, before the chat template
    reference: str         # the assistant turn a correct model would write (training target)
    gold: Any              # what `score` compares against
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class HubSource:
    path: str              # hub dataset id, or a local copy of that repository
    name: str | None       # dataset config
    splits: dict[str, str]  # our split name → the dataset's split name


class Task(Protocol):
    name: str
    hub: HubSource
    metric_names: tuple[str, ...]
    max_new_tokens: int    # enough for a well-formed answer
    asv_name: str          # prefix of its asv classes (ArcInference, ArcEngines)
    headline_metric: str   # the score reports and the quantization table judge it by
    finetune_metric: str   # the score the fine-tuning table shows
    inference_tracks: tuple[str, ...]  # metrics the inference class tracks (each with its interval)
    key_metrics: tuple[str, ...]       # tracked by the engine and fine-tuning classes, compared by quant

    def parse_row(self, row: dict, where: str) -> Example: ...

    def score(self, predictions: Sequence[str], examples: Sequence[Example]) -> dict[str, float]: ...


def require(row: dict, key: str, kind: type | tuple[type, ...], where: str):
    """row[key], checked for presence and type, or a DataError naming where it came from."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a record with fields, got {type(row).__name__}")
    if key not in row or row[key] is None:
        raise DataError(f"{where}: field {key!r} is missing (fields present: {', '.join(sorted(row))})")
    value = row[key]
    if not isinstance(value, kind):
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataError(f"{where}: field {key!r} should be {want}, got {type(value).__name__} {value!r:.60}")
    return value
