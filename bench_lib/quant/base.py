"""What every scheme returns, and the measurements that need nothing scheme-specific."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class SchemeUnavailable(NotImplementedError):
    """The scheme cannot run here (package missing, no CUDA, no weights); says why and what fixes it.
    A NotImplementedError, so asv shows the combination as skipped."""


class ArtifactError(ValueError):
    """A quantized file that cannot be used (corrupt, truncated, wrong format); names the file and the fix."""


@dataclass
class Quantized:
    scheme: str
    engine: str                      # "hf": `model` runs on the HF engine; "llamacpp": `path` is a GGUF file
    weight_bytes: int                # bytes of every stored weight tensor, scales and zero points included
    model: object = None
    path: Path | None = None
    info: dict = field(default_factory=dict)   # library versions and scheme settings, for the record


def tensor_bytes(model) -> int:
    """Bytes of the model's state: parameters and buffers, inner tensors of quantized tensor
    subclasses included, each storage counted once (tied embeddings share one)."""
    seen: dict[tuple[int, int], int] = {}

    def add(t) -> None:
        flatten = getattr(t, "__tensor_flatten__", None)
        if flatten is not None and type(t).__name__ not in ("Tensor", "Parameter"):
            names, _ = flatten()
            for name in names:
                add(getattr(t, name))
            return
        n = t.numel() * t.element_size()
        seen[(t.data_ptr(), n)] = n

    for value in model.state_dict(keep_vars=True).values():
        add(value.data if hasattr(value, "data") and type(value).__name__ == "Parameter" else value)
    return sum(seen.values())


def parameter_count(model) -> int:
    """Weights of the unquantized model, each shared tensor counted once (the bits/weight denominator)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


@dataclass
class Context:
    """What a scheme may use besides the model: where it runs and calibration text."""
    device: str
    dtype: str
    calibration: object              # [n_windows, n_ctx] token ids from the train split (numpy)
    train_steps: int = 20            # fine-tuning steps of the QAT / PTQ pair
    workdir: Path | None = None      # where a scheme that makes files (GGUF) writes them
