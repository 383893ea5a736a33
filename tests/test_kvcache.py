"""KV-cache types: stored bytes equal the shape/dtype formula, 4-bit < 8-bit < 16-bit, and the
quality comparison sees the full-precision cache as identical and a 2-bit cache as different."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from bench_lib import models, quality  # noqa: E402
from bench_lib.kvspec import kvcache, kvdecode  # noqa: E402

PREFILL, DECODE = 256, 3
slow = pytest.mark.slow  # fills caches from the embedded model


@pytest.fixture(scope="module")
def bf16_model():
    return models.load_model(models.get_spec("tiny-qwen3"), "cpu", "bfloat16")


@pytest.fixture(scope="module")
def tokenizer(tiny_tokenizer):
    return tiny_tokenizer


def _filled_cache(model, tokenizer, kv_type):
    try:
        cache = kvcache.make_cache(kv_type, model)
    except NotImplementedError as exc:
        pytest.skip(str(exc))
    ids = torch.tensor([kvdecode.long_prompt(tokenizer, PREFILL + DECODE)])
    with torch.inference_mode():
        model(input_ids=ids[:, :PREFILL], past_key_values=cache, use_cache=True)
        for pos in range(PREFILL, PREFILL + DECODE):
            model(input_ids=ids[:, pos:pos + 1], past_key_values=cache, use_cache=True)
    return cache


@slow
@pytest.mark.parametrize("kv_type", list(kvcache.KV_TYPES))
def test_stored_bytes_equal_formula(bf16_model, tokenizer, kv_type):
    cache = _filled_cache(bf16_model, tokenizer, kv_type)
    assert cache.get_seq_length() == PREFILL + DECODE
    expected = kvcache.expected_bytes(kv_type, bf16_model.config, 1, PREFILL, DECODE, dtype_bytes=2)
    assert kvcache.stored_bytes(cache) == expected


@slow
def test_4bit_below_8bit_below_16bit(bf16_model, tokenizer):
    size = {k: kvcache.stored_bytes(_filled_cache(bf16_model, tokenizer, k))
            for k in ("hqq-int4", "hqq-int8", "fp8", "dynamic")}
    assert size["hqq-int4"] < size["hqq-int8"] < size["dynamic"]
    assert size["hqq-int4"] < size["fp8"] < size["dynamic"]


def test_token_split_follows_residual_window():
    assert kvcache.token_split("quanto-int4", 100, 0) == (100, 0)
    assert kvcache.token_split("quanto-int4", 100, kvcache.RESIDUAL_LENGTH - 1) == (100, kvcache.RESIDUAL_LENGTH - 1)
    assert kvcache.token_split("quanto-int4", 100, kvcache.RESIDUAL_LENGTH) == (100 + kvcache.RESIDUAL_LENGTH, 0)
    assert kvcache.token_split("fp8", 100, 5) == (105, 0)
    assert kvcache.token_split("dynamic", 100, 5) == (0, 105)


def test_missing_backend_names_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "hqq" else real(name, *a))
    with pytest.raises(NotImplementedError, match="pip install -c .venv/constraints.txt hqq"):
        kvcache.kv_config("hqq-int4")
    with pytest.raises(KeyError, match="known types"):
        kvcache.kv_config("int3")


def test_fp8_on_a_transformers_without_the_backend_gives_the_reason(monkeypatch):
    from transformers import cache_utils

    assert kvcache.kv_config("fp8") == {"backend": "fp8"}  # the lock's transformers has it
    monkeypatch.delattr(cache_utils, "Fp8QuantizedLayer")
    with pytest.raises(NotImplementedError, match="fp8 backend .* transformers 5"):
        kvcache.kv_config("fp8")


@slow
def test_quality_sees_the_cache(tokenizer, tiny_model):
    model = tiny_model
    windows = quality.evaluation_windows(tokenizer, 64, 2)
    ref = quality.reference_logprobs(kvcache.decode_logits_fn(model, "dynamic"), windows)
    same = quality.compare(ref, kvcache.decode_logits_fn(model, "dynamic"))
    two_bit = quality.compare(ref, kvcache.decode_logits_fn(model, "hqq-int4" if _no_quanto() else "quanto-int2"))
    assert same.kld_mean == 0.0 and same.same_top_p == 1.0
    assert two_bit.kld_mean > 0.0


def _no_quanto() -> bool:
    import importlib.util

    return importlib.util.find_spec("optimum") is None or importlib.util.find_spec("optimum.quanto") is None


@slow
@pytest.mark.parametrize("kv_type", ["dynamic", "fp8"])
def test_decode_speed(benchmark, tokenizer, kv_type, tiny_model):
    run = benchmark.pedantic(kvdecode.decode_run, args=(tiny_model, tokenizer, kv_type, 96, 8, "cpu"),
                             rounds=3, warmup_rounds=1)
    assert len(run.token_ids) == 8 and run.cache.get_seq_length() == 95
