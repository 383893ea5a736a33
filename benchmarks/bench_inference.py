"""Inference on task prompts: speed, memory and task score per model × batch size.
Every task metric has its 95% interval over the examples beside it (track_<x>_ci_low / _ci_high).

One class per task: asv computes its grid once in setup_cache and each track_ reads one
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


class ArcInference(_Tracks):
    def setup_cache(self):
        return common.inference_grid("arc")

    track_accuracy = common.track("arc_accuracy")
    track_accuracy_ci_low = common.track("arc_accuracy_ci_low")
    track_accuracy_ci_high = common.track("arc_accuracy_ci_high")
    track_macro_f1 = common.track("arc_macro_f1")
    track_macro_f1_ci_low = common.track("arc_macro_f1_ci_low")
    track_macro_f1_ci_high = common.track("arc_macro_f1_ci_high")
    track_unparsed_rate = common.track("arc_unparsed_rate")
    track_unparsed_rate_ci_low = common.track("arc_unparsed_rate_ci_low")
    track_unparsed_rate_ci_high = common.track("arc_unparsed_rate_ci_high")


class SquadInference(_Tracks):
    def setup_cache(self):
        return common.inference_grid("squad")

    track_exact = common.track("squad_exact")
    track_exact_ci_low = common.track("squad_exact_ci_low")
    track_exact_ci_high = common.track("squad_exact_ci_high")
    track_f1 = common.track("squad_f1")
    track_f1_ci_low = common.track("squad_f1_ci_low")
    track_f1_ci_high = common.track("squad_f1_ci_high")
    track_hasans_f1 = common.track("squad_hasans_f1")
    track_hasans_f1_ci_low = common.track("squad_hasans_f1_ci_low")
    track_hasans_f1_ci_high = common.track("squad_hasans_f1_ci_high")
    track_noans_exact = common.track("squad_noans_exact")
    track_noans_exact_ci_low = common.track("squad_noans_exact_ci_low")
    track_noans_exact_ci_high = common.track("squad_noans_exact_ci_high")


class OpenMathInference(_Tracks):
    def setup_cache(self):
        return common.inference_grid("openmath")

    track_exact = common.track("openmath_exact")
    track_exact_ci_low = common.track("openmath_exact_ci_low")
    track_exact_ci_high = common.track("openmath_exact_ci_high")
    track_absdiff = common.track("openmath_absdiff")
    track_absdiff_ci_low = common.track("openmath_absdiff_ci_low")
    track_absdiff_ci_high = common.track("openmath_absdiff_ci_high")
    track_parse_rate = common.track("openmath_parse_rate")
    track_parse_rate_ci_low = common.track("openmath_parse_rate_ci_low")
    track_parse_rate_ci_high = common.track("openmath_parse_rate_ci_high")
    track_exact_strict = common.track("openmath_exact_strict")
    track_exact_strict_ci_low = common.track("openmath_exact_strict_ci_low")
    track_exact_strict_ci_high = common.track("openmath_exact_strict_ci_high")
    track_boxed_parse_rate = common.track("openmath_boxed_parse_rate")
    track_boxed_parse_rate_ci_low = common.track("openmath_boxed_parse_rate_ci_low")
    track_boxed_parse_rate_ci_high = common.track("openmath_boxed_parse_rate_ci_high")


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
    params = [common.MODELS, common.TASKS, common.BATCH_SIZES]
    timeout = common.TIMEOUT
    version = "generate-2"

    def setup(self, model, task, batch_size):
        self.generate = inference.generation_callable(model, task, batch_size)

    def time_generate(self, model, task, batch_size):
        self.generate()

    def peakmem_generate(self, model, task, batch_size):
        self.generate()
