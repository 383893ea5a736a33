"""llama.cpp engine: loads the exported GGUF, computes the HF model's logits (Qwen3 and Llama
layouts), follows the engine protocol, and fails clearly on bad input."""
from __future__ import annotations

import math
import shutil
import sys

import numpy as np
import pytest

from bench_lib.engines.base import EngineUnavailable
from bench_lib.models import EMBEDDED_DIR, get_spec

slow = pytest.mark.slow  # exports the embedded model to GGUF and runs it


def test_missing_package_is_engine_unavailable(monkeypatch):
    from bench_lib.engines import llamacpp

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import fails as if not installed
    with pytest.raises(EngineUnavailable, match="install_llamacpp.sh"):
        llamacpp.load(get_spec("tiny-qwen3"), "cpu", "float32")


@pytest.fixture(scope="module")
def llama_cpp():
    return pytest.importorskip("llama_cpp")


@pytest.fixture(scope="module")
def engine(llama_cpp):
    from bench_lib.engines.llamacpp import load

    eng = load(get_spec("tiny-qwen3"), "cpu", "float32", n_ctx=512)
    yield eng
    eng.close()


def _prompts():
    from bench_lib import resources
    from bench_lib.workloads.generate import encode_prompts

    return encode_prompts(resources.tokenizer_for(get_spec("tiny-qwen3")), resources.examples_for("squad", 3))


@slow
def test_decode_loop_matches_llama_generate_and_chunks_long_prompts(engine, llama_cpp):
    """The engine's C-level loop gives Llama.generate's greedy tokens; a prompt longer than
    n_batch is decoded in chunks, with the same result."""
    from bench_lib.engines.llamacpp import GREEDY, load

    prompts = _prompts()
    ours = engine.generate(prompts, 12).token_ids
    for prompt, ids in zip(prompts, ours):
        theirs = []
        for token in engine.llm.generate(list(prompt), reset=True, **GREEDY):
            theirs.append(int(token))
            if engine.is_eog(token) or len(theirs) == 12:
                break
        assert ids == theirs
    small = load(get_spec("tiny-qwen3"), "cpu", "float32", n_ctx=512, n_batch=16)
    try:
        assert max(len(p) for p in prompts) > 16
        assert small.generate(prompts, 12).token_ids == ours
    finally:
        small.close()


@slow
def test_ignore_eos_decodes_the_full_length(engine):
    prompts = _prompts()
    out = engine.generate(prompts, 30, ignore_eos=True)
    assert [len(ids) for ids in out.token_ids] == [30] * len(prompts)
    assert any(engine.is_eog(x) for ids in out.token_ids for x in ids)  # it did decode past an EOS


@slow
def test_generate_follows_the_protocol(engine):
    prompts = _prompts()
    out = engine.generate(prompts, 12)
    assert len(out.token_ids) == len(out.timings) == 3
    previous_finish = 0.0
    for ids, t in zip(out.token_ids, out.timings):
        assert 1 <= len(ids) <= 12 and t.output_tokens == len(ids)
        assert engine.is_eog(ids[-1]) or len(ids) == 12
        assert not any(engine.is_eog(x) for x in ids[:-1])
        # Sequential batch: each request starts after the previous one finished.
        assert previous_finish <= t.first_token_s <= t.finish_s <= out.wall_s
        previous_finish = t.finish_s
    report = out.engine_report
    assert report["batch_semantics"] == "sequential"
    assert report["prompt_tokens"] == sum(len(p) for p in prompts)
    assert report["prompt_eval_ms"] > 0 and len(report["request_service_s"]) == 3
    assert out.token_ids == engine.generate(prompts, 12).token_ids  # greedy: repeatable


def _hf_logits(model_dir, ids):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    with torch.inference_mode():
        return model(torch.tensor([ids])).logits[0].numpy()


def _llamacpp_logits(llama_cpp, gguf_path, ids):
    # F32 KV cache: llama.cpp's default F16 cache alone moves logits by ~1e-3, hiding what this checks.
    llm = llama_cpp.Llama(model_path=str(gguf_path), n_ctx=256, logits_all=True, verbose=False,
                          type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32)
    try:
        llm.eval(ids)
        return np.array(llm.scores[: len(ids)])
    finally:
        llm.close()


@slow
def test_qwen3_logits_match_hf(llama_cpp, tmp_path):
    from bench_lib.gguf_export import export_gguf

    ids = _prompts()[0][:48]
    path = export_gguf(get_spec("tiny-qwen3"), tmp_path / "q.gguf", "f32")
    ours, ref = _llamacpp_logits(llama_cpp, path, ids), _hf_logits(EMBEDDED_DIR / "tiny-qwen3", ids)
    assert np.abs(ours - ref).max() < 1e-3 * max(1.0, np.abs(ref).max())


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    """A random 2-layer Llama with sharp attention (large q/k weights), so that a wrong rotary
    row layout changes the logits a lot."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    src = EMBEDDED_DIR / "tiny-qwen3"
    out = tmp_path_factory.mktemp("tiny-llama")
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(src / name, out / name)
    vocab = len(__import__("json").loads((src / "tokenizer.json").read_text())["model"]["vocab"])
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      tie_word_embeddings=False, eos_token_id=2, pad_token_id=0, bos_token_id=None)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.normal_(0, 0.5)
            layer.self_attn.k_proj.weight.normal_(0, 0.5)
    model.save_pretrained(out)
    return out


@slow
def test_llama_logits_match_hf_and_need_the_row_permutation(llama_cpp, tiny_llama, tmp_path, monkeypatch):
    from bench_lib import gguf_export

    ids = _prompts()[0][:40]
    ref = _hf_logits(tiny_llama, ids)
    ours = _llamacpp_logits(llama_cpp, gguf_export.export_gguf(get_spec(str(tiny_llama)), tmp_path / "l.gguf"), ids)
    scale = max(1.0, np.abs(ref).max())
    assert np.abs(ours - ref).max() < 1e-3 * scale
    # Without the permutation the same check must fail: the test can tell the layouts apart.
    monkeypatch.setitem(gguf_export.ARCHITECTURES, "LlamaForCausalLM", ("llama", False))
    wrong = _llamacpp_logits(llama_cpp, gguf_export.export_gguf(get_spec(str(tiny_llama)), tmp_path / "w.gguf"), ids)
    assert np.abs(wrong - ref).max() > 1e-2 * scale, np.abs(wrong - ref).max()


def test_missing_and_corrupt_gguf_are_clear_errors(llama_cpp, tmp_path):
    from bench_lib.engines.llamacpp import load

    with pytest.raises(FileNotFoundError, match="does not exist"):
        load(get_spec("tiny-qwen3"), "cpu", "float32", gguf_path=tmp_path / "none.gguf")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ValueError, match="could not load"):
        load(get_spec("tiny-qwen3"), "cpu", "float32", gguf_path=bad)


@slow
def test_context_overflow_is_a_clear_error(engine):
    with pytest.raises(ValueError, match="n_ctx"):
        engine.generate([[5] * 500], 100)


@slow
def test_engine_generation_benchmark(benchmark, llama_cpp):
    from bench_lib.engines import cases as cases_engines

    fn = cases_engines.engine_generation_callable("tiny-qwen3", "arc", 4, "llamacpp")
    run = benchmark.pedantic(fn, rounds=3, warmup_rounds=1)
    assert run.output_tokens > 0 and not math.isnan(run.wall_s)
