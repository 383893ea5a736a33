"""Read asv result files into flat rows: one row per benchmark × parameter combination.

asv stores per machine `results/<machine>/<commit>-<env>.json` with a `result_columns`
header, one list per benchmark, the parameter grid in `params`, and `null` for a failed or
skipped combination. `results/benchmarks.json` has each benchmark's unit and param names.
"""
from __future__ import annotations

import importlib
import inspect
import itertools
import json
import re
import sys
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
    raw_params: tuple = ()  # parameter values as asv wrote them (repr), for `asv run --bench`
    env: str | None = None  # the environment's id (bench_lib.environment); None in older results
    version: str | None = None  # the benchmark's asv version: a new one starts a new series, as in asv


# Other files kept beside the results (fingerprint.txt, aa-noise.txt) do not end in .json:
# asv warns about every .json under results/ that is not a result file.
NOT_RESULTS = {"machine.json"}


# What reading a damaged file raises: unreadable (OSError), not JSON or not text (ValueError),
# JSON of another shape (AttributeError, TypeError, KeyError, IndexError).
BAD_FILE = (OSError, ValueError, AttributeError, TypeError, KeyError, IndexError)


class BadResultFile(ValueError):
    """A result file that cannot be read; the message names the file."""


def _describe(path: Path, exc: Exception, what: str) -> str:
    return f"{path}: not a readable {what} ({type(exc).__name__}: {exc})"


def _skip_warning(message: str) -> None:
    print(f"llm-bench: warning: skipping {message}", file=sys.stderr)


def benchmark_info(results_dir: Path) -> dict:
    """results/benchmarks.json; empty (units and parameter names unknown) when missing or damaged."""
    path = Path(results_dir) / "benchmarks.json"
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text())
        if not isinstance(info, dict):
            raise ValueError(f"top level is a {type(info).__name__}, not an object")
        return info
    except BAD_FILE as exc:
        _skip_warning(_describe(path, exc, "asv benchmarks.json") + "; units and parameter names are unknown")
        return {}


def result_files(results_dir: Path) -> list[Path]:
    if not Path(results_dir).is_dir():
        return []
    out = []
    for machine_dir in sorted(p for p in Path(results_dir).iterdir() if p.is_dir()):
        out.extend(p for p in sorted(machine_dir.glob("*.json")) if p.name not in NOT_RESULTS)
    return out


def read_file(path: Path, info: dict) -> list[Row]:
    """The rows of one asv result file; BadResultFile naming it when it is damaged."""
    try:
        return _read_file(Path(path), info)
    except BAD_FILE as exc:
        raise BadResultFile(_describe(path, exc, "asv result file")) from exc


def _read_file(path: Path, info: dict) -> list[Row]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"top level is a {type(data).__name__}, not an object")
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
                            samples=col("samples"), date=data.get("date"), raw_params=tuple(combo),
                            env=data.get("params", {}).get("env"), version=rec.get("version")))
    return rows


def load(results_dir: Path | str) -> list[Row]:
    results_dir = Path(results_dir)
    info = benchmark_info(results_dir)
    rows = []
    for path in result_files(results_dir):
        try:  # one damaged file costs its own rows, never the others'
            rows.extend(read_file(path, info))
        except BadResultFile as exc:
            _skip_warning(str(exc))
    return rows


def latest(rows: list[Row]) -> list[Row]:
    """Rows of the newest result file per machine."""
    newest: dict[str, tuple[int, str]] = {}
    for r in rows:
        key = (r.date or 0, r.commit)
        if r.machine not in newest or key > newest[r.machine]:
            newest[r.machine] = key
    return [r for r in rows if (r.date or 0, r.commit) == newest[r.machine]]


# --- which metric a benchmark measures ----------------------------------------------------------
# asv keeps no docstring or attribute that names the metric behind a `track_` method, only its
# name and unit, so the metric is found from those: the method name itself, else the registered
# metrics whose name contains it and whose unit matches, narrowed by the class name
# (ArcInference.track_accuracy -> arc_accuracy). When candidates disagree on direction the
# direction is unknown and reported as such, never guessed.


@dataclass(frozen=True)
class MetricMatch:
    metric: str | None           # registered metric name, or None when not resolved to one
    higher_is_better: bool | None  # None: direction unknown
    how: str                     # "time_", "peakmem_", "exact", "name+unit", "ambiguous", "unknown"


def class_prefixes(bench: str) -> list[str]:
    parts = bench.split(".")
    words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", parts[-2]) if len(parts) >= 2 else []
    return ["".join(words[:i]).lower() for i in range(len(words), 0, -1)]


def suite_metrics(benchmark_dir: Path | str = "benchmarks") -> dict[str, str]:
    """{asv benchmark name: metric name} read from the suite itself: a track_ method made by
    benchmarks.common.track keeps the metric name in its closure and the record's description
    as its docstring. Benchmarks no longer in the suite (old results) fall back to the
    name-and-unit match in resolve_metric."""
    root = Path(benchmark_dir).resolve()
    if not (root / "__init__.py").exists():
        return {}
    sys.path.insert(0, str(root.parent))
    out = {}
    try:
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).with_suffix("").parts
            if rel[-1] == "__init__":
                continue
            try:
                module = importlib.import_module(".".join((root.name, *rel)))
            except Exception as exc:  # work in progress costs only its own module's benchmarks
                print(f"llm-bench: {path} does not import ({type(exc).__name__}: {exc}); "
                      "its benchmarks are matched by name", file=sys.stderr)
                continue
            for cls_name, cls in vars(module).items():
                if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                    continue
                for attr in dir(cls):
                    metric_name = _track_metric(getattr(cls, attr)) if attr.startswith("track_") else None
                    if metric_name:
                        out[".".join((*rel, cls_name, attr))] = metric_name
    finally:
        sys.path.remove(str(root.parent))
    return out


def _track_metric(func) -> str | None:
    from bench_lib.metrics import all_metrics

    records = all_metrics()
    doc = getattr(func, "__doc__", None) or ""
    try:
        name = inspect.getclosurevars(func).nonlocals.get("name")
    except TypeError:
        name = None
    if name in records and doc.startswith(records[name].description):
        return name
    # Written by hand with the record's wording: the description and unit name it.
    named = [m.name for m in records.values() if doc.startswith(f"{m.description} ({m.unit}")]
    return named[0] if len(named) == 1 else None


def resolve_metric(bench: str, unit: str, metrics: dict | None = None, suite: dict | None = None) -> MetricMatch:
    if metrics is None:
        from bench_lib.metrics import all_metrics

        metrics = all_metrics()
    if suite and suite.get(bench) in metrics:
        return MetricMatch(suite[bench], metrics[suite[bench]].higher_is_better, "suite")
    method = bench.rsplit(".", 1)[-1]
    if method.startswith("time_"):
        return MetricMatch(None, False, "time_")
    if method.startswith("peakmem_"):
        return MetricMatch(None, False, "peakmem_")
    if method.startswith("mem_"):
        return MetricMatch(None, False, "peakmem_")
    suffix = method[len("track_"):] if method.startswith("track_") else method
    if suffix in metrics:
        return MetricMatch(suffix, metrics[suffix].higher_is_better, "exact")
    found = [m for m in metrics.values()
             if f"_{suffix}_" in f"_{m.name}_" and (unit in ("", "unit") or m.unit == unit)]
    # Closest names first: the class's own (arc_accuracy), the suffix plus a unit tag (ttft_s),
    # one word before it (output_tokens_per_s), then anything containing it.
    tiers = [[m for m in found if m.name == f"{p}_{suffix}"] for p in class_prefixes(bench)]
    tiers.append([m for m in found if m.name.startswith(f"{suffix}_") and "_" not in m.name[len(suffix) + 1:]])
    tiers.append([m for m in found if m.name.endswith(f"_{suffix}") and "_" not in m.name[:-len(suffix) - 1]])
    tiers.append(found)
    found = next((t for t in tiers if t), [])
    if len(found) > 1:
        # Several areas register the same quantity under their own prefix (train_tokens_per_s
        # beside output_tokens_per_s): a class outside that area means the unprefixed one.
        words = [m.split("_", 1)[0] for m in metrics]
        families = {w for w in words if words.count(w) >= 3} - set(class_prefixes(bench))
        outside = [m for m in found if m.name.split("_", 1)[0] not in families]
        found = outside if len(outside) == 1 else found
    if len(found) == 1:
        return MetricMatch(found[0].name, found[0].higher_is_better, "name+unit")
    directions = {m.higher_is_better for m in found}
    if len(directions) == 1:
        return MetricMatch(None, directions.pop(), "ambiguous")
    return MetricMatch(None, None, "unknown")


# --- selecting results --------------------------------------------------------------------------


def row_key(row: Row) -> tuple:
    """Identity of one measured number across commits and machines. The benchmark's version is
    part of it: asv changes the version when what a benchmark measures changes (an explicit
    `version` attribute, else a hash of its code), and never compares values across versions."""
    return (row.benchmark, tuple(sorted(row.params.items())), row.version or "")


def label(row: Row) -> str:
    params = ", ".join(f"{k}={v}" for k, v in row.params.items())
    return f"{row.benchmark}({params})" if params else row.benchmark


def machines(rows: list[Row]) -> list[str]:
    return sorted({r.machine for r in rows})


def commits_in_order(rows: list[Row], machine: str, repo: Path | None = None) -> list[str]:
    """Commits with results on `machine`, oldest first: by git history where `repo` is a git
    checkout that knows them all, else by the commit date asv stored."""
    dated = {}
    for r in rows:
        if r.machine == machine:
            dated[r.commit] = max(dated.get(r.commit, 0), r.date or 0)
    if repo is not None:
        import subprocess

        try:
            out = subprocess.run(["git", "-C", str(repo), "rev-list", "--all", "--topo-order", "--reverse"],
                                 capture_output=True, text=True, check=True, timeout=60).stdout.split()
            order = {c: i for i, c in enumerate(out)}
            if all(c in order for c in dated):
                return sorted(dated, key=order.__getitem__)
        except (OSError, subprocess.SubprocessError):
            pass
    return sorted(dated, key=lambda c: (dated[c], c))


def ancestors_with_results(rows: list[Row], machine: str, commit: str, repo: Path | None) -> list[str] | None:
    """Earlier commits with results on `machine` along the first-parent history of `commit`,
    nearest first (a pull request's merge commit: the branch it merges into). None where git
    does not know the commit."""
    if repo is None:
        return None
    import subprocess

    try:
        history = subprocess.run(["git", "-C", str(repo), "rev-list", "--first-parent", commit],
                                 capture_output=True, text=True, check=True, timeout=60).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    have = {r.commit for r in rows if r.machine == machine}
    return [c for c in history[1:] if c in have]


def find_commit(rows: list[Row], machine: str, ref: str) -> str:
    """The full hash of the results commit on `machine` that `ref` (a hash prefix) names."""
    known = sorted({r.commit for r in rows if r.machine == machine})
    hits = [c for c in known if c.startswith(ref)]
    if len(hits) != 1:
        raise ValueError(f"commit {ref!r} {'is ambiguous' if hits else 'has no results'} on machine "
                         f"{machine!r}; commits with results there: {', '.join(c[:10] for c in known) or 'none'}")
    return hits[0]
