"""A task added to the registry alone (its module: metric records, headline, tracked metrics)
appears in every list derived from it: the metric records, the generated asv classes, report
headlines, fine-tuning scores and the quantization deltas."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

TOY = '''
from bench_lib import metrics
from bench_lib.tasks.base import HubSource

name = "toy"
hub = HubSource("toy/toy", None, {"train": "train", "test": "test"})
metric_names = ("toy_score", "toy_parse_rate")
max_new_tokens = 4
asv_name = "Toy"
headline_metric = "toy_score"
finetune_metric = "toy_score"
inference_tracks = metric_names
key_metrics = ("toy_score",)
metrics.register_task_metric("toy_score", "fraction", True, "toy: share right")
metrics.register_task_metric("toy_parse_rate", "fraction", True, "toy: share parsed")
metrics.register_key_metric("toy_score", "toy score")
'''


@pytest.fixture
def toy_task(tmp_path, monkeypatch):
    from bench_lib import metrics, tasks

    (tmp_path / "toy_task_module.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    # The registered tasks' records first, so the dict put back afterwards holds them and not the toy's.
    metrics.all_metrics()
    monkeypatch.setattr(metrics, "METRICS", dict(metrics.METRICS))
    monkeypatch.setitem(tasks.TASKS, "toy", "toy_task_module")
    monkeypatch.syspath_prepend(str(ROOT))
    yield
    sys.modules.pop("toy_task_module", None)


def _reloaded(*names):
    return [importlib.reload(importlib.import_module(n)) for n in names]


def _fresh(*names):
    """Benchmark modules imported anew (a reload would keep the classes of the previous run)."""
    for n in names:
        sys.modules.pop(n, None)
    return [importlib.import_module(n) for n in names]


def test_a_registered_task_brings_its_metric_records(toy_task):
    from bench_lib import metrics

    assert "toy_score" not in metrics.METRICS and "toy_task_module" not in sys.modules
    record = metrics.metric("toy_score")  # the lookup imports the registered task modules
    assert (record.unit, record.higher_is_better) == ("fraction", True)
    derived = {"toy_score_ci_low": True, "toy_score_ci_high": True, "toy_parse_rate_ci_high": True,
               "quant_delta_toy_score": True, "quant_delta_toy_score_ci_low": True,
               "quant_delta_toy_score_excludes_zero": False, "train_ft_toy_score_mean": True,
               "train_ft_toy_score_ci95": False}
    assert {n: metrics.metric(n).higher_is_better for n in derived} == derived
    assert "train_ft_toy_parse_rate_mean" not in metrics.all_metrics()  # not a key metric


def test_every_task_metric_record_lives_in_its_task_module():
    import subprocess

    from bench_lib import metrics
    from bench_lib.tasks import TASKS, get_task, task_names

    probe = ("import sys; from bench_lib import metrics; from bench_lib.tasks import TASKS; "
             "names = [n for n in metrics.METRICS if n.split('_')[0] in TASKS]; "
             "mods = [m for m in TASKS.values() if m in sys.modules]; print(names, mods)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""}).stdout
    assert out.strip() == "[] []"  # bench_lib.metrics alone holds no task's records
    for task in task_names():
        t = get_task(task)
        for name in t.metric_names:
            assert metrics.metric(name).name == name and metrics.interval_names(name)[0] in metrics.METRICS
        for name in t.key_metrics:
            assert {f"quant_delta_{name}", f"train_ft_{name}_mean", f"train_ft_{name}_ci95"} <= set(metrics.METRICS)
    with pytest.raises(ValueError, match="registered twice"):
        metrics.register_task_metric("arc_accuracy", "fraction", True, "again")


def test_a_registered_task_gets_its_asv_classes(toy_task, monkeypatch):
    from asv_runner.benchmarks._base import get_setup_cache_key

    try:
        inference, engines, train = _fresh("benchmarks.bench_inference", "benchmarks.bench_engines",
                                           "benchmarks.bench_train")
        cls = inference.ToyInference
        assert {"track_score", "track_score_ci_low", "track_score_ci_high", "track_parse_rate",
                "track_ttft"} <= set(dir(cls))
        assert cls.version == inference.ArcInference.version
        assert "track_score" in dir(engines.ToyEngines) and "track_parse_rate" not in dir(engines.ToyEngines)
        # asv shares a setup_cache between classes whose keys match: each task needs its own
        keys = {get_setup_cache_key(getattr(inference, f"{n}Inference").setup_cache)
                for n in ("Arc", "Squad", "OpenMath", "Toy")}
        assert len(keys) == 4
        assert cls.setup_cache.__globals__["_task"] == "toy"
        assert {"track_score", "track_score_ci95"} <= set(dir(train.ToyFineTune)) and train.ToyFineTune.task == "toy"
    finally:
        monkeypatch.undo()
        _fresh("benchmarks.bench_inference", "benchmarks.bench_engines", "benchmarks.bench_train")
    assert not hasattr(importlib.import_module("benchmarks.bench_inference"), "ToyInference")


def test_a_registered_task_reaches_the_derived_lists(toy_task, monkeypatch):
    from bench_lib.tasks import headline_metrics, task_names

    assert task_names()[-1] == "toy"
    assert headline_metrics()["toy"] == "toy_score"
    try:
        train_cli, quant_cases, engine_cases, quant_cli = _reloaded(
            "bench_lib.train.cli", "bench_lib.quant.cases", "bench_lib.engines.cases", "bench_lib.quant.cli")
        assert train_cli.SCORE["toy"] == "toy_score"
        assert "quant_delta_toy_score" in quant_cases.DELTA_METRICS
        assert "toy" in engine_cases.PARITY_TASKS
        assert quant_cli.COLUMNS[-4] == "Δ toy_score"
    finally:
        monkeypatch.undo()
        train_cli, quant_cases, _, quant_cli = _reloaded("bench_lib.train.cli", "bench_lib.quant.cases",
                                                         "bench_lib.engines.cases", "bench_lib.quant.cli")
    assert "toy" not in train_cli.SCORE and "Δ toy_score" not in quant_cli.COLUMNS


def test_generated_classes_keep_the_committed_names():
    names = importlib.import_module("tests.test_layout").discovered_names()
    for cls in ("ArcInference", "SquadInference", "OpenMathInference", "ArcEngines", "SquadEngines", "OpenMathEngines"):
        assert any(n.split(".")[1] == cls for n in names)
    assert "bench_inference.SquadInference.track_hasans_f1_ci_high" in names
    assert "bench_engines.OpenMathEngines.track_absdiff_ci_low" in names
