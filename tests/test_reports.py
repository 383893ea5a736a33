"""The report over real asv results (a synthetic suite run by asv, see test_alerts_fixture):
summary CSV/markdown with the measured values and cost, Pareto PNGs, and the page checked in a
headless Chromium beside the dashboard `asv publish` wrote."""
from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
from types import SimpleNamespace

import pytest

from bench_lib.tracking import reports

try:  # tests/ as a package (pytest imports it as `tests`) or as a plain directory
    from tests import test_alerts_fixture as fx
except ImportError:
    import test_alerts_fixture as fx

pytestmark = pytest.mark.slow  # runs asv on the synthetic suite

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    synth = fx.build_single(tmp_path_factory.mktemp("asv-report"))
    args = SimpleNamespace(results=synth["results"], html=synth["repo"] / "html", machine=None,
                           price=[f"{synth['machine']}=2.5"], benchmarks="none")
    assert reports.run(args) == 0
    return synth


def test_summary_holds_measured_values_and_cost(published):
    with open(published["repo"] / "html" / "report" / "summary.csv") as fh:
        rows = {r["configuration"]: r for r in csv.DictReader(fh)}
    small = rows["ArcInference(model=small, batch_size=1)"]
    big = rows["ArcInference(model=big, batch_size=1)"]
    assert small["task"] == "arc" and small["score_metric"] == "arc_macro_f1"
    assert float(small["score"]) == 0.40 and float(big["score"]) == 0.55
    assert float(big["peak_memory_bytes"]) == 9.0e8 and small["memory_metric"] == "peak_rss_bytes"
    assert float(small["latency_s"]) == 0.10 and float(big["tokens_per_s"]) == 80.0
    # $2.5/h at 200 tokens/s: 2.5 / 3600 / 200 * 1e6 dollars per million tokens.
    assert float(small["usd_per_million_tokens"]) == pytest.approx(2.5 / 3600 / 200 * 1e6)
    md = (published["repo"] / "html" / "report" / "summary.md").read_text()
    assert "## arc: arc_macro_f1" in md and "| ArcInference(model=big, batch_size=1) |" in md


def test_pareto_plots_are_pngs(published):
    import matplotlib.image

    for stem in ("memory", "latency"):
        img = matplotlib.image.imread(published["repo"] / "html" / "report" / f"pareto-arc-{stem}.png")
        assert img.shape[0] > 200 and img.shape[1] > 300


def test_pareto_front():
    # (cost, score): the third point costs more and scores less than the first.
    pts = [(1.0, 0.5), (2.0, 0.7), (3.0, 0.4)]
    assert reports.pareto_front(pts, higher_score_better=True) == [0, 1]
    assert reports.pareto_front(pts, higher_score_better=False) == [0, 2]


def test_bad_price_names_the_fix():
    with pytest.raises(ValueError, match="MACHINE=USD_PER_HOUR"):
        reports.parse_prices(["box:2.5"])


def find_browser():
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


@pytest.mark.browser
def test_page_renders_in_headless_chromium(published):
    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium/Chrome found on PATH")
    page = published["repo"] / "html" / "report" / "index.html"
    assert (published["repo"] / "html" / "index.html").exists()  # the asv dashboard it links to
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--allow-file-access-from-files", "--virtual-time-budget=5000",
             "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120)
    dom = out.stdout
    assert "<table>" in dom and "ArcInference(model=big, batch_size=1)" in dom, out.stderr[-2000:]
    assert 'data-images="2"' in dom
    # Set by the page's own script once the plots have loaded (or not).
    assert 'data-broken-images="0"' in dom, out.stderr[-2000:]
    assert 'href="../index.html"' in dom


def test_random_weight_model_keeps_its_row_without_a_score():
    cfg = reports.Config("m", "c", "bench_inference.ArcInference", {"model": "arch:Qwen/Qwen3-8B", "batch_size": "1"},
                         {"peak_rss_bytes": 1e9, "e2e_latency_s": 0.5, "output_tokens_per_s": 100.0})
    train = reports.Config("m", "c", "bench_train.ArcFineTune", {"method": "lora"}, {"peak_rss_bytes": 2e9})
    (row,) = reports.summary_rows([cfg, train], {"*": 3.6})
    assert row["task"] == "arc" and row["score"] is None and row["latency_s"] == 0.5
    assert row["usd_per_million_tokens"] == pytest.approx(3.6 / 3600 / 100 * 1e6)
    assert "| n/a |" in reports.markdown([row], "note")


def test_memory_column_prefers_the_device_figure_of_the_engine():
    # a llama.cpp row on CUDA: NVML's figure, never the client's (near-empty) torch allocator
    both = reports.Config("m", "c", "bench_engines.ArcEngines", {"engine": "llamacpp"},
                          {"output_tokens_per_s": 10.0, "device_memory_bytes": 5e9, "cuda_max_allocated_bytes": 1e3,
                           "peak_rss_bytes": 1e9})
    torch_only = reports.Config("m", "c", "bench_engines.ArcEngines", {"engine": "hf"},
                                {"output_tokens_per_s": 10.0, "cuda_max_allocated_bytes": 4e9, "peak_rss_bytes": 1e9})
    rows = reports.summary_rows([both, torch_only], {})
    assert {r["configuration"]: (r["memory_metric"], r["peak_memory_bytes"]) for r in rows} == {
        "ArcEngines(engine=llamacpp)": ("device_memory_bytes", 5e9),
        "ArcEngines(engine=hf)": ("cuda_max_allocated_bytes", 4e9)}
