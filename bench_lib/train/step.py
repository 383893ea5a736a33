"""One train step, measured: forward + backward + optimizer step on a fixed batch.

The trainer is built once (model, method, optimizer); warm-up steps allocate the optimizer
state and warm the allocator, then each measured step is timed with a synchronized clock and
the first of them is also memory-accounted, so the peak includes weights, gradients,
activations and optimizer state as a training run holds them.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from bench_lib.measure import roofline
from bench_lib.measure.energy import EnergyMeter
from bench_lib.measure.memory import PeakMemory
from bench_lib.measure.timing import Clock, Spread, Stopwatch, device_sync
from bench_lib.models import ModelSpec, load_model
from bench_lib.train import flops
from bench_lib.train.methods import Method, TrainOptions, get_method, optimizer_class, with_defaults
from bench_lib.train.quantize import load_quantized


@dataclass
class Trainer:
    model: object
    optimizer: object
    method: Method
    method_name: str
    opts: TrainOptions
    device: str
    dtype: str
    steps_done: int = 0

    def synchronize(self) -> None:
        device_sync(self.device)()

    def step(self, batch: dict) -> float:
        """One optimizer step; returns its loss."""
        out = self.model(**{k: v.to(self.device) for k, v in batch.items()})
        out.loss.backward()
        self.optimizer.step()
        if self.method.after_step is not None:
            self.method.after_step(self.model, self.steps_done)
        self.optimizer.zero_grad(set_to_none=True)
        self.steps_done += 1
        return out.loss.item()


def build_trainer(spec: ModelSpec, method_name: str, opts: TrainOptions, device: str, dtype: str, seed: int) -> Trainer:
    import torch

    method = get_method(method_name)
    opts = with_defaults(opts, method)
    opt_cls = optimizer_class(opts.optimizer, device)  # an unavailable optimizer skips before the load
    torch.manual_seed(seed)  # adapter initialisation is the only randomness of a step
    net = load_quantized(spec, method.quant, device, dtype) if method.quant else load_model(spec, device, dtype)
    net.config.use_cache = False  # a KV cache is for generation; in training it only costs memory
    net = method.apply(net, opts)
    if opts.grad_ckpt:
        # non-reentrant: works with frozen embeddings without forcing input gradients
        net.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    net.train()
    if method.make_optimizer is not None:
        optimizer = method.make_optimizer(net, opt_cls, opts.lr)
    else:
        optimizer = opt_cls([p for p in net.parameters() if p.requires_grad], lr=opts.lr)
    return Trainer(net, optimizer, method, method_name, opts, device, dtype)


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total), each weight counted once (tied embeddings are one parameter)."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel()
        if type(p).__name__ == "Params4bit":
            # bitsandbytes packs two 4-bit weights per byte of its storage dtype
            n *= 2 * p.element_size()
        total += n
        trainable += n if p.requires_grad else 0
    return trainable, total


def optimizer_state_bytes(optimizer) -> int:
    import torch

    return sum(t.numel() * t.element_size() for state in optimizer.state.values()
               for t in state.values() if torch.is_tensor(t))


def saved_bytes(model) -> int:
    """Bytes on disk after save_pretrained: the adapter for PEFT methods, the whole model for full."""
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(tmp) for f in files)


def measure_steps(trainer: Trainer, batch: dict, warmup: int, repeats: int) -> dict:
    clock = Clock(trainer.synchronize)
    losses = [trainer.step(batch) for _ in range(warmup)]
    seconds = []
    trainer.synchronize()
    with EnergyMeter(trainer.device) as energy:
        for i in range(repeats):
            if i == 0:
                with PeakMemory(trainer.device) as mem, Stopwatch(clock) as sw:
                    losses.append(trainer.step(batch))
            else:
                with Stopwatch(clock) as sw:
                    losses.append(trainer.step(batch))
            seconds.append(sw.seconds)
    return {"seconds": seconds, "losses": losses, "memory": mem.result, "energy": energy}


def step_metrics(trainer: Trainer, batch: dict, warmup: int, repeats: int, save: bool = True) -> dict:
    batch_size, seq_len = batch["input_ids"].shape
    run = measure_steps(trainer, batch, warmup, repeats)
    time_spread = Spread.of(run["seconds"])
    trainable, total = count_parameters(trainer.model)
    step_flops = flops.train_flops_per_step(trainer.model.config, batch_size, seq_len,
                                            trainer.method_name == "full", trainable,
                                            flops.vera_projection_params(trainer.model))
    values = {
        "train_step_s": time_spread.median,
        "train_tokens_per_s": batch_size * seq_len / time_spread.median,
        "train_trainable_params": float(trainable),
        "train_total_params": float(total),
        "train_optimizer_state_bytes": float(optimizer_state_bytes(trainer.optimizer)),
        "train_flops_per_s": step_flops / time_spread.median,
    }
    values.update(run["memory"].as_metrics())
    peak, peak_source = roofline.peak_flops(trainer.device, trainer.dtype)
    if peak:
        values["train_mfu"] = values["train_flops_per_s"] / peak
    if run["energy"].per(repeats) is not None:
        values["train_energy_j_per_step"] = run["energy"].per(repeats)
    if save:
        values["train_saved_bytes"] = float(saved_bytes(trainer.model))
    return {"metrics": values, "spreads": {"train_step_s": time_spread}, "losses": run["losses"],
            "rss_method": run["memory"].rss_method, "device_memory_method": run["memory"].device_memory_method,
            "peak_flops_source": peak_source, "energy_source": run["energy"].source,
            "energy_skip": run["energy"].skip_reason}
