"""Bad input, one row each: the command, its exit status, and a phrase its one-line message must
hold. Every row is a real `python -m bench_lib.cli` process; each stops while checking its input,
before a model is loaded, so the table runs in seconds."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CUDA = pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import torch, sys; sys.exit(torch.cuda.is_available())"]).returncode == 1,
    reason="a CUDA device is present, so BENCH_DEVICE=cuda is valid here")

# (environment, arguments, exit status, phrase)
CASES = [
    # settings, each checked by `check-config` (what `make bench` runs before asv)
    ({"BENCH_MODELS": "tiny-qwen4"}, ["check-config"], 2, "BENCH_MODELS: unknown model 'tiny-qwen4'"),
    pytest.param({"BENCH_DEVICE": "cuda"}, ["check-config"], 2, "BENCH_DEVICE=cuda but torch sees no CUDA", marks=CUDA),
    ({"BENCH_DEVICE": "gpu"}, ["check-config"], 2, "is not one of auto, cpu, cuda, cuda:N"),
    ({"BENCH_DEVICE": "cuda:x"}, ["check-config"], 2, "BENCH_DEVICE='cuda:x'"),
    ({"BENCH_THREADS": "abc"}, ["check-config"], 2, "BENCH_THREADS='abc' is not a number of threads"),
    ({"BENCH_THREADS": "0"}, ["check-config"], 2, "BENCH_THREADS='0'"),
    ({"BENCH_PROFILE": "huge"}, ["check-config"], 2, "use one of smoke, regular, full"),
    ({"BENCH_TASKS": "arc,nosuch"}, ["check-config"], 2, "known tasks: arc, squad, openmath"),
    ({"BENCH_MODELS": " , "}, ["check-config"], 2, "BENCH_MODELS is empty"),
    ({"BENCH_DTYPE": "float8"}, ["check-config"], 2, "BENCH_DTYPE='float8'"),
    ({"BENCH_ENGINES": "hf,nosuch"}, ["check-config"], 2, "known engines: hf, hf-generate"),
    ({"BENCH_QUANT_SCHEMES": "bnb-int3"}, ["check-config"], 2, "BENCH_QUANT_SCHEMES='bnb-int3'"),
    ({"BENCH_SEEDS": "two"}, ["check-config"], 2, "BENCH_SEEDS='two' is not a number of seeds"),
    ({"BENCH_TRAIN_SHAPES": "4by128"}, ["check-config"], 2, "BENCH_TRAIN_SHAPES: shape '4by128'"),
    ({"BENCH_TRAIN_METHODS": "lora,nope"}, ["check-config"], 2, "known methods: full, lora"),
    ({"BENCH_DATA_DIR": "/nonexistent/data"}, ["check-config"], 2, "BENCH_DATA_DIR='/nonexistent/data' is not a folder"),
    ({"BENCH_DATA_DIR": str(ROOT / "benchmarks")}, ["check-config"], 2, "BENCH_DATA_DIR: " + str(ROOT / "benchmarks")),
    ({"BENCH_DATA_SOURCE": "web"}, ["check-config"], 2, "BENCH_DATA_SOURCE='web'"),
    ({"BENCH_DRAFT_MODEL": "nosuch"}, ["check-config"], 2, "BENCH_DRAFT_MODEL: unknown model 'nosuch'"),
    ({"BENCH_SERVE_LOADS": "rate:fast"}, ["check-config"], 2, "BENCH_SERVE_LOADS"),
    ({"BENCH_SERVE_GOODPUT": "ttft:abc"}, ["check-config"], 2, "BENCH_SERVE_GOODPUT"),
    ({"BENCH_SERVE_MAX_TOKENS": "-3"}, ["check-config"], 2, "BENCH_SERVE_MAX_TOKENS='-3'"),
    ({"BENCH_SERVE_URL": "localhost:8000"}, ["check-config"], 2, "BENCH_SERVE_URL='localhost:8000'"),
    ({"BENCH_SERVE_ENDPOINT": "embeddings"}, ["check-config"], 2, "BENCH_SERVE_ENDPOINT"),
    ({"BENCH_SERVE_WORKLOAD": "chatty"}, ["check-config"], 2, "BENCH_SERVE_WORKLOAD='chatty'"),
    ({"BENCH_SERVE_TURNS": "0"}, ["check-config"], 2, "BENCH_SERVE_TURNS='0'"),
    ({"BENCH_SERVE_SLO_RATES": "fast"}, ["check-config"], 2, "BENCH_SERVE_SLO_RATES='fast'"),
    ({"BENCH_SERVE_SLO_BUDGET": "-1"}, ["check-config"], 2, "BENCH_SERVE_SLO_BUDGET='-1'"),
    # a measuring command checks the settings before it starts
    ({"BENCH_MODELS": "tiny-qwen4"}, ["engines"], 2, "BENCH_MODELS: unknown model 'tiny-qwen4'"),
    ({"BENCH_THREADS": "abc"}, ["train", "--no-finetune"], 2, "BENCH_THREADS='abc'"),
    ({"BENCH_PROFILE": "huge"}, ["quant"], 2, "use one of smoke, regular, full"),
    # options
    ({}, ["engines", "--engines", "nosuch"], 2, "unknown engine(s) 'nosuch'; known: hf, hf-generate, llamacpp, vllm"),
    ({}, ["engines", "--repeats", "0"], 2, "argument --repeats: 0 is too small"),
    ({}, ["engines", "--max-new-tokens", "0"], 2, "argument --max-new-tokens: 0 is too small"),
    ({}, ["engines", "--prompts", "abc"], 2, "argument --prompts: 'abc' is not a whole number"),
    ({}, ["engines", "--models", "tiny-qwen4"], 2, "argument --models: unknown model 'tiny-qwen4'"),
    ({}, ["engines", "--skip-parity", "--skip-overhead"], 2, "leave nothing to run"),
    ({}, ["train", "--shape", "4by4"], 2, "argument --shape: shape '4by4' is not 'BATCHxSEQ'"),
    ({}, ["train", "--task", "nosuch"], 2, "argument --task: unknown task 'nosuch'"),
    ({}, ["train", "--methods", "lora,nosuch"], 2, "unknown method(s) 'nosuch'"),
    ({}, ["train", "--model", "tiny-qwen3,tiny-qwen3-draft"], 2, "give one model here"),
    ({}, ["quant", "--schemes", "gguf-q3"], 2, "unknown scheme(s) 'gguf-q3'"),
    ({}, ["quant", "--model", "tiny-qwen4"], 2, "argument --model: unknown model 'tiny-qwen4'"),
    ({}, ["kvspec", "--contexts", "abc"], 2, "argument --contexts: 'abc' is not a whole number"),
    ({}, ["kvspec", "--engines", "foo"], 2, "unknown engine(s) 'foo'; known: hf, llamacpp, vllm"),
    ({}, ["kvspec", "--kv-types", "int3"], 2, "unknown HF KV type(s) 'int3'"),
    ({}, ["kvspec", "--n-prompts", "0"], 2, "argument --n-prompts: 0 is too small"),
    ({}, ["table", "("], 2, "is not a regular expression"),
    ({}, ["summary", "--results", "/nonexistent/results"], 1, "no asv results under /nonexistent/results"),
    ({}, ["alerts", "--results", "/nonexistent/results"], 2, "no asv results under /nonexistent/results"),
    ({}, ["alerts", "--window", "0"], 2, "--window 0"),
    ({}, ["alerts", "--results", "results", "--benchmarks", "none", "--markdown", "/nonexistent/dir/a.md"], 3,
     "cannot write /nonexistent/dir/a.md"),
    ({}, ["report", "--price", "bad"], 2, "--price 'bad'"),
    ({}, ["report", "--benchmarks", "none", "--html", "/proc/no/html"], 3, "cannot write or read /proc/no"),
    ({}, ["alerts", "--noise", "/nonexistent/noise.json"], 2, "--noise /nonexistent/noise.json: no such file"),
    ({}, ["table", "Inference", "--columns", "ttft,nosuch"], 2, "no column(s) nosuch"),
    ({}, ["nosuchcommand"], 2, "invalid choice: 'nosuchcommand'"),
]


@pytest.mark.parametrize("env,args,status,phrase", CASES)
def test_bad_input_is_one_clear_line(env, args, status, phrase):
    base = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    run = subprocess.run([sys.executable, "-m", "bench_lib.cli", *args], cwd=ROOT, capture_output=True, text=True,
                         env={**base, "PYTHONPATH": str(ROOT), **env}, timeout=120)
    assert run.returncode == status, run.stderr[-2000:]
    assert phrase in run.stderr
    assert "Traceback" not in run.stderr
    # the message itself is one line (alerts may print a report before failing to write it)
    assert len([line for line in run.stderr.splitlines() if line.strip()]) == 1, run.stderr


def test_unknown_variable_is_named_with_the_nearest_setting():
    base = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    run = subprocess.run([sys.executable, "-m", "bench_lib.cli", "check-config"], cwd=ROOT, capture_output=True,
                         text=True, env={**base, "PYTHONPATH": str(ROOT), "BENCH_MODEL": "tiny-qwen3"}, timeout=120)
    assert run.returncode == 0
    assert "BENCH_MODEL is not a setting llm-bench reads (did you mean BENCH_MODELS?)" in run.stderr
