"""optimum-quanto: int8 / int4 / int2 weights (per-channel / group-wise, computed in the activation dtype)
and W8A8 (int8 weights and activations; activation scales from a calibration pass)."""
from __future__ import annotations

import functools

from bench_lib.models import load_model
from bench_lib.quant.base import Quantized, tensor_bytes

VARIANTS = {"int8": ("qint8", None), "int4": ("qint4", None), "int2": ("qint2", None), "w8a8": ("qint8", "qint8")}
# lm_head shares its weight with the embeddings in the embedded model; every HF-side scheme keeps
# it unquantized (bitsandbytes does by default), so sizes and KLD compare like for like.
EXCLUDE = ["lm_head"]


def versions() -> dict:
    from optimum.quanto import __version__

    return {"optimum-quanto": __version__}


def calibrate(model, windows, device: str) -> None:
    import torch
    from optimum.quanto import Calibration

    with torch.no_grad(), Calibration():
        for w in windows:
            model(input_ids=torch.as_tensor(w, device=device)[None], use_cache=False)


def runtime(model):
    """quanto's packed weights reject inference tensors ("Cannot set version_counter"), and the HF
    engine generates under torch.inference_mode: run the forward with it switched off (no_grad still)."""
    import torch

    forward = model.forward

    @functools.wraps(forward)
    def run(*args, **kwargs):
        with torch.inference_mode(False), torch.no_grad():
            return forward(*args, **kwargs)

    model.forward = run
    return model


def quantize_model(model, variant: str, calibration, device: str):
    import optimum.quanto as oq

    weights, activations = (getattr(oq, n) if n else None for n in VARIANTS[variant])
    oq.quantize(model, weights=weights, activations=activations, exclude=EXCLUDE)
    if activations is not None:
        calibrate(model, calibration, device)
    oq.freeze(model)
    return model


def quantize(spec, variant: str, ctx) -> Quantized:
    model = quantize_model(load_model(spec, ctx.device, ctx.dtype), variant, ctx.calibration, ctx.device)
    return Quantized(f"quanto-{variant}", "hf", tensor_bytes(model), model=model,
                     info={"weights": VARIANTS[variant][0], "activations": VARIANTS[variant][1]} | versions())
