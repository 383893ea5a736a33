"""vLLM's fp8 KV cache: bytes from shapes agree with vLLM's own allocation, fp8 holds a quarter
of the fp32 cache, the unquantized cache is its own reference (KLD exactly 0) and fp8 is not.
The measuring part needs vLLM (this interpreter or .venv-vllm) and skips without it."""
from types import SimpleNamespace

import pytest

from bench_lib.kvspec import kvcache_vllm

CONFIG = SimpleNamespace(num_hidden_layers=4, num_key_value_heads=2, head_dim=64, hidden_size=256,
                         num_attention_heads=4)


def test_expected_bytes_follow_dtype_and_whole_blocks():
    fp32 = kvcache_vllm.expected_bytes("auto", CONFIG, 256, "float32", 128)
    assert fp32 == 2 * 4 * 2 * 64 * 4 * 256
    assert kvcache_vllm.expected_bytes("fp8_e4m3", CONFIG, 256, "float32", 128) * 4 == fp32
    assert kvcache_vllm.expected_bytes("auto", CONFIG, 256, "bfloat16", 128) * 2 == fp32
    # 129 tokens occupy two blocks of 128
    assert kvcache_vllm.expected_bytes("auto", CONFIG, 129, "float32", 128) == fp32


@pytest.fixture(scope="module")
def grid(vllm_python):
    return kvcache_vllm.grid(["tiny-qwen3"], ["fp8_e4m3", "auto"], [256])


@pytest.mark.slow
def test_fp8_cache_bytes_and_quality_against_auto(grid):
    auto = grid[("tiny-qwen3", "auto", 256)]["result"]["metrics"]
    fp8 = grid[("tiny-qwen3", "fp8_e4m3", 256)]["result"]["metrics"]
    for m in (auto, fp8):
        assert m["kvspec_cache_bytes"] == m["kvspec_cache_bytes_engine"]
        assert m["kvspec_decode_tokens_per_s"] > 0
    assert fp8["kvspec_cache_bytes"] * 4 == auto["kvspec_cache_bytes"]  # fp32 model: 4 bytes → 1
    assert auto["quality_kld_mean"] == 0.0 and auto["kvspec_greedy_agreement"] == 1.0
    assert fp8["quality_kld_mean"] > 0.0 and fp8["quality_same_top_p"] < 1.0
