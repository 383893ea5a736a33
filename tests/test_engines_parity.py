"""Greedy parity: llama.cpp (F32 and F16 GGUF) and vLLM give HF's token ids on the embedded
model for fixed task prompts. An engine is skipped only where it is not installed."""
from __future__ import annotations

import importlib.util

import pytest

from bench_lib.engines import cases as cases_engines

pytestmark = pytest.mark.slow  # every test generates with the embedded model


def _require(engine: str) -> None:
    if engine == "llamacpp":
        pytest.importorskip("llama_cpp")
    if engine == "vllm" and importlib.util.find_spec("bench_lib.engines.vllm") is None:
        pytest.skip("bench_lib/engines/vllm.py does not exist yet")


@pytest.mark.parametrize("engine,gguf_type", cases_engines.PARITY_VARIANTS)
def test_greedy_ids_match_hf(engine, gguf_type):
    _require(engine)
    from bench_lib.engines.base import EngineUnavailable

    try:
        result = cases_engines.parity_result("tiny-qwen3", engine, gguf_type, n_per_task=2)
    except EngineUnavailable as exc:  # e.g. vLLM's package or server environment is absent
        pytest.skip(str(exc))
    mismatches = [row for row in result["rows"] if not row["identical"]]
    assert result["prompts"] == 6
    assert not mismatches, f"{engine} {gguf_type}: ids differ from HF: {mismatches}"


def test_parity_detects_a_difference(monkeypatch, hf_engine):
    """The comparison itself can fail: an engine that drops its last token is caught."""
    from bench_lib.engines.base import Generation

    real = hf_engine

    class Truncating:
        name = "hf"

        def generate(self, prompts, max_new_tokens):
            out = real.generate(prompts, max_new_tokens)
            return Generation([ids[:-1] for ids in out.token_ids], out.timings, out.wall_s)

    monkeypatch.setattr(cases_engines, "engine_with", lambda e, m, t=None: real if e == "hf" else Truncating())
    result = cases_engines.parity_result("tiny-qwen3", "fake", None, n_per_task=1)
    assert result["identical"] == 0
