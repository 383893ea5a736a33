"""NVML device memory and the energy counters: arithmetic on NVML- and RAPL-shaped readings here,
the real counters on a CUDA machine (skipped elsewhere, with the reason)."""
from __future__ import annotations

import importlib.util

import pytest

from bench_lib.measure import energy, nvml


def test_process_bytes_sums_our_pids_only():
    readings = [(10, 300), (11, 200), (99, 5000)]
    assert nvml.process_bytes(readings, {10, 11}) == 500


def test_process_bytes_is_none_when_the_driver_hides_our_processes():
    assert nvml.process_bytes([(99, 5000)], {10}) is None          # another PID namespace
    assert nvml.process_bytes([(10, None), (11, 200)], {10, 11}) is None  # figure withheld


def test_device_figure_is_used_minus_baseline():
    assert nvml.over_baseline(7 * 2**30, 2 * 2**30) == 5 * 2**30
    assert nvml.over_baseline(1, 2) == 0


def test_counter_delta_with_and_without_wrap():
    assert energy.counter_delta(100, 250, 1000) == 150
    assert energy.counter_delta(900, 50, 1000) == 150   # wrapped once at 1000


def _zone(root, name, uj, wrap):
    d = root / name
    d.mkdir()
    (d / "energy_uj").write_text(f"{uj}\n")
    (d / "max_energy_range_uj").write_text(f"{wrap}\n")
    return d


def test_rapl_sums_packages_not_subzones(tmp_path):
    _zone(tmp_path, "intel-rapl:0", 1_000_000, 10**9)
    _zone(tmp_path, "intel-rapl:1", 5_000_000, 10**9)
    _zone(tmp_path, "intel-rapl:0:0", 7, 10**9)   # a core sub-zone, inside package 0
    start = energy.read_rapl(tmp_path)
    _zone_update = [(tmp_path / "intel-rapl:0", 3_500_000), (tmp_path / "intel-rapl:1", 1_000_000)]
    for d, uj in _zone_update:
        (d / "energy_uj").write_text(str(uj))
    # package 0: +2.5 J; package 1 wrapped: 10**9 - 5e6 + 1e6 uJ = 996 J
    assert energy.rapl_joules(start, energy.read_rapl(tmp_path)) == pytest.approx(2.5 + 996)


def test_meter_on_a_machine_without_rapl_gives_the_reason(tmp_path):
    with energy.EnergyMeter("cpu", rapl_root=tmp_path) as em:
        pass
    assert em.joules is None and "no RAPL package zones" in em.skip_reason
    assert em.per(10) is None


def test_meter_reads_a_rapl_tree(tmp_path):
    d = _zone(tmp_path, "intel-rapl:0", 0, 10**9)
    with energy.EnergyMeter("cpu", rapl_root=tmp_path) as em:
        (d / "energy_uj").write_text("4000000")
    assert em.joules == pytest.approx(4.0) and em.per(8) == pytest.approx(0.5)


def _cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU: NVML device memory and energy are GPU counters")
    if importlib.util.find_spec("pynvml") is None:
        pytest.skip("needs nvidia-ml-py (pynvml)")
    return torch


def test_one_gib_is_seen_by_torch_and_nvml():
    torch = _cuda()
    import time

    from bench_lib.measure.memory import PeakMemory

    nvml.record_baseline("cuda")
    torch.cuda.synchronize()
    held_before = torch.cuda.memory_allocated()
    with PeakMemory("cuda") as pm:
        block = torch.empty(2**30, dtype=torch.uint8, device="cuda")
        block.fill_(1)
        torch.cuda.synchronize()
        time.sleep(0.2)  # NVML samples every 10 ms while the block is held
    assert abs(pm.result.cuda_max_allocated_bytes - held_before - 2**30) <= 0.05 * 2**30
    # NVML's figure also holds the CUDA context and the allocator's cache: the block is the
    # difference to the same reading once it is freed and the cache emptied.
    del block
    torch.cuda.empty_cache()
    torch.cuda.synchronize()
    h = nvml.handle("cuda")
    after, _ = nvml.held_bytes(h, "cuda", nvml.process_tree_pids(), nvml.device_used(h))
    assert pm.result.device_memory_method.startswith("nvml")
    assert abs(pm.result.device_memory_bytes - after - 2**30) <= 0.05 * 2**30


def test_energy_counter_advances_on_gpu_work():
    torch = _cuda()
    a = torch.randn(4096, 4096, device="cuda")
    with energy.EnergyMeter("cuda") as em:
        for _ in range(200):
            a = a @ a
            a = a / a.norm()
        torch.cuda.synchronize()
    assert em.skip_reason is None and em.joules > 0
