"""The train step across 2 CPU processes with torch.distributed (gloo DDP), on the embedded model."""
from __future__ import annotations

import math

import pytest

from bench_lib import config
from bench_lib.train import cases_distributed as distributed

MODEL = "tiny-qwen3"


@pytest.mark.slow
def test_gloo_ddp_step_two_processes(monkeypatch):
    monkeypatch.setenv("BENCH_PROFILE", "smoke")
    monkeypatch.setenv("BENCH_DEVICE", "cpu")
    out = distributed.step_result(MODEL, "full", "2x64", world_size=2, strategy="ddp")
    assert out["world_size"] == 2 and [r["rank"] for r in out["per_rank"]] == [0, 1]
    for rank in out["per_rank"]:
        assert rank["peak_rss_bytes"] > 0
        assert rank["tokens_per_s"] > 0 and math.isfinite(rank["tokens_per_s"])
    m = out["metrics"]
    # the group moves both ranks' tokens in the slowest rank's step time
    assert m["train_dist_tokens_per_s"] == pytest.approx(2 * 2 * 64 / m["train_dist_step_s"])
    # each rank trained on its own batch (the losses differ), yet DDP's all-reduced gradients
    # leave the same weights on both
    assert out["losses"][0] != out["losses"][1]
    a, b = out["param_checksums"]
    assert a == pytest.approx(b, rel=1e-9)


def test_fsdp_and_single_process_are_refused_with_the_reason():
    device = config.device()
    if device.startswith("cuda"):
        pytest.skip("on a GPU machine FSDP runs")
    with pytest.raises(NotImplementedError, match="FSDP shards a full fine-tune over GPUs"):
        distributed.check("fsdp", "full", 2, device)
    with pytest.raises(ValueError, match="at least 2 processes"):
        distributed.check("ddp", "full", 1, device)
