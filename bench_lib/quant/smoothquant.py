"""SmoothQuant (Xiao et al., 2023): move activation outliers into the weights, then W8A8.

For each linear group that reads a normalized input (q/k/v after input_layernorm, gate/up after
post_attention_layernorm), per input channel j: s_j = max|X_j|^α / max|W_j|^(1-α), with max|X_j|
from a calibration pass and max|W_j| over the group's weights. The norm's weight is divided by s
and the weights' input columns multiplied by s: the fp model computes the same function, but the
activations are flatter and quantize better. Then int8 weights and int8 activations (optimum-quanto,
calibrated on the same text). α = 0.5 as in the paper's default. o_proj and down_proj are left as
they are: no norm precedes them to absorb the scale (the paper smooths the same two groups).
"""
from __future__ import annotations

from bench_lib.models import load_model
from bench_lib.quant import quanto
from bench_lib.quant.base import Quantized, SchemeUnavailable, tensor_bytes

ALPHA = 0.5
GROUPS = (("input_layernorm", ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")),
          ("post_attention_layernorm", ("mlp.gate_proj", "mlp.up_proj")))


def versions() -> dict:
    return {"smoothquant": "1"} | quanto.versions()


def _get(module, dotted: str):
    for part in dotted.split("."):
        module = getattr(module, part)
    return module


def activation_maxima(model, windows, device: str) -> dict:
    """max |x_j| over calibration tokens of the input of each smoothed group, per layer."""
    import torch

    maxima, hooks = {}, []
    for i, layer in enumerate(model.model.layers):
        for norm_name, linears in GROUPS:
            key = (i, norm_name)

            def record(mod, args, key=key):
                x = args[0].detach().abs().reshape(-1, args[0].shape[-1]).amax(dim=0).float()
                maxima[key] = torch.maximum(maxima[key], x) if key in maxima else x

            hooks.append(_get(layer, linears[0]).register_forward_pre_hook(record))
    try:
        with torch.no_grad():
            for w in windows:
                model(input_ids=torch.as_tensor(w, device=device)[None], use_cache=False)
    finally:
        for h in hooks:
            h.remove()
    return maxima


def smooth(model, maxima: dict, alpha: float = ALPHA) -> None:
    import torch

    with torch.no_grad():
        for i, layer in enumerate(model.model.layers):
            for norm_name, linears in GROUPS:
                norm, mods = getattr(layer, norm_name), [_get(layer, n) for n in linears]
                w_max = torch.stack([m.weight.abs().amax(dim=0).float() for m in mods]).amax(dim=0)
                s = (maxima[(i, norm_name)].pow(alpha) / w_max.pow(1 - alpha)).clamp(min=1e-5)
                norm.weight.div_(s.to(norm.weight.dtype))
                for m in mods:
                    m.weight.mul_(s.to(m.weight.dtype))


def quantize(spec, variant: str, ctx) -> Quantized:
    model = load_model(spec, ctx.device, ctx.dtype)
    if not all(hasattr(model.model.layers[0], n) for n, _ in GROUPS):
        raise SchemeUnavailable(f"{spec.name}: SmoothQuant here knows Llama/Qwen-style decoder layers "
                                f"(input_layernorm, post_attention_layernorm); {type(model).__name__} has other names")
    smooth(model, activation_maxima(model, ctx.calibration, ctx.device))
    model = quanto.quantize_model(model, "w8a8", ctx.calibration, ctx.device)
    return Quantized("smoothquant-w8a8", "hf", tensor_bytes(model), model=model, info={"alpha": ALPHA} | versions())


runtime = quanto.runtime
