"""pytest-benchmark timing of one train step, through the same case function as asv's TrainStepTime."""
import math

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from bench_lib.train import cases as cases_train  # noqa: E402

pytestmark = pytest.mark.slow  # builds a trainer on the embedded model


@pytest.mark.parametrize("method", ["full", "lora"])
def test_train_step_time(benchmark, method):
    step = cases_train.step_callable("tiny-qwen3", method, "2x64")
    losses = []

    def timed():
        losses.append(step())
        return losses[-1]

    benchmark.pedantic(timed, rounds=3, warmup_rounds=1)
    # every timed call is a real step: the loss is a number and falls as the same batch is fitted
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0]
