"""The locks: they cover what pyproject asks for, keep the deliberate pins, carry a hash for every
package, and the environment the tests run in is the one the lock describes."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from bench_lib import environment

from bench_lib.tracking import upgrade

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {p: (ROOT / "requirements" / f"{p}.txt").read_text() for p in ("cpu", "gpu")}
# Built from source into a wheel cache (scripts/install_llamacpp.sh), so never in a lock.
NOT_LOCKED = {"llama-cpp-python", "llm-bench"}


def requirement_names(profile: str) -> set[str]:
    """Distribution names pyproject asks for in a profile, its extras followed."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    names, todo, seen = set(), [profile, "llamacpp"], set()
    reqs = list(project["dependencies"])
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for req in extras[extra]:
            m = re.fullmatch(r"llm-bench\[(.+)\]", req)
            if m:
                todo.extend(m.group(1).split(","))
            else:
                reqs.append(req)
    for req in reqs:
        names.add(environment.normalize(re.match(r"[A-Za-z0-9._-]+", req).group(0)))
    return names


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_lock_covers_pyproject_and_keeps_the_pins(profile):
    locked = upgrade.lock_versions(LOCKS[profile])
    wanted = requirement_names(profile) - NOT_LOCKED - ({"torch"} if profile == "cpu" else set())
    assert wanted - set(locked) == set()
    pins = upgrade.lock_versions((ROOT / "requirements" / "pins.txt").read_text())
    for name, version in pins.items():
        if name == "torch" and profile == "cpu":
            assert "torch" not in locked  # installed first from the CPU wheel source, by version
        else:
            assert locked[name] == version


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_every_locked_package_has_a_hash(profile):
    blocks = upgrade.lock_blocks(LOCKS[profile])
    assert len(blocks) > 50
    assert [name for name, block in blocks.items() if "--hash=sha256:" not in block] == []


def test_this_environment_is_the_lock():
    stamp = environment.lock_hash()
    if stamp == environment.UNLOCKED:
        pytest.skip("this environment was not installed by `make install` (no lock stamp)")
    import hashlib

    profile = next((p for p in LOCKS if hashlib.sha256(LOCKS[p].encode()).hexdigest()[:16] == stamp), None)
    assert profile is not None, "the lock changed since this environment was installed: run `make install`"
    installed = environment.installed()
    locked = upgrade.lock_versions(LOCKS[profile])
    assert {n: (v, installed.get(n)) for n, v in locked.items() if installed.get(n) != v} == {}
    pinned_torch = upgrade.lock_versions((ROOT / "requirements" / "pins.txt").read_text())["torch"]
    assert installed["torch"].split("+")[0] == pinned_torch
