"""The damage ladder: proof that the quality axis moves. The same model is damaged progressively
harder and each rung is scored on the same test examples; the task scores must not rise from one
rung to the next, and the harshest rung's drop must lie outside its paired 95% interval. A task
metric that stayed flat down this ladder could not show a broken quantizer, cache or template.

Three ladders, each starting from its own reference so that only one thing changes along it:
- weights: unquantized → quanto int8 → int4 → int2 (the HF engine's greedy loop);
- kv-cache: the model's DynamicCache → quanto int4 → int2 KV cache (HF `generate`, the
  unquantized weights);
- weight-noise: seeded Gaussian noise added to every linear weight (not the embeddings), its
  standard deviation 0.4, 0.8 and 1.2 times the RMS of the weight's row: damage whose size is set
  exactly, for models (the embedded one among them) whose greedy answers survive 2-bit weights.
Every rung reports, per task key metric, its value with the 95% interval over the examples, and
its paired difference from the ladder's reference and from the rung above (same examples
resampled; bench_lib.intervals.paired_difference).
"""
from __future__ import annotations

import time

from bench_lib import config, intervals
from bench_lib.formatting import progress
from bench_lib.grid import run_grid
from bench_lib.metrics import METRICS, interval_names, metric, register
from bench_lib.models import ModelSpec, get_spec
from bench_lib.resources import examples_for
from bench_lib.tasks import get_task, task_names

LADDERS = {
    "weights": ("none", "quanto-int8", "quanto-int4", "quanto-int2"),
    "kv-cache": ("kv-dynamic", "kv-quanto-int4", "kv-quanto-int2"),
    "weight-noise": ("none", "noise-0.4", "noise-0.8", "noise-1.2"),
}
NOISE_SEED = 0


def noisy_model(spec: ModelSpec, relative_std: float, device: str, dtype: str):
    """The model with N(0, (relative_std * row RMS)^2) noise added to each 2-D weight but the
    embeddings (tied to lm_head in the embedded model), drawn from one seeded generator in
    parameter order, so a rung's damage is the same on every run and machine."""
    import torch

    from bench_lib.models import load_model

    model = load_model(spec, device, dtype)
    gen = torch.Generator().manual_seed(NOISE_SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2 and "embed" not in name:
                rms = p.float().pow(2).mean(dim=1, keepdim=True).sqrt()
                noise = torch.randn(p.shape, generator=gen) * rms.cpu() * relative_std
                p.add_(noise.to(p.device, p.dtype))
    return model


# The smoke tier's 8 examples leave every interval too wide to judge a ladder; it runs the
# weight-noise ladder alone (the code path of every ladder's scoring), the other tiers all three.
SMOKE_LADDERS = ("weight-noise",)
RUNGS = tuple(f"{ladder}/{rung}" for ladder, rungs in LADDERS.items() for rung in rungs)


def ladder_names() -> tuple[str, ...]:
    return SMOKE_LADDERS if config.profile().subset else tuple(LADDERS)


def rungs() -> tuple[str, ...]:
    """"ladder/rung" of every rung of this tier's ladders (the asv parameter)."""
    return tuple(r for r in RUNGS if r.partition("/")[0] in ladder_names())


def _register_step_metrics() -> None:
    """ladder_step_<metric>: a rung minus the rung above it, for every task's key metrics."""
    for task in task_names():
        for base in get_task(task).key_metrics:
            name, rec = f"ladder_step_{base}", metric(base)
            if name in METRICS:
                continue
            register(name, rec.unit, rec.higher_is_better,
                     f"ladder: {base} of a rung minus the rung above it (same examples)")
            for end, name_end in zip(("lower", "upper"), interval_names(name)):
                register(name_end, rec.unit, rec.higher_is_better,
                         f"ladder: {end} end of the paired-bootstrap 95% interval of {name}")
            register(f"{name}_excludes_zero", "flag", False,
                     f"ladder: 1 when the 95% interval of {name} excludes 0, else 0")


_register_step_metrics()


def _engine_texts(engine, spec: ModelSpec) -> dict[str, list[str]]:
    """task → the greedy answers of the engine the shared cache holds; the engine is closed after."""
    from bench_lib import resources
    from bench_lib.quant import cases as cases_quant

    try:
        return {t: r["texts"] for t, r in cases_quant.task_runs(engine, spec).items()}
    finally:
        resources.release()


def rung_texts(spec: ModelSpec, ladder: str, rung: str) -> dict[str, list[str]]:
    """task → the greedy answers of one rung on the task's test examples."""
    spec.require_real_weights("a damage ladder of task scores")
    if ladder == "weights":
        from bench_lib.quant import cases as cases_quant
        from bench_lib.quant.cache import get_or_build

        q, _ = get_or_build(spec, rung, cases_quant.context(spec))
        return _engine_texts(cases_quant.engine_of(q, spec), spec)
    if ladder == "weight-noise":
        from bench_lib import resources

        sigma = 0.0 if rung == "none" else float(rung.removeprefix("noise-"))
        device, dtype = config.device(), config.dtype_name()
        return _engine_texts(resources.engine("hf", spec, device, dtype,
                                              model=noisy_model(spec, sigma, device, dtype)), spec)
    if ladder == "kv-cache":
        from bench_lib.kvspec import kvcache_hf

        kv_type = rung.removeprefix("kv-")
        return {t: kvcache_hf.task_run(spec, kv_type, t)["texts"] for t in config.task_names()}
    raise KeyError(f"unknown ladder {ladder!r}; known ladders: {', '.join(LADDERS)}")


def _records(task: str, texts: list[str]) -> list:
    t = get_task(task)
    return t.records(texts, examples_for(task, config.profile().n_examples))


def ladder_results(model: str, ladder: str) -> dict[str, dict]:
    """rung → {"metrics": ...} for every rung of one ladder, measured in this run."""
    rungs = LADDERS[ladder]
    spec = get_spec(model)
    texts, started = {}, time.monotonic()
    for i, rung in enumerate(rungs):
        progress(i + 1, len(rungs), started, f"{ladder} ladder on {model}: rung {rung}")
        texts[rung] = rung_texts(spec, ladder, rung)
    out = {}
    for i, rung in enumerate(rungs):
        metrics: dict[str, float] = {}
        for task in texts[rung]:
            t = get_task(task)
            cur = _records(task, texts[rung][task])
            scores = t.score(texts[rung][task], examples_for(task, config.profile().n_examples))
            ref = _records(task, texts[rungs[0]][task])
            above = _records(task, texts[rungs[i - 1]][task]) if i else ref
            vs_ref = intervals.paired_difference(ref, cur, t.aggregate)
            vs_above = intervals.paired_difference(above, cur, t.aggregate)
            for name in t.key_metrics:
                metrics.update({k: scores[k] for k in (name, *interval_names(name))})
            metrics.update(intervals.delta_metrics("quant_delta_", vs_ref, t.key_metrics))
            metrics.update(intervals.delta_metrics("ladder_step_", vs_above, t.key_metrics))
        out[rung] = {"metrics": metrics, "model": model, "ladder": ladder, "rung": rung,
                     "reference": rungs[0], "profile": config.profile().name}
    return out


def ladder_grid(models) -> dict:
    """{(model, "ladder/rung"): result | skip | error}; a ladder that fails marks its rungs."""
    ladders = run_grid(ladder_results, [(m, ladder) for m in models for ladder in ladder_names()])
    out = {}
    for (model, ladder), entry in ladders.items():
        for rung in LADDERS[ladder]:
            key = (model, f"{ladder}/{rung}")
            out[key] = {"result": entry["result"][rung]} if "result" in entry else entry
    return out


def violations(results: dict[str, dict], metric_name: str) -> list[str]:
    """Where a ladder's `metric_name` rises beyond example noise from one rung to the next (the
    step's interval lies above 0 for a higher-is-better metric), and whether the harshest rung's
    drop from the reference misses its interval. Empty when the ladder behaves."""
    better_up = metric(metric_name).higher_is_better
    rungs = list(results)
    bad = []
    for rung in rungs[1:]:
        m = results[rung]["metrics"]
        low, high = m[f"ladder_step_{metric_name}_ci_low"], m[f"ladder_step_{metric_name}_ci_high"]
        if (low > 0) if better_up else (high < 0):
            bad.append(f"{rung}: {metric_name} improved beyond noise ({m[f'ladder_step_{metric_name}']:+.3f} "
                       f"[{low:+.3f}, {high:+.3f}])")
    last = results[rungs[-1]]["metrics"]
    worse = (last[f"quant_delta_{metric_name}_ci_high"] < 0) if better_up else (last[f"quant_delta_{metric_name}_ci_low"] > 0)
    if not worse:
        bad.append(f"{rungs[-1]}: {metric_name} did not get worse beyond noise: "
                   f"{last[f'quant_delta_{metric_name}']:+.3f} [{last[f'quant_delta_{metric_name}_ci_low']:+.3f}, "
                   f"{last[f'quant_delta_{metric_name}_ci_high']:+.3f}] against the reference")
    return bad
