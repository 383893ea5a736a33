"""Built artifacts that check themselves: `<file>.check` beside a file records the size and sha256
it had when it was written. A cache that finds a file not matching its record (bytes overwritten,
truncated, no record at all: an interrupted write or a file from elsewhere) builds it again
instead of handing a damaged file to an engine.

The hash is taken once per process per unchanged file (size and mtime), so a file used by many
benchmarks of one process is read once.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def check_path(path: Path) -> Path:
    return path.with_name(path.name + ".check")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            h.update(block)
    return h.hexdigest()


def record(path: Path) -> None:
    """Write `<path>.check`: the size and sha256 the file has now (atomically, after the file)."""
    path = Path(path)
    check, tmp = check_path(path), path.with_name(f".{path.name}.check.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"size": path.stat().st_size, "sha256": sha256_file(path)}) + "\n")
    os.replace(tmp, check)
    _VERIFIED.add(_stamp(path))


def _stamp(path: Path) -> tuple:
    st = path.stat()
    return str(path), st.st_size, st.st_mtime_ns


# Files already hashed by this process, unchanged since: a process asks for the same file many times.
_VERIFIED: set[tuple] = set()


def verify(path: Path) -> str | None:
    """None when `path` still has the size and sha256 recorded when it was written, else why not."""
    path = Path(path)
    try:
        recorded = json.loads(check_path(path).read_text())
        size, digest = int(recorded["size"]), str(recorded["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"no readable record of its size and hash ({check_path(path).name})"
    if _stamp(path) in _VERIFIED:
        return None
    have = path.stat().st_size
    if have != size:
        return f"it has {have} bytes, {size} were written (truncated or overwritten)"
    if sha256_file(path) != digest:
        return "its sha256 differs from the one recorded when it was written (damaged or overwritten)"
    _VERIFIED.add(_stamp(path))
    return None
