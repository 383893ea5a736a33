"""A researcher's own scheme, as the worked example of adding one: int4 weights whose per-group
scales are powers of two, so that dequantizing is an exponent shift instead of a multiply.

A scheme is two steps (the rest of the suite does timing, sizing and scoring):
1. `quantize_weight`: float weight → stored state (packed int4 codes + one int8 exponent per group);
2. `Pow2Linear`: the runtime module that computes with that state, swapped in for nn.Linear.
Then `quantize(spec, variant, ctx)` returns a `base.Quantized`, and one line in registry.SCHEMES
(`"pow2-int4": ("bench_lib.quant.pow2", "int4")`) makes it appear in every table and benchmark.

Scale choice: the smallest power of two 2^e with absmax / 2^e <= 7, so no code clips; codes are
round(w / 2^e) in [-8, 7]. Rounding the scale up costs up to one bit of resolution against a free
float scale: that is the accuracy this method trades for shift-only dequantization.
"""
from __future__ import annotations

import torch
from torch import nn

from bench_lib.models import load_model
from bench_lib.quant.base import Quantized, tensor_bytes

GROUP_SIZE = 32
QMAX = 7


def versions() -> dict:
    return {"pow2": "1"}


def quantize_weight(w: torch.Tensor, group: int = GROUP_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """(codes packed two per byte [out, in/2] uint8, exponents [out, in/group] int8)."""
    out_f, in_f = w.shape
    if in_f % group or group % 2:
        raise ValueError(f"pow2: input features {in_f} are not a multiple of the group size {group}")
    g = w.float().reshape(out_f, in_f // group, group)
    absmax = g.abs().amax(dim=-1).clamp(min=torch.finfo(torch.float32).tiny)
    exponent = torch.ceil(torch.log2(absmax / QMAX)).clamp(-127, 127)
    codes = torch.clamp(torch.round(g / torch.exp2(exponent)[..., None]), -8, QMAX).to(torch.int8)
    nibbles = (codes.reshape(out_f, in_f) & 0x0F).to(torch.uint8)
    return nibbles[:, 0::2] | (nibbles[:, 1::2] << 4), exponent.to(torch.int8)


def dequantize_weight(packed: torch.Tensor, exponent: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    low, high = (packed & 0x0F).to(torch.int8), (packed >> 4).to(torch.int8)
    codes = torch.stack([low, high], dim=-1).reshape(packed.shape[0], -1)
    codes = torch.where(codes > QMAX, codes - 16, codes)  # two's complement of a nibble
    groups = codes.reshape(codes.shape[0], exponent.shape[1], -1).to(dtype)
    return torch.ldexp(groups, exponent.to(torch.int32)[..., None].to(dtype)).reshape(codes.shape)


class Pow2Linear(nn.Module):
    def __init__(self, linear: nn.Linear):
        super().__init__()
        packed, exponent = quantize_weight(linear.weight.data)
        self.register_buffer("packed", packed)
        self.register_buffer("exponent", exponent)
        self.bias = linear.bias
        self.compute_dtype = linear.weight.dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = dequantize_weight(self.packed, self.exponent, self.compute_dtype)
        return nn.functional.linear(x, w, self.bias)


def convert(model: nn.Module) -> nn.Module:
    """Every nn.Linear except lm_head (tied to the embeddings) becomes a Pow2Linear."""
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.Linear) and not f"{name}.{child_name}".endswith("lm_head"):
                setattr(module, child_name, Pow2Linear(child))
    return model


def quantize(spec, variant: str, ctx) -> Quantized:
    model = convert(load_model(spec, ctx.device, ctx.dtype))
    return Quantized("pow2-int4", "hf", tensor_bytes(model), model=model, info={"group_size": GROUP_SIZE} | versions())
