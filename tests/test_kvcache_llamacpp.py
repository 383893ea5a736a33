"""llama.cpp KV-cache types: the ggml block formula matches the size llama.cpp reports, and
q4_0 < q8_0 < f16."""
import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

from bench_lib.kvspec import kvcache_llamacpp as kl  # noqa: E402
from bench_lib.models import get_spec, load_config  # noqa: E402

N_CTX = 256
slow = pytest.mark.slow  # loads the embedded model's GGUF in llama.cpp


@pytest.fixture(scope="module")
def sizes():
    text_config = load_config(get_spec("tiny-qwen3")).get_text_config()
    out = {}
    for kv_type in ("f16", "q8_0", "q4_0"):
        eng, cells, reported = kl.load_with_report(get_spec("tiny-qwen3"), kv_type, N_CTX)
        eng.close()
        out[kv_type] = (kl.expected_bytes(kv_type, text_config, cells), reported, cells)
    return out


@slow
def test_formula_matches_llamacpp_report(sizes):
    for kv_type, (expected, reported, cells) in sizes.items():
        assert cells >= N_CTX
        assert reported is not None, "llama.cpp did not print its KV-cache size; the log format changed"
        # llama.cpp prints K and V in MiB with two decimals each.
        assert abs(expected - reported) <= 2 * 0.005 * 2**20, kv_type


@slow
def test_4bit_below_8bit_below_16bit(sizes):
    assert sizes["q4_0"][0] < sizes["q8_0"][0] < sizes["f16"][0]


def test_unknown_type_is_named():
    with pytest.raises(KeyError, match="q4_0"):
        kl.expected_bytes("q3_k", load_config(get_spec("tiny-qwen3")), 256)
