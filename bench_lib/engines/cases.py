"""Case functions of the engine comparison: inference per engine, greedy parity against HF, and
the overhead of the suite's generate path against a bare loop of the same engine.

asv (benchmarks/bench_engines.py), pytest and `llm-bench engines` all call these.
BENCH_ENGINES (comma-separated, default hf,hf-generate,llamacpp,vllm) picks the engines of the grid; an
engine that is not installed is recorded as skipped with the reason.
"""
from __future__ import annotations

import functools
import importlib.util
from typing import Iterable

from bench_lib import config, inference, resources
from bench_lib.grid import run_grid
from bench_lib.engines.registry import ENGINES
from bench_lib.models import ModelSpec, get_spec
from bench_lib.tasks import task_names

DEFAULT_ENGINES = ("hf", "hf-generate", "llamacpp", "vllm")
# Engine variants checked against HF for identical greedy ids: (engine, GGUF type or None).
PARITY_VARIANTS = (("llamacpp", "f32"), ("llamacpp", "f16"), ("vllm", None))
PARITY_TASKS = task_names()  # every registered task
OVERHEAD_MAX_NEW = 128  # decode steps per overhead run (EOS ignored): per-token time dominates


def engine_names() -> tuple[str, ...]:
    return config.env_choices("BENCH_ENGINES", DEFAULT_ENGINES, allowed=ENGINES, what="engine")


def engine_with(engine: str, spec: ModelSpec, gguf_type: str | None = None):
    """The run's engine from the shared cache; `gguf_type` picks the GGUF export (f32/f16/bf16)
    the llama.cpp engine runs."""
    options = {}
    if gguf_type is not None:
        from bench_lib.gguf_export import cached_gguf

        options["gguf_path"] = cached_gguf(spec, gguf_type)
    return resources.engine(engine, spec, *inference._settings()[:2], **options)


def engine_inference_result(model: str, task: str, batch_size: int, engine: str) -> dict:
    """Speed, memory and task metrics of one engine (inference.inference_result), plus the engine's
    own prompt/decode rates where it reports them (llama.cpp)."""
    out = inference.inference_result(model, task, batch_size, engine)
    out["metrics"].update(own_rates(engine, get_spec(model), task, batch_size))
    return out


def own_rates(engine: str, spec: ModelSpec, task: str, batch_size: int) -> dict[str, float]:
    from bench_lib.tasks import get_task
    from bench_lib.workloads.generate import encode_prompts

    eng = engine_with(engine, spec)  # the engine inference_result just measured
    prompts = encode_prompts(resources.tokenizer_for(spec), resources.examples_for(task, config.profile().n_examples))
    report = eng.generate(prompts[:batch_size], get_task(task).max_new_tokens).engine_report
    rates = {}
    if report.get("prompt_eval_ms"):
        rates["engines_own_prompt_tokens_per_s"] = report["prompt_tokens"] / (report["prompt_eval_ms"] / 1e3)
    if report.get("eval_ms"):
        rates["engines_own_decode_tokens_per_s"] = report["eval_tokens"] / (report["eval_ms"] / 1e3)
    return rates


def engine_grid(task: str, models: Iterable[str], batch_sizes: Iterable[int]) -> dict:
    """{(model, engine, batch_size): result/skip/error} for the engines of BENCH_ENGINES."""
    if skip := config.task_skip(task):
        return skip
    combos = [(m, task, b, e) for m in models for e in engine_names() for b in batch_sizes]
    return {(m, e, b): v for (m, _, b, e), v in run_grid(engine_inference_result, combos).items()}


def engine_generation_callable(model: str, task: str, batch_size: int, engine: str):
    if engine == "vllm" and importlib.util.find_spec("vllm") is None:
        # asv runs every time_/peakmem_ parameter in a fresh process: with vLLM behind its server
        # (its own venv) each would pay a server start of minutes. The same generation is timed
        # by the *Engines classes' track_ values, from one server per task.
        raise NotImplementedError("vLLM runs here only through its server (.venv-vllm); its timings are the "
                                  "track_ values of ArcEngines/SquadEngines/OpenMathEngines")
    return inference.generation_callable(model, task, batch_size, engine)


def parity_prompts(spec: ModelSpec, n_per_task: int) -> list[tuple[str, list[int], int]]:
    """(task, prompt ids, max_new_tokens) for the first `n_per_task` test examples of each task."""
    from bench_lib.tasks import get_task
    from bench_lib.workloads.generate import encode_prompts

    out = []
    for task in PARITY_TASKS:
        ids = encode_prompts(resources.tokenizer_for(spec), resources.examples_for(task, n_per_task))
        out.extend((task, p, get_task(task).max_new_tokens) for p in ids)
    return out


@functools.lru_cache(maxsize=4)
def hf_reference_ids(spec: ModelSpec, n_per_task: int) -> tuple[tuple[int, ...], ...]:
    hf = engine_with("hf", spec)
    return tuple(tuple(hf.generate([p], max_new).token_ids[0]) for _, p, max_new in parity_prompts(spec, n_per_task))


def parity_result(model: str, engine: str, gguf_type: str | None, n_per_task: int = 2) -> dict:
    """Greedy ids of `engine` against HF's, prompt by prompt (one request at a time on both)."""
    from bench_lib.measure.timing import agreeing_prefix

    spec = get_spec(model)
    reference = hf_reference_ids(spec, n_per_task)  # before the engine: loading it closes HF's
    eng = engine_with(engine, spec, gguf_type)
    rows = []
    for (task, prompt, max_new), ref in zip(parity_prompts(spec, n_per_task), reference):
        got = eng.generate([prompt], max_new).token_ids[0]
        rows.append({"task": task, "identical": list(ref) == got, "agreeing_prefix": agreeing_prefix(ref, got),
                     "hf_tokens": len(ref), "engine_tokens": len(got)})
    identical = sum(r["identical"] for r in rows)
    return {"model": model, "engine": engine, "gguf_type": gguf_type, "prompts": len(rows),
            "identical": identical, "metrics": {"engines_parity_identical_fraction": identical / len(rows)},
            "rows": rows}


def overhead_result(model: str, engine: str, repeats: int = 6, max_new_tokens: int = OVERHEAD_MAX_NEW) -> dict:
    """Suite decode tokens/s over the bare loop's, interleaved, on the first OpenMath prompt, both
    decoding `max_new_tokens` tokens (EOS ignored)."""
    from bench_lib.engines.overhead import BARE_LOOPS, compare
    from bench_lib.workloads.generate import encode_prompts

    if engine not in BARE_LOOPS:
        raise NotImplementedError(f"no bare decode loop is defined for engine {engine!r}")
    spec = get_spec(model)
    if engine == "vllm" and importlib.util.find_spec("vllm") is None:
        return _overhead_in_vllm_env(spec, repeats, max_new_tokens)
    eng = engine_with(engine, spec)
    prompt = encode_prompts(resources.tokenizer_for(spec), resources.examples_for("openmath", 1))[0]
    out = compare(eng, prompt, max_new_tokens, repeats)
    out["model"] = model
    out["metrics"] = {"engines_overhead_ratio": out["ratio"].median,
                      "engines_suite_decode_tokens_per_s": out["suite_tokens_per_s"].median,
                      "engines_bare_decode_tokens_per_s": out["bare_tokens_per_s"].median}
    # The interleaved pairs' samples, so the alerts test every repeat of them.
    out["spreads"] = {"engines_overhead_ratio": out["ratio"],
                      "engines_suite_decode_tokens_per_s": out["suite_tokens_per_s"],
                      "engines_bare_decode_tokens_per_s": out["bare_tokens_per_s"]}
    return out


def _overhead_in_vllm_env(spec: ModelSpec, repeats: int, max_new_tokens: int) -> dict:
    """vLLM in its own environment (.venv-vllm): both loops run there, in one process."""
    from bench_lib.engines import vllm_env
    from bench_lib.measure.timing import Spread

    out = vllm_env.call("bench_lib.engines.cases:overhead_result", spec.name, "vllm", repeats, max_new_tokens,
                        offline=not spec.needs_hub)
    for key in ("ratio", "suite_tokens_per_s", "bare_tokens_per_s"):
        out[key] = Spread(**out[key])
    return out


def parity_grid(models: Iterable[str]) -> dict:
    combos = [(m, e, t) for m in models for e, t in PARITY_VARIANTS]
    return {(m, f"{e}-{t}" if t else e): v for (m, e, t), v in run_grid(parity_result, combos).items()}


def overhead_grid(models: Iterable[str], engines: Iterable[str] | None = None) -> dict:
    combos = [(m, e) for m in models for e in (engines or engine_names())]
    return run_grid(overhead_result, combos)
