"""A table is a result only when its rows were measured: `engines` and `train` exit non-zero
when a row failed or none was measured. The offline switch of embedded models holds even after
huggingface_hub was imported."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench_lib.tasks.fixtures import FIXTURE_DIR

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _cli(*args, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    return subprocess.run([sys.executable, "-m", "bench_lib.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**base, "PYTHONPATH": str(ROOT), **env}, timeout=600)


def _data(tmp_path, keep) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for path in FIXTURE_DIR.iterdir():
        if keep(path.name):
            shutil.copy(path, folder / path.name)
    return folder


def test_engines_exits_non_zero_when_nothing_was_measured():
    run = _cli("engines", "--skip-parity", "--engines", "llamacpp,vllm", "--models", "arch:Qwen/Qwen3-0.6B")
    assert run.returncode == 1, run.stderr[-2000:]
    assert "0 rows measured, 2 skipped, 0 failed" in run.stderr


def test_engines_exits_non_zero_when_a_row_failed(tmp_path):
    # The overhead rows decode an openmath prompt, which this data folder lacks.
    run = _cli("engines", "--skip-parity", "--engines", "hf", "--models", "tiny-qwen3", "--repeats", "1",
               BENCH_DATA_DIR=str(_data(tmp_path, lambda n: not n.startswith("openmath"))), BENCH_TASKS="arc,squad")
    assert run.returncode == 1, run.stderr[-2000:]
    assert "failed: DataError" in run.stdout and "1 failed" in run.stderr


def test_train_exits_non_zero_when_every_row_failed(tmp_path):
    # Test splits only: the settings check passes, but training needs the train split.
    run = _cli("train", "--model", "tiny-qwen3", "--methods", "lora", "--task", "arc",
               BENCH_DATA_DIR=str(_data(tmp_path, lambda n: "-test." in n)))
    assert run.returncode == 1, run.stderr[-2000:]
    assert "lora step failed: DataError" in run.stdout


def test_offline_switch_holds_after_huggingface_hub_was_imported():
    code = """
import huggingface_hub
from huggingface_hub import constants
from bench_lib import models
assert not constants.is_offline_mode()
with models._offline_if_local(models.get_spec("tiny-qwen3")):
    print("embedded", constants.is_offline_mode())
with models._offline_if_local(models.get_spec("Qwen/Qwen3-0.6B")):
    print("hub", constants.is_offline_mode())
print("after", constants.is_offline_mode())
"""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**env, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["embedded", "True", "hub", "False", "after", "False"]
