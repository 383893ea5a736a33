"""How far from the device's limits a configuration runs: decode MBU and prefill MFU.

Decode is bound by memory bandwidth: every step reads the weights once for the whole batch and
each sequence's KV cache up to its context. Bytes read per generated token are
    weight bytes / concurrent sequences + KV bytes per context position x mean context,
with the mean context over requests = prompt length + output tokens / 2 (the context grows by one
per step). MBU = bytes per token x output tokens/s / peak bandwidth. As in gpt-fast, tokens/s is
the whole generation's (prefill included) and the weight bytes are every parameter's, embedding
table included (gpt-fast's model_size); the KV term is added here, gpt-fast leaves it out.
Prefill MFU = prompt FLOPs of one batch (PaLM counting as in train/flops: 2 per weight per token
plus attention at the prompt length, no causal discount) / that batch's time to first token /
peak FLOP/s; the first token's decode step is inside that time.

Peaks: GPUs from the vendors' datasheets (exact model names, train/flops.device_model). A CPU has
no datasheet figure the suite can trust, so its peaks are measured once per machine and cached:
a STREAM-style copy (bytes read + bytes written per second) and a square matmul in the run's dtype.
"""
from __future__ import annotations

import json
import statistics
import time
from typing import Sequence

from bench_lib import config
from bench_lib.train import flops

# HBM/GDDR peak bandwidth, bytes/s, from the vendors' datasheets.
PEAK_BANDWIDTH = {
    "H100 PCIe": 2.0e12,
    "H100 NVL": 3.9e12,
    "H100": 3.35e12,           # SXM
    "H200": 4.8e12,
    "GH200": 4.0e12,           # 96 GB HBM3 version
    "A100": 1.555e12,          # 40 GB
    "A100 SXM4 80GB": 2.039e12,
    "A100 80GB PCIe": 1.935e12,
    "L40S": 864e9,
    "L40": 864e9,
    "L4": 300e9,
    "A10G": 600e9,
    "A10": 600e9,
    "RTX 4090": 1008e9,
    "RTX 3090": 936e9,
}
_COPY_BYTES = 256 * 2**20
_MATMUL_N = 1024


def mbu(bytes_per_token: float, tokens_per_s: float, peak_bytes_per_s: float) -> float:
    return bytes_per_token * tokens_per_s / peak_bytes_per_s


def kv_bytes_per_position(cfg, element_bytes: float) -> float:
    """Keys and values of one context position in every layer."""
    heads = cfg.num_attention_heads
    kv = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    return 2 * cfg.num_hidden_layers * kv * head_dim * element_bytes


def decode_bytes_per_token(weight_bytes: float, kv_per_position: float, mean_context: float,
                           concurrent: int) -> float:
    return weight_bytes / concurrent + kv_per_position * mean_context


def mean_context(prompt_lengths: Sequence[int], output_tokens: Sequence[int]) -> float:
    return statistics.fmean(p + n / 2 for p, n in zip(prompt_lengths, output_tokens))


def prefill_flops(cfg, prompt_lengths: Sequence[int]) -> float:
    """Forward FLOPs of the prompts: 2 per matmul weight per token, attention at each prompt's length."""
    weights = 2 * flops.linear_params(cfg)
    return float(sum(n * (weights + flops.attention_flops_per_token(cfg, n)) for n in prompt_lengths))


def prefill_flops_per_s(cfg, prompt_lengths: Sequence[int], first_token_s: Sequence[float], batch_size: int,
                        sequential: bool) -> float:
    """Median over batches of the batch's prompt FLOPs / its first request's time to first token.
    A sequential engine (one request after another) prefills only the first prompt in that time."""
    rates = []
    for i in range(0, len(prompt_lengths), batch_size):
        prompts = prompt_lengths[i:i + 1] if sequential else prompt_lengths[i:i + batch_size]
        if first_token_s[i] > 0:
            rates.append(prefill_flops(cfg, prompts) / first_token_s[i])
    return statistics.median(rates) if rates else float("nan")


# --- peaks ----------------------------------------------------------------------------------------

def _gpu_name(device: str) -> str:
    import torch

    return torch.cuda.get_device_name(device)


def peak_bandwidth(device: str) -> tuple[float | None, str]:
    """(bytes/s, where the figure comes from); None with the reason where it is unknown."""
    if device.startswith("cuda"):
        name = _gpu_name(device)
        key = flops.device_model(name, PEAK_BANDWIDTH)
        if key is None:
            return None, f"no datasheet bandwidth for {name!r} in roofline.PEAK_BANDWIDTH"
        return PEAK_BANDWIDTH[key], f"datasheet ({key})"
    return cpu_peaks()["copy_bytes_per_s"], "measured copy bandwidth (cached per machine)"


def peak_flops(device: str, dtype: str) -> tuple[float | None, str]:
    if device.startswith("cuda"):
        value = flops.peak_flops(device, dtype)
        if value is None:
            return None, f"no 16-bit datasheet peak for {_gpu_name(device)!r} in {dtype}"
        return value, "datasheet dense 16-bit tensor peak"
    return cpu_peaks(dtype)[f"matmul_flops_per_s_{dtype}"], f"measured {_MATMUL_N}^2 {dtype} matmul (cached per machine)"


def _cache_path():
    import torch

    from bench_lib.fingerprint import _slug, cpu_model

    return config.cache_dir() / "roofline" / f"{_slug(cpu_model())}-{torch.get_num_threads()}threads.json"


def measure_copy_bandwidth(repeats: int = 5) -> float:
    """Best of `repeats` copies of 256 MiB: (read + written bytes) / seconds, STREAM's copy count."""
    import torch

    src = torch.ones(_COPY_BYTES // 4, dtype=torch.float32)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - t0)
    return 2 * _COPY_BYTES / best


def measure_matmul_flops(dtype: str, repeats: int = 5) -> float:
    import torch

    from bench_lib.models import torch_dtype

    a = torch.randn(_MATMUL_N, _MATMUL_N).to(torch_dtype(dtype))
    b = torch.randn(_MATMUL_N, _MATMUL_N).to(torch_dtype(dtype))
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * _MATMUL_N**3 / best


def cpu_peaks(dtype: str = "float32") -> dict:
    """The machine's measured CPU peaks, measured on first use and kept in the cache directory."""
    path = _cache_path()
    data = json.loads(path.read_text()) if path.exists() else {}
    key = f"matmul_flops_per_s_{dtype}"
    changed = False
    if "copy_bytes_per_s" not in data:
        data["copy_bytes_per_s"] = measure_copy_bandwidth()
        changed = True
    if key not in data:
        data[key] = measure_matmul_flops(dtype)
        changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1))
    return data


# --- one generation result ----------------------------------------------------------------------

_ELEMENT_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
# llama-cpp-python's default KV-cache type (type_k = type_v = f16).
_LLAMACPP_KV_BYTES = 2


def config_weight_count(cfg) -> int:
    """Matmul weights plus the input embedding where it is not tied to the LM head."""
    tied = getattr(cfg, "tie_word_embeddings", False)
    return flops.linear_params(cfg) + (0 if tied else cfg.vocab_size * cfg.hidden_size)


def engine_facts(engine, cfg, dtype: str) -> dict:
    """Weight bytes, KV bytes per element and whether requests run one after another, per engine:
    an in-process torch model counts its parameters, llama.cpp its GGUF file, others the config."""
    import os

    model = getattr(engine, "model", None)
    if model is not None and hasattr(model, "parameters"):
        params = list(model.parameters())
        weight = sum(p.numel() * p.element_size() for p in params)
        kv = params[0].element_size() if params else _ELEMENT_BYTES[dtype]
    elif getattr(engine, "gguf_path", None):
        weight, kv = os.path.getsize(engine.gguf_path), _LLAMACPP_KV_BYTES
    else:
        weight, kv = config_weight_count(cfg) * _ELEMENT_BYTES[dtype], _ELEMENT_BYTES[dtype]
    return {"weight_bytes": float(weight), "kv_element_bytes": float(kv),
            "sequential": bool(getattr(engine, "sequential", False))}


def generation_metrics(cfg, facts: dict, prompt_lengths: Sequence[int], output_lengths: Sequence[int],
                       first_token_s: Sequence[float], tokens_per_s: float, batch_size: int,
                       peak_bytes_per_s: float | None, peak_flops_per_s: float | None) -> dict[str, float]:
    concurrent = 1 if facts["sequential"] else batch_size
    per_token = decode_bytes_per_token(facts["weight_bytes"], kv_bytes_per_position(cfg, facts["kv_element_bytes"]),
                                       mean_context(prompt_lengths, output_lengths), concurrent)
    rate = prefill_flops_per_s(cfg, prompt_lengths, first_token_s, batch_size, facts["sequential"])
    out = {"decode_bytes_per_token": per_token, "decode_bytes_per_s": per_token * tokens_per_s,
           "prefill_flops_per_s": rate}
    if peak_bytes_per_s:
        out["decode_mbu"] = mbu(per_token, tokens_per_s, peak_bytes_per_s)
    if peak_flops_per_s:
        out["prefill_mfu"] = rate / peak_flops_per_s
    return out
