"""Multi-GPU engine options: on a machine without the GPUs they skip with the reason, before any load."""
from __future__ import annotations

import pytest

from bench_lib import config
from bench_lib.engines import llamacpp, vllm
from bench_lib.engines.base import EngineUnavailable
from bench_lib.models import get_spec


@pytest.fixture
def cpu_only():
    if config.device().startswith("cuda"):
        pytest.skip("a GPU machine runs these options")
    return get_spec("tiny-qwen3")


@pytest.mark.parametrize("mode", ["inprocess", "server"])
def test_vllm_tensor_parallel_skips_on_cpu(cpu_only, mode):
    with pytest.raises(EngineUnavailable, match="tensor_parallel_size=2 splits the model over 2 GPUs; this run's device is cpu"):
        vllm.load(cpu_only, "cpu", "float32", mode=mode, tensor_parallel_size=2)


def test_vllm_tensor_parallel_size_must_be_a_gpu_count():
    with pytest.raises(ValueError, match="at least 1"):
        vllm.check_tensor_parallel(0, "cuda")
    assert vllm.check_tensor_parallel(1, "cpu") is None  # one GPU (or none): the ordinary path


@pytest.mark.parametrize("kwargs", [{"split_mode": "row"}, {"tensor_split": [0.5, 0.5]}])
def test_llamacpp_split_skips_on_cpu(cpu_only, kwargs):
    with pytest.raises(EngineUnavailable, match="spread offloaded layers over GPUs; this run's device is cpu"):
        llamacpp.load(cpu_only, "cpu", "float32", **kwargs)


def test_llamacpp_split_options_are_checked():
    with pytest.raises(ValueError, match="use one of none, layer, row"):
        llamacpp.split_options("cuda", "diagonal", None)
    with pytest.raises(ValueError, match="one non-negative share per GPU"):
        llamacpp.split_options("cuda", None, [1.0, -1.0])
    assert llamacpp.split_options("cpu", None, None) == {}
