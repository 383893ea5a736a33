"""Where task rows come from: bundled fixtures, a folder of files, or a hub dataset.

Selected with BENCH_DATA_DIR (a folder holding `{task}-{split}.parquet` or `.jsonl`) or
BENCH_DATA_SOURCE (`fixtures`, the default, or `hub`). The hub path is the real
`datasets.load_dataset` call; tests point it at a locally saved copy of a dataset repository.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from bench_lib.tasks import TASKS, get_task
from bench_lib.tasks.base import DataError, Example
from bench_lib.tasks.fixtures import FIXTURE_DIR

SPLITS = ("train", "test")


def _read_file(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pylist()
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise DataError(f"{path}: not a readable parquet file ({exc})") from exc
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}: row {lineno}: not valid JSON ({exc.msg})") from exc
    return rows


def find_file(folder: Path, task: str, split: str) -> Path:
    for suffix in (".parquet", ".jsonl"):
        path = folder / f"{task}-{split}{suffix}"
        if path.exists():
            return path
    raise DataError(f"{folder}: no {task}-{split}.parquet or {task}-{split}.jsonl; "
                    f"a data folder holds files named {{{','.join(TASKS)}}}-{{train,test}}.parquet or .jsonl")


def _hub_rows(task, split: str, path: str | None) -> tuple[list[dict], str]:
    import datasets

    src = task.hub
    ds = datasets.load_dataset(path or src.path, src.name, split=src.splits[split])
    return list(ds), f"{path or src.path}[{src.name or 'default'}/{src.splits[split]}]"


def load_rows(task_name: str, split: str, source: str | None = None) -> tuple[list[dict], str]:
    """Rows of one split and a label for the place they came from (used in error messages)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    task = get_task(task_name)
    source = source or os.environ.get("BENCH_DATA_DIR") or os.environ.get("BENCH_DATA_SOURCE", "fixtures")
    if source == "fixtures":
        path = find_file(FIXTURE_DIR, task_name, split)
        return _read_file(path), str(path)
    if source == "hub" or source.startswith("hub:"):
        return _hub_rows(task, split, source[4:] or None)
    folder = Path(source)
    if not folder.is_dir():
        raise DataError(f"data source {source!r} is neither 'fixtures', 'hub', 'hub:<dataset path>' nor a folder")
    path = find_file(folder, task_name, split)
    return _read_file(path), str(path)


def load_examples(task_name: str, split: str, limit: int | None = None, source: str | None = None) -> list[Example]:
    rows, where = load_rows(task_name, split, source)
    if not rows:
        raise DataError(f"{where}: no rows")
    task = get_task(task_name)
    rows = rows[:limit] if limit else rows
    return [task.parse_row(row, f"{where}: row {i}") for i, row in enumerate(rows)]
