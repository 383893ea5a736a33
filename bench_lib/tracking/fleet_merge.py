"""Merge the result folders of a fleet's shards into one asv results directory.

Every shard ran `asv run` for its own benchmarks into its own folder, so for one machine,
commit and environment there is one result file per shard, each in asv's format (version 2:
``result_columns``, a list per benchmark, ``durations`` keyed by benchmark and setup_cache).
The merged file keeps the first shard's header (commit, machine params, python, env name, date)
and the union of the benchmarks; a file already in the target for the same machine, commit and
environment is merged in as an earlier shard, so a resumed fleet adds to what landed before.
Shards whose environment ids (bench_lib.environment, in the machine params as ``env``) differ
are refused: one series holds one environment per commit. The merged file is read back by
asv's own Results.load before it replaces anything.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench_lib.tracking import asv_results, asv_run


class MixedEnvironments(ValueError):
    pass


def _key(data: dict, path: Path) -> tuple[str, str, str]:
    return (data.get("params", {}).get("machine", path.parent.name), data["commit_hash"], data["env_name"])


def merge_documents(docs: list[tuple[Path, dict]]) -> dict:
    """One asv result document from several of the same machine, commit and env name."""
    first_path, first = docs[0]
    envs = {d.get("params", {}).get("env") for _, d in docs}
    if len(envs) > 1:
        where = ", ".join(f"{p} (env {d.get('params', {}).get('env')})" for p, d in docs)
        raise MixedEnvironments(f"refusing to merge results of two environments into one series: {where}; "
                                "run every shard from the same locked environment (make install)")
    out = json.loads(json.dumps(first))
    cols = out["result_columns"]
    for path, doc in docs[1:]:
        if doc.get("version") != out.get("version") or doc.get("result_columns") != cols:
            raise ValueError(f"{path} is in another asv result format than {first_path}")
        for name, values in doc.get("results", {}).items():
            out["results"][name] = values
        for name, secs in (doc.get("durations") or {}).items():
            # a class split over shards computed its setup_cache in each: the longest is its cost
            prev = out.setdefault("durations", {}).get(name)
            out["durations"][name] = secs if prev is None or secs is None else max(prev, secs)
        out["date"] = max(out.get("date") or 0, doc.get("date") or 0) or out.get("date")
    return out


def _merge_benchmarks_json(sources: list[Path], target: Path) -> None:
    merged: dict = {}
    for path in sources:
        if path.exists():
            merged.update(json.loads(path.read_text()))
    if merged:
        merged["version"] = 2
        target.write_text(json.dumps(merged, indent=4, sort_keys=True))


def merge(shard_results: list[Path], target: Path) -> list[Path]:
    """Merge every shard's result files into `target`; returns the files written there."""
    from asv.results import Results

    target = Path(target)
    groups: dict[tuple, list[tuple[Path, dict]]] = {}
    for folder in shard_results:
        for path in asv_results.result_files(folder):
            data = json.loads(path.read_text())
            groups.setdefault(_key(data, path), []).append((path, data))
    written = []
    for (machine, _, _), docs in sorted(groups.items()):
        dest_dir = target / machine
        dest = dest_dir / docs[0][0].name
        if dest.exists():
            docs.insert(0, (dest, json.loads(dest.read_text())))
        doc = merge_documents(docs)
        dest_dir.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".merging")
        tmp.write_text(json.dumps(doc, indent=None, sort_keys=True))
        Results.load(str(tmp), machine_name=machine)  # asv must read what it will publish
        os.replace(tmp, dest)
        written.append(dest)
        # the machine entry, fingerprint and package list each shard's node recorded beside it
        for path, _ in docs:
            for extra in path.parent.iterdir():
                if extra.suffix != ".json" or extra.name == "machine.json":
                    if not (dest_dir / extra.name).exists() and extra.is_file():
                        shutil.copy2(extra, dest_dir / extra.name)
    _merge_benchmarks_json([target / "benchmarks.json", *[f / "benchmarks.json" for f in shard_results]],
                           target / "benchmarks.json")
    return written


def publish(root: Path, results: Path) -> int:
    """`asv publish` over the merged results, into the html/ beside them."""
    import tempfile

    results = Path(results).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        conf = asv_run.config(root, results, Path(tmp) / "asv.conf.json")
        proc = subprocess.run([sys.executable, "-m", "asv", "publish", "--config", str(conf)],
                              capture_output=True, text=True, cwd=root)
    if proc.returncode:
        print(f"llm-bench fleet: asv publish failed: {(proc.stderr or proc.stdout).strip()[-500:]}", file=sys.stderr)
        return proc.returncode
    print(f"published: {results.parent / 'html'}", file=sys.stderr)
    return 0
