"""Case functions of the inference suite (benchmarks/bench_inference.py): one per workload ×
measurement. asv classes and pytest tests both call these, so both runners time and score the
very same work. Grids go through grid.run_grid; engines, tokenizers and examples come from the
shared caches in resources.py.
"""
from __future__ import annotations

import functools
from typing import Callable, Iterable

from bench_lib import config, resources
from bench_lib.grid import run_grid
from bench_lib.models import ModelSpec, get_spec
from bench_lib.resources import examples_for, tokenizer_for


def _settings():
    dev = config.device()
    return dev, config.dtype_name(dev), config.profile()


def inference_result(model: str, task: str, batch_size: int, engine: str = "hf") -> dict:
    """Generate on the task's test prompts: speed, memory and task metrics of one configuration."""
    from bench_lib.tasks import get_task
    from bench_lib.workloads.generate import measure_generation

    device, dtype, prof = _settings()
    spec = get_spec(model)
    eng = resources.engine(engine, spec, device, dtype)
    out = measure_generation(eng, tokenizer_for(spec), get_task(task), examples_for(task, prof.n_examples),
                             batch_size, prof.repeats, prof.warmup)
    out["metrics"].update(roofline_metrics(eng, spec, dtype, out, batch_size))
    out.update(model=model, task=task, batch_size=batch_size, engine=engine, device=device, dtype=dtype,
               profile=prof.name, real_weights=spec.real_weights)
    if not spec.real_weights:
        # Random weights: drop task scores so nobody reads them as a model's quality.
        from bench_lib.metrics import interval_names

        for name in get_task(task).metric_names:
            for key in (name, *interval_names(name)):
                out["metrics"].pop(key, None)
    return out


def roofline_metrics(eng, spec: ModelSpec, dtype: str, out: dict, batch_size: int) -> dict[str, float]:
    """Decode MBU and prefill MFU of a measure_generation result (measure/roofline.py)."""
    from bench_lib.measure import roofline
    from bench_lib.models import load_config

    cfg = load_config(spec)
    bandwidth, _ = roofline.peak_bandwidth(eng.device)
    peak, _ = roofline.peak_flops(eng.device, dtype)
    return roofline.generation_metrics(cfg, roofline.engine_facts(eng, cfg, dtype), out["prompt_lengths"],
                                       out["output_lengths"], out["first_token_s"],
                                       out["metrics"]["output_tokens_per_s"], batch_size, bandwidth, peak)


def generation_callable(model: str, task: str, batch_size: int, engine: str = "hf") -> Callable[[], object]:
    """A no-argument function that generates once over the task prompts (for time_/peakmem_ and
    pytest-benchmark); the engine and prompts are built here, outside the timed call."""
    from bench_lib.tasks import get_task
    from bench_lib.workloads.generate import encode_prompts, generate_all

    device, dtype, prof = _settings()
    spec = get_spec(model)
    eng = resources.engine(engine, spec, device, dtype)
    prompts = encode_prompts(tokenizer_for(spec), examples_for(task, prof.n_examples))
    max_new = get_task(task).max_new_tokens
    generate_all(eng, prompts[:batch_size], batch_size, max_new)  # warm-up
    return functools.partial(generate_all, eng, prompts, batch_size, max_new)


def arc_loglik_result(model: str) -> dict:
    """ARC scored by the choices' log-likelihoods (lm-eval acc / acc_norm) and the calibration of
    the choice probabilities (bench_lib.calibration), with 95% intervals, on the HF model."""
    from bench_lib import calibration, metrics
    from bench_lib.workloads.loglik import arc_records

    device, dtype, prof = _settings()
    spec = get_spec(model)
    spec.require_real_weights("ARC choice probabilities")
    eng = resources.engine("hf", spec, device, dtype)
    records = arc_records(eng.model, tokenizer_for(spec), examples_for("arc", prof.n_examples))
    return {"metrics": metrics.with_intervals(records, calibration.aggregate, calibration.PROPORTIONS),
            "records": records, "model": model, "device": device, "dtype": dtype, "profile": prof.name}


def arc_loglik_grid(models: Iterable[str]) -> dict:
    return {(m,): v for (m,), v in run_grid(arc_loglik_result, [(m,) for m in models]).items()}


def inference_grid(task: str, models: Iterable[str], batch_sizes: Iterable[int], engine: str = "hf") -> dict:
    combos = [(m, task, b, engine) for m in models for b in batch_sizes]
    return {(m, b): v for (m, _, b, _), v in run_grid(inference_result, combos).items()}
