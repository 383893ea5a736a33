"""NVML readings (nvidia-ml-py's `pynvml`): the device memory a process tree holds, and the
device's energy counter.

torch's allocator figures see only torch's own tensors; llama.cpp's CUDA buffers, vLLM's worker
processes and the CUDA context itself are outside them. NVML sees what the driver hands out:
per process where the driver lists our processes (not inside a PID namespace whose PIDs differ
from the host's), else the device's used memory minus a baseline read before the engine loaded.
"""
from __future__ import annotations

import os
from typing import Iterable

_BASELINE: dict[str, int] = {}


class NVMLUnavailable(RuntimeError):
    pass


def _pynvml():
    try:
        import pynvml
    except ImportError as exc:
        raise NVMLUnavailable(f"nvidia-ml-py is not installed ({exc}): pip install nvidia-ml-py") from exc
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise NVMLUnavailable(f"NVML did not initialise: {exc}") from exc
    return pynvml


def handle(device: str):
    """The NVML handle of a torch CUDA device, matched by UUID (CUDA_VISIBLE_DEVICES renumbers
    devices; NVML does not), else by index."""
    import torch

    nv = _pynvml()
    index = torch.device(device).index
    index = torch.cuda.current_device() if index is None else index
    uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
    if uuid is not None:
        text = str(uuid)
        try:
            return nv.nvmlDeviceGetHandleByUUID(text if text.startswith(("GPU-", "MIG-")) else f"GPU-{text}")
        except nv.NVMLError:
            pass
    return nv.nvmlDeviceGetHandleByIndex(index)


def process_tree_pids(root: int | None = None) -> set[int]:
    """This process and all its descendants (vLLM's workers, a server this process started)."""
    import psutil

    proc = psutil.Process(root or os.getpid())
    return {proc.pid, *(c.pid for c in proc.children(recursive=True))}


def process_bytes(readings: Iterable[tuple[int, int | None]], pids: set[int]) -> int | None:
    """Sum of NVML's usedGpuMemory over `pids`; None where NVML lists none of them or withholds
    the figure (usedGpuMemory None), so the caller falls back to the device total."""
    hits = [used for pid, used in readings if pid in pids]
    if not hits or any(u is None for u in hits):
        return None
    return sum(hits)


def over_baseline(used: int, baseline: int) -> int:
    return max(0, used - baseline)


def readings(h) -> list[tuple[int, int | None]]:
    nv = _pynvml()
    procs = []
    for fn in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
        try:
            procs += getattr(nv, fn)(h)
        except nv.NVMLError:
            continue
    return [(p.pid, p.usedGpuMemory) for p in procs]


def device_used(h) -> int:
    return int(_pynvml().nvmlDeviceGetMemoryInfo(h).used)


def record_baseline(device: str) -> None:
    """Device memory in use before this process loads an engine (first call per device wins)."""
    if not device.startswith("cuda") or device in _BASELINE:
        return
    try:
        _BASELINE[device] = device_used(handle(device))
    except NVMLUnavailable:
        pass


def baseline(device: str) -> int | None:
    return _BASELINE.get(device)


def held_bytes(h, device: str, pids: set[int], fallback_baseline: int) -> tuple[int, str]:
    """(bytes, method): the process tree's figure, else device used minus the baseline."""
    own = process_bytes(readings(h), pids)
    if own is not None:
        return own, "nvml-process"
    base = _BASELINE.get(device, fallback_baseline)
    return over_baseline(device_used(h), base), "nvml-device-minus-baseline"


def energy_mj(h) -> int:
    """Total energy since the driver loaded, millijoules (Volta and later)."""
    return int(_pynvml().nvmlDeviceGetTotalEnergyConsumption(h))
