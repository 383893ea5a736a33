"""KV-cache quantization: cache bytes, decode speed, peak memory and quality against the
full-precision cache, per model × cache type × context length, on each engine; and the task
metric through each cache type."""
from benchmarks import common
from bench_lib.kvspec import cases as cases_kvspec
from bench_lib.kvspec.protocol import kv_contexts
from bench_lib.kvspec.kvcache import KV_TYPES
from bench_lib.kvspec.kvcache_llamacpp import KV_TYPES as LLAMACPP_KV_TYPES
from bench_lib.kvspec.kvcache_vllm import KV_TYPES as VLLM_KV_TYPES

HF_TYPES = list(KV_TYPES)
LLAMACPP_TYPES = list(LLAMACPP_KV_TYPES)
VLLM_TYPES = list(VLLM_KV_TYPES)
CONTEXTS = list(kv_contexts())


class _Tracks:
    param_names = ["model", "kv_type", "context"]
    timeout = common.TIMEOUT

    def setup(self, grid, model, kv_type, context):
        self.result = common.pick(grid, (model, kv_type, context))

    track_cache_bytes = common.track("kvspec_cache_bytes")
    track_cache_bytes_engine = common.track("kvspec_cache_bytes_engine")
    track_decode_tokens_per_s = common.track("kvspec_decode_tokens_per_s")
    track_prefill = common.track("kvspec_prefill_s")
    track_peak_rss = common.track("peak_rss_bytes")
    track_cuda_max_allocated = common.track("cuda_max_allocated_bytes")
    track_greedy_agreement = common.track("kvspec_greedy_agreement")
    track_kld_mean = common.track("quality_kld_mean")
    track_kld_p99 = common.track("quality_kld_p99")
    track_same_top_p = common.track("quality_same_top_p")
    track_ppl_ratio = common.track("quality_ppl_ratio")


class KVCacheHF(_Tracks):
    params = [common.MODELS, HF_TYPES, CONTEXTS]
    version = "kvcache-hf-1"

    def setup_cache(self):
        return cases_kvspec.kv_grid(common.MODELS, HF_TYPES, CONTEXTS, "hf")


class KVCacheLlamaCpp(_Tracks):
    params = [common.MODELS, LLAMACPP_TYPES, CONTEXTS]
    version = "kvcache-llamacpp-1"

    def setup_cache(self):
        return cases_kvspec.kv_grid(common.MODELS, LLAMACPP_TYPES, CONTEXTS, "llamacpp")


class KVCacheVLLM(_Tracks):
    params = [common.MODELS, VLLM_TYPES, CONTEXTS]
    version = "kvcache-vllm-1"

    def setup_cache(self):
        return cases_kvspec.kv_grid(common.MODELS, VLLM_TYPES, CONTEXTS, "vllm")


class KVCacheTask:
    param_names = ["model", "kv_type", "task"]
    params = [common.MODELS, HF_TYPES, common.TASKS]
    timeout = common.TIMEOUT
    version = "kvcache-task-2"

    def setup_cache(self):
        return cases_kvspec.kv_task_grid(common.MODELS, HF_TYPES, common.TASKS)

    def setup(self, grid, model, kv_type, task):
        self.result = common.pick(grid, (model, kv_type, task))

    track_arc_accuracy = common.track("arc_accuracy")
    track_arc_accuracy_ci_low = common.track("arc_accuracy_ci_low")
    track_arc_accuracy_ci_high = common.track("arc_accuracy_ci_high")
    track_squad_f1 = common.track("squad_f1")
    track_squad_f1_ci_low = common.track("squad_f1_ci_low")
    track_squad_f1_ci_high = common.track("squad_f1_ci_high")
    track_openmath_absdiff = common.track("openmath_absdiff")
    track_openmath_absdiff_ci_low = common.track("openmath_absdiff_ci_low")
    track_openmath_absdiff_ci_high = common.track("openmath_absdiff_ci_high")
