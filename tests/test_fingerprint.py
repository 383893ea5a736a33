"""Fingerprint: the record's fields, machine names that keep different GPUs apart, asv registration."""
from __future__ import annotations

import argparse
import json

import pytest

from bench_lib import environment

from bench_lib import fingerprint
from bench_lib.tracking import fingerprint_cli

H100 = "NVIDIA H100 80GB HBM3, 81559, 550.54.15, 9.0\n"
RTX4090 = "NVIDIA GeForce RTX 4090, 24564, 550.54.15, 8.9\n"


def with_gpus(monkeypatch, smi_text: str) -> dict:
    monkeypatch.setattr(fingerprint, "cuda_gpus", lambda: fingerprint.parse_nvidia_smi(smi_text))
    monkeypatch.setattr(fingerprint, "cuda_runtime", lambda: "12.8")
    return fingerprint.collect()


def test_record_on_this_machine():
    rec = fingerprint.collect()
    assert rec["cpu"]["model"] and rec["cpu"]["logical"] >= 1 and rec["ram_bytes"] > 2**30
    assert set(rec["packages"]) == set(environment.MEASURED)
    assert rec["packages"]["torch"] not in ("", fingerprint.NOT_INSTALLED)
    assert all(v for v in rec["packages"].values())  # a version or "not installed", never empty
    assert rec["machine"] == fingerprint.machine_name(rec)
    if rec["gpu"]["count"] == 0:
        assert rec["machine"].startswith("cpu-")


def test_parse_nvidia_smi():
    (gpu,) = fingerprint.parse_nvidia_smi(H100)
    assert gpu == {"name": "NVIDIA H100 80GB HBM3", "memory_bytes": 81559 * 2**20,
                   "driver": "550.54.15", "compute_capability": "9.0"}


def test_different_gpus_never_share_a_series(monkeypatch):
    h100 = with_gpus(monkeypatch, H100)
    two_h100 = with_gpus(monkeypatch, H100 * 2)
    rtx = with_gpus(monkeypatch, RTX4090)
    none = with_gpus(monkeypatch, "")
    names = {r["machine"] for r in (h100, two_h100, rtx, none)}
    assert len(names) == 4
    assert h100["machine"].startswith("gpu-1x-h100-80gb-hbm3-80g--cpu-")
    assert two_h100["machine"].startswith("gpu-2x-h100")
    assert h100["gpu"] == {"count": 1, "cuda_runtime": "12.8", "devices": fingerprint.parse_nvidia_smi(H100)}
    assert fingerprint.asv_machine_entry(rtx)["gpu"] == "1x NVIDIA GeForce RTX 4090 (24 GiB, cc 8.9)"


def test_asv_machine_registration(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))  # asv's machine file lives in ~
    rec = with_gpus(monkeypatch, H100)
    parser = argparse.ArgumentParser()
    fingerprint_cli.add_arguments(parser)
    assert fingerprint_cli.run(parser.parse_args(["--asv-machine", "--results", str(tmp_path / "results")])) == 0
    assert capsys.readouterr().out.strip() == rec["machine"]
    machines = json.loads((tmp_path / ".asv-machine.json").read_text())
    assert machines[rec["machine"]]["gpu"].startswith("1x NVIDIA H100")
    from asv.machine import Machine

    loaded = Machine.load(machine_name=rec["machine"], _path=str(tmp_path / ".asv-machine.json"))
    assert loaded.machine == rec["machine"] and loaded.num_cpu == str(rec["cpu"]["logical"])
    stored = json.loads((tmp_path / "results" / rec["machine"] / "fingerprint.txt").read_text())
    assert stored["gpu"]["devices"][0]["name"] == "NVIDIA H100 80GB HBM3"
    # The environment's id goes into every result through the machine entry; its package list
    # stays beside the results.
    assert machines[rec["machine"]]["env"] == rec["env"]["id"] == environment.identity()["id"]
    env_file = environment.load(tmp_path / "results", rec["machine"], rec["env"]["id"])
    assert env_file["packages"]["torch"] == rec["packages"]["torch"]


@pytest.mark.parametrize("flag", ["--name", None])
def test_cli_prints(flag, capsys):
    parser = argparse.ArgumentParser()
    fingerprint_cli.add_arguments(parser)
    assert fingerprint_cli.run(parser.parse_args([flag] if flag else [])) == 0
    out = capsys.readouterr().out
    if flag:
        assert out.strip() == fingerprint.collect()["machine"]
    else:
        assert json.loads(out)["packages"]["vllm"]
