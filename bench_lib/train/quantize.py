"""Quantized bases for QLoRA-style training, with bitsandbytes.

Real weights go through `from_pretrained(quantization_config=...)`, the path users run.
Architecture-only models have no checkpoint to load from, so their randomly initialised Linear
layers are swapped for bitsandbytes layers after the model is built on the device; the memory
of the result is that of a quantized model of the same shape, which is all they are for.
"""
from __future__ import annotations

from bench_lib.engines.base import EngineUnavailable
from bench_lib.models import ModelSpec, load_model, torch_dtype

SCHEMES = ("nf4", "fp4", "int8")


def _bnb():
    try:
        import bitsandbytes
    except ImportError as exc:
        raise EngineUnavailable(f"quantized bases need bitsandbytes, which is not importable: {exc}") from exc
    return bitsandbytes


def bnb_config(scheme: str, compute_dtype: str):
    """The BitsAndBytesConfig of a scheme: NF4 with double quantization (the QLoRA paper's
    recipe), FP4 without it, or LLM.int8()."""
    import torch
    from transformers import BitsAndBytesConfig

    _bnb()
    if scheme == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    if scheme not in ("nf4", "fp4"):
        raise ValueError(f"unknown quantized base {scheme!r}; use one of {', '.join(SCHEMES)}")
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=scheme, bnb_4bit_use_double_quant=scheme == "nf4",
                              bnb_4bit_compute_dtype=torch_dtype(compute_dtype) if compute_dtype else torch.float32)


def _quantized_linear(linear, scheme: str, compute_dtype, device):
    bnb = _bnb()
    has_bias = linear.bias is not None
    if scheme == "int8":
        layer = bnb.nn.Linear8bitLt(linear.in_features, linear.out_features, has_bias, has_fp16_weights=False,
                                    threshold=6.0, device="meta")
        # Int8Params quantizes only on a move away from the CPU, so the weight passes through it.
        layer.weight = bnb.nn.Int8Params(linear.weight.data.cpu(), requires_grad=False,
                                         has_fp16_weights=False).to(device)
    else:
        layer = bnb.nn.Linear4bit(linear.in_features, linear.out_features, has_bias, compute_dtype=compute_dtype,
                                  compress_statistics=scheme == "nf4", quant_type=scheme, device="meta")
        # Params4bit quantizes on its first .to(device), wherever the data already is.
        layer.weight = bnb.nn.Params4bit(linear.weight.data, requires_grad=False, compress_statistics=scheme == "nf4",
                                         quant_type=scheme).to(device)
    if has_bias:
        import torch

        layer.bias = torch.nn.Parameter(linear.bias.data.to(device), requires_grad=False)
    return layer


def quantize_linears(model, scheme: str, compute_dtype: str, device: str, skip=("lm_head",)):
    """Replace every nn.Linear (except `skip`, as from_pretrained does) by its bitsandbytes twin, in place."""
    import torch

    if scheme not in SCHEMES:
        raise ValueError(f"unknown quantized base {scheme!r}; use one of {', '.join(SCHEMES)}")
    # names, not modules: holding every Linear would keep all full-precision weights alive until
    # the end, where dropping each one as it is replaced keeps the peak near one model's size
    names = [name for name, mod in model.named_modules()
             if type(mod) is torch.nn.Linear and name.rsplit(".", 1)[-1] not in skip]
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, _quantized_linear(getattr(parent, child), scheme, torch_dtype(compute_dtype), device))
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return model


def load_quantized(spec: ModelSpec, scheme: str, device: str, dtype: str):
    if not spec.has_weight_files:  # bitsandbytes quantizes while loading saved weights
        return quantize_linears(load_model(spec, device, dtype), scheme, dtype, device)
    return load_model(spec, device, dtype, quantization_config=bnb_config(scheme, dtype))
