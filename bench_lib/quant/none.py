"""The unquantized model in the run's dtype: the reference row of every table."""
from __future__ import annotations

from bench_lib.models import load_model
from bench_lib.quant.base import Quantized, tensor_bytes


def versions() -> dict:
    return {}


def quantize(spec, variant: str, ctx) -> Quantized:
    model = load_model(spec, ctx.device, ctx.dtype)
    return Quantized("none", "hf", tensor_bytes(model), model=model, info={"dtype": ctx.dtype})
