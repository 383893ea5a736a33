"""Train step and short fine-tune per model × method: speed, memory, parameters, task score.

TrainStep: one measured step per model × method × batch×sequence shape (grid in setup_cache).
TrainStepOptions: optimizer and gradient checkpointing at the first shape.
TrainStepTime: the same step under asv's own timer.
<Task>FineTune: K steps on the task's train split, then its metric on the test split, mean and
95% interval across BENCH_SEEDS seeds.
TrainStepDistributed: the step across 2 processes (torch.distributed: DDP, FSDP on CUDA) at the
first shape, each rank on its own batch; tokens/s of the group and the largest per-rank memory.
TrainMemoryRatios: arch:Qwen/Qwen3-8B, LoRA r=256 vs QLoRA-nf4 r=256 vs VeRA r=512 (CUDA only).
"""
from benchmarks import common
from bench_lib.train import cases as cases_train
from bench_lib.train import cases_distributed as distributed, settings

METHODS = list(settings.methods())
SHAPES = list(settings.shapes())
OPTION_METHODS = [m for m in ("full", "lora", "qlora-nf4") if m in METHODS]
OPTIMIZERS = ["adamw", "adamw8bit", "paged_adamw8bit"]


class TrainStep:
    param_names = ["model", "method", "shape"]
    params = [common.MODELS, METHODS, SHAPES]
    timeout = common.TIMEOUT
    version = "train-step-2"

    def setup_cache(self):
        return cases_train.step_grid(common.MODELS, METHODS, SHAPES)

    def setup(self, grid, model, method, shape):
        self.result = common.pick(grid, (model, method, shape))

    track_step_time = common.track("train_step_s")
    track_tokens_per_s = common.track("train_tokens_per_s")
    track_peak_rss = common.track("peak_rss_bytes")
    track_cuda_max_allocated = common.track("cuda_max_allocated_bytes")
    track_cuda_max_reserved = common.track("cuda_max_reserved_bytes")
    track_trainable_params = common.track("train_trainable_params")
    track_total_params = common.track("train_total_params")
    track_optimizer_state = common.track("train_optimizer_state_bytes")
    track_saved_bytes = common.track("train_saved_bytes")
    track_flops_per_s = common.track("train_flops_per_s")
    track_mfu = common.track("train_mfu")
    track_device_memory = common.track("device_memory_bytes")
    track_energy_per_step = common.track("train_energy_j_per_step")


class TrainStepDistributed:
    param_names = ["model", "strategy", "method"]
    params = [common.MODELS, list(distributed.STRATEGIES), [m for m in ("full", "lora") if m in METHODS]]
    timeout = common.TIMEOUT
    version = "train-dist-1"
    world_size = 2

    def setup_cache(self):
        return distributed.step_grid(common.MODELS, distributed.STRATEGIES, self.params[2], SHAPES[0],
                                     self.world_size)

    def setup(self, grid, model, strategy, method):
        self.result = common.pick(grid, (model, strategy, method))

    track_step_time = common.track("train_dist_step_s")
    track_tokens_per_s = common.track("train_dist_tokens_per_s")
    track_max_rank_peak_rss = common.track("train_dist_max_rank_peak_rss_bytes")
    track_max_rank_cuda_allocated = common.track("train_dist_max_rank_cuda_allocated_bytes")


class TrainStepOptions:
    param_names = ["model", "method", "optimizer", "grad_ckpt"]
    params = [common.MODELS, OPTION_METHODS, OPTIMIZERS, [False, True]]
    timeout = common.TIMEOUT
    version = "train-options-1"

    def setup_cache(self):
        return cases_train.options_grid(common.MODELS, OPTION_METHODS, OPTIMIZERS, [False, True], SHAPES[0])

    def setup(self, grid, model, method, optimizer, grad_ckpt):
        self.result = common.pick(grid, (model, method, optimizer, grad_ckpt))

    track_step_time = common.track("train_step_s")
    track_peak_rss = common.track("peak_rss_bytes")
    track_cuda_max_allocated = common.track("cuda_max_allocated_bytes")
    track_cuda_max_reserved = common.track("cuda_max_reserved_bytes")
    track_optimizer_state = common.track("train_optimizer_state_bytes")


class TrainStepTime:
    param_names = ["model", "method", "shape"]
    params = [common.MODELS, METHODS, SHAPES[:1]]
    timeout = common.TIMEOUT
    version = common.timed_version("train-step-time-1")
    number = 1
    repeat = (3, 5, 30.0)
    warmup_time = 0

    def setup(self, model, method, shape):
        self.step = cases_train.step_callable(model, method, shape)

    def time_train_step(self, model, method, shape):
        self.step()


class _FineTune:
    param_names = ["model", "method"]
    params = [common.MODELS, METHODS]
    timeout = common.TIMEOUT
    version = "train-finetune-1"

    def setup(self, grid, model, method):
        self.result = common.pick(grid, (model, method, self.task))

    track_loss = common.track("train_ft_loss_mean")
    track_loss_ci95 = common.track("train_ft_loss_ci95")
    track_first_loss = common.track("train_ft_first_loss_mean")


def _finetune_grid(task: str) -> dict:
    return common.tier_skip(task) or cases_train.finetune_task_grid(task, common.MODELS, METHODS)


# ArcFineTune, SquadFineTune, OpenMathFineTune: one per registered task, tracking its key metrics
common._task_classes(globals(), _FineTune, "FineTune", common._finetune_tracks, _finetune_grid)


class TrainMemoryRatios:
    param_names = ["model", "shape"]
    params = [[cases_train.RATIO_MODEL], ["1x512"]]
    timeout = common.TIMEOUT
    version = "train-ratios-1"

    def setup_cache(self):
        return cases_train.ratio_grid([cases_train.RATIO_MODEL], ["1x512"])

    def setup(self, grid, model, shape):
        self.result = common.pick(grid, (model, shape))

    track_qlora_over_lora_allocated = common.track("train_qlora_over_lora_allocated")
    track_qlora_over_lora_reserved = common.track("train_qlora_over_lora_reserved")
    track_vera_over_lora_allocated = common.track("train_vera_over_lora_allocated")
    track_vera_over_lora_reserved = common.track("train_vera_over_lora_reserved")
