"""pytest-benchmark timing of one train step, through the same case function as asv's TrainStepTime."""
import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from bench_lib import cases_train  # noqa: E402


@pytest.mark.parametrize("method", ["full", "lora"])
def test_train_step_time(benchmark, method):
    step = cases_train.step_callable("tiny-qwen3", method, "2x64")
    loss = benchmark.pedantic(step, rounds=3, warmup_rounds=1)
    assert loss == loss  # a NaN loss would mean a broken step, however fast
