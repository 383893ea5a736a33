"""GGUF export: the file holds the HF weights, hyperparameters and tokenizer llama.cpp needs.
Running the exported file in llama.cpp is checked in test_llamacpp_engine.py / test_engines_parity.py."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from bench_lib import gguf_export  # noqa: E402
from bench_lib.models import EMBEDDED_DIR, get_spec  # noqa: E402

slow = pytest.mark.slow  # exports the embedded model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    path = tmp_path_factory.mktemp("gguf") / "tiny-f32.gguf"
    return gguf.GGUFReader(gguf_export.export_gguf(get_spec("tiny-qwen3"), path, "f32"))


def _field(reader, key):
    return reader.fields[key].contents()


@slow
def test_hyperparameters_follow_the_config(exported):
    cfg = json.loads((EMBEDDED_DIR / "tiny-qwen3" / "config.json").read_text())
    assert _field(exported, "general.architecture") == "qwen3"
    assert _field(exported, "qwen3.block_count") == cfg["num_hidden_layers"]
    assert _field(exported, "qwen3.embedding_length") == cfg["hidden_size"]
    assert _field(exported, "qwen3.attention.head_count_kv") == cfg["num_key_value_heads"]
    assert _field(exported, "qwen3.attention.key_length") == cfg["head_dim"]


@slow
def test_tokenizer_is_declared_gpt2_with_specials(exported):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(EMBEDDED_DIR / "tiny-qwen3")
    tokens = _field(exported, "tokenizer.ggml.tokens")
    types = _field(exported, "tokenizer.ggml.token_type")
    assert _field(exported, "tokenizer.ggml.pre") == "gpt-2"
    assert _field(exported, "tokenizer.ggml.model") == "gpt2"
    for text, i in tok.get_vocab().items():
        assert tokens[i] == text
    assert types[tok.eos_token_id] == gguf.TokenType.CONTROL
    assert types[tok.convert_tokens_to_ids("<|im_start|>")] == gguf.TokenType.CONTROL
    assert _field(exported, "tokenizer.ggml.eos_token_id") == tok.eos_token_id
    assert _field(exported, "tokenizer.ggml.padding_token_id") == tok.pad_token_id
    assert _field(exported, "tokenizer.chat_template") == tok.chat_template
    assert len(_field(exported, "tokenizer.ggml.merges")) > 0


@slow
def test_weights_are_the_hf_weights(exported):
    from safetensors.numpy import load_file

    hf = load_file(EMBEDDED_DIR / "tiny-qwen3" / "model.safetensors")
    tensors = {t.name: t for t in exported.tensors}
    assert "output.weight" not in tensors  # tied embeddings: llama.cpp reuses token_embd
    pairs = {"token_embd.weight": "model.embed_tokens.weight",
             "blk.1.attn_q.weight": "model.layers.1.self_attn.q_proj.weight",
             "blk.1.attn_k_norm.weight": "model.layers.1.self_attn.k_norm.weight",
             "blk.3.ffn_down.weight": "model.layers.3.mlp.down_proj.weight"}
    for ours, theirs in pairs.items():
        np.testing.assert_array_equal(np.asarray(tensors[ours].data).reshape(hf[theirs].shape), hf[theirs])


@slow
def test_f16_and_bf16_halve_the_matrices(tmp_path):
    f16 = gguf.GGUFReader(gguf_export.export_gguf(get_spec("tiny-qwen3"), tmp_path / "a.gguf", "f16"))
    bf16 = gguf.GGUFReader(gguf_export.export_gguf(get_spec("tiny-qwen3"), tmp_path / "b.gguf", "bf16"))
    kinds = {t.name: t.tensor_type for t in f16.tensors}
    assert kinds["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.F16
    assert kinds["blk.0.attn_norm.weight"] == gguf.GGMLQuantizationType.F32  # norms stay F32
    assert {t.name: t.tensor_type for t in bf16.tensors}["blk.0.ffn_up.weight"] == gguf.GGMLQuantizationType.BF16


def test_llama_rows_are_interleaved_per_head():
    import torch

    w = torch.arange(2 * 8 * 3).reshape(16, 3)  # 2 heads of 8 rows: halves [0:4] and [4:8]
    out = gguf_export._interleave_rotary(w, 2)
    assert out[:, 0].tolist()[:8] == [0, 12, 3, 15, 6, 18, 9, 21]  # head 0: rows 0,4,1,5,2,6,3,7


@slow
def test_cache_is_keyed_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    model = tmp_path / "model"
    shutil.copytree(EMBEDDED_DIR / "tiny-qwen3", model)
    first = gguf_export.cached_gguf(get_spec(str(model)), "f16")
    mtime = first.stat().st_mtime_ns
    assert gguf_export.cached_gguf(get_spec(str(model)), "f16") == first and first.stat().st_mtime_ns == mtime
    (model / "generation_config.json").write_text((model / "generation_config.json").read_text() + "\n")
    assert gguf_export.cached_gguf(get_spec(str(model)), "f16") != first


def test_bad_input_gets_a_clear_error(tmp_path):
    with pytest.raises(gguf_export.GGUFExportError, match="architecture-only"):
        gguf_export.export_gguf(get_spec("arch:Qwen/Qwen3-8B"), tmp_path / "x.gguf")
    with pytest.raises(gguf_export.GGUFExportError, match="out_type"):
        gguf_export.export_gguf(get_spec("tiny-qwen3"), tmp_path / "x.gguf", "q4")
    model = tmp_path / "gpt2ish"
    shutil.copytree(EMBEDDED_DIR / "tiny-qwen3", model)
    cfg = json.loads((model / "config.json").read_text())
    cfg["architectures"] = ["GPT2LMHeadModel"]
    (model / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(gguf_export.GGUFExportError, match="GPT2LMHeadModel is not supported"):
        gguf_export.export_gguf(get_spec(str(model)), tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()


@slow
def test_cache_rebuilds_a_damaged_or_truncated_file_and_says_so(tmp_path, monkeypatch, capfd):
    import os

    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    path = gguf_export.cached_gguf(get_spec("tiny-qwen3"), "f32")
    good = path.read_bytes()
    assert (path.parent / (path.name + ".check")).exists()
    capfd.readouterr()

    stamp = path.stat().st_mtime_ns
    assert gguf_export.cached_gguf(get_spec("tiny-qwen3"), "f32") == path and path.stat().st_mtime_ns == stamp
    assert "rebuilding" not in capfd.readouterr().err  # an intact file is reused

    with open(path, "r+b") as f:  # bytes overwritten in the middle: same size, other content
        f.seek(len(good) // 2)
        f.write(b"\xff" * 65536)
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    gguf_export.cached_gguf(get_spec("tiny-qwen3"), "f32")
    assert "sha256 differs" in capfd.readouterr().err
    assert path.read_bytes() == good

    path.write_bytes(good[: len(good) // 3])  # truncated
    gguf_export.cached_gguf(get_spec("tiny-qwen3"), "f32")
    assert "truncated" in capfd.readouterr().err
    assert path.read_bytes() == good

    (path.parent / (path.name + ".check")).unlink()  # a file nobody recorded (interrupted write)
    gguf_export.cached_gguf(get_spec("tiny-qwen3"), "f32")
    assert "no readable record" in capfd.readouterr().err
    assert path.read_bytes() == good
