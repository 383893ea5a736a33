"""bitsandbytes: LLM.int8 (vector-wise int8 with fp16 outlier columns) and 4-bit NF4 / FP4 with
optional double quantization of the block scales. Quantized at load, as users run it
(`from_pretrained(quantization_config=BitsAndBytesConfig(...))`). bitsandbytes >= 0.45 has a
CPU backend, so these run here too; lm_head and the tied embeddings stay unquantized (its default)."""
from __future__ import annotations

from bench_lib.models import load_model, torch_dtype
from bench_lib.quant.base import Quantized, SchemeUnavailable, tensor_bytes

VARIANTS = {
    "int8": {"load_in_8bit": True},
    "nf4": {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"},
    "nf4-dq": {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True},
    "fp4": {"load_in_4bit": True, "bnb_4bit_quant_type": "fp4"},
    "fp4-dq": {"load_in_4bit": True, "bnb_4bit_quant_type": "fp4", "bnb_4bit_use_double_quant": True},
}


def versions() -> dict:
    import bitsandbytes

    return {"bitsandbytes": bitsandbytes.__version__}


def quantize(spec, variant: str, ctx) -> Quantized:
    from transformers import BitsAndBytesConfig

    spec.require_weight_files("bitsandbytes (it quantizes while loading)", SchemeUnavailable)
    kwargs = dict(VARIANTS[variant])
    if kwargs.get("load_in_4bit"):
        kwargs["bnb_4bit_compute_dtype"] = torch_dtype(ctx.dtype)
    model = load_model(spec, ctx.device, ctx.dtype, quantization_config=BitsAndBytesConfig(**kwargs))
    return Quantized(f"bnb-{variant}", "hf", tensor_bytes(model), model=model, info=kwargs | versions())
