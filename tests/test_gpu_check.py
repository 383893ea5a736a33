"""The GPU check's dry run: stage list, wheel-folder completeness and the 64 MiB budget."""
from __future__ import annotations

import subprocess
import sys

from bench_lib import gpu_check

ROOT = gpu_check.ROOT


def _dry(*args):
    return subprocess.run([sys.executable, "-m", "bench_lib.gpu_check", "--dry-run", *args], cwd=ROOT,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_dry_run_without_wheels_lists_the_stages_and_passes(tmp_path):
    p = _dry("--wheels", str(tmp_path / "absent"))
    assert p.returncode == 0, p.stderr
    for stage in gpu_check.stages():
        assert f" {stage['name']} " in p.stdout
    assert "is absent; prepare it with `make gpu-wheels`" in p.stdout
    assert "published 0.38 and 0.80" in p.stdout


def test_strict_dry_run_fails_without_wheels(tmp_path):
    assert _dry("--wheels", str(tmp_path / "absent"), "--strict-wheels").returncode == 1


def _wheel(folder, name, version):
    (folder / f"{name}-{version}-py3-none-any.whl").write_bytes(b"")


def test_missing_wheels_are_named(tmp_path):
    reqs = [("asv", "0.6.6"), ("optimum-quanto", "0.2.7"), ("zipp", None), ("gguf", "0.19.0")]
    _wheel(tmp_path, "asv", "0.6.6")
    _wheel(tmp_path, "optimum_quanto", "0.2.7")   # wheel names use underscores
    _wheel(tmp_path, "zipp", "3.0")
    _wheel(tmp_path, "gguf", "0.18.0")            # wrong version
    assert gpu_check.missing_wheels(tmp_path, reqs) == ["gguf==0.19.0"]


def test_every_listed_wheel_present_passes_strict(tmp_path):
    for name, version in gpu_check.requirements():
        _wheel(tmp_path, name.replace("-", "_"), version or "1.0")
    p = _dry("--wheels", str(tmp_path), "--strict-wheels")
    assert p.returncode == 0, p.stdout
    assert f"all {len(gpu_check.requirements())} present" in p.stdout


def test_over_budget_fails_even_without_strict(tmp_path):
    with open(tmp_path / "big-1.0-py3-none-any.whl", "wb") as f:
        f.truncate(gpu_check.BUDGET_BYTES)  # sparse: its size counts, no disk is used
    p = _dry("--wheels", str(tmp_path))
    assert p.returncode == 1 and "over the 64 MiB" in p.stdout


def test_requirements_pin_the_large_wheel():
    assert ("bitsandbytes", "0.50.2") in gpu_check.requirements()


def test_real_run_on_a_cpu_machine_says_it_needs_cuda():
    import pytest
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the real run would start")
    p = subprocess.run([sys.executable, "-m", "bench_lib.gpu_check"], cwd=ROOT, capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 1 and "no CUDA device visible" in p.stdout and "Traceback" not in p.stderr


def test_versions_against_the_lock_name_each_difference():
    lock = ("torch==2.13.0 \\\n    --hash=sha256:aa\ntransformers==5.23.0 \\\n    --hash=sha256:bb\n"
            "peft==0.21.2 \\\n    --hash=sha256:cc\n")
    installed = {"torch": "2.11.0+cu130", "transformers": "5.17.0", "peft": "0.21.2", "pip": "25.0"}
    libs, differ = gpu_check.versions_against_lock(installed, lock)
    assert libs == "libraries: torch 2.11.0+cu130, transformers 5.17.0, peft 0.21.2"
    assert differ == "differs from requirements/gpu.txt: torch 2.11.0+cu130 (lock 2.13.0), transformers 5.17.0 (lock 5.23.0)"
    same = {"torch": "2.13.0+cu130", "transformers": "5.23.0"}
    assert gpu_check.versions_against_lock(same, lock)[1] == "differs from requirements/gpu.txt: nothing measured"
