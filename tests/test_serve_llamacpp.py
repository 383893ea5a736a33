"""llama-cpp-python's server under load on the embedded model (GGUF F32 from bench_lib.gguf_export).

Skips where llama-cpp-python (with its [server] extra) is not installed. The pytest-benchmark
test times the same case function the asv classes call.
"""
import math

import pytest

from bench_lib.serve import cases as cases_serve
from bench_lib.serve import servers
from bench_lib.engines.base import EngineUnavailable
from bench_lib.serve import client as serve
from bench_lib.serve import metrics as serve_metrics

MODEL = "tiny-qwen3"


@pytest.fixture(scope="module")
def llamacpp_server():
    pytest.importorskip("llama_cpp")
    try:
        server = cases_serve.start_server("llamacpp", MODEL)
    except EngineUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()
    assert server.process.poll() is not None


@pytest.mark.slow
@pytest.mark.parametrize("load", ["rate:4", "concurrency:2"])
def test_llamacpp_server_under_load(llamacpp_server, load):
    result = cases_serve.serving_result(llamacpp_server, MODEL, load)
    m = result["metrics"]
    assert result["failures"] == []
    assert m["serve_completed"] == cases_serve.size().num_requests and m["serve_failed"] == 0
    assert 0 < m["serve_ttft_p50_s"] <= m["serve_ttft_p99_s"] <= m["serve_e2el_p99_s"]
    assert m["serve_tpot_p50_s"] > 0 and m["serve_itl_p50_s"] > 0
    assert m["serve_output_throughput"] > 0
    assert math.isnan(m["serve_goodput"]) and result["settings"]["goodput_slo_ms"] is None  # none set
    assert m["serve_server_peak_rss_bytes"] > 0


@pytest.mark.slow
def test_llamacpp_chat_endpoint_streams_text(llamacpp_server):
    req = cases_serve.serve_requests(MODEL, "chat", 1, 8)
    run = serve.run_load(llamacpp_server.base_url, "chat", llamacpp_server.model, req)
    assert serve_metrics.failures(run) == [] and run.outputs[0].ttft > 0


def test_serving_llamacpp(benchmark, llamacpp_server):
    result = benchmark.pedantic(cases_serve.serving_result, args=(llamacpp_server, MODEL, "concurrency:4"),
                                rounds=3, warmup_rounds=1)
    assert result["failures"] == []
    assert result["metrics"]["serve_completed"] == cases_serve.size().num_requests


def test_unreachable_llamacpp_build_skips_with_reason(monkeypatch):
    with pytest.raises(EngineUnavailable, match="install_llamacpp.sh"):
        servers.llamacpp_available(python="/bin/false")
