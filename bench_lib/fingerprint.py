"""Hardware and software fingerprint of the machine a result was measured on.

asv's machine record has no GPU and is named after the host, so an H100 box and a 4090 box
with the same hostname would share one series. The fingerprint records CPU, RAM, the CUDA GPUs
and the software environment (bench_lib.environment: its id, the lock it came from, the versions
of the libraries that change the numbers), and derives the asv machine name from the hardware
alone, so different hardware never shares a series while a library upgrade shows as a change of
environment within one.

GPUs are read with nvidia-smi (no CUDA context, no torch import); the CUDA runtime version is
the one torch was built with, read only when a GPU is present.
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess

from bench_lib import environment

NOT_INSTALLED = "not installed"
_GPU_QUERY = "name,memory.total,driver_version,compute_cap"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def cpu_counts() -> dict:
    import psutil

    return {"logical": psutil.cpu_count(logical=True) or os.cpu_count() or 0,
            "physical": psutil.cpu_count(logical=False) or 0}


def ram_bytes() -> int:
    import psutil

    return int(psutil.virtual_memory().total)


def package_versions(installed: dict[str, str]) -> dict[str, str]:
    """The measured libraries' versions, NOT_INSTALLED for those absent."""
    return {name: installed.get(name, NOT_INSTALLED) for name in environment.MEASURED}


def parse_nvidia_smi(text: str) -> list[dict]:
    """Rows of `nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap
    --format=csv,noheader,nounits` as records (memory.total is in MiB)."""
    gpus = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            continue
        name, mem_mib, driver, cc = parts
        gpus.append({"name": name,
                     "memory_bytes": int(float(mem_mib)) * 2**20 if mem_mib.replace(".", "").isdigit() else None,
                     "driver": driver, "compute_capability": cc})
    return gpus


def cuda_gpus() -> list[dict]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, f"--query-gpu={_GPU_QUERY}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_nvidia_smi(out)


def cuda_runtime() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.version.cuda


def collect() -> dict:
    """The full record for this machine."""
    gpus = cuda_gpus()
    env = environment.identity()
    record = {
        "cpu": {"model": cpu_model(), "arch": platform.machine(), **cpu_counts()},
        "ram_bytes": ram_bytes(),
        "os": f"{platform.system()} {platform.release()}",
        "gpu": {"count": len(gpus), "devices": gpus,
                "cuda_runtime": cuda_runtime() if gpus else None},
        "packages": package_versions(env["packages"]),
        "env": {k: env[k] for k in ("id", "lock", "python")},
        "python": platform.python_version(),
    }
    record["machine"] = machine_name(record)
    return record


def _slug(text: str) -> str:
    text = re.sub(r"\((R|TM)\)|\bCPU\b|\bProcessor\b|@.*$|NVIDIA\s*", "", text, flags=re.I)
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def gpu_summary(record: dict) -> str:
    """'2x NVIDIA H100 80GB HBM3 (80 GiB, cc 9.0)' or 'none'; mixed GPUs are listed each."""
    devices = record["gpu"]["devices"]
    if not devices:
        return "none"
    kinds: dict[tuple, int] = {}
    for d in devices:
        key = (d["name"], d.get("memory_bytes"), d.get("compute_capability"))
        kinds[key] = kinds.get(key, 0) + 1
    return " + ".join(f"{n}x {name} ({(mem or 0) / 2**30:.0f} GiB, cc {cc})"
                      for (name, mem, cc), n in kinds.items())


def machine_name(record: dict) -> str:
    """asv machine name from the hardware: GPU kind, count and memory first, then CPU, cores and RAM.

    e.g. 'gpu-1x-h100-80gb-hbm3-80g--cpu-amd-epyc-7r13-16c-128g' or 'cpu-amd-epyc-2c-24g'.
    Software versions are left out on purpose: a torch upgrade is a change the series should show.
    """
    cpu = record["cpu"]
    host = f"cpu-{_slug(cpu['model'])}-{cpu['logical']}c-{round(record['ram_bytes'] / 2**30)}g"
    devices = record["gpu"]["devices"]
    if not devices:
        return host
    kinds: dict[str, int] = {}
    for d in devices:
        key = f"{_slug(d['name'])}-{round((d.get('memory_bytes') or 0) / 2**30)}g"
        kinds[key] = kinds.get(key, 0) + 1
    return "gpu-" + "-".join(f"{n}x-{k}" for k, n in sorted(kinds.items())) + "--" + host


def asv_machine_entry(record: dict) -> dict:
    """The ~/.asv-machine.json entry: asv's six fields plus `gpu` and `env` (the environment's id),
    which asv copies into every result's params (and the dashboard shows as filters)."""
    cpu = record["cpu"]
    return {"machine": record["machine"], "os": record["os"], "arch": cpu["arch"],
            "cpu": f"{cpu['model']} ({cpu['logical']} logical cores)", "num_cpu": str(cpu["logical"]),
            "ram": str(record["ram_bytes"]), "gpu": gpu_summary(record),
            "env": record["env"]["id"]}
