"""Quantization schemes: build cost, size, quality against the unquantized model, task deltas
and decode speed, per model × scheme (bench_lib.quant.cases). Built models are cached on disk
(bench_lib.quant.cache), so the grid reuses them across runs; a cache hit reports the build's
own measured time and memory. Schemes that cannot run here skip with the reason.
"""
from benchmarks import common
from bench_lib.quant import cases as cases_quant
from bench_lib.quant import cases_ladder

SCHEMES = cases_quant.scheme_names()


class QuantSchemes:
    param_names = ["model", "scheme"]
    params = [common.MODELS, SCHEMES]
    timeout = common.TIMEOUT
    version = "quant-3"

    def setup_cache(self):
        return cases_quant.quant_grid(common.MODELS, SCHEMES)

    def setup(self, grid, model, scheme):
        self.result = common.pick(grid, (model, scheme))

    track_quantize_s = common.track("quant_quantize_s")
    track_build_peak_rss = common.track("quant_build_peak_rss_bytes")
    track_build_rss_increase = common.track("quant_build_rss_increase_bytes")
    track_build_cuda_max_allocated = common.track("quant_build_cuda_max_allocated_bytes")
    track_weight_bytes = common.track("quant_weight_bytes")
    track_bits_per_weight = common.track("quant_bits_per_weight")
    track_kld_mean = common.track("quality_kld_mean")
    track_kld_p99 = common.track("quality_kld_p99")
    track_same_top_p = common.track("quality_same_top_p")
    track_ppl_ratio = common.track("quality_ppl_ratio")
    track_rms_dp = common.track("quality_rms_dp")
    track_kld_vs_own_fp = common.track("quant_kld_vs_own_fp")
    track_decode_tokens_per_s = common.track("quant_decode_tokens_per_s")
    track_delta_arc_accuracy = common.track("quant_delta_arc_accuracy")
    track_delta_arc_accuracy_ci_low = common.track("quant_delta_arc_accuracy_ci_low")
    track_delta_arc_accuracy_ci_high = common.track("quant_delta_arc_accuracy_ci_high")
    track_delta_arc_accuracy_excludes_zero = common.track("quant_delta_arc_accuracy_excludes_zero")
    track_delta_arc_macro_f1 = common.track("quant_delta_arc_macro_f1")
    track_delta_arc_macro_f1_ci_low = common.track("quant_delta_arc_macro_f1_ci_low")
    track_delta_arc_macro_f1_ci_high = common.track("quant_delta_arc_macro_f1_ci_high")
    track_delta_arc_macro_f1_excludes_zero = common.track("quant_delta_arc_macro_f1_excludes_zero")
    track_delta_squad_f1 = common.track("quant_delta_squad_f1")
    track_delta_squad_f1_ci_low = common.track("quant_delta_squad_f1_ci_low")
    track_delta_squad_f1_ci_high = common.track("quant_delta_squad_f1_ci_high")
    track_delta_squad_f1_excludes_zero = common.track("quant_delta_squad_f1_excludes_zero")
    track_delta_squad_exact = common.track("quant_delta_squad_exact")
    track_delta_squad_exact_ci_low = common.track("quant_delta_squad_exact_ci_low")
    track_delta_squad_exact_ci_high = common.track("quant_delta_squad_exact_ci_high")
    track_delta_squad_exact_excludes_zero = common.track("quant_delta_squad_exact_excludes_zero")
    track_delta_openmath_exact = common.track("quant_delta_openmath_exact")
    track_delta_openmath_exact_ci_low = common.track("quant_delta_openmath_exact_ci_low")
    track_delta_openmath_exact_ci_high = common.track("quant_delta_openmath_exact_ci_high")
    track_delta_openmath_exact_excludes_zero = common.track("quant_delta_openmath_exact_excludes_zero")
    track_delta_openmath_absdiff = common.track("quant_delta_openmath_absdiff")
    track_delta_openmath_absdiff_ci_low = common.track("quant_delta_openmath_absdiff_ci_low")
    track_delta_openmath_absdiff_ci_high = common.track("quant_delta_openmath_absdiff_ci_high")
    track_delta_openmath_absdiff_excludes_zero = common.track("quant_delta_openmath_absdiff_excludes_zero")
    track_arc_loglik_acc = common.track("arc_loglik_acc")
    track_arc_loglik_acc_ci_low = common.track("arc_loglik_acc_ci_low")
    track_arc_loglik_acc_ci_high = common.track("arc_loglik_acc_ci_high")
    track_arc_loglik_ece = common.track("arc_loglik_ece")
    track_arc_loglik_ece_ci_low = common.track("arc_loglik_ece_ci_low")
    track_arc_loglik_ece_ci_high = common.track("arc_loglik_ece_ci_high")
    track_arc_loglik_brier = common.track("arc_loglik_brier")
    track_arc_loglik_brier_ci_low = common.track("arc_loglik_brier_ci_low")
    track_arc_loglik_brier_ci_high = common.track("arc_loglik_brier_ci_high")
    track_delta_arc_loglik_acc = common.track("quant_delta_arc_loglik_acc")
    track_delta_arc_loglik_acc_ci_low = common.track("quant_delta_arc_loglik_acc_ci_low")
    track_delta_arc_loglik_acc_ci_high = common.track("quant_delta_arc_loglik_acc_ci_high")
    track_delta_arc_loglik_acc_excludes_zero = common.track("quant_delta_arc_loglik_acc_excludes_zero")
    track_delta_arc_loglik_acc_norm = common.track("quant_delta_arc_loglik_acc_norm")
    track_delta_arc_loglik_acc_norm_ci_low = common.track("quant_delta_arc_loglik_acc_norm_ci_low")
    track_delta_arc_loglik_acc_norm_ci_high = common.track("quant_delta_arc_loglik_acc_norm_ci_high")
    track_delta_arc_loglik_acc_norm_excludes_zero = common.track("quant_delta_arc_loglik_acc_norm_excludes_zero")
    track_delta_arc_loglik_ece = common.track("quant_delta_arc_loglik_ece")
    track_delta_arc_loglik_ece_ci_low = common.track("quant_delta_arc_loglik_ece_ci_low")
    track_delta_arc_loglik_ece_ci_high = common.track("quant_delta_arc_loglik_ece_ci_high")
    track_delta_arc_loglik_ece_excludes_zero = common.track("quant_delta_arc_loglik_ece_excludes_zero")
    track_delta_arc_loglik_brier = common.track("quant_delta_arc_loglik_brier")
    track_delta_arc_loglik_brier_ci_low = common.track("quant_delta_arc_loglik_brier_ci_low")
    track_delta_arc_loglik_brier_ci_high = common.track("quant_delta_arc_loglik_brier_ci_high")
    track_delta_arc_loglik_brier_excludes_zero = common.track("quant_delta_arc_loglik_brier_excludes_zero")


class DamageLadder:
    """Progressively harsher damage (weights: none → quanto int8 → int4 → int2; KV cache:
    DynamicCache → quanto int4 → int2; weight noise: 0.4, 0.8, 1.2 × row RMS) and each task's
    headline score on the same examples: scores must not rise down a ladder, and the harshest
    rung's drop must exclude 0."""
    param_names = ["model", "rung"]
    params = [common.MODELS, list(cases_ladder.rungs())]
    timeout = common.TIMEOUT
    version = "ladder-1"

    def setup_cache(self):
        return cases_ladder.ladder_grid(common.MODELS)

    def setup(self, grid, model, rung):
        self.result = common.pick(grid, (model, rung))


common.add_task_tracks(DamageLadder, common._ladder_tracks)
