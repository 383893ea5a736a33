"""Scheme name → (module, variant). Modules are imported only when their scheme runs, so a missing
optional package skips only the schemes that need it.

Adding a scheme = one module with `quantize(spec, variant, ctx) -> base.Quantized` and
`versions() -> dict` (the libraries whose version keys the cache), plus one entry here.
See pow2.py for a worked example.
"""
from __future__ import annotations

import importlib

from bench_lib.quant.base import SchemeUnavailable

SCHEMES = {
    "none": ("bench_lib.quant.none", ""),            # the unquantized reference, sized and scored like the rest
    "bnb-int8": ("bench_lib.quant.bnb", "int8"),
    "bnb-nf4": ("bench_lib.quant.bnb", "nf4"),
    "bnb-nf4-dq": ("bench_lib.quant.bnb", "nf4-dq"),
    "bnb-fp4": ("bench_lib.quant.bnb", "fp4"),
    "bnb-fp4-dq": ("bench_lib.quant.bnb", "fp4-dq"),
    "quanto-int8": ("bench_lib.quant.quanto", "int8"),
    "quanto-int4": ("bench_lib.quant.quanto", "int4"),
    "quanto-int2": ("bench_lib.quant.quanto", "int2"),   # the harsh end of the damage ladder
    "quanto-w8a8": ("bench_lib.quant.quanto", "w8a8"),
    "smoothquant-w8a8": ("bench_lib.quant.smoothquant", "w8a8"),
    "ptq-int4": ("bench_lib.quant.qat", "ptq"),
    "qat-int4": ("bench_lib.quant.qat", "qat"),
    "pow2-int4": ("bench_lib.quant.pow2", "int4"),
    "gptq-int4": ("bench_lib.quant.gptq_awq", "gptq"),
    "awq-int4": ("bench_lib.quant.gptq_awq", "awq"),
    "gguf-q8_0": ("bench_lib.quant.gguf", "Q8_0"),
    "gguf-q6_k": ("bench_lib.quant.gguf", "Q6_K"),
    "gguf-q5_k_m": ("bench_lib.quant.gguf", "Q5_K_M"),
    "gguf-q4_k_m": ("bench_lib.quant.gguf", "Q4_K_M"),
    "gguf-q4_0": ("bench_lib.quant.gguf", "Q4_0"),
    "gguf-q2_k": ("bench_lib.quant.gguf", "Q2_K"),
}
# The smoke tier's default: the reference and one scheme of each family (every module above),
# so a per-commit run covers every code path at a quarter of the configurations; the regular and
# full tiers run every scheme. BENCH_QUANT_SCHEMES overrides both.
SMOKE_SCHEMES = ("none", "bnb-nf4", "quanto-int4", "smoothquant-w8a8", "qat-int4", "pow2-int4", "gptq-int4",
                 "gguf-q4_k_m")


def scheme_module(name: str):
    """(module, variant) of a scheme; SchemeUnavailable when its package is missing."""
    if name not in SCHEMES:
        raise KeyError(f"unknown quantization scheme {name!r}; known schemes: {', '.join(SCHEMES)}")
    module, variant = SCHEMES[name]
    try:
        return importlib.import_module(module), variant
    except ImportError as exc:
        raise SchemeUnavailable(f"scheme {name!r} needs a package that is not installed: {exc}") from exc
