"""A task added to the registry alone (its module: metric records, headline, tracked metrics)
appears in every list derived from it: the generated asv classes, report headlines, fine-tuning
scores and the quantization deltas."""
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
for _name in metric_names:
    for _suffix in ("", "_ci_low", "_ci_high"):
        metrics.register(_name + _suffix, "fraction", True, "toy " + _name + _suffix)
    metrics.register("quant_delta_" + _name, "fraction", True, "toy delta")
for _name in key_metrics:
    metrics.register("train_ft_" + _name + "_mean", "fraction", True, "toy fine-tuned")
    metrics.register("train_ft_" + _name + "_ci95", "fraction", True, "toy fine-tuned interval")
'''


@pytest.fixture
def toy_task(tmp_path, monkeypatch):
    from bench_lib import metrics, tasks

    (tmp_path / "toy_task_module.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(metrics, "METRICS", dict(metrics.METRICS))  # the toy's records vanish afterwards
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
        train_cli, quant_cases, engine_cases = _reloaded("bench_lib.train.cli", "bench_lib.quant.cases",
                                                         "bench_lib.engines.cases")
        assert train_cli.SCORE["toy"] == "toy_score"
        assert "quant_delta_toy_score" in quant_cases.DELTA_METRICS
        assert "toy" in engine_cases.PARITY_TASKS
    finally:
        monkeypatch.undo()
        train_cli, quant_cases, _ = _reloaded("bench_lib.train.cli", "bench_lib.quant.cases", "bench_lib.engines.cases")
    assert "toy" not in train_cli.SCORE


def test_generated_classes_keep_the_committed_names():
    names = importlib.import_module("tests.test_layout").discovered_names()
    for cls in ("ArcInference", "SquadInference", "OpenMathInference", "ArcEngines", "SquadEngines", "OpenMathEngines"):
        assert any(n.split(".")[1] == cls for n in names)
    assert "bench_inference.SquadInference.track_hasans_f1_ci_high" in names
    assert "bench_engines.OpenMathEngines.track_absdiff_ci_low" in names
