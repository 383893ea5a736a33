"""Decode MBU and prefill MFU on hand-computed cases; the CPU peaks are measured and cached."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench_lib.measure import roofline

# 2 layers, 4 heads of 8 (hidden 32), 2 KV heads, MLP 64, vocab 100, tied embeddings.
CFG = SimpleNamespace(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      head_dim=8, intermediate_size=64, vocab_size=100, tie_word_embeddings=True)


def test_kv_bytes_per_position():
    # keys + values, 2 layers x 2 KV heads x 8 dims, 2 bytes
    assert roofline.kv_bytes_per_position(CFG, 2) == 2 * 2 * 2 * 8 * 2 == 128


def test_decode_bytes_per_token_shares_weights_across_the_batch():
    assert roofline.decode_bytes_per_token(1000, 128, 10.5, concurrent=4) == 250 + 1344


def test_mean_context_is_prompt_plus_half_the_output():
    assert roofline.mean_context([10, 20], [4, 8]) == ((10 + 2) + (20 + 4)) / 2


def test_mbu_by_hand():
    # 2 GB per token at 100 tokens/s over a 4 TB/s device
    assert roofline.mbu(2e9, 100, 4e12) == pytest.approx(0.05)


def test_prefill_flops_by_hand():
    # linear: 2*(32*32*2 + 32*16*2 + 3*32*64) + 32*100 = 2*(2048 + 1024 + 6144) + 3200 = 21632
    # attention at n=3: 4*2*4*8*3 = 768 per token -> 3 * (2*21632 + 768)
    assert roofline.prefill_flops(CFG, [3]) == 3 * (2 * 21632 + 768)


def test_prefill_rate_per_batch_and_sequential_engines():
    one = roofline.prefill_flops(CFG, [3])
    # two batches of two prompts of 3 tokens; first requests' TTFT 1 s and 2 s
    parallel = roofline.prefill_flops_per_s(CFG, [3, 3, 3, 3], [1.0, 1.0, 2.0, 2.0], 2, sequential=False)
    assert parallel == pytest.approx((2 * one / 1 + 2 * one / 2) / 2)
    sequential = roofline.prefill_flops_per_s(CFG, [3, 3, 3, 3], [1.0, 1.5, 2.0, 2.5], 2, sequential=True)
    assert sequential == pytest.approx((one / 1 + one / 2) / 2)


def test_generation_metrics_by_hand():
    facts = {"weight_bytes": 1000.0, "kv_element_bytes": 2.0, "sequential": False}
    out = roofline.generation_metrics(CFG, facts, [10, 20], [4, 8], [1.0, 1.0], tokens_per_s=50.0, batch_size=2,
                                      peak_bytes_per_s=1e6, peak_flops_per_s=None)
    per_token = 1000 / 2 + 128 * 18
    assert out["decode_bytes_per_token"] == per_token
    assert out["decode_mbu"] == pytest.approx(per_token * 50 / 1e6)
    assert "prefill_mfu" not in out


def test_config_weight_count_adds_an_untied_embedding():
    untied = SimpleNamespace(**{**vars(CFG), "tie_word_embeddings": False})
    assert roofline.config_weight_count(untied) - roofline.config_weight_count(CFG) == 100 * 32


def test_datasheet_bandwidth_uses_exact_names():
    from bench_lib.train.flops import device_model

    assert roofline.PEAK_BANDWIDTH[device_model("NVIDIA L40", roofline.PEAK_BANDWIDTH)] == 864e9
    assert device_model("NVIDIA A100-SXM4-80GB", roofline.PEAK_BANDWIDTH) == "A100 SXM4 80GB"
    assert device_model("NVIDIA A100-SXM4-40GB", roofline.PEAK_BANDWIDTH) == "A100"


def test_cpu_peaks_are_measured_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    first = roofline.cpu_peaks("float32")
    assert first["copy_bytes_per_s"] > 0 and first["matmul_flops_per_s_float32"] > 0
    assert roofline.cpu_peaks("float32") == first  # read back, not measured again
    assert len(list((tmp_path / "roofline").iterdir())) == 1


@pytest.mark.slow  # loads the embedded model
def test_hf_engine_facts_count_its_parameters(hf_engine):
    from bench_lib.models import get_spec, load_config

    eng = hf_engine
    facts = roofline.engine_facts(eng, load_config(get_spec("tiny-qwen3")), "float32")
    assert facts["weight_bytes"] == 4 * sum(p.numel() for p in eng.model.parameters())
    assert facts["kv_element_bytes"] == 4 and facts["sequential"] is False


@pytest.mark.slow  # loads the embedded model
def test_inference_rows_carry_mbu_and_prefill_mfu_on_cpu():
    from bench_lib import inference

    m = inference.inference_result("tiny-qwen3", "arc", 1)["metrics"]
    assert 0 < m["decode_mbu"] < 1.5 and m["prefill_mfu"] > 0
    assert m["decode_bytes_per_s"] == pytest.approx(m["decode_bytes_per_token"] * m["output_tokens_per_s"])


@pytest.mark.slow  # loads the embedded model
def test_train_step_has_mfu_on_cpu():
    from bench_lib.train import cases as cases_train

    m = cases_train.step_result("tiny-qwen3", "lora", "2x32", save=False)["metrics"]
    assert m["train_mfu"] > 0


@pytest.mark.slow  # loads the embedded model
def test_llamacpp_rows_count_the_gguf_and_run_sequentially():
    pytest.importorskip("llama_cpp")
    import os

    from bench_lib import resources
    from bench_lib.engines import cases as cases_engines

    out = cases_engines.engine_inference_result("tiny-qwen3", "arc", 2, "llamacpp")
    from bench_lib.models import get_spec, load_config

    eng = resources.engine("llamacpp", get_spec("tiny-qwen3"), "cpu", "float32")  # the one just measured

    facts = roofline.engine_facts(eng, load_config(get_spec("tiny-qwen3")), "float32")
    assert facts == {"weight_bytes": float(os.path.getsize(eng.gguf_path)), "kv_element_bytes": 2.0, "sequential": True}
    m = out["metrics"]
    assert m["decode_mbu"] > 0 and "cuda_max_allocated_bytes" not in m
