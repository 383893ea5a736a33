"""Serving under load: TTFT / TPOT / ITL / E2EL percentiles, throughput and goodput per model × load,
and the highest request rate and concurrency that meet a p99 TTFT / TPOT SLO.

Each class starts its own server on 127.0.0.1 in setup_cache (llama-cpp-python's, vLLM's), runs
every load of BENCH_SERVE_LOADS (or the SLO searches of BENCH_SERVE_SLO) against it and stops it;
the External classes target BENCH_SERVE_URL. The track_ methods read one number each from that grid.
"""
from benchmarks import common
from bench_lib.serve import cases as cases_serve
from bench_lib.serve import cases_slo as cases_serve_slo


class _ServingTracks:
    param_names = ["model", "load"]
    params = [common.MODELS, cases_serve.loads()]
    timeout = common.TIMEOUT
    version = "serve-2"

    def setup(self, grid, model, load):
        self.result = common.pick(grid, (model, load))

    track_ttft_mean = common.track("serve_ttft_mean_s")
    track_ttft_p50 = common.track("serve_ttft_p50_s")
    track_ttft_p90 = common.track("serve_ttft_p90_s")
    track_ttft_p99 = common.track("serve_ttft_p99_s")
    track_tpot_mean = common.track("serve_tpot_mean_s")
    track_tpot_p50 = common.track("serve_tpot_p50_s")
    track_tpot_p90 = common.track("serve_tpot_p90_s")
    track_tpot_p99 = common.track("serve_tpot_p99_s")
    track_itl_mean = common.track("serve_itl_mean_s")
    track_itl_p50 = common.track("serve_itl_p50_s")
    track_itl_p90 = common.track("serve_itl_p90_s")
    track_itl_p99 = common.track("serve_itl_p99_s")
    track_e2el_mean = common.track("serve_e2el_mean_s")
    track_e2el_p50 = common.track("serve_e2el_p50_s")
    track_e2el_p90 = common.track("serve_e2el_p90_s")
    track_e2el_p99 = common.track("serve_e2el_p99_s")
    track_request_throughput = common.track("serve_request_throughput")
    track_output_throughput = common.track("serve_output_throughput")
    track_total_token_throughput = common.track("serve_total_token_throughput")
    track_ttft_sched_mean = common.track("serve_ttft_sched_mean_s")
    track_ttft_sched_p50 = common.track("serve_ttft_sched_p50_s")
    track_ttft_sched_p90 = common.track("serve_ttft_sched_p90_s")
    track_ttft_sched_p99 = common.track("serve_ttft_sched_p99_s")
    track_e2el_sched_mean = common.track("serve_e2el_sched_mean_s")
    track_e2el_sched_p50 = common.track("serve_e2el_sched_p50_s")
    track_e2el_sched_p90 = common.track("serve_e2el_sched_p90_s")
    track_e2el_sched_p99 = common.track("serve_e2el_sched_p99_s")
    track_lag_p50 = common.track("serve_lag_p50_s")
    track_lag_p99 = common.track("serve_lag_p99_s")
    track_goodput = common.track("serve_goodput")
    track_failed = common.track("serve_failed")
    track_server_peak_rss = common.track("serve_server_peak_rss_bytes")


class LlamaCppServing(_ServingTracks):
    def setup_cache(self):
        return cases_serve.serving_grid("llamacpp", common.MODELS, cases_serve.loads())


class VllmServing(_ServingTracks):
    def setup_cache(self):
        return cases_serve.serving_grid("vllm", common.MODELS, cases_serve.loads())


class ExternalServing(_ServingTracks):
    def setup_cache(self):
        return cases_serve.serving_grid("url", common.MODELS, cases_serve.loads())


class _SLOTracks:
    param_names = ["model", "slo"]
    params = [common.MODELS, cases_serve_slo.slos()]
    timeout = common.TIMEOUT
    version = "serve-slo-1"

    def setup(self, grid, model, slo):
        self.result = common.pick(grid, (model, slo))

    track_slo_max_rate = common.track("serve_slo_max_rate")
    track_slo_max_concurrency = common.track("serve_slo_max_concurrency")


class LlamaCppServingSLO(_SLOTracks):
    def setup_cache(self):
        return cases_serve_slo.slo_grid("llamacpp", common.MODELS, cases_serve_slo.slos())


class VllmServingSLO(_SLOTracks):
    def setup_cache(self):
        return cases_serve_slo.slo_grid("vllm", common.MODELS, cases_serve_slo.slos())


class ExternalServingSLO(_SLOTracks):
    def setup_cache(self):
        return cases_serve_slo.slo_grid("url", common.MODELS, cases_serve_slo.slos())
