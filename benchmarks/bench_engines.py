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


class ArcEngines(_EngineTracks):
    def setup_cache(self):
        return cases_engines.engine_grid("arc", common.MODELS, common.BATCH_SIZES)

    track_accuracy = common.track("arc_accuracy")
    track_accuracy_ci_low = common.track("arc_accuracy_ci_low")
    track_accuracy_ci_high = common.track("arc_accuracy_ci_high")
    track_macro_f1 = common.track("arc_macro_f1")
    track_macro_f1_ci_low = common.track("arc_macro_f1_ci_low")
    track_macro_f1_ci_high = common.track("arc_macro_f1_ci_high")


class SquadEngines(_EngineTracks):
    def setup_cache(self):
        return cases_engines.engine_grid("squad", common.MODELS, common.BATCH_SIZES)

    track_exact = common.track("squad_exact")
    track_exact_ci_low = common.track("squad_exact_ci_low")
    track_exact_ci_high = common.track("squad_exact_ci_high")
    track_f1 = common.track("squad_f1")
    track_f1_ci_low = common.track("squad_f1_ci_low")
    track_f1_ci_high = common.track("squad_f1_ci_high")


class OpenMathEngines(_EngineTracks):
    def setup_cache(self):
        return cases_engines.engine_grid("openmath", common.MODELS, common.BATCH_SIZES)

    track_exact = common.track("openmath_exact")
    track_exact_ci_low = common.track("openmath_exact_ci_low")
    track_exact_ci_high = common.track("openmath_exact_ci_high")
    track_absdiff = common.track("openmath_absdiff")
    track_absdiff_ci_low = common.track("openmath_absdiff_ci_low")
    track_absdiff_ci_high = common.track("openmath_absdiff_ci_high")


class EngineGenerateTime:
    param_names = ["engine", "model", "task", "batch_size"]
    params = [ENGINES, common.MODELS, common.TASKS, common.BATCH_SIZES]
    timeout = common.TIMEOUT
    version = "engines-generate-3"

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
