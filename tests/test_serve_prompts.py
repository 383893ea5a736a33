"""Serving workloads' prompts on the embedded model's tokenizer (no server needed)."""
import pytest

from bench_lib import resources
from bench_lib.serve import cases as cases_serve
from bench_lib.config import ConfigError
from bench_lib.models import get_spec

MODEL = "tiny-qwen3"


def user_turns(req):
    return [m["content"] for m in req.prompt if m["role"] == "user"]


def test_single_prompts_are_tagged_per_load_and_counted_by_the_model_tokenizer():
    a = cases_serve.serve_requests(MODEL, "completions", 4, 8, "L1")
    b = cases_serve.serve_requests(MODEL, "completions", 4, 8, "L2")
    assert not set(r.prompt for r in a) & set(r.prompt for r in b)
    tok = resources.tokenizer_for(get_spec(MODEL))
    assert all(r.prompt_len == len(tok(r.prompt, add_special_tokens=False).input_ids) for r in a)
    assert all("[L1." in r.prompt for r in a) and all(r.min_tokens == r.max_tokens == 8 for r in a)


def test_shared_prefix_requests_share_one_system_prompt_of_the_given_length(monkeypatch):
    monkeypatch.setenv("BENCH_SERVE_WORKLOAD", "shared-prefix")
    monkeypatch.setenv("BENCH_SERVE_SHARED_PREFIX", "100")
    reqs = cases_serve.serve_requests(MODEL, "chat", 3, 8, "L1")
    systems = {r.prompt[0]["content"] for r in reqs}
    assert len(systems) == 1 and all(r.prompt[0]["role"] == "system" for r in reqs)
    tok = resources.tokenizer_for(get_spec(MODEL))
    assert abs(len(tok(systems.pop(), add_special_tokens=False).input_ids) - 100) <= 2  # decode/encode may re-merge
    assert len({user_turns(r)[0] for r in reqs}) == 3


def test_multi_turn_turns_extend_the_previous_turn(monkeypatch):
    monkeypatch.setenv("BENCH_SERVE_WORKLOAD", "multi-turn")
    monkeypatch.setenv("BENCH_SERVE_TURNS", "3")
    reqs = cases_serve.serve_requests(MODEL, "completions", 6, 8, "L1")  # 2 conversations x 3 turns
    by_conv = {}
    for r in reqs:
        conv = r.prompt.split("[L1.")[1].split(".")[0]
        by_conv.setdefault(conv, []).append(r)
    assert sorted(len(v) for v in by_conv.values()) == [3, 3]
    for turns in by_conv.values():
        for prev, cur in zip(turns, turns[1:]):
            stem = prev.prompt.rsplit("<|im_start|>assistant", 1)[0]
            assert cur.prompt.startswith(stem) and cur.prompt_len > prev.prompt_len


def test_length_distributions(monkeypatch):
    monkeypatch.setenv("BENCH_SERVE_INPUT_LEN", "fixed:40")
    monkeypatch.setenv("BENCH_SERVE_OUTPUT_LEN", "uniform:4-12")
    reqs = cases_serve.serve_requests(MODEL, "chat", 20, 8, "L1")
    tok = resources.tokenizer_for(get_spec(MODEL))
    assert all(abs(len(tok(user_turns(r)[0], add_special_tokens=False).input_ids) - 40) <= 2 for r in reqs)
    budgets = [r.max_tokens for r in reqs]
    assert min(budgets) >= 4 and max(budgets) <= 12 and len(set(budgets)) > 3
    assert all(r.min_tokens == r.max_tokens for r in reqs)  # fixed output: exactly the drawn budget
    for bad in ("uniform:9-3", "normal:5", "fixed:0"):
        monkeypatch.setenv("BENCH_SERVE_OUTPUT_LEN", bad)
        with pytest.raises(ConfigError, match="BENCH_SERVE_OUTPUT_LEN"):
            cases_serve.serve_requests(MODEL, "chat", 2, 8)
    monkeypatch.setenv("BENCH_SERVE_OUTPUT_LEN", "fixed")
    monkeypatch.setenv("BENCH_SERVE_WORKLOAD", "chatty")
    with pytest.raises(ConfigError, match="BENCH_SERVE_WORKLOAD"):
        cases_serve.serve_requests(MODEL, "chat", 2, 8)
