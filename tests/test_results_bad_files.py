"""A damaged result file costs only its own rows: it is named in one warning line and skipped, and
summary, report and alerts carry on with the other files."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench_lib.tracking import asv_results

ROOT = Path(__file__).resolve().parent.parent
MACHINE = "cpu-amd-epyc-2c-24g"


@pytest.fixture
def damaged(tmp_path):
    """A copy of the committed results: the older commit's file truncated, plus two other bad files."""
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results", results)
    files = sorted(asv_results.result_files(results), key=lambda p: asv_results.read_file(p, {})[0].date or 0)
    if len(files) < 2:
        pytest.skip("needs the committed results of two commits")
    old, new = files[0], files[-1]
    old.write_bytes(old.read_bytes()[:500])
    (results / MACHINE / "list.json").write_text("[1, 2]")
    (results / MACHINE / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    return {"results": results, "bad": [old, results / MACHINE / "list.json", results / MACHINE / "binary.json"],
            "good": new}


def test_load_skips_each_bad_file_with_one_line_naming_it(damaged, capfd):
    rows = asv_results.load(damaged["results"])
    good = asv_results.read_file(damaged["good"], asv_results.benchmark_info(damaged["results"]))
    assert len(rows) == len(good) > 0
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 3
    for path in damaged["bad"]:
        assert sum(str(path) in line and "skipping" in line for line in err) == 1


def test_read_file_names_the_file_in_its_error(damaged):
    with pytest.raises(asv_results.BadResultFile, match=damaged["bad"][0].name):
        asv_results.read_file(damaged["bad"][0], {})


def test_damaged_benchmarks_json_is_a_warning_not_an_error(damaged, capfd):
    (damaged["results"] / "benchmarks.json").write_text("{not json")
    rows = asv_results.load(damaged["results"])
    assert rows and all(r.unit == "" for r in rows)  # units unknown, values still read
    assert "benchmarks.json" in capfd.readouterr().err


@pytest.mark.parametrize("args,ok", [
    (["summary"], {0}),
    (["report", "--benchmarks", "none"], {0}),
    (["alerts", "--benchmarks", "none"], {0, 1}),  # judged or not, it ran: no bad-input status
])
def test_readers_carry_on(damaged, tmp_path, args, ok):
    cmd = [sys.executable, "-m", "bench_lib.cli", *args, "--results", str(damaged["results"])]
    if args[0] == "report":
        cmd += ["--html", str(tmp_path / "html")]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode in ok, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    for path in damaged["bad"]:
        assert f"skipping {path}" in run.stderr
    assert damaged["good"].name[:8] in run.stdout or args[0] == "report"
    if args[0] == "report":
        assert (tmp_path / "html" / "report" / "index.html").exists()
