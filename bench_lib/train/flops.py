"""Model FLOPs of a train step, and peak FLOP/s for MFU.

Counting follows PaLM (appendix B) and nanoGPT: a matmul weight costs 2 FLOPs per token
forward; attention's score and value products cost 4·L·H·Q·T per token forward (T the
sequence length, no causal discount); backward costs twice the forward. Deviation for PEFT:
a frozen weight needs only its input gradient, so it costs 4 instead of 6 FLOPs per token,
and an adapter's trainable parameters are counted at 6. VeRA's shared A (r x in) and B (out x r)
projections are frozen matmuls run in every adapted layer, 2·r·(in+out) FLOPs per token forward,
counted at 4 like every frozen weight. Gradient checkpointing's recomputed forward is not
counted: MFU counts the model's FLOPs, not the hardware's.
"""
from __future__ import annotations

# Dense (non-sparse) 16-bit tensor-core peaks from the vendors' datasheets, FLOP/s, keyed by the
# model as it appears in torch's device name ("NVIDIA H100 80GB HBM3" -> "H100"); see device_model.
PEAK_BF16_FLOPS = {
    "H100 PCIe": 756e12,
    "H100 NVL": 835e12,
    "H100": 989.4e12,          # SXM ("NVIDIA H100 80GB HBM3")
    "H200": 989.4e12,
    "GH200": 989.4e12,
    "A100": 312e12,
    "L40S": 362.05e12,
    "L40": 181.05e12,
    "L4": 121e12,
    "A10G": 70e12,
    "A10": 125e12,
    "RTX 4090": 165.2e12,
    "RTX 3090": 71e12,
}


def linear_params(config) -> int:
    """Matmul weights of a Llama-style decoder (Qwen3, Llama, Mistral) including the LM head."""
    h, layers = config.hidden_size, config.num_hidden_layers
    heads, kv = config.num_attention_heads, getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or h // heads
    attn = h * heads * head_dim * 2 + h * kv * head_dim * 2          # q, o; k, v
    mlp = 3 * h * config.intermediate_size                             # gate, up, down
    return layers * (attn + mlp) + h * config.vocab_size


def attention_flops_per_token(config, seq_len: int) -> int:
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return 4 * config.num_hidden_layers * heads * head_dim * seq_len


def vera_projection_params(model) -> int:
    """Sum over VeRA-adapted layers of r·(in + out): the entries of the frozen shared A and B each
    layer multiplies by (peft keeps one copy, every layer runs it)."""
    total = 0
    for module in model.modules():
        lam = getattr(module, "vera_lambda_d", None)
        if not lam:
            continue
        for key, vec in lam.items():
            total += vec.numel() * (module.in_features + module.out_features)
    return total


def train_flops_per_step(config, batch: int, seq_len: int, full_finetune: bool, trainable_params: int,
                         frozen_adapter_params: int = 0) -> float:
    """`frozen_adapter_params`: frozen matmul entries an adapter adds per token (VeRA's projections)."""
    tokens = batch * seq_len
    attention = 3 * attention_flops_per_token(config, seq_len)
    if full_finetune:
        weights = 6 * linear_params(config)
    else:
        weights = 4 * (linear_params(config) + frozen_adapter_params) + 6 * trainable_params
    return float(tokens * (weights + attention))


def device_model(name: str, table: dict) -> str | None:
    """The key of `table` that names this device's model: the whole word after the vendor, so an
    "NVIDIA L40" is an L40, never an L4, and an "H100 PCIe" is not the SXM "H100". The longest
    key that matches on word boundaries wins."""
    words = name.replace("-", " ").split()
    hits = []
    for key in table:
        kw = key.split()
        for i in range(len(words) - len(kw) + 1):
            if [w.upper() for w in words[i:i + len(kw)]] == [k.upper() for k in kw]:
                hits.append(key)
                break
    return max(hits, key=len) if hits else None


def peak_flops(device: str, dtype: str) -> float | None:
    """The device's 16-bit tensor peak, or None where it is unknown (CPU, fp32, unlisted GPU)."""
    if not device.startswith("cuda") or dtype not in ("bfloat16", "float16"):
        return None
    import torch

    key = device_model(torch.cuda.get_device_name(device), PEAK_BF16_FLOPS)
    return PEAK_BF16_FLOPS[key] if key else None
