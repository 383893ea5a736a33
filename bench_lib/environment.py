"""The software environment a result was measured in: its identity, and what differs between two.

Library versions are part of a measurement: a transformers release can change a decode loop's
speed or break a counting protocol, and a result that does not say which versions made it would
let an alert blame the commit for what the upgrade did. Each environment is identified by

- ``id``: a hash of every installed distribution's name and version (this project excluded), so
  two environments with the same id ran the same code underneath the suite;
- ``lock``: the hash of the lock file `make install` installed from (``unlocked`` when the
  environment was not made from a lock);
- ``measured``: the versions of the libraries that change the numbers, for reading at a glance.

`llm-bench fingerprint --asv-machine` writes the whole package list to
``results/<machine>/env-<id>.txt`` and puts the id into the asv machine entry, which asv copies
into every result file's ``params``; so each result names its environment and the package list
behind that name stays beside the results.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import sys
from pathlib import Path

# Distribution names (as pip spells them, normalized) of the libraries whose versions change the
# numbers this suite reports.
MEASURED = ("torch", "transformers", "tokenizers", "accelerate", "peft", "bitsandbytes", "optimum-quanto",
            "torchao", "hqq", "gguf", "llama-cpp-python", "vllm", "numpy", "safetensors")
PROJECT = "llm-bench"
LOCK_STAMP = "lock.sha256"  # written beside the venv by `make install`
UNLOCKED = "unlocked"


def normalize(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> dict[str, str]:
    """name -> version of every distribution importable by this interpreter, this project excluded.
    Where one name is installed twice (an overlay environment), the one found first wins, as import does."""
    out: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = normalize(dist.metadata["Name"] or "")
        if name and name != PROJECT and name not in out:
            out[name] = dist.version
    return dict(sorted(out.items()))


def env_id(packages: dict[str, str]) -> str:
    text = "\n".join(f"{name}=={version}" for name, version in sorted(packages.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def lock_hash(prefix: Path | None = None) -> str:
    path = Path(prefix or sys.prefix) / LOCK_STAMP
    try:
        return path.read_text().split()[0]
    except (OSError, IndexError):
        return UNLOCKED


def identity(packages: dict[str, str] | None = None) -> dict:
    packages = installed() if packages is None else packages
    return {"id": env_id(packages), "lock": lock_hash(),
            "python": ".".join(map(str, sys.version_info[:3])),
            "measured": {name: packages[name] for name in MEASURED if name in packages},
            "packages": packages}


def record_path(results: Path, machine: str, ident: str) -> Path:
    # Not .json: asv reads every .json under results/ as a result file.
    return Path(results) / machine / f"env-{ident}.txt"


def save(record: dict, results: Path, machine: str) -> Path:
    path = record_path(results, machine, record["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path


def load(results: Path, machine: str, ident: str) -> dict | None:
    try:
        return json.loads(record_path(results, machine, ident).read_text())
    except (OSError, ValueError):
        return None


def diff(old: dict[str, str], new: dict[str, str]) -> list[tuple[str, str | None, str | None]]:
    """(name, old version, new version) for every package that was added, removed or changed;
    the measured libraries first, then the rest by name."""
    names = sorted(set(old) | set(new), key=lambda n: (n not in MEASURED, n))
    return [(n, old.get(n), new.get(n)) for n in names if old.get(n) != new.get(n)]


def describe(changes: list[tuple[str, str | None, str | None]], limit: int = 8) -> str:
    """'transformers 5.23.0 -> 5.24.0, huggingface-hub 1.2.0 -> 1.3.0 (+3 more)'."""
    parts = [f"{n} {a or 'absent'} -> {b or 'absent'}" for n, a, b in changes[:limit]]
    more = f" (+{len(changes) - limit} more)" if len(changes) > limit else ""
    return ", ".join(parts) + more
