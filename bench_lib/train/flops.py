"""Model FLOPs of a train step, and peak FLOP/s for MFU.

Counting follows PaLM (appendix B) and nanoGPT: a matmul weight costs 2 FLOPs per token
forward; attention's score and value products cost 4·L·H·Q·T per token forward (T the
sequence length, no causal discount); backward costs twice the forward. Deviation for PEFT:
a frozen weight needs only its input gradient, so it costs 4 instead of 6 FLOPs per token,
and an adapter's trainable parameters are counted at 6. Gradient checkpointing's recomputed
forward is not counted: MFU counts the model's FLOPs, not the hardware's.
"""
from __future__ import annotations

# Dense (non-sparse) 16-bit tensor-core peaks from the vendors' datasheets, FLOP/s; the first
# key found in torch's device name wins, so the more specific names come first.
PEAK_BF16_FLOPS = {
    "H100 PCIe": 756e12,
    "H100 NVL": 835e12,
    "H100": 989.4e12,          # SXM ("NVIDIA H100 80GB HBM3")
    "H200": 989.4e12,
    "GH200": 989.4e12,
    "A100": 312e12,
    "L40S": 362.05e12,
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


def train_flops_per_step(config, batch: int, seq_len: int, full_finetune: bool, trainable_params: int) -> float:
    tokens = batch * seq_len
    attention = 3 * attention_flops_per_token(config, seq_len)
    if full_finetune:
        weights = 6 * linear_params(config)
    else:
        weights = 4 * linear_params(config) + 6 * trainable_params
    return float(tokens * (weights + attention))


def peak_flops(device: str, dtype: str) -> float | None:
    """The device's 16-bit tensor peak, or None where it is unknown (CPU, fp32, unlisted GPU)."""
    if not device.startswith("cuda") or dtype not in ("bfloat16", "float16"):
        return None
    import torch

    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None)
