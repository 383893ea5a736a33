"""The quantization suite on the embedded model: sizes, quality ordering, the cache and bad files."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bench_lib.quant import cases as cases_quant  # noqa: E402
from bench_lib.quant import cache, gguf, pow2  # noqa: E402
from bench_lib.quant.base import ArtifactError  # noqa: E402

MODEL = "tiny-qwen3"
slow = pytest.mark.slow  # quantizes and scores the embedded model


def _result(scheme):
    return cases_quant.scheme_result(MODEL, scheme, with_tasks=False)


@pytest.fixture(scope="module")
def results():
    out = {}
    for scheme in ("none", "bnb-int8", "bnb-nf4", "quanto-int8", "quanto-int4", "pow2-int4"):
        try:
            out[scheme] = _result(scheme)
        except NotImplementedError as exc:  # a scheme whose package is missing here
            out[scheme] = exc
    return out


def _metric(results, scheme, name):
    r = results[scheme]
    if isinstance(r, Exception):
        pytest.skip(f"{scheme}: {r}")
    return r["metrics"][name]


@slow
def test_bytes_shrink_32_then_8_then_4_bit(results):
    b = {s: _metric(results, s, "quant_weight_bytes") for s in ("none", "bnb-int8", "bnb-nf4")}
    assert b["none"] > b["bnb-int8"] > b["bnb-nf4"]
    assert _metric(results, "quanto-int8", "quant_weight_bytes") > _metric(results, "quanto-int4", "quant_weight_bytes")
    assert _metric(results, "pow2-int4", "quant_weight_bytes") < b["bnb-int8"]
    assert _metric(results, "none", "quant_bits_per_weight") == pytest.approx(32.0)


@slow
def test_kld_of_the_reference_against_itself_is_zero(results):
    assert _metric(results, "none", "quality_kld_mean") == 0.0
    assert _metric(results, "none", "quality_same_top_p") == 1.0
    assert _metric(results, "none", "quality_ppl_ratio") == 1.0


@slow
def test_four_bit_kld_is_at_least_eight_bit(results):
    assert _metric(results, "bnb-nf4", "quality_kld_mean") >= _metric(results, "bnb-int8", "quality_kld_mean") > 0
    assert _metric(results, "quanto-int4", "quality_kld_mean") >= _metric(results, "quanto-int8", "quality_kld_mean") > 0


@slow
def test_build_cost_is_recorded(results):
    m = results["pow2-int4"]["metrics"]
    assert m["quant_quantize_s"] > 0 and m["quant_build_peak_rss_bytes"] > 0


def test_pow2_scales_are_powers_of_two_and_error_is_within_half_a_step():
    w = torch.randn(16, 64) * 0.05
    packed, exponent = pow2.quantize_weight(w)
    assert packed.dtype == torch.uint8 and packed.shape == (16, 32)
    back = pow2.dequantize_weight(packed, exponent, torch.float32)
    step = torch.exp2(exponent.float()).repeat_interleave(pow2.GROUP_SIZE, dim=1)
    assert torch.all((back - w).abs() <= step / 2 + 1e-7)


def _tiny_gguf(path):
    gguf_pkg = pytest.importorskip("gguf")
    writer = gguf_pkg.GGUFWriter(str(path), "llama")
    writer.add_tensor("a", np.arange(4096, dtype=np.float32))
    writer.add_tensor("b", np.ones((64, 64), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_gguf_sizes_whole_file_and_rejects_truncated_or_foreign_files(tmp_path):
    good = _tiny_gguf(tmp_path / "ok.gguf")
    assert gguf.tensor_bytes(good) == 2 * 4096 * 4
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size - 1000])
    with pytest.raises(ArtifactError, match="truncated|corrupt"):
        gguf.tensor_bytes(cut)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf file at all" * 10)
    with pytest.raises(ArtifactError, match="cut.gguf|junk.gguf"):
        gguf.tensor_bytes(junk)


@slow
def test_truncated_cached_model_is_a_clear_error_then_rebuilt(tmp_path, monkeypatch, capfd):
    from bench_lib.models import get_spec
    from bench_lib.quant.registry import scheme_module

    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    spec, ctx = get_spec(MODEL), cases_quant.context(get_spec(MODEL))
    q, record = cache.get_or_build(spec, "pow2-int4", ctx)
    assert not record.from_cache
    module, variant = scheme_module("pow2-int4")
    entry = cache.entry_dir(spec, "pow2-int4", cache.entry_key(spec, "pow2-int4", variant, module.versions(), ctx))
    artifact = entry / "model.pt"
    artifact.write_bytes(artifact.read_bytes()[:1000])
    with pytest.raises(ArtifactError, match="corrupt or truncated"):
        cache.load(entry, spec, module, ctx)
    q2, record2 = cache.get_or_build(spec, "pow2-int4", ctx)
    assert "rebuilding pow2-int4" in capfd.readouterr().err
    assert not record2.from_cache and q2.weight_bytes == q.weight_bytes
    _, record3 = cache.get_or_build(spec, "pow2-int4", ctx)
    assert record3.from_cache and math.isclose(record3.quantize_s, record2.quantize_s)


@slow
def test_failed_build_leaves_no_temporary_entry(tmp_path, monkeypatch):
    from bench_lib.models import get_spec
    from bench_lib.quant.base import SchemeUnavailable

    pytest.importorskip("llama_cpp")
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    spec, ctx = get_spec("arch:Qwen/Qwen3-0.6B"), cases_quant.context(get_spec(MODEL))
    with pytest.raises(SchemeUnavailable, match="architecture-only"):  # fails inside the build
        cache.get_or_build(spec, "gguf-q8_0", ctx)
    assert not [p for p in (tmp_path / "quant").iterdir()]


def test_damaged_gguf_source_is_refused_before_llama_cpp_and_leaves_no_output(tmp_path):
    pytest.importorskip("llama_cpp")
    good = _tiny_gguf(tmp_path / "ok.gguf")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size - 1000])
    dst = tmp_path / "out.gguf"
    with pytest.raises(ArtifactError, match="cut.gguf"):
        gguf.quantize_file(cut, dst, "Q8_0")
    assert not dst.exists()


def test_unknown_scheme_names_the_known_ones(monkeypatch):
    monkeypatch.setenv("BENCH_QUANT_SCHEMES", "bnb-int3")
    with pytest.raises(ValueError, match="bnb-int8"):
        cases_quant.scheme_names()


@slow
def test_quantize_pow2_benchmark(benchmark, tmp_path, monkeypatch):
    from bench_lib.models import get_spec
    from bench_lib.quant.registry import scheme_module

    spec, ctx = get_spec(MODEL), cases_quant.context(get_spec(MODEL))
    module, variant = scheme_module("pow2-int4")
    q, _ = benchmark.pedantic(cache.build, args=(spec, "pow2-int4", module, variant, ctx), rounds=3, warmup_rounds=1)
    assert q.weight_bytes > 0


@slow
def test_gguf_types_on_the_same_yardstick():
    pytest.importorskip("llama_cpp")
    q8, q4 = _result("gguf-q8_0")["metrics"], _result("gguf-q4_0")["metrics"]
    assert q8["quant_weight_bytes"] > q4["quant_weight_bytes"]
    assert 0 < q8["quality_kld_mean"] <= q4["quality_kld_mean"]
    # the same reference log-probs and tokens as the HF-side schemes: Q8_0 must be close to fp32
    assert q8["quality_same_top_p"] > 0.9


def test_cache_key_follows_the_weights_content_not_their_folder_or_mtime(tmp_path):
    # A fresh clone has the same weight files with new mtimes in another folder: same entries.
    # Changed weights of the same size must not find the old ones.
    import dataclasses
    import os
    import shutil

    from bench_lib.models import get_spec

    spec = get_spec(MODEL)
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(spec.location, a)
    shutil.copytree(spec.location, b)
    for f in b.iterdir():
        os.utime(f, ns=(1, 1))
    ident = lambda folder: cache._model_identity(dataclasses.replace(spec, location=str(folder)))
    assert ident(a) == ident(b) == ident(spec.location)
    weights = next(f for f in sorted(b.iterdir()) if f.suffix == ".safetensors")
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF
    weights.write_bytes(bytes(raw))
    assert ident(b) != ident(a)
    assert [x[:2] for x in ident(b)] == [x[:2] for x in ident(a)]  # same names and sizes
