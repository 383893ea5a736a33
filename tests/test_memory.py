"""PeakMemory measures a workload's own peak: after its reset, a known block allocated (and
written, so every page is resident) and freed inside the block raises the reported peak by that
block, by either RSS method, and on CUDA by the allocator's count."""
from __future__ import annotations

import math
import time

import pytest

from bench_lib.measure import memory
from bench_lib.measure.memory import PeakMemory, current_rss_bytes

BLOCK = 200 * 2**20


def _touch_block(hold_s: float = 0.0) -> None:
    block = bytearray(b"\x01") * BLOCK  # repeated write: every page is touched, none shared
    time.sleep(hold_s)
    del block


def _peak_rise(pm_factory, hold_s: float) -> tuple[int, str]:
    _touch_block()  # a first round maps whatever the allocator keeps for later
    before = current_rss_bytes()
    with pm_factory() as pm:
        _touch_block(hold_s)
    return pm.result.peak_rss_bytes - before, pm.result.rss_method


def test_peak_rss_rises_by_the_block():
    if memory._hwm_bytes() is None:
        pytest.skip("no /proc/self/status VmHWM here; the sampled method is tested below")
    rise, method = _peak_rise(PeakMemory, hold_s=0.0)
    assert method == "VmHWM"
    assert rise == pytest.approx(BLOCK, rel=0.05)


def test_peak_rss_after_a_larger_earlier_peak():
    """The reset matters: a bigger block before the measurement must not show in it."""
    if memory._hwm_bytes() is None:
        pytest.skip("no /proc/self/status VmHWM here")
    big = bytearray(b"\x01") * (2 * BLOCK)
    del big
    rise, _ = _peak_rise(PeakMemory, hold_s=0.0)
    assert rise == pytest.approx(BLOCK, rel=0.05)


def test_sampled_peak_rises_by_the_block(monkeypatch):
    # the fallback where the kernel's peak cannot be reset; the block is held past a few samples
    monkeypatch.setattr(memory, "_reset_hwm", lambda: False)
    rise, method = _peak_rise(lambda: PeakMemory(sample_interval_s=0.005), hold_s=0.2)
    assert method == "sampled"
    assert rise == pytest.approx(BLOCK, rel=0.05)


def test_cuda_peak_rises_by_the_block():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    base = torch.cuda.memory_allocated("cuda")
    with PeakMemory("cuda") as pm:
        block = torch.ones(BLOCK, dtype=torch.uint8, device="cuda")
        del block
    assert pm.result.cuda_max_allocated_bytes - base == pytest.approx(BLOCK, rel=0.05)
    assert pm.result.cuda_max_reserved_bytes >= pm.result.cuda_max_allocated_bytes


def test_device_sync_waits_on_cuda_only(monkeypatch):
    import torch

    from bench_lib.measure.timing import device_sync, no_sync

    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    assert device_sync("cpu") is no_sync
    device_sync("cpu")()
    assert calls == []
    device_sync("cuda:1")()
    assert calls == ["cuda:1"]


def test_decode_run_and_agreeing_prefix():
    from bench_lib.measure.timing import DecodeRun, agreeing_prefix

    run = DecodeRun([1, 2, 3, 4, 5], first_s=0.5, last_s=1.5)
    assert (run.prefill_s, run.decode_s, run.decode_tokens_per_s) == (0.5, 1.0, 4.0)
    assert math.isnan(DecodeRun([1], 0.5, 0.5).decode_tokens_per_s)
    assert agreeing_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert agreeing_prefix([1, 2, 3], [1, 2]) == 2
    assert agreeing_prefix([5], [6]) == 0
