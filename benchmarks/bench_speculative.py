"""Speculative decoding: acceptance statistics, target passes, exactness and speedup against
plain greedy decoding on the same prompts, per model × method × task, on each engine."""
from benchmarks import common
from bench_lib.kvspec import cases as cases_kvspec

HF_METHODS = ["draft", "prompt-lookup", "early-exit"]
LLAMACPP_METHODS = ["draft", "prompt-lookup"]
VLLM_METHODS = ["draft", "prompt-lookup"]


class _Tracks:
    param_names = ["model", "method", "task"]
    timeout = common.TIMEOUT

    def setup(self, grid, model, method, task):
        self.result = common.pick(grid, (model, method, task))

    track_greedy_exact = common.track("kvspec_greedy_exact")
    track_acceptance_rate = common.track("kvspec_acceptance_rate")
    track_acceptance_length = common.track("kvspec_acceptance_length")
    track_acceptance_pos1 = common.track("kvspec_acceptance_pos1")
    track_acceptance_pos2 = common.track("kvspec_acceptance_pos2")
    track_acceptance_pos3 = common.track("kvspec_acceptance_pos3")
    track_acceptance_pos4 = common.track("kvspec_acceptance_pos4")
    track_target_passes = common.track("kvspec_target_passes")
    track_speedup = common.track("kvspec_speedup")
    track_spec_tokens_per_s = common.track("kvspec_spec_tokens_per_s")
    track_plain_tokens_per_s = common.track("kvspec_plain_tokens_per_s")


class SpeculativeHF(_Tracks):
    params = [common.MODELS, HF_METHODS, common.TIER_TASKS]
    version = "speculative-hf-1"

    def setup_cache(self):
        return cases_kvspec.speculative_grid(common.MODELS, HF_METHODS, common.TIER_TASKS, "hf")


class SpeculativeLlamaCpp(_Tracks):
    params = [common.MODELS, LLAMACPP_METHODS, common.TIER_TASKS]
    version = "speculative-llamacpp-1"

    def setup_cache(self):
        return cases_kvspec.speculative_grid(common.MODELS, LLAMACPP_METHODS, common.TIER_TASKS, "llamacpp")


class SpeculativeVLLM(_Tracks):
    params = [common.MODELS, VLLM_METHODS, common.TIER_TASKS]
    version = "speculative-vllm-1"

    def setup_cache(self):
        return cases_kvspec.speculative_grid(common.MODELS, VLLM_METHODS, common.TIER_TASKS, "vllm")
