"""`make bench` end to end on a small grid: asv run → result file with a value for every
benchmark → asv publish → the dashboard opened in headless Chromium shows the graphs."""
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench_lib.tracking import asv_results

ROOT = Path(__file__).resolve().parent.parent
ASV = str(Path(sys.executable).parent / "asv")
pytestmark = pytest.mark.slow


def _offline_prefix() -> list[str]:
    """Run a command in a network namespace of its own (loopback only) where we may: the
    benchmark run must not need the network. Needs root and util-linux's unshare."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return []
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode:
        return []
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up 2>/dev/null; exec "$@"', "sh"]


@pytest.fixture(scope="module")
def asv_run(tmp_path_factory):
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True).returncode:
        pytest.skip("asv records results per commit: needs a git checkout with a commit")
    tmp = tmp_path_factory.mktemp("asv")
    conf = json.loads((ROOT / "asv.conf.json").read_text())
    conf.update(repo=str(ROOT), benchmark_dir=str(ROOT / "benchmarks"),
                results_dir=str(tmp / "results"), html_dir=str(tmp / "html"))
    (tmp / "asv.conf.json").write_text(json.dumps(conf))
    env = dict(os.environ, HOME=str(tmp), BENCH_TASKS="arc", BENCH_PROFILE="smoke", HF_HUB_OFFLINE="1")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    # As `make bench` does: the machine is registered through the fingerprint, which also
    # records the software environment.
    machine = subprocess.run([sys.executable, "-m", "bench_lib.cli", "fingerprint", "--asv-machine", "--results",
                              str(tmp / "results")], cwd=ROOT, env=env, check=True, capture_output=True,
                             text=True).stdout.strip()
    offline = _offline_prefix()
    run = subprocess.run([*offline, ASV, "run", "--python=same", "--quick", "--record-samples", "--launch-method", "spawn", "--machine",
                          machine, "--set-commit-hash", head, "--bench", r"^bench_inference\.(ArcInference|GenerateTime)\."],
                         cwd=tmp, env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (tmp / "offline").write_text("yes" if offline else "no: needs root and unshare")
    pub = subprocess.run([ASV, "publish"], cwd=tmp, env=env, capture_output=True, text=True)
    assert pub.returncode == 0, pub.stderr[-2000:]
    # asv's pages load their libraries from CDNs; make bench points them at vendored copies.
    from bench_lib.tracking import dashboard_assets

    assert dashboard_assets.localize(tmp / "html") >= 1
    return tmp


def needs_gpu_or_energy_counter(benchmark: str) -> bool:
    """Metrics a CPU run cannot measure: torch's CUDA allocator, NVML device memory, and energy
    (NVML, or RAPL, which this kind of machine does not expose); asv records them as skipped."""
    method = benchmark.rsplit(".", 1)[1]
    return "cuda" in method or "device_memory" in method or ("energy" in method and not rapl_readable())


def rapl_readable() -> bool:
    from bench_lib.measure import energy

    try:
        energy.read_rapl()
    except OSError:
        return False
    return True


def test_every_inference_benchmark_has_a_value(asv_run):
    print("benchmark run without network:", (asv_run / "offline").read_text())
    rows = [r for r in asv_results.load(asv_run / "results") if "ArcInference" in r.benchmark or "GenerateTime" in r.benchmark]
    assert {r.params.get("task", "arc") for r in rows} == {"arc"}
    assert len(rows) >= 20
    for r in rows:
        assert r.value is not None, f"{r.benchmark} {r.params} has no value (failed)"
        if needs_gpu_or_energy_counter(r.benchmark):
            assert math.isnan(r.value)   # skipped on a CPU run
        else:
            assert not math.isnan(r.value) and r.value >= 0, (r.benchmark, r.params, r.value)
    units = {r.benchmark.rsplit(".", 1)[1]: r.unit for r in rows}
    assert units["track_ttft"] == "seconds" and units["track_peak_rss"] == "bytes"


def test_headline_speed_tracks_carry_their_repeat_samples(asv_run):
    """tokens/s (one sample per measured pass) and TTFT/TPOT (one per request of every pass)
    reach asv as samples; asv's value is their median, which is the metric's own value."""
    import statistics

    rows = [r for r in asv_results.load(asv_run / "results") if ".ArcInference." in r.benchmark]
    by_method = {}
    for r in rows:
        by_method.setdefault(r.benchmark.rsplit(".", 1)[1], []).append(r)
    for method, least in (("track_tokens_per_s", 3), ("track_ttft", 8), ("track_tpot", 8)):
        assert by_method[method], method
        for r in by_method[method]:
            assert r.samples is not None and len(r.samples) >= least, (method, r.params, r.samples)
            assert statistics.median(r.samples) == pytest.approx(r.value, rel=1e-9), (method, r.params)
    # A task score is one number, not repeats.
    assert all(not r.samples for r in by_method["track_accuracy"])


def test_every_result_names_its_environment(asv_run):
    from bench_lib import environment

    rows = asv_results.load(asv_run / "results")
    here = environment.identity()
    assert {r.env for r in rows} == {here["id"]}
    (machine,) = {r.machine for r in rows}
    stored = environment.load(asv_run / "results", machine, here["id"])
    assert stored["packages"] == here["packages"] and stored["lock"] == here["lock"]


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.browser
def test_dashboard_shows_the_graphs_in_a_browser(asv_run, tmp_path):
    browser = _chromium()
    if not browser:
        pytest.skip("no headless Chromium found (CI installs Debian's chromium)")
    from tests.browser import dump_dom_and_screenshot

    dom, _ = dump_dom_and_screenshot(browser, asv_run / "html", "index.html", tmp_path / "grid")
    assert "3rd-party scripts" not in dom, "the dashboard's libraries did not load"
    # The grid lists every benchmark asv discovered (it draws thumbnails lazily, on scroll).
    assert "ArcInference.track_accuracy" in dom and "GenerateTime.time_generate" in dom
    # A benchmark's own page draws its graph with flot: canvases for the plot and its overlay.
    page = "index.html#bench_inference.ArcInference.track_ttft"
    dom, png = dump_dom_and_screenshot(browser, asv_run / "html", page, tmp_path / "graph")
    assert dom.count("<canvas") >= 2 and "flot-base" in dom, "the benchmark page drew no graph"
    assert "batch_size-1" in dom and "batch_size-4" in dom   # one series per parameter value
    assert png.stat().st_size > 10_000


def test_table_and_summary_commands_read_the_run(asv_run, capsys):
    from bench_lib import cli

    assert cli.main(["table", "ArcInference", "--results", str(asv_run / "results"),
                     "--columns", "track_ttft,track_accuracy"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "| model | batch_size | ttft | accuracy |"
    assert len(lines) == 4 and lines[2].startswith("| tiny-qwen3 | 1 | ") and lines[2].endswith(" fraction |")
    assert cli.main(["summary", "--results", str(asv_run / "results")]) == 0
    out = capsys.readouterr().out
    rows = asv_results.load(asv_run / "results")
    skipped = sum(needs_gpu_or_energy_counter(r.benchmark) for r in rows)
    assert skipped >= 4 and f" {skipped} skipped, 0 failed" in out   # CUDA peaks at batch 1 and 4 at least
    assert cli.main(["table", "NoSuchClass", "--results", str(asv_run / "results")]) == 1
