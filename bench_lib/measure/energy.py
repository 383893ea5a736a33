"""Energy of a workload from the hardware's cumulative counters.

GPU: NVML's total-energy counter (millijoules since the driver loaded), as optimum-benchmark and
Zeus read it; it covers the whole board, so other work on the same GPU is counted too.
CPU: RAPL package counters (/sys/class/powercap/intel-rapl:N/energy_uj, microjoules, summed over
packages; sub-zones such as intel-rapl:0:0 are inside their package and not added). A RAPL
counter wraps at max_energy_range_uj; a reading lower than the previous one is taken as one wrap,
so a workload must be shorter than one wrap period (minutes at full load on current CPUs).
Where neither can be read, the meter keeps the reason and reports no figure.
"""
from __future__ import annotations

import re
from pathlib import Path

RAPL_ROOT = Path("/sys/class/powercap")
_PACKAGE = re.compile(r"^intel-rapl:\d+$")


def counter_delta(start: int, end: int, wrap_at: int) -> int:
    """end - start of a counter that restarts at zero after reaching `wrap_at`."""
    return end - start if end >= start else end + wrap_at - start


def rapl_packages(root: Path = RAPL_ROOT) -> list[Path]:
    return sorted(p for p in root.glob("intel-rapl:*") if _PACKAGE.match(p.name)) if root.exists() else []


def read_rapl(root: Path = RAPL_ROOT) -> list[tuple[int, int]]:
    """(energy_uj, max_energy_range_uj) per package; raises OSError with the reason."""
    packages = rapl_packages(root)
    if not packages:
        raise OSError(f"no RAPL package zones under {root} (not an Intel/AMD RAPL machine, or powercap "
                      "is not exposed to this container)")
    return [(int((p / "energy_uj").read_text()), int((p / "max_energy_range_uj").read_text())) for p in packages]


def rapl_joules(start: list[tuple[int, int]], end: list[tuple[int, int]]) -> float:
    return sum(counter_delta(s, e, wrap) for (s, wrap), (e, _) in zip(start, end)) / 1e6


class EnergyMeter:
    """`with EnergyMeter(device) as em: ...` then `em.joules` (None) and `em.skip_reason`."""

    def __init__(self, device: str = "cpu", rapl_root: Path = RAPL_ROOT):
        self.device, self.rapl_root = device, rapl_root
        self.joules: float | None = None
        self.skip_reason: str | None = None
        self.source = ""
        self._start = None
        self._handle = None

    def __enter__(self) -> "EnergyMeter":
        try:
            if self.device.startswith("cuda"):
                from bench_lib.measure import nvml

                self._handle = nvml.handle(self.device)
                self._start = nvml.energy_mj(self._handle)
                self.source = "nvml-total-energy"
            else:
                self._start = read_rapl(self.rapl_root)
                self.source = "rapl"
        except Exception as exc:  # unreadable counter: a reason, not a failure of the workload
            self.skip_reason = f"energy not measured on {self.device}: {type(exc).__name__}: {exc}"
        return self

    def __exit__(self, *exc) -> None:
        if self._start is None:
            return
        try:
            if self._handle is not None:
                from bench_lib.measure import nvml

                self.joules = counter_delta(self._start, nvml.energy_mj(self._handle), 2**64) / 1e3
            else:
                self.joules = rapl_joules(self._start, read_rapl(self.rapl_root))
        except Exception as e:
            self.skip_reason = f"energy not measured on {self.device}: {type(e).__name__}: {e}"

    def per(self, count: float) -> float | None:
        return self.joules / count if self.joules is not None and count > 0 else None
