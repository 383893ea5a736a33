"""The serving client and its metrics against real processes on 127.0.0.1 (a small fake server)."""
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench_lib.serve import cases as cases_serve
from bench_lib.serve import servers
from bench_lib.config import ConfigError
from bench_lib.grid import run_grid
from bench_lib.serve import client as serve
from bench_lib.serve import metrics as serve_metrics

FAKE = str(Path(__file__).with_name("fake_openai_server.py"))


def start_fake(mode, tokens=5, delay=0.01, timeout=10.0, slots=1):
    port = servers.free_port()
    cmd = [sys.executable, FAKE, str(port), mode, str(tokens), str(delay), str(slots)]
    return servers.start("fake", cmd, port, "fake-model", timeout)


def request_bodies(server):
    return [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]


@pytest.fixture
def fake_ok():
    server = start_fake("ok", tokens=5, delay=0.02)
    yield server
    server.stop()


def reqs(n, max_tokens=5, min_tokens=0):
    return [serve.ServeRequest("hello", 3, max_tokens, min_tokens) for _ in range(n)]


def test_poisson_schedule_spans_n_over_rate_with_exponential_gaps():
    offsets = serve.arrival_offsets(4000, request_rate=10.0, seed=1)
    gaps = np.diff([0.0, *offsets])
    assert offsets[-1] == pytest.approx(400.0)
    assert gaps.mean() == pytest.approx(0.1, rel=1e-9)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.06)  # exponential: CV = 1
    assert serve.arrival_offsets(3, math.inf) == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="request_rate"):
        serve.arrival_offsets(3, 0.0)


def test_metrics_follow_vllm_definitions():
    ok = lambda ttft, lat, n, itl: serve.RequestOutput(True, "", 0.0, ttft, lat, itl, n, 10)  # noqa: E731
    run = serve.LoadRun([ok(0.1, 0.5, 5, [0.1] * 4), ok(0.2, 0.2, 1, []), serve.RequestOutput(error="boom")],
                        duration_s=2.0, settings={})
    m = serve_metrics.serving_metrics(run, goodput_limits_s={"ttft": 0.15, "tpot": 0.2})
    assert m["serve_completed"] == 2 and m["serve_failed"] == 1
    # TPOT only for the 5-token request: (0.5 - 0.1) / 4
    assert m["serve_tpot_mean_s"] == pytest.approx(0.1)
    assert m["serve_ttft_mean_s"] == pytest.approx(0.15) and m["serve_ttft_p50_s"] == pytest.approx(0.15)
    assert m["serve_itl_p99_s"] == pytest.approx(0.1)
    assert m["serve_output_throughput"] == pytest.approx(6 / 2.0)
    assert m["serve_total_token_throughput"] == pytest.approx((20 + 6) / 2.0)
    assert m["serve_request_throughput"] == pytest.approx(1.0)
    # Only the first request is within ttft 150 ms (the second has TPOT 0 but TTFT 200 ms).
    assert m["serve_goodput"] == pytest.approx(0.5)
    empty = serve_metrics.serving_metrics(serve.LoadRun([serve.RequestOutput(error="x")], 1.0, {}))
    assert math.isnan(empty["serve_ttft_p50_s"]) and math.isnan(empty["serve_goodput"])


def test_goodput_and_load_settings_are_parsed_or_rejected_clearly():
    assert cases_serve.goodput_limits_s("ttft:500,tpot:20") == {"ttft": 0.5, "tpot": 0.02}
    assert cases_serve.goodput_limits_s("") == {}  # unset: no silent default SLO
    with pytest.raises(ConfigError, match="BENCH_SERVE_GOODPUT"):
        cases_serve.goodput_limits_s("latency:3")
    assert cases_serve.parse_load("rate:inf") == {"request_rate": math.inf}
    assert cases_serve.parse_load("concurrency:3") == {"max_concurrency": 3}
    for bad in ("rate:0", "concurrency:x", "burst:2"):
        with pytest.raises(ConfigError, match="BENCH_SERVE_LOADS"):
            cases_serve.parse_load(bad)


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_streams_are_timed_and_sampling_is_explicit(fake_ok, endpoint):
    prompt = [{"role": "user", "content": "hi"}] if endpoint == "chat" else "hi"
    run = serve.run_load(fake_ok.base_url, endpoint, fake_ok.model, [serve.ServeRequest(prompt, 3, 5)] * 3,
                         request_rate=50.0)
    assert serve_metrics.failures(run) == []
    for out in run.outputs:
        assert out.output_tokens == 5 and len(out.itl) == 4 and out.text == "t0 t1 t2 t3 t4 ", out
        assert 0.015 < out.ttft <= out.latency, out
        assert out.latency == pytest.approx(out.ttft + sum(out.itl)), out
    bodies = request_bodies(fake_ok)
    assert len(bodies) == 3, fake_ok.log_path.read_text()
    body = bodies[0]
    assert body["temperature"] == 0.0 and body["repeat_penalty"] == 1.0 and body["max_tokens"] == 5
    assert body["stream"] is True and ("messages" if endpoint == "chat" else "prompt") in body


def test_max_concurrency_one_never_overlaps(fake_ok):
    run = serve.run_load(fake_ok.base_url, "completions", fake_ok.model, reqs(4), max_concurrency=1)
    spans = sorted((o.start_time, o.start_time + o.latency) for o in run.outputs)
    assert all(o.success for o in run.outputs)
    assert all(end <= nxt_start for (_, end), (nxt_start, _) in zip(spans, spans[1:]))


def test_server_that_never_becomes_ready_is_a_clear_error_and_is_stopped():
    port = servers.free_port()
    t0 = time.monotonic()
    with pytest.raises(servers.ServerNotReady, match=r"not ready after 2 s.*HTTP Error 503"):
        servers.start("fake", [sys.executable, FAKE, str(port), "never_ready"], port, "m", ready_timeout_s=2)
    assert time.monotonic() - t0 < 15
    with pytest.raises(servers.ServerNotReady, match="no OpenAI-compatible server answers"):
        servers.external(f"http://127.0.0.1:{port}", timeout_s=2)  # and nothing listens any more


def test_server_exiting_at_start_reports_its_log():
    port = servers.free_port()
    with pytest.raises(servers.ServerDied, match="exited with status"):
        servers.start("fake", [sys.executable, "-c", "import sys; print('bad flag'); sys.exit(2)"], port, "m", 10)


def test_server_dying_mid_run_records_failures_and_keeps_earlier_results():
    server = start_fake("die", tokens=1000, delay=0.005)  # sends the whole budget asked for
    try:
        grid = run_grid(lambda load: cases_serve.serving_result(server, "tiny-qwen3", load),
                                          [("concurrency:1",), ("concurrency:2",)])
    finally:
        server.stop()
    assert "result" in grid[("concurrency:1",)], grid
    first = grid[("concurrency:1",)]["result"]
    assert first["metrics"]["serve_completed"] == 1, first
    assert first["metrics"]["serve_failed"] == cases_serve.size().num_requests - 1, first
    assert first["failures"] and "request 1" in first["failures"][0]
    assert "ServerDied" in grid[("concurrency:2",)]["error"]


def test_request_timeout_is_a_recorded_failure_and_the_run_is_bounded():
    server = start_fake("hang")
    try:
        t0 = time.perf_counter()
        run = serve.run_load(server.base_url, "completions", server.model, reqs(3), request_timeout_s=1.0,
                             run_timeout_s=5.0)
        assert time.perf_counter() - t0 < 8
    finally:
        server.stop()
    assert [o.success for o in run.outputs] == [False] * 3
    assert all("timed out" in o.error or "time limit" in o.error for o in run.outputs)


def test_external_url_must_be_http_and_unset_url_skips():
    with pytest.raises(ValueError, match="must start with http"):
        servers.external("127.0.0.1:8000")
    grid = cases_serve.serving_grid("url", ["tiny-qwen3"], ["rate:2"])
    assert "BENCH_SERVE_URL" in grid[("tiny-qwen3", "rate:2")]["skip"]


@pytest.mark.parametrize("mode, reason", [
    ("empty", "empty reply"), ("short", "short reply: 1 of the 5 requested"),
    ("garbage", "not JSON"), ("hang_mid", "timed out"), ("trickle", "timed out")])
def test_a_reply_without_its_requested_tokens_is_a_failure_with_its_reason(mode, reason):
    server = start_fake(mode)
    try:
        t0 = time.perf_counter()
        run = serve.run_load(server.base_url, "completions", server.model, reqs(2, 5, min_tokens=5),
                             request_timeout_s=1.5, run_timeout_s=30)
        elapsed = time.perf_counter() - t0
    finally:
        server.stop()
    assert [o.success for o in run.outputs] == [False, False], run.outputs
    assert all(reason in o.error for o in run.outputs), [o.error for o in run.outputs]
    m = serve_metrics.serving_metrics(run, goodput_limits_s={"ttft": 10.0})
    assert m["serve_completed"] == 0 and m["serve_failed"] == 2 and m["serve_goodput"] == 0.0
    if mode in ("hang_mid", "trickle"):  # the per-request limit holds even while pings keep arriving
        assert elapsed >= 1.5


def test_one_token_is_enough_when_the_length_is_not_fixed():
    server = start_fake("short")
    try:
        run = serve.run_load(server.base_url, "completions", server.model, reqs(2, 5, min_tokens=0))
    finally:
        server.stop()
    assert serve_metrics.failures(run) == []
    assert serve_metrics.serving_metrics(run)["serve_completed"] == 2


def test_usage_of_zero_tokens_is_not_mistaken_for_no_usage():
    out = serve.RequestOutput(success=True, output_tokens=0, text="")
    serve.check_output_length(out, tokenizer=None)
    assert not out.success and "empty reply" in out.error


def test_warmup_requests_are_sent_first_and_excluded_from_results():
    server = start_fake("cold", tokens=3, delay=0.01)
    try:
        run = serve.run_load(server.base_url, "completions", server.model, reqs(3), warmup=reqs(1),
                             max_concurrency=1)
    finally:
        server.stop()
    assert [o.response_id for o in run.warmup] == ["cmpl-1"]  # the cold (1 s) first request
    assert sorted(o.response_id for o in run.outputs) == ["cmpl-2", "cmpl-3", "cmpl-4"]
    assert len(request_bodies(server)) == 4
    m = serve_metrics.serving_metrics(run)
    assert m["serve_completed"] == 3 and run.settings["warmup_requests"] == 1


def test_a_client_behind_its_schedule_shows_lag_not_lower_latency():
    # 10 requests due 50 ms apart, but the client sends one at a time and each takes >= 100 ms
    # (10 tokens, 10 ms apart): request k starts >= k * 50 ms late, whatever the machine's speed.
    server = start_fake("ok", tokens=10, delay=0.01)
    try:
        run = serve.run_load(server.base_url, "completions", server.model, reqs(10, 10), request_rate=20.0,
                             burstiness=1e6, max_concurrency=1)
    finally:
        server.stop()
    assert serve_metrics.failures(run) == []
    m = serve_metrics.serving_metrics(run)
    assert m["serve_lag_p99_s"] >= 0.4 and m["serve_lag_p50_s"] >= 0.2
    for o in run.outputs:
        assert o.lag >= 0 and o.scheduled_time is not None
    # the scheduled-time figures carry the lag the actual-time ones hide
    assert m["serve_ttft_sched_p99_s"] >= m["serve_lag_p99_s"] and m["serve_ttft_sched_p99_s"] > m["serve_ttft_p99_s"]
    assert m["serve_e2el_sched_mean_s"] == pytest.approx(m["serve_e2el_mean_s"] + np.mean([o.lag for o in run.outputs]))
