"""Training methods: name → how it turns a loaded model into a trainable one.

A method is one small function applying it plus a registry entry saying which base it needs
(full precision or a bitsandbytes scheme), its default learning rate, and, where the method
has them, its own optimizer builder and per-step hook. Adding a method is one function and
one line in METHODS.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

from bench_lib.engines.base import EngineUnavailable


@dataclass(frozen=True)
class TrainOptions:
    rank: int = 16
    alpha: int | None = None               # None: 2 × rank
    target_modules: str | tuple[str, ...] | None = "all-linear"   # None: peft's default for the architecture
    grad_ckpt: bool = False
    optimizer: str = "adamw"
    lr: float | None = None                # None: the method's default
    total_steps: int = 10                  # AdaLoRA's rank schedule needs the run length up front

    @property
    def lora_alpha(self) -> int:
        return self.alpha if self.alpha is not None else 2 * self.rank


@dataclass(frozen=True)
class Method:
    apply: Callable                        # (model, TrainOptions) -> model
    lr: float
    quant: str | None = None               # bitsandbytes scheme of the base (see quantize.SCHEMES)
    make_optimizer: Callable | None = None  # (model, optimizer class, lr) -> optimizer
    after_step: Callable | None = None     # (model, step index) after optimizer.step, before zero_grad
    notes: str = ""


def _peft():
    try:
        import peft
    except ImportError as exc:
        raise EngineUnavailable(f"PEFT methods need the peft package: {exc}") from exc
    return peft


def full(model, opts: TrainOptions):
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def _lora_config(opts: TrainOptions, **extra):
    # dropout 0: a step must be a function of the seed and the batch, so runs repeat exactly
    return _peft().LoraConfig(r=opts.rank, lora_alpha=opts.lora_alpha, target_modules=_targets(opts),
                              lora_dropout=0.0, task_type="CAUSAL_LM", **extra)


def _targets(opts: TrainOptions):
    if opts.target_modules is None or isinstance(opts.target_modules, str):
        return opts.target_modules
    return list(opts.target_modules)


def lora(model, opts: TrainOptions):
    return _peft().get_peft_model(model, _lora_config(opts))


def dora(model, opts: TrainOptions):
    return _peft().get_peft_model(model, _lora_config(opts, use_dora=True))


def vera(model, opts: TrainOptions):
    peft = _peft()
    cfg = peft.VeraConfig(r=opts.rank, target_modules=_targets(opts), vera_dropout=0.0, task_type="CAUSAL_LM")
    return peft.get_peft_model(model, cfg)


def adalora(model, opts: TrainOptions):
    peft = _peft()
    total = max(opts.total_steps, 2)
    # init_r:target_r keeps peft's default 3:2, so the budget ends at the requested rank
    cfg = peft.AdaLoraConfig(init_r=math.ceil(1.5 * opts.rank), target_r=opts.rank, lora_alpha=opts.lora_alpha,
                             target_modules=_targets(opts), lora_dropout=0.0, total_step=total,
                             tinit=total // 10, tfinal=total // 5, task_type="CAUSAL_LM")
    return peft.get_peft_model(model, cfg)


def adalora_allocate(model, step: int) -> None:
    """Rank allocation as in real AdaLoRA training: after optimizer.step, while gradients exist."""
    model.base_model.update_and_allocate(step)


def loraplus_optimizer(model, optimizer_cls, lr: float):
    from peft.optimizers import create_loraplus_optimizer

    # ratio 16: the LoRA+ paper's recommended η_B/η_A for decoder models
    return create_loraplus_optimizer(model, optimizer_cls, lr=lr, loraplus_lr_ratio=16)


def qlora(model, opts: TrainOptions):
    peft = _peft()
    # the QLoRA recipe: freeze the base and upcast its non-quantized parameters; checkpointing
    # is switched on (or not) by the caller for every method alike
    model = peft.prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return peft.get_peft_model(model, _lora_config(opts))


METHODS: dict[str, Method] = {
    "full": Method(full, lr=5e-5),
    "lora": Method(lora, lr=2e-4),
    "dora": Method(dora, lr=2e-4),
    "vera": Method(vera, lr=4e-3, notes="trains scaling vectors only; VeRA's paper uses a higher learning rate"),
    "adalora": Method(adalora, lr=2e-4, after_step=adalora_allocate),
    "loraplus": Method(lora, lr=2e-4, make_optimizer=loraplus_optimizer),
    "qlora-nf4": Method(qlora, lr=2e-4, quant="nf4"),
    "qlora-fp4": Method(qlora, lr=2e-4, quant="fp4"),
    "qlora-int8": Method(qlora, lr=2e-4, quant="int8"),
}

# name → (import path of the class, needs CUDA)
OPTIMIZERS = {
    "adamw": ("torch.optim:AdamW", False),
    "adamw8bit": ("bitsandbytes.optim:AdamW8bit", False),
    "paged_adamw": ("bitsandbytes.optim:PagedAdamW", True),
    "paged_adamw8bit": ("bitsandbytes.optim:PagedAdamW8bit", True),
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise KeyError(f"unknown training method {name!r}; known methods: {', '.join(METHODS)}")
    return METHODS[name]


def optimizer_class(name: str, device: str):
    import importlib

    if name not in OPTIMIZERS:
        raise KeyError(f"unknown optimizer {name!r}; known optimizers: {', '.join(OPTIMIZERS)}")
    path, needs_cuda = OPTIMIZERS[name]
    if needs_cuda and not device.startswith("cuda"):
        raise EngineUnavailable(f"optimizer {name!r} pages its state through CUDA unified memory; on {device} "
                                "bitsandbytes silently falls back to the unpaged optimizer, which would be "
                                "measured under the wrong name")
    module, _, cls = path.partition(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as exc:
        raise EngineUnavailable(f"optimizer {name!r} needs {module.split('.')[0]}: {exc}") from exc


def with_defaults(opts: TrainOptions, method: Method) -> TrainOptions:
    return opts if opts.lr is not None else replace(opts, lr=method.lr)
