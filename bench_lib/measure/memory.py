"""Peak memory of a workload: process RSS, and on CUDA the allocator's peaks.

RSS: Linux keeps the peak (VmHWM) per process and lets a process reset it by writing 5 to
/proc/self/clear_refs, so the peak is the workload's, not the import's or the load's.
Where that is unavailable a sampling thread stands in (it can miss a short spike).
CUDA: max_memory_allocated / max_memory_reserved after reset_peak_memory_stats, for engines whose
memory goes through torch's allocator (`torch_allocator`); and for every engine the device memory
its process tree holds, read through NVML (measure/nvml.py) by a thread sampling every 10 ms: the
peak of those samples, so a spike shorter than a sample can be missed.
"""
from __future__ import annotations

import gc
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from bench_lib.measure.timing import device_sync

_STATUS = Path("/proc/self/status")


def current_rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _hwm_bytes() -> int | None:
    try:
        m = re.search(r"VmHWM:\s+(\d+) kB", _STATUS.read_text())
    except OSError:
        return None
    return int(m.group(1)) * 1024 if m else None


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class MemoryPeaks:
    peak_rss_bytes: int = 0
    cuda_max_allocated_bytes: int | None = None
    cuda_max_reserved_bytes: int | None = None
    rss_method: str = ""
    device_memory_bytes: int | None = None
    device_memory_method: str = ""        # nvml-process | nvml-device-minus-baseline | why not measured

    def as_metrics(self) -> dict[str, float]:
        out = {"peak_rss_bytes": float(self.peak_rss_bytes)}
        if self.cuda_max_allocated_bytes is not None:
            out["cuda_max_allocated_bytes"] = float(self.cuda_max_allocated_bytes)
            out["cuda_max_reserved_bytes"] = float(self.cuda_max_reserved_bytes)
        if self.device_memory_bytes is not None:
            out["device_memory_bytes"] = float(self.device_memory_bytes)
        return out


class PeakMemory:
    """`with PeakMemory(device) as pm: ...` then `pm.result` (a MemoryPeaks)."""

    def __init__(self, device: str = "cpu", sample_interval_s: float = 0.005, torch_allocator: bool = True,
                 nvml_interval_s: float = 0.01):
        self.device = device
        self.torch_allocator = torch_allocator
        self.nvml_interval = nvml_interval_s
        self._nvml_stop = threading.Event()
        self._nvml_thread: threading.Thread | None = None
        self.interval = sample_interval_s
        self.result = MemoryPeaks()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sampled = 0

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._sampled = max(self._sampled, current_rss_bytes())

    def _sample_nvml(self, h, pids, start_used: int) -> None:
        from bench_lib.measure import nvml

        while True:
            value, method = nvml.held_bytes(h, self.device, pids, start_used)
            if value >= (self.result.device_memory_bytes or 0):
                self.result.device_memory_bytes, self.result.device_memory_method = value, method
            if self._nvml_stop.wait(self.nvml_interval):
                break

    def _start_nvml(self) -> None:
        from bench_lib.measure import nvml

        try:
            h = nvml.handle(self.device)
            start_used = nvml.device_used(h)
        except Exception as exc:  # no NVML, or a driver that refuses the query: a reason, not a failure
            self.result.device_memory_method = f"not measured: {type(exc).__name__}: {exc}"
            return
        pids = nvml.process_tree_pids()  # read once: the engine's processes exist before the workload
        self._nvml_thread = threading.Thread(target=self._sample_nvml, args=(h, pids, start_used), daemon=True)
        self._nvml_thread.start()

    def __enter__(self) -> "PeakMemory":
        if self.device.startswith("cuda"):
            import torch

            device_sync(self.device)()
            # Blocks an earlier engine of this process left in torch's cache would count in NVML's
            # figure of the next engine (llama.cpp after HF, say).
            gc.collect()
            torch.cuda.empty_cache()
            if self.torch_allocator:
                torch.cuda.reset_peak_memory_stats(self.device)
            self._start_nvml()
        if _reset_hwm() and _hwm_bytes() is not None:
            self.result.rss_method = "VmHWM"
        else:
            self.result.rss_method = "sampled"
            self._sampled = current_rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.startswith("cuda"):
            import torch

            device_sync(self.device)()
            if self.torch_allocator:
                self.result.cuda_max_allocated_bytes = torch.cuda.max_memory_allocated(self.device)
                self.result.cuda_max_reserved_bytes = torch.cuda.max_memory_reserved(self.device)
            if self._nvml_thread is not None:
                self._nvml_stop.set()
                self._nvml_thread.join()
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.result.peak_rss_bytes = max(self._sampled, current_rss_bytes())
        else:
            self.result.peak_rss_bytes = _hwm_bytes() or current_rss_bytes()
