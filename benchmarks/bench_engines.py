"""Engines side by side (HF, llama.cpp, vLLM) on the same model and prompts: speed, memory and
task metrics per engine × model × batch size; greedy parity against HF; and the overhead of the
suite's generate path against a bare loop of the same engine (ratio of decode tokens/s).

An engine that is not installed (llama-cpp-python, vLLM) shows as skipped with the reason.
"""
from benchmarks import common
from bench_lib.engines import cases as cases_engines

ENGINES = list(cases_engines.engine_names())


class _EngineTracks(common._GenerationTracks):
    param_names = ["engine", "model", "batch_size"]
    params = [ENGINES, common.MODELS, common.BATCH_SIZES]
    timeout = common.TIMEOUT
    version = "engines-4"

    def setup(self, grid, engine, model, batch_size):
        self.result = common.pick(grid, (model, engine, batch_size))

    track_own_prompt_tokens_per_s = common.track("engines_own_prompt_tokens_per_s")
    track_own_decode_tokens_per_s = common.track("engines_own_decode_tokens_per_s")


def _engine_grid(task: str) -> dict:
    return cases_engines.engine_grid(task, common.MODELS, common.BATCH_SIZES)


# ArcEngines, SquadEngines, OpenMathEngines: one per registered task
common._task_classes(globals(), _EngineTracks, "Engines", common._interval_tracks("key_metrics"), _engine_grid)


class EngineGenerateTime:
    param_names = ["engine", "model", "task", "batch_size"]
    params = [ENGINES, common.MODELS, common.TIER_TASKS, common.BATCH_SIZES]
    timeout = common.TIMEOUT
    version = common.timed_version("engines-generate-3")

    def setup(self, engine, model, task, batch_size):
        self.generate = cases_engines.engine_generation_callable(model, task, batch_size, engine)

    def time_generate(self, engine, model, task, batch_size):
        self.generate()

    def peakmem_generate(self, engine, model, task, batch_size):
        self.generate()


class EngineParity:
    param_names = ["variant", "model"]
    params = [[f"{e}-{t}" if t else e for e, t in cases_engines.PARITY_VARIANTS], common.MODELS]
    timeout = common.TIMEOUT
    version = "engines-parity-1"

    def setup_cache(self):
        return cases_engines.parity_grid(common.MODELS)

    def setup(self, grid, variant, model):
        self.result = common.pick(grid, (model, variant))

    track_identical_fraction = common.track("engines_parity_identical_fraction")


class EngineOverhead:
    param_names = ["engine", "model"]
    params = [ENGINES, common.MODELS]
    timeout = common.TIMEOUT
    version = "engines-overhead-2"

    def setup_cache(self):
        return cases_engines.overhead_grid(common.MODELS)

    def setup(self, grid, engine, model):
        self.result = common.pick(grid, (model, engine))

    track_ratio = common.track("engines_overhead_ratio")
    track_suite_decode_tokens_per_s = common.track("engines_suite_decode_tokens_per_s")
    track_bare_decode_tokens_per_s = common.track("engines_bare_decode_tokens_per_s")
