"""Inference on task prompts: speed, memory and task score per model × batch size.

One class per task: asv computes its grid once in setup_cache and each track_ reads one
number from it. GenerateTime times the same generation with asv's own repeats.
"""
from benchmarks import common
from bench_lib import cases


class _Tracks(common.GenerationTracks):
    param_names = ["model", "batch_size"]
    params = [common.MODELS, common.BATCH_SIZES]
    timeout = common.TIMEOUT
    version = "inference-2"

    def setup(self, grid, model, batch_size):
        self.result = common.pick(grid, (model, batch_size))


class ArcInference(_Tracks):
    def setup_cache(self):
        return common.inference_grid("arc")

    track_accuracy = common.track("arc_accuracy")
    track_macro_f1 = common.track("arc_macro_f1")
    track_unparsed_rate = common.track("arc_unparsed_rate")


class SquadInference(_Tracks):
    def setup_cache(self):
        return common.inference_grid("squad")

    track_exact = common.track("squad_exact")
    track_f1 = common.track("squad_f1")
    track_hasans_f1 = common.track("squad_hasans_f1")
    track_noans_exact = common.track("squad_noans_exact")


class OpenMathInference(_Tracks):
    def setup_cache(self):
        return common.inference_grid("openmath")

    track_exact = common.track("openmath_exact")
    track_absdiff = common.track("openmath_absdiff")
    track_parse_rate = common.track("openmath_parse_rate")


class GenerateTime:
    param_names = ["model", "task", "batch_size"]
    params = [common.MODELS, common.TASKS, common.BATCH_SIZES]
    timeout = common.TIMEOUT
    version = "generate-2"

    def setup(self, model, task, batch_size):
        self.generate = cases.generation_callable(model, task, batch_size)

    def time_generate(self, model, task, batch_size):
        self.generate()

    def peakmem_generate(self, model, task, batch_size):
        self.generate()
