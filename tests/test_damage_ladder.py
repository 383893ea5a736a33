"""The damage ladder: task scores on the embedded model do not rise beyond example noise as the
damage grows, and the harshest rung's drop lies outside its paired interval; the rule that
judges a ladder is checked on hand-made results first."""
import pytest

from bench_lib.quant import cases_ladder


def _rung(value, delta, low, high, step, step_low, step_high, name="squad_f1"):
    return {"metrics": {name: value, f"quant_delta_{name}": delta, f"quant_delta_{name}_ci_low": low,
                        f"quant_delta_{name}_ci_high": high, f"ladder_step_{name}": step,
                        f"ladder_step_{name}_ci_low": step_low, f"ladder_step_{name}_ci_high": step_high}}


def test_a_ladder_that_falls_beyond_noise_has_no_violation():
    results = {"none": _rung(50, 0, 0, 0, 0, 0, 0),
               "mid": _rung(49, -1, -4, 2, -1, -4, 2),       # a dip within noise
               "harsh": _rung(30, -20, -28, -12, -19, -27, -11)}
    assert cases_ladder.violations(results, "squad_f1") == []


def test_a_rise_beyond_noise_and_a_flat_end_are_violations():
    results = {"none": _rung(50, 0, 0, 0, 0, 0, 0),
               "mid": _rung(56, 6, 2, 10, 6, 2, 10),         # rose: its step's interval is above 0
               "harsh": _rung(49, -1, -5, 3, -7, -12, -2)}   # the end is within noise of the reference
    bad = cases_ladder.violations(results, "squad_f1")
    assert len(bad) == 2
    assert bad[0].startswith("mid: squad_f1 improved beyond noise (+6.000")
    assert bad[1].startswith("harsh: squad_f1 did not get worse beyond noise: -1.000")


def test_lower_is_better_metrics_are_judged_the_other_way():
    name = "openmath_absdiff"  # lower is better: a rise is damage
    results = {"none": _rung(2.5, 0, 0, 0, 0, 0, 0, name), "harsh": _rung(13, 10.5, 6, 16, 10.5, 6, 16, name)}
    assert cases_ladder.violations(results, name) == []
    results["harsh"] = _rung(1.0, -1.5, -2.5, -0.5, -1.5, -2.5, -0.5, name)
    assert len(cases_ladder.violations(results, name)) == 2


@pytest.mark.slow
def test_the_embedded_models_scores_fall_down_the_weight_noise_ladder(monkeypatch):
    """64 test examples per task (the regular tier): fewer leave every interval too wide."""
    pytest.importorskip("transformers")
    from bench_lib.tasks import get_task, task_names

    monkeypatch.setenv("BENCH_PROFILE", "regular")
    results = cases_ladder.ladder_results("tiny-qwen3", "weight-noise")
    assert list(results) == list(cases_ladder.LADDERS["weight-noise"])
    for task in task_names():
        t = get_task(task)
        for name in t.key_metrics:
            rises = [v for v in cases_ladder.violations(results, name) if "improved beyond noise" in v]
            assert rises == [], rises
        # The harshest rung is worse beyond noise on at least one key metric of every task. (ARC
        # answers sit near chance on the embedded model, so its macro-F1 is too noisy to carry this
        # alone on 64 examples; its accuracy falls as the answers stop parsing.)
        flat = [name for name in t.key_metrics if any("did not get worse" in v
                                                      for v in cases_ladder.violations(results, name))]
        assert len(flat) < len(t.key_metrics), (task, flat)
