"""KV-cache types for transformers: the quantized cache's backends, their stored bytes, and the
logits a model produces when it decodes through them.

transformers 5.x has one `QuantizedCache(backend=...)`: "quanto" and "hqq" quantize group-wise
with a full-precision residual window (KIVI-style: the last `residual_length` tokens stay
unquantized, and every `residual_length` steps the whole cache is re-quantized), "fp8" stores
float8_e4m3 with one frozen per-tensor scale. A prefill returns the unquantized keys and values,
so quantization only acts on tokens read back from the cache during decoding.
"""
from __future__ import annotations

import importlib.util
import math
from typing import Sequence

import numpy as np

# Defaults of transformers' group-wise layers, stated here so the byte formula and the docs say them.
GROUP_SIZE = 64
RESIDUAL_LENGTH = 128

# name → QuantizedCache arguments (None: the model's own DynamicCache, the reference).
KV_TYPES: dict[str, dict | None] = {
    "dynamic": None,
    "quanto-int4": {"backend": "quanto", "nbits": 4},
    "quanto-int2": {"backend": "quanto", "nbits": 2},
    "hqq-int4": {"backend": "hqq", "nbits": 4},
    "hqq-int8": {"backend": "hqq", "nbits": 8},
    "fp8": {"backend": "fp8"},
}
_PACKAGES = {"quanto": ("optimum.quanto", "optimum-quanto"), "hqq": ("hqq", "hqq")}


def kv_config(kv_type: str) -> dict | None:
    """The QuantizedCache arguments of `kv_type`; NotImplementedError when its package is missing."""
    if kv_type not in KV_TYPES:
        raise KeyError(f"unknown KV-cache type {kv_type!r}; known types: {', '.join(KV_TYPES)}")
    cfg = KV_TYPES[kv_type]
    if cfg is None:
        return None
    module, dist = _PACKAGES.get(cfg["backend"], (None, None))
    if module and importlib.util.find_spec(module.split(".")[0]) is None:
        raise NotImplementedError(f"KV cache {kv_type!r} needs {dist}: "
                                  f"pip install -c .venv/constraints.txt {dist}")
    if cfg["backend"] == "fp8":
        if not fp8_backend_available():
            import transformers

            raise NotImplementedError(f"KV cache {kv_type!r} needs a transformers with QuantizedCache's fp8 backend "
                                      f"(Fp8QuantizedLayer); this is transformers {transformers.__version__}: "
                                      "install the lock's version")
        return dict(cfg)  # per-tensor: takes no group-wise arguments
    return {**cfg, "q_group_size": GROUP_SIZE, "residual_length": RESIDUAL_LENGTH}


def fp8_backend_available() -> bool:
    """Whether the installed transformers has QuantizedCache's fp8 backend (older 5.x releases,
    5.17.0 for one, know only quanto and hqq)."""
    from transformers import cache_utils

    return hasattr(cache_utils, "Fp8QuantizedLayer")


def generate_kwargs(kv_type: str) -> dict:
    """Arguments for `model.generate` that give each call a fresh cache of this type."""
    cfg = kv_config(kv_type)
    return {} if cfg is None else {"cache_implementation": "quantized", "cache_config": cfg}


def make_cache(kv_type: str, model):
    from transformers import DynamicCache, QuantizedCache

    cfg = kv_config(kv_type)
    return DynamicCache(config=model.config) if cfg is None else QuantizedCache(config=model.config, **cfg)


# --- bytes ------------------------------------------------------------------------------------

def _tensors(x, out: dict) -> None:
    """Every plain tensor inside x (quantized tensor subclasses are opened through
    __tensor_flatten__, the hook torch gives subclasses for exactly this); keyed by storage so a
    view counted twice is counted once."""
    import torch

    if isinstance(x, torch.Tensor):
        if type(x) is not torch.Tensor and hasattr(x, "__tensor_flatten__"):
            names, _ = x.__tensor_flatten__()
            for name in names:
                _tensors(getattr(x, name), out)
        else:
            out[(x.untyped_storage().data_ptr(), x.storage_offset(), x.dtype, tuple(x.shape))] = x.numel() * x.element_size()
    elif isinstance(x, (tuple, list)):
        for y in x:
            _tensors(y, out)
    elif isinstance(x, dict):
        for y in x.values():
            _tensors(y, out)


def stored_bytes(cache) -> int:
    """Bytes the cache holds: quantized data, scales, zero points and the residual window."""
    found: dict = {}
    for layer in cache.layers:
        for attr in ("keys", "values", "_quantized_keys", "_quantized_values"):
            _tensors(getattr(layer, attr, None), found)
    return sum(found.values())


def token_split(kv_type: str, n_prefill: int, n_decode: int) -> tuple[int, int]:
    """(quantized, full-precision) tokens after a prefill of n_prefill and n_decode one-token steps.
    Group-wise backends quantize the prefill at once, then keep up to residual_length - 1 decoded
    tokens in full precision and fold them in when the window fills."""
    cfg = KV_TYPES[kv_type]
    if cfg is None:
        return 0, n_prefill + n_decode
    if cfg["backend"] == "fp8":
        return n_prefill + n_decode, 0
    residual = n_decode % RESIDUAL_LENGTH
    return n_prefill + n_decode - residual, residual


def expected_bytes(kv_type: str, text_config, batch: int, n_prefill: int, n_decode: int, dtype_bytes: int) -> int:
    """Cache bytes from shapes and dtypes alone: per layer, keys and values of
    batch × kv_heads × head_dim elements per token; b-bit data plus one scale and one zero point
    (model dtype) per group; fp8 has one float32 scale per tensor."""
    heads = text_config.num_key_value_heads
    head_dim = getattr(text_config, "head_dim", None) or text_config.hidden_size // text_config.num_attention_heads
    per_token = batch * heads * head_dim
    quantized, residual = token_split(kv_type, n_prefill, n_decode)
    cfg = KV_TYPES[kv_type]
    if cfg is None:
        one = residual * per_token * dtype_bytes
    elif cfg["backend"] == "fp8":
        one = quantized * per_token + 4
    else:
        n = quantized * per_token
        one = math.ceil(n * cfg["nbits"] / 8) + 2 * math.ceil(n / GROUP_SIZE) * dtype_bytes + residual * per_token * dtype_bytes
    return 2 * text_config.num_hidden_layers * one


# --- logits through a cache --------------------------------------------------------------------

def decode_logits_fn(model, kv_type: str):
    """A bench_lib.quality logits function that prefills the first half of a window (the part
    quality.py does not score) and then feeds the scored half one token at a time through a cache
    of `kv_type`: each scored token is predicted from keys and values read back from that cache.
    The reference is the same procedure with "dynamic", so only the cache differs."""
    import torch

    device = next(model.parameters()).device

    @torch.inference_mode()
    def logits(ids: Sequence[int]) -> np.ndarray:
        ids = torch.as_tensor(np.asarray(ids), dtype=torch.long, device=device)[None]
        cache = make_cache(kv_type, model)
        half = ids.shape[1] // 2
        rows = [model(input_ids=ids[:, :half], past_key_values=cache, use_cache=True).logits[0]]
        for pos in range(half, ids.shape[1]):
            rows.append(model(input_ids=ids[:, pos:pos + 1], past_key_values=cache, use_cache=True).logits[0])
        return torch.cat(rows).float().cpu().numpy()

    return logits
