"""Serving under load: TTFT / TPOT / ITL / E2EL percentiles, throughput and goodput per model × load.

Each class starts its own server on 127.0.0.1 in setup_cache (llama-cpp-python's, vLLM's), runs
every load of BENCH_SERVE_LOADS against it and stops it; ExternalServing targets BENCH_SERVE_URL.
The track_ methods read one number each from that grid.
"""
from benchmarks import common
from bench_lib import cases_serve


class _ServingTracks:
    param_names = ["model", "load"]
    params = [common.MODELS, cases_serve.loads()]
    timeout = common.TIMEOUT
    version = "serve-1"

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
