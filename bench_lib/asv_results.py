"""Read asv result files into flat rows: one row per benchmark × parameter combination.

asv stores per machine `results/<machine>/<commit>-<env>.json` with a `result_columns`
header, one list per benchmark, the parameter grid in `params`, and `null` for a failed or
skipped combination. `results/benchmarks.json` has each benchmark's unit and param names.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Row:
    machine: str
    commit: str
    benchmark: str
    params: dict[str, str]
    value: float | None
    unit: str
    stats: dict            # ci_99_a, ci_99_b, q_25, q_75, repeat, number where asv stored them
    samples: list | None
    date: int | None


def benchmark_info(results_dir: Path) -> dict:
    path = Path(results_dir) / "benchmarks.json"
    return json.loads(path.read_text()) if path.exists() else {}


def result_files(results_dir: Path) -> list[Path]:
    out = []
    for machine_dir in sorted(p for p in Path(results_dir).iterdir() if p.is_dir()):
        out.extend(p for p in sorted(machine_dir.glob("*.json")) if p.name != "machine.json")
    return out


def read_file(path: Path, info: dict) -> list[Row]:
    data = json.loads(path.read_text())
    cols = data.get("result_columns", [])
    rows = []
    for bench, values in data.get("results", {}).items():
        rec = dict(zip(cols, values))
        params = rec.get("params") or []
        names = info.get(bench, {}).get("param_names", [f"p{i}" for i in range(len(params))])
        combos = list(itertools.product(*params)) if params else [()]
        results = rec.get("result")
        results = results if isinstance(results, list) else [results]
        for i, combo in enumerate(combos):
            def col(key, i=i):
                v = rec.get(key)
                return v[i] if isinstance(v, list) and i < len(v) else None
            stats = {k: col(f"stats_{k}") for k in ("ci_99_a", "ci_99_b", "q_25", "q_75", "number", "repeat")}
            rows.append(Row(machine=data.get("params", {}).get("machine", path.parent.name),
                            commit=data.get("commit_hash", ""), benchmark=bench,
                            params={n: str(v).strip("'") for n, v in zip(names, combo)},
                            value=results[i] if i < len(results) else None,
                            unit=info.get(bench, {}).get("unit", ""),
                            stats={k: v for k, v in stats.items() if v is not None},
                            samples=col("samples"), date=data.get("date")))
    return rows


def load(results_dir: Path | str) -> list[Row]:
    results_dir = Path(results_dir)
    info = benchmark_info(results_dir)
    return [row for path in result_files(results_dir) for row in read_file(path, info)]


def latest(rows: list[Row]) -> list[Row]:
    """Rows of the newest result file per machine."""
    newest: dict[str, tuple[int, str]] = {}
    for r in rows:
        key = (r.date or 0, r.commit)
        if r.machine not in newest or key > newest[r.machine]:
            newest[r.machine] = key
    return [r for r in rows if (r.date or 0, r.commit) == newest[r.machine]]
