"""Case functions shared with asv: values present and sane; failures recorded, not raised."""
import dataclasses
import math

import pytest

from bench_lib import inference
from bench_lib.grid import run_grid
from bench_lib.engines.base import EngineUnavailable
from bench_lib.metrics import all_metrics
from bench_lib.tasks import get_task

slow = pytest.mark.slow  # runs the case functions on the embedded model


@slow
@pytest.mark.parametrize("task", ["arc", "squad", "openmath"])
def test_inference_result_has_every_metric(task):
    out = inference.inference_result("tiny-qwen3", task, 4)
    m = out["metrics"]
    for name in ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s", "peak_rss_bytes", *get_task(task).metric_names):
        assert name in all_metrics() and name in m, name
    assert 0 < m["ttft_s"] <= m["e2e_latency_s"]
    assert m["output_tokens_per_s"] > 0 and m["peak_rss_bytes"] > 50e6
    assert out["stable_outputs"], "greedy decoding gave different tokens on a repeat"
    assert out["real_weights"] and len(out["texts"]) == 8


@slow
def test_random_weight_models_report_no_task_scores(monkeypatch):
    """An architecture-only model's answers are noise: its task scores must not be reported."""
    real = inference.get_spec
    monkeypatch.setattr(inference, "get_spec", lambda name: dataclasses.replace(real(name), real_weights=False))
    out = inference.inference_result("tiny-qwen3", "arc", 4)
    assert "arc_accuracy" not in out["metrics"] and "ttft_s" in out["metrics"]
    assert "arc_accuracy_ci_low" not in out["metrics"]
    assert out["real_weights"] is False


def test_run_grid_records_skips_and_errors_and_keeps_going():
    def fn(x):
        if x == 1:
            raise EngineUnavailable("no such package here")
        if x == 2:
            raise ValueError("boom")
        return x * 10

    out = run_grid(fn, [(0,), (1,), (2,), (3,)])
    assert out[(0,)] == {"result": 0} and out[(3,)] == {"result": 30}
    assert out[(1,)] == {"skip": "no such package here"}
    assert out[(2,)]["error"] == "ValueError: boom" and "Traceback" in out[(2,)]["traceback"]


def test_run_grid_shows_one_progress_line_per_combination_when_asked(capsys):
    out = run_grid(lambda a, b: a + b, [(1, 2), (3, 4)], what="sum")
    lines = capsys.readouterr().err.splitlines()
    assert out == {(1, 2): {"result": 3}, (3, 4): {"result": 7}}
    assert [line.split(" (")[0] for line in lines] == ["[1/2] sum 1, 2", "[2/2] sum 3, 4"]
    assert "s left" in lines[1] and "s left" not in lines[0]
    run_grid(lambda a, b: a + b, [(1, 2)])
    assert capsys.readouterr().err == ""


def test_asv_pick_and_track_helpers():
    from benchmarks import common

    grid = {("m", 1): {"result": {"metrics": {"ttft_s": 0.25}}}, ("m", 2): {"skip": "why"}, ("m", 3): {"error": "E: x"}}
    assert common.pick(grid, ("m", 1))["metrics"]["ttft_s"] == 0.25
    with pytest.raises(NotImplementedError, match="why"):
        common.pick(grid, ("m", 2))
    with pytest.raises(RuntimeError, match="E: x"):
        common.pick(grid, ("m", 3))
    method = common.track("ttft_s")
    assert method.unit == "seconds"

    class Holder:
        result = grid[("m", 1)]["result"]

    assert method(Holder(), "m", 1) == 0.25
    with pytest.raises(NotImplementedError):
        common.track("cuda_max_allocated_bytes")(Holder(), "m", 1)


def test_a_repeated_metric_reaches_asv_with_its_samples():
    """asv reads {"samples", "number"} as a timing result: median, interval and samples recorded."""
    from benchmarks import common
    from bench_lib.measure.timing import Spread

    tps = Spread.of([101.0, float("nan"), 97.0, 120.0])
    one = Spread.of([0.5])

    class Holder:
        result = {"metrics": {"output_tokens_per_s": tps.median, "ttft_s": 0.5, "squad_f1": 40.0},
                  "spreads": {"output_tokens_per_s": tps, "ttft_s": one}}

    out = common.track("output_tokens_per_s")(Holder())
    assert out == {"samples": [101.0, 97.0, 120.0], "number": 1}   # measured order, NaN dropped
    assert tps.median == 101.0
    assert common.track("ttft_s")(Holder()) == 0.5      # a single repeat stays a number
    assert common.track("squad_f1")(Holder()) == 40.0   # no spread: a number


def test_spread_cv_is_the_samples_standard_deviation_over_their_mean():
    from bench_lib.measure.timing import Spread

    s = Spread.of([90.0, 100.0, 110.0])  # mean 100, sample standard deviation 10
    assert s.cv == pytest.approx(0.10)
    assert Spread.of([4.0, float("nan"), 4.0]).cv == 0.0
    assert math.isnan(Spread.of([5.0]).cv)


@slow
@pytest.mark.parametrize("task", ["arc", "squad", "openmath"])
def test_generate_benchmark(benchmark, task):
    """pytest-benchmark times the same call as asv's GenerateTime.time_generate."""
    run = benchmark.pedantic(inference.generation_callable("tiny-qwen3", task, 4), rounds=3, warmup_rounds=1)
    assert run.output_tokens > 0 and not math.isnan(run.wall_s)


def test_resource_cache_holds_one_engine_and_closes_the_one_it_drops(monkeypatch):
    from bench_lib import resources
    from bench_lib.engines import registry
    from bench_lib.models import get_spec

    class Fake:
        def __init__(self, name):
            self.name, self.closed = name, False

        def close(self):
            self.closed = True

    monkeypatch.setattr(registry, "load_engine", lambda name, spec, device, dtype, **options: Fake(name))
    monkeypatch.setattr(resources, "_held", None)
    spec = get_spec("tiny-qwen3")
    first = resources.engine("hf", spec, "cpu", "float32")
    assert resources.engine("hf", get_spec("tiny-qwen3"), "cpu", "float32") is first  # same key: reused
    second = resources.engine("hf", spec, "cpu", "float32", n_ctx=64)  # another option: another engine
    assert first.closed and not second.closed and second is not first
    resources.release()
    assert second.closed and resources._held is None


def test_bare_models_and_engines_share_the_one_slot(monkeypatch):
    """A target and its draft are held together, in the engine's place: asking for an engine
    drops them, and asking for the target alone loads it again rather than keep two sets."""
    from bench_lib import models, resources
    from bench_lib.engines import registry
    from bench_lib.models import get_spec

    class Fake:
        def __init__(self, name):
            self.name, self.closed = name, False

        def close(self):
            self.closed = True

    loads = []
    monkeypatch.setattr(models, "load_model", lambda spec, device, dtype: loads.append(spec.name) or spec.name)
    monkeypatch.setattr(registry, "load_engine", lambda name, spec, device, dtype, **options: Fake(name))
    monkeypatch.setattr(resources, "_held", None)
    target, draft = get_spec("tiny-qwen3"), get_spec("tiny-qwen3-draft")
    assert resources.hf_models((target, draft), "cpu", "float32") == ("tiny-qwen3", "tiny-qwen3-draft")
    assert resources.hf_models((target, draft), "cpu", "float32") == ("tiny-qwen3", "tiny-qwen3-draft")
    assert loads == ["tiny-qwen3", "tiny-qwen3-draft"]  # the same pair: loaded once
    held = resources._held[1]
    eng = resources.engine("hf", target, "cpu", "float32")
    assert held.models == () and resources._held[1] is eng  # the pair was released for the engine
    assert resources.hf_models((target,), "cpu", "float32") == ("tiny-qwen3",)
    assert eng.closed and loads == ["tiny-qwen3", "tiny-qwen3-draft", "tiny-qwen3"]
    resources.release()
