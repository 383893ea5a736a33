"""Parameter lists, size tier and skip helpers shared by the benchmark files.

Benchmark files only declare; everything they call lives in bench_lib. Nothing heavy is
imported here, so asv's discovery and the track_ processes stay fast.
Grid values come from BENCH_MODELS / BENCH_TASKS / BENCH_PROFILE (see bench_lib.config).
"""
from __future__ import annotations

from bench_lib import config, preflight
from bench_lib.tracking import preload
from bench_lib.metrics import metric

try:
    from asv_runner.benchmarks.mark import SkipNotImplemented
except ImportError:  # outside asv
    SkipNotImplemented = NotImplementedError

# A setting that would make every combination fail stops asv's discovery, before any result is
# written; `make bench` runs the same check before asv starts.
_PROBLEMS = preflight.errors()
if _PROBLEMS:
    raise config.ConfigError("; ".join(_PROBLEMS))

# In asv's forkserver, torch, transformers and peft are imported once before it forks the benchmark
# processes, instead of in every timed process (BENCH_FORK_PRELOAD; see bench_lib.tracking.preload).
# The classes whose processes do the work (time_, peakmem_) then measure in another setting and
# take another asv version with timed_version, so that asv and the alerts start a new series.
preload.in_server()
timed_version = preload.series_version

MODELS = list(config.model_names())
TASKS = list(config.task_names())
BATCH_SIZES = list(config.profile().batch_sizes)
# Classes whose per-task runs repeat one code path on another task's data (asv's own timing of a
# generation, which loads the engine in every benchmark process; fine-tuning; speculative
# decoding) run the first task alone in the smoke tier; the inference and engine tracks still
# score every task there, and the other tiers run every task everywhere.
TIER_TASKS = TASKS[:1] if config.profile().subset else TASKS


def tier_skip(task: str) -> dict | None:
    """setup_cache's result for a per-task class whose task this tier leaves out, else None (a
    task outside BENCH_TASKS is left to the grid's own check, which names that setting)."""
    if task in TIER_TASKS or task not in TASKS:
        return None
    return {"_skip": f"the {config.profile().name} tier runs this class on {', '.join(TIER_TASKS)} only; "
                     "BENCH_PROFILE=regular runs every task"}
# Generation grids can take minutes on a CPU; asv's default 60 s would kill them.
TIMEOUT = 3600


def inference_grid(task: str) -> dict:
    """setup_cache body of a task's inference class: its grid, or why it is not run."""
    from bench_lib import inference

    return config.task_skip(task) or inference.inference_grid(task, MODELS, BATCH_SIZES)


def arc_loglik_grid() -> dict:
    """setup_cache body of the ARC log-likelihood class: its grid, or why it is not run."""
    from bench_lib import inference

    return config.task_skip("arc") or inference.arc_loglik_grid(MODELS)


def pick(grid: dict, key: tuple) -> dict:
    """The result for one parameter combination of a grid built by bench_lib.grid.run_grid;
    NotImplementedError (asv: skipped) or RuntimeError (asv: failed) otherwise."""
    if "_skip" in grid:
        raise NotImplementedError(grid["_skip"])
    entry = grid.get(key)
    if entry is None:
        raise NotImplementedError(f"{key} was not in the grid built by setup_cache")
    if "skip" in entry:
        raise NotImplementedError(entry["skip"])
    if "error" in entry:
        raise RuntimeError(f"{key} failed: {entry['error']}")
    return entry["result"]


def repeat_samples(result: dict, name: str) -> dict | None:
    """{"samples": [...], "number": 1} for a metric with at least two measured repeats, else None.
    Its median is the metric's value: both come from the same Spread."""
    spread = result.get("spreads", {}).get(name)
    samples = list(getattr(spread, "samples", ()) or ())
    if len(samples) < 2:
        return None
    return {"samples": samples, "number": 1}


def track(name: str):
    """A track_ method returning metric `name` of self.result, with that metric's unit.

    A metric missing from the result (a task score of a random-weight model, a CUDA peak on
    a CPU run) is skipped, not reported as zero. A metric measured by repeats (its Spread in
    result["spreads"]) goes to asv with its samples, in the form asv takes from timing
    benchmarks: asv then records the median, its interval and the samples
    (`--record-samples`), and the alerts test the samples instead of judging one number.
    """
    record = metric(name)

    def method(self, *params):
        value = self.result["metrics"].get(name)
        if value is None:
            raise SkipNotImplemented(f"{name} is not measured for {params}")
        return repeat_samples(self.result, name) or value

    method.__name__ = f"track_{name}"
    method.__doc__ = f"{record.description} ({record.unit}, {'higher' if record.higher_is_better else 'lower'} is better)"
    method.unit = record.unit
    return method


class _GenerationTracks:
    """Speed and memory tracks of a generation result, shared by every class that generates on
    task prompts (bench_inference, bench_engines); the subclass sets params and setup.

    asv's discovery skips module attributes whose name starts with "_", so shared declarations
    here carry that prefix; without it asv lists the mixin itself as a benchmark class whose
    track_ methods fail for want of a setup."""
    track_ttft = track("ttft_s")
    track_tpot = track("tpot_s")
    track_e2e_latency = track("e2e_latency_s")
    track_tokens_per_s = track("output_tokens_per_s")
    track_peak_rss = track("peak_rss_bytes")
    track_cuda_max_allocated = track("cuda_max_allocated_bytes")
    track_cuda_max_reserved = track("cuda_max_reserved_bytes")
    track_device_memory = track("device_memory_bytes")
    track_energy_per_token = track("energy_j_per_output_token")
    track_decode_bytes_per_s = track("decode_bytes_per_s")
    track_decode_mbu = track("decode_mbu")
    track_prefill_flops_per_s = track("prefill_flops_per_s")
    track_prefill_mfu = track("prefill_mfu")


def _interval_tracks(attr: str):
    """task → track_<metric without the task prefix> for each metric in the task module's `attr`,
    with its 95% interval bounds beside it (track_<x>_ci_low / _ci_high)."""
    def tracks(task) -> dict[str, str]:
        out = {}
        for name in getattr(task, attr):
            short = name[len(task.name) + 1:] if name.startswith(task.name + "_") else name
            out.update({f"track_{short}{s}": name + s for s in ("", "_ci_low", "_ci_high")})
        return out
    return tracks


def _ladder_tracks(task) -> dict[str, str]:
    """task → the damage ladder's tracks of its headline metric: the rung's value with its
    interval, and its paired difference from the ladder's reference with its interval."""
    name = task.headline_metric
    delta = f"quant_delta_{name}"
    return {f"track_{name}": name, **{f"track_{name}{s}": name + s for s in ("_ci_low", "_ci_high")},
            f"track_delta_{name}": delta,
            **{f"track_delta_{name}{s}": delta + s for s in ("_ci_low", "_ci_high", "_excludes_zero")}}


def add_task_tracks(cls: type, tracks) -> type:
    """cls with a track_ method per entry of tracks(task module), for every registered task."""
    from bench_lib.tasks import TASKS, get_task

    for name in TASKS:
        for method, metric_name in tracks(get_task(name)).items():
            setattr(cls, method, track(metric_name))
    return cls


def _finetune_tracks(task) -> dict[str, str]:
    """task → the fine-tuning tracks of its key metrics: mean over seeds and its 95% half-width."""
    out = {}
    for name in task.key_metrics:
        short = name[len(task.name) + 1:]
        out.update({f"track_{short}": f"train_ft_{name}_mean", f"track_{short}_ci95": f"train_ft_{name}_ci95"})
    return out


# asv keys a setup_cache by its module and first line (classes sharing a line share one cache),
# so each generated class gets a setup_cache compiled on a line of its own, past any real line.
_SETUP_CACHE_LINE = 100_000  # + 10 per task, in registry order: the same in every asv process
_SETUP_CACHE_SOURCE = "def setup_cache(self):\n    return _grid(_task)\n"


def _setup_cache(module: str, cls_name: str, grid, task_name: str, index: int):
    import linecache

    filename = f"<{module}.{cls_name}.setup_cache>"
    source = "\n" * (_SETUP_CACHE_LINE + 10 * index - 1) + _SETUP_CACHE_SOURCE
    namespace = {"_grid": grid, "_task": task_name}
    exec(compile(source, filename, "exec"), namespace)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # for inspect
    fn = namespace["setup_cache"]
    fn.__module__, fn.__qualname__ = module, f"{cls_name}.setup_cache"
    return fn


def _task_classes(namespace: dict, base: type, suffix: str, tracks, grid) -> None:
    """One asv class per registered task, named <task.asv_name><suffix> (ArcInference), derived
    from `base`, with `task` set to the task's name, its setup_cache returning grid(task name),
    and a track_ method per entry of tracks(task module) ({method name: metric name}). Tasks
    outside BENCH_TASKS are still declared, so their names stay; their grid says why they skip."""
    from bench_lib.tasks import TASKS, get_task

    module = namespace["__name__"]
    for index, name in enumerate(TASKS):
        task = get_task(name)
        cls_name = f"{task.asv_name}{suffix}"
        attrs = {"__module__": module, "__qualname__": cls_name, "task": name,
                 "setup_cache": _setup_cache(module, cls_name, grid, name, index),
                 **{method: track(metric_name) for method, metric_name in tracks(task).items()}}
        namespace[cls_name] = type(cls_name, (base,), attrs)
