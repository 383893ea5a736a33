"""Quantization-aware training against post-training quantization, head to head (torchao).

Both arms fine-tune the same model for the same K steps on the same training text (the tasks'
train split; never the evaluation text), same seed and learning rate. The PTQ arm trains plainly
and is then quantized; the QAT arm trains with fake int4 weights (torchao QATConfig "prepare")
and is then converted. Both end in the same real quantization: int4 weights, symmetric per group
of 32, in torchao's CPU-capable IntxWeightOnly layout. So the difference between the arms is
the fake-quant training alone. KLD is against the untouched reference, like every scheme, so it
includes the drift of the short fine-tune itself (the same for both arms); `own_reference` gives
the plainly fine-tuned fp model, and KLD against it (quant_kld_vs_own_fp) is the quantization
error alone.
torchao's CPU layout stores each int4 value in an int8, so weight bytes are those of 8-bit storage.
"""
from __future__ import annotations

from bench_lib.models import load_model
from bench_lib.quant.base import Quantized, tensor_bytes

GROUP_SIZE = 32
LEARNING_RATE = 1e-5
SEED = 0


def versions() -> dict:
    import torchao

    return {"torchao": torchao.__version__}


def base_config():
    import torch
    from torchao.quantization import IntxWeightOnlyConfig
    from torchao.quantization.granularity import PerGroup

    return IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerGroup(GROUP_SIZE))


def linear_not_head(module, fqn: str) -> bool:
    import torch

    return isinstance(module, torch.nn.Linear) and not fqn.endswith("lm_head")


def fine_tune(model, windows, steps: int, device: str) -> list[float]:
    import torch

    torch.manual_seed(SEED)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LEARNING_RATE)
    losses = []
    for step in range(steps):
        x = torch.as_tensor(windows[step % len(windows)], device=device)[None]
        loss = model(input_ids=x, labels=x, use_cache=False).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss))
    model.eval()
    return losses


def own_reference(spec, ctx):
    """The fp model both arms would be without quantization: the same plain fine-tune. KLD against
    it isolates the quantization error, which is the head-to-head question."""
    model = load_model(spec, ctx.device, "float32" if ctx.device == "cpu" else ctx.dtype)
    fine_tune(model, ctx.calibration, ctx.train_steps, ctx.device)
    return model


def convert(model, variant: str) -> None:
    from torchao.quantization import quantize_
    from torchao.quantization.qat import QATConfig

    config = QATConfig(base_config(), step="convert") if variant == "qat" else base_config()
    quantize_(model, config, filter_fn=linear_not_head)


def quantize(spec, variant: str, ctx) -> Quantized:
    from torchao.quantization import quantize_
    from torchao.quantization.qat import QATConfig

    model = load_model(spec, ctx.device, "float32" if ctx.device == "cpu" else ctx.dtype)
    if variant == "qat":
        quantize_(model, QATConfig(base_config(), step="prepare"), filter_fn=linear_not_head)
    losses = fine_tune(model, ctx.calibration, ctx.train_steps, ctx.device)
    convert(model, variant)
    return Quantized(f"{variant}-int4", "hf", tensor_bytes(model), model=model,
                     info={"steps": ctx.train_steps, "lr": LEARNING_RATE, "group_size": GROUP_SIZE,
                           "final_loss": losses[-1] if losses else None} | versions())


def save(model, path) -> None:
    """torchao's quantized modules do not pickle; their state dict of tensor subclasses does."""
    import torch

    torch.save(model.state_dict(), path)


def load(path, spec, ctx):
    """Rebuild the quantized structure on a fresh model, then put the saved tensors in."""
    import torch
    from torchao.quantization import quantize_

    model = load_model(spec, ctx.device, "float32" if ctx.device == "cpu" else ctx.dtype)
    quantize_(model, base_config(), filter_fn=linear_not_head)
    model.load_state_dict(torch.load(path, weights_only=False, map_location=ctx.device), assign=True)
    return model.eval()
