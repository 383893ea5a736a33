"""Hugging Face causal LM → GGUF (F32/F16/BF16) with the `gguf` package's writer, tokenizer included,
so llama.cpp runs the very same weights and token ids as the HF engine.

Tensors are streamed: the header is written from shapes alone, then each tensor is loaded,
converted and written, so an 8B model never sits in memory twice. 1-D tensors (norms) stay F32,
as llama.cpp expects. Cached files are keyed by the model files' contents, the output type, the
exporter version and the gguf package version. Beside each cached file, `<file>.check` records its
size and sha256 when it is written; a file that no longer matches (overwritten bytes, truncated,
no record) is exported again, with a line on stderr saying why.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from pathlib import Path

from bench_lib.models import ModelSpec

EXPORTER_VERSION = "1"
OUT_TYPES = ("f32", "f16", "bf16")

# HF architecture → (llama.cpp architecture, whether q/k rows need llama.cpp's rotary layout).
# HF Llama checkpoints store q/k with the two rotary halves split per head; llama.cpp's llama
# graph rotates adjacent pairs, so those rows are interleaved back. Qwen3's graph uses the
# split-half (NeoX) layout, so its weights go in unchanged.
ARCHITECTURES = {
    "Qwen3ForCausalLM": ("qwen3", False),
    "LlamaForCausalLM": ("llama", True),
    "MistralForCausalLM": ("llama", True),
}


class GGUFExportError(ValueError):
    """The model cannot be exported; the message names the model and what to do."""


def model_dir(spec: ModelSpec) -> Path:
    """Directory holding config.json, safetensors weights and the tokenizer of `spec`."""
    spec.require_weight_files("GGUF export", GGUFExportError)
    if spec.needs_hub and not Path(spec.location).is_dir():
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(spec.location, allow_patterns=["*.json", "*.safetensors", "*.jinja"]))
    return Path(spec.location)


def _weight_files(src: Path) -> list[Path]:
    files = sorted(src.glob("*.safetensors"))
    if not files:
        raise GGUFExportError(f"no *.safetensors weights in {src}; save the model with "
                              "save_pretrained(..., safe_serialization=True)")
    return files


def _rope_theta(cfg: dict) -> float:
    rope = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    return float(rope.get("rope_theta", cfg.get("rope_theta", 10000.0)))


def _llama3_rope_factors(cfg: dict, head_dim: int):
    """Per-frequency divisors of Llama 3.x's rope scaling (long wavelengths stretched by `factor`,
    short ones kept, a smooth blend between), written as llama.cpp's rope_freqs tensor."""
    import numpy as np

    rope = cfg.get("rope_parameters") or cfg.get("rope_scaling")
    factor, low, high = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"]
    old_ctx = rope["original_max_position_embeddings"]
    out = []
    for i in range(0, head_dim, 2):
        wavelen = 2 * math.pi * _rope_theta(cfg) ** (i / head_dim)
        if wavelen < old_ctx / high:
            out.append(1.0)
        elif wavelen > old_ctx / low:
            out.append(factor)
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.asarray(out, dtype=np.float32)


def _write_hparams(writer, cfg: dict, arch: str, out_type: str, name: str):
    import gguf

    n_head = cfg["num_attention_heads"]
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // n_head
    writer.add_name(name)
    writer.add_context_length(cfg["max_position_embeddings"])
    writer.add_embedding_length(cfg["hidden_size"])
    writer.add_block_count(cfg["num_hidden_layers"])
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(cfg.get("num_key_value_heads") or n_head)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(_rope_theta(cfg))
    writer.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    writer.add_vocab_size(cfg["vocab_size"])
    writer.add_file_type({"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                          "bf16": gguf.LlamaFileType.MOSTLY_BF16}[out_type])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    rope_type = (cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}).get("rope_type", "default")
    if rope_type == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(cfg["rope_parameters"]["factor"])
    elif rope_type not in ("default", "llama3"):
        raise GGUFExportError(f"{name}: rope_type {rope_type!r} is not supported by this exporter "
                              "(supported: default, linear, llama3)")
    return rope_type, head_dim


def _pre_tokenizer(tok_json: dict, cfg: dict, name: str) -> str:
    """llama.cpp's name for the pre-tokenizer regex. A plain ByteLevel pre-tokenizer with its
    built-in regex is GPT-2's: that covers locally trained byte-level BPE tokenizers, whose hash
    llama.cpp's own converter does not know."""
    pre = tok_json.get("pre_tokenizer") or {}
    if pre.get("type") == "ByteLevel" and pre.get("use_regex", True):
        return "gpt-2"
    family = {"qwen2": "qwen2", "qwen3": "qwen2", "llama": "llama-bpe"}.get(cfg.get("model_type"))
    if family is None:
        raise GGUFExportError(f"{name}: the tokenizer's pre-tokenizer is not recognized; supported: byte-level "
                              "BPE (gpt-2), Qwen2/3 (qwen2), Llama 3 (llama-bpe)")
    return family


def _write_tokenizer(writer, src: Path, cfg: dict, name: str) -> None:
    import gguf
    from transformers import AutoTokenizer

    tok_file = src / "tokenizer.json"
    if not tok_file.exists():
        raise GGUFExportError(f"{name}: no tokenizer.json in {src}; only fast (tokenizers) BPE tokenizers are "
                              "exported (SentencePiece models such as Mistral v0.3 are not supported)")
    tok_json = json.loads(tok_file.read_text())
    if tok_json["model"]["type"] != "BPE":
        raise GGUFExportError(f"{name}: tokenizer model {tok_json['model']['type']!r} is not supported (BPE only)")
    tok = AutoTokenizer.from_pretrained(src)
    vocab = {i: t for t, i in tok.get_vocab().items()}
    added = tok.added_tokens_decoder
    if max(vocab) + 1 > cfg["vocab_size"]:
        raise GGUFExportError(f"{name}: the tokenizer has ids up to {max(vocab)} but the model's embedding has "
                              f"{cfg['vocab_size']} rows; tokenizer and weights in {src} do not belong together")
    n_vocab = cfg["vocab_size"]
    tokens, types = [], []
    for i in range(n_vocab):
        if i not in vocab:  # embedding rows beyond the tokenizer: padding the model never emits
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        else:
            tokens.append(vocab[i])
            types.append(gguf.TokenType.CONTROL if i in added and added[i].special
                         else gguf.TokenType.USER_DEFINED if i in added else gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok_json["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer(tok_json, cfg, name))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    if tok.bos_token_id is not None:
        writer.add_bos_token_id(tok.bos_token_id)
    writer.add_add_bos_token(bool(tok.bos_token_id is not None and tok("a")["input_ids"][:1] == [tok.bos_token_id]))
    writer.add_eos_token_id(tok.eos_token_id)
    if tok.pad_token_id is not None:
        writer.add_pad_token_id(tok.pad_token_id)
    if tok.chat_template:
        writer.add_chat_template(tok.chat_template)


def _interleave_rotary(w, n_heads: int):
    """HF split-half rotary rows → llama.cpp's adjacent-pair rows, per head."""
    rows = w.shape[0]
    return w.reshape(n_heads, 2, rows // n_heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _tensor_plan(src: Path, cfg: dict, arch: str, permute: bool):
    """[(gguf name, file, hf name, transform)] in write order."""
    import gguf
    from safetensors import safe_open

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], cfg["num_hidden_layers"])
    plan = []
    for file in _weight_files(src):
        with safe_open(file, framework="pt") as f:
            for hf_name in f.keys():
                if hf_name.endswith("rotary_emb.inv_freq"):
                    continue  # recomputed by llama.cpp from rope_freq_base
                if hf_name == "lm_head.weight" and cfg.get("tie_word_embeddings"):
                    continue  # llama.cpp falls back to token_embd when output is absent
                new = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
                if new is None:
                    raise GGUFExportError(f"tensor {hf_name!r} has no GGUF name for architecture {arch}")
                heads = None
                if permute and hf_name.endswith("self_attn.q_proj.weight"):
                    heads = cfg["num_attention_heads"]
                elif permute and hf_name.endswith("self_attn.k_proj.weight"):
                    heads = cfg.get("num_key_value_heads") or cfg["num_attention_heads"]
                plan.append((new, file, hf_name, heads))
    return plan


def _convert(tensor, out_type: str):
    """torch tensor → (numpy array to write, raw gguf type or None)."""
    import gguf
    import numpy as np
    import torch

    if tensor.ndim <= 1 or out_type == "f32":
        return tensor.to(torch.float32).numpy(), None
    if out_type == "f16":
        return tensor.to(torch.float16).numpy(), None
    bits = tensor.to(torch.bfloat16).contiguous().view(torch.int16).numpy().view(np.uint16)
    return bits, gguf.GGMLQuantizationType.BF16


def export_gguf(spec: ModelSpec, out_path: Path, out_type: str = "f32") -> Path:
    """Write `spec` (a registry model or saved HF directory) to `out_path` as GGUF; returns out_path."""
    import gguf
    import numpy as np
    import torch
    from safetensors import safe_open

    if out_type not in OUT_TYPES:
        raise GGUFExportError(f"out_type {out_type!r} is not one of {', '.join(OUT_TYPES)}")
    src = model_dir(spec)
    cfg = json.loads((src / "config.json").read_text())
    arch_name = (cfg.get("architectures") or ["?"])[0]
    if arch_name not in ARCHITECTURES:
        raise GGUFExportError(f"{spec.name!r}: architecture {arch_name} is not supported for GGUF export; "
                              f"supported: {', '.join(ARCHITECTURES)}")
    arch, permute = ARCHITECTURES[arch_name]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    writer = gguf.GGUFWriter(tmp, arch)
    try:
        rope_type, head_dim = _write_hparams(writer, cfg, arch, out_type, spec.name)
        _write_tokenizer(writer, src, cfg, spec.name)
        extra = []
        if rope_type == "llama3":
            factors = _llama3_rope_factors(cfg, head_dim)
            extra.append(("rope_freqs.weight", factors))
            writer.add_tensor_info("rope_freqs.weight", factors.shape, factors.dtype, factors.nbytes)
        plan = _tensor_plan(src, cfg, arch, permute)
        for new, file, hf_name, _ in plan:  # header first: shapes and sizes without loading data
            with safe_open(file, framework="pt") as f:
                shape = f.get_slice(hf_name).get_shape()
            ndim = len(shape)
            item = 4 if ndim <= 1 or out_type == "f32" else 2
            raw = gguf.GGMLQuantizationType.BF16 if item == 2 and out_type == "bf16" else None
            dtype = np.dtype(np.float32 if item == 4 else np.float16 if raw is None else np.uint16)
            writer.add_tensor_info(new, shape, dtype, int(np.prod(shape)) * item, raw_dtype=raw)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for _, data in extra:
            writer.write_tensor_data(data)
        for new, file, hf_name, heads in plan:
            with safe_open(file, framework="pt") as f:
                t = f.get_tensor(hf_name)
            if heads is not None:
                t = _interleave_rotary(t, heads)
            data, _ = _convert(t, out_type)
            writer.write_tensor_data(np.ascontiguousarray(data))
        writer.close()
        os.replace(tmp, out_path)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return out_path


def _files_digest(src: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(q for q in src.iterdir() if q.is_file() and not q.name.startswith(".")):
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 24), b""):
                h.update(block)
    return h.hexdigest()[:16]


def cached_gguf(spec: ModelSpec, out_type: str = "f32") -> Path:
    """The GGUF of `spec` under cache_dir()/gguf, exported on first use."""
    import gguf

    from bench_lib import artifact_check, config

    if out_type not in OUT_TYPES:
        raise GGUFExportError(f"out_type {out_type!r} is not one of {', '.join(OUT_TYPES)}")
    src = model_dir(spec)
    version = getattr(gguf, "__version__", None) or _gguf_version()
    key = f"{_files_digest(src)}-x{EXPORTER_VERSION}-gguf{version}"
    safe_name = spec.name.strip("/").replace("/", "--").replace(":", "-")[-80:]
    path = config.cache_dir() / "gguf" / f"{safe_name}-{out_type}-{key}.gguf"
    problem = artifact_check.verify(path) if path.exists() else None
    if problem:
        print(f"llm-bench: rebuilding {path}: {problem}", file=sys.stderr)
        path.unlink(missing_ok=True)
    if problem or not path.exists():
        export_gguf(spec, path, out_type)
        artifact_check.record(path)
    return path


def _gguf_version() -> str:
    from importlib.metadata import version

    return version("gguf")
