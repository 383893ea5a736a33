"""The power experiment of scripts/alert_power.py, cut down for CI: its planted slowdown still
fits the engines' decode loops, and one trial of the real suite (HF decode, smoke tier) catches a
decode step made four times as slow in a scratch commit (far outside this shared machine's
run-to-run spread of about ±25%, so the test judges the verdict's code, not the machine), through the same paired measurement and
verdict as `llm-bench compare-commits`."""
from __future__ import annotations

import json
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import alert_power  # noqa: E402


def test_the_planted_slowdown_fits_the_current_decode_loops(tmp_path):
    for rel in ("bench_lib/engines/hf.py", "bench_lib/engines/llamacpp.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    alert_power.plant_slowdown(tmp_path, 0.25)
    for rel, call in (("bench_lib/engines/hf.py", alert_power.HF_DECODE),
                      ("bench_lib/engines/llamacpp.py", alert_power.LLAMACPP_DECODE)):
        text = (tmp_path / rel).read_text()
        py_compile.compile(str(tmp_path / rel), doraise=True)
        before, after = text.split(call)
        assert before.rstrip().endswith("_t0 = __import__('time').perf_counter()")
        assert after.startswith(" " * 12 + "_end = __import__('time').perf_counter()\n" + " " * 12 + "_end += 0.25 *")
        assert (ROOT / rel).read_text().count(call) == 1  # the product itself is untouched


@pytest.mark.slow
def test_one_trial_catches_a_decode_step_four_times_as_slow(tmp_path):
    pytest.importorskip("asv")
    pytest.importorskip("transformers")
    out = tmp_path / "power.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "alert_power.py"), "--trials", "1", "--rounds", "4",
                           "--slowdown", "3.0", "--bench", r"ArcInference\.track_tpot\b", "--json", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    per = json.loads(out.read_text())["benchmarks"]
    row = next(v for k, v in per.items() if k.startswith("bench_inference.ArcInference.track_tpot") and "batch_size=1" in k)
    slowed = row["by_slowdown"]["3"]
    assert slowed["detected"] == 1 and row["trials"] == 1
    assert slowed["ratios"][0] > 1.3 and slowed["ratios"][0] > row["aa_ratios"][0]
    assert slowed["p"][0] < 0.05
