"""The package layout: what asv discovers as benchmarks."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def discovered_names() -> list[str]:
    from asv_runner.discovery import disc_benchmarks

    sys.path.insert(0, str(ROOT))
    try:
        return [b.name for b in disc_benchmarks(str(ROOT / "benchmarks"))]
    finally:
        sys.path.remove(str(ROOT))


def test_shared_declarations_are_not_benchmarks():
    names = discovered_names()
    assert any(n.startswith("bench_inference.ArcInference.track_") for n in names)
    assert [n for n in names if n.startswith("common.")] == []
