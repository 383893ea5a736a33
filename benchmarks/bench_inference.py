"""Inference on task prompts: speed, memory and task score per model × batch size.
Every task metric has its 95% interval over the examples beside it (track_<x>_ci_low / _ci_high).

One class per registered task (ArcInference, SquadInference, OpenMathInference), generated
from the task registry by common._task_classes: asv computes its grid once in setup_cache and each track_ reads one
number from it. GenerateTime times the same generation with asv's own repeats.
"""
from benchmarks import common
from bench_lib import inference


class _Tracks(common._GenerationTracks):
    param_names = ["model", "batch_size"]
    params = [common.MODELS, common.BATCH_SIZES]
    timeout = common.TIMEOUT
    version = "inference-4"

    def setup(self, grid, model, batch_size):
        self.result = common.pick(grid, (model, batch_size))


common._task_classes(globals(), _Tracks, "Inference", common._interval_tracks("inference_tracks"), common.inference_grid)


class ArcLoglik:
    """ARC by the choices' log-likelihoods (lm-eval acc, acc_norm) and the calibration of those
    choice probabilities (ECE, Brier), HF model, zero-shot lm-eval prompt."""
    param_names = ["model"]
    params = [common.MODELS]
    timeout = common.TIMEOUT
    version = "arc-loglik-1"

    def setup_cache(self):
        return common.arc_loglik_grid()

    def setup(self, grid, model):
        self.result = common.pick(grid, (model,))

    track_acc = common.track("arc_loglik_acc")
    track_acc_ci_low = common.track("arc_loglik_acc_ci_low")
    track_acc_ci_high = common.track("arc_loglik_acc_ci_high")
    track_acc_norm = common.track("arc_loglik_acc_norm")
    track_acc_norm_ci_low = common.track("arc_loglik_acc_norm_ci_low")
    track_acc_norm_ci_high = common.track("arc_loglik_acc_norm_ci_high")
    track_ece = common.track("arc_loglik_ece")
    track_ece_ci_low = common.track("arc_loglik_ece_ci_low")
    track_ece_ci_high = common.track("arc_loglik_ece_ci_high")
    track_brier = common.track("arc_loglik_brier")
    track_brier_ci_low = common.track("arc_loglik_brier_ci_low")
    track_brier_ci_high = common.track("arc_loglik_brier_ci_high")


class GenerateTime:
    param_names = ["model", "task", "batch_size"]
    params = [common.MODELS, common.TIER_TASKS, common.BATCH_SIZES]
    timeout = common.TIMEOUT
    version = common.timed_version("generate-2")

    def setup(self, model, task, batch_size):
        self.generate = inference.generation_callable(model, task, batch_size)

    def time_generate(self, model, task, batch_size):
        self.generate()

    def peakmem_generate(self, model, task, batch_size):
        self.generate()
