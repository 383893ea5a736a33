"""Invariants of the train-step suite on the embedded model (CPU, a few seconds per method)."""
from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from bench_lib.train import cases as cases_train  # noqa: E402
from bench_lib.engines.base import EngineUnavailable  # noqa: E402
from bench_lib.train import flops, methods, settings, stats  # noqa: E402
from bench_lib.models import EMBEDDED_DIR, get_spec  # noqa: E402
from bench_lib.train.methods import TrainOptions  # noqa: E402
from bench_lib.train.step import build_trainer, count_parameters, optimizer_state_bytes, saved_bytes  # noqa: E402

MODEL = "tiny-qwen3"
PEFT_METHODS = [m for m in methods.METHODS if m != "full"]
slow = pytest.mark.slow  # builds (and trains) a model of its own: training changes the weights


def _needs(method: str):
    if methods.METHODS[method].quant:
        pytest.importorskip("bitsandbytes")


def _trainer(method: str, seed: int = 0, **opts):
    _needs(method)
    return build_trainer(get_spec(MODEL), method, TrainOptions(**opts), "cpu", "float32", seed)


@pytest.fixture(scope="module")
def batch():
    return cases_train.fixed_batch(get_spec(MODEL), "2x32")


@slow
@pytest.mark.parametrize("method", PEFT_METHODS)
def test_trainable_counts_match_peft(method):
    trainer = _trainer(method)
    assert count_parameters(trainer.model) == tuple(trainer.model.get_nb_trainable_parameters())
    trainable, total = count_parameters(trainer.model)
    assert 0 < trainable < total


@slow
def test_full_finetuning_trains_every_parameter(batch):
    trainer = _trainer("full")
    trainable, total = count_parameters(trainer.model)
    assert trainable == total == sum(p.numel() for p in trainer.model.parameters())
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.step(batch)
    unchanged = [n for n, p in trainer.model.named_parameters() if torch.equal(p.detach(), before[n])]
    assert unchanged == []


@slow
@pytest.mark.parametrize("method", list(methods.METHODS))
def test_loss_falls_on_a_fixed_batch(method, batch):
    trainer = _trainer(method)
    losses = [trainer.step(batch) for _ in range(5)]
    assert all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0], losses


@slow
def test_same_seed_same_losses(batch):
    runs = [[_trainer("dora", seed=s).step(batch) for _ in range(3)] for s in (7, 7)]
    assert runs[0] == runs[1]


@slow
def test_seed_changes_the_adapter_initialisation():
    a, b = (_trainer("lora", seed=s).model for s in (1, 2))
    name = next(n for n, _ in a.named_parameters() if "lora_A" in n)
    assert not torch.equal(a.get_parameter(name), b.get_parameter(name))


def test_packed_batches_repeat_per_seed():
    one, two, other = (cases_train.fixed_batch(get_spec(MODEL), "2x32", seed=s) for s in (3, 3, 4))
    assert torch.equal(one["input_ids"], two["input_ids"]) and torch.equal(one["labels"], two["labels"])
    assert one["input_ids"].shape == (2, 32)
    assert not torch.equal(one["input_ids"], other["input_ids"])
    assert (one["labels"] != -100).any()


@slow
def test_adalora_allocator_is_stepped(batch):
    trainer = _trainer("adalora", total_steps=10)
    assert trainer.model.peft_config["default"].rank_pattern is None
    for _ in range(10):
        trainer.step(batch)
    # the allocator writes the final rank pattern once the budget phase is over
    assert trainer.model.peft_config["default"].rank_pattern is not None


@slow
def test_loraplus_uses_two_learning_rates():
    trainer = _trainer("loraplus")
    assert len({g["lr"] for g in trainer.optimizer.param_groups}) > 1


@slow
def test_adamw_state_is_two_fp32_moments_per_trainable_weight(batch):
    trainer = _trainer("lora")
    trainer.step(batch)
    trainable, _ = count_parameters(trainer.model)
    tensors = sum(1 for p in trainer.model.parameters() if p.requires_grad)
    assert optimizer_state_bytes(trainer.optimizer) == 8 * trainable + 4 * tensors  # exp_avg, exp_avg_sq, step


@slow
def test_adapter_on_disk_is_the_adapter_only():
    trainer = _trainer("lora")
    trainable, _ = count_parameters(trainer.model)
    size = saved_bytes(trainer.model)
    assert 4 * trainable <= size < 4 * trainable + 64 * 1024


@slow
def test_linear_flop_count_matches_the_model():
    trainer = _trainer("full")
    linears = sum(m.weight.numel() for m in trainer.model.modules() if isinstance(m, torch.nn.Linear))
    assert flops.linear_params(trainer.model.config) == linears


@slow
def test_quantize_linears_in_place_matches_peft_count():
    bnb = pytest.importorskip("bitsandbytes")
    from bench_lib.models import get_spec, load_model
    from bench_lib.train.quantize import quantize_linears

    model = quantize_linears(load_model(get_spec(MODEL)), "nf4", "float32", "cpu")
    assert isinstance(model.model.layers[0].mlp.up_proj, bnb.nn.Linear4bit)
    assert type(model.lm_head) is torch.nn.Linear
    peft_model = methods.qlora(model, TrainOptions())
    assert count_parameters(peft_model) == tuple(peft_model.get_nb_trainable_parameters())


def test_paged_optimizer_skips_off_cuda():
    with pytest.raises(EngineUnavailable, match="CUDA"):
        methods.optimizer_class("paged_adamw8bit", "cpu")


def test_unknown_names_say_what_is_known():
    with pytest.raises(KeyError, match="known methods: full, lora"):
        methods.get_method("lorra")
    with pytest.raises(KeyError, match="adamw8bit"):
        methods.optimizer_class("sgdd", "cpu")
    with pytest.raises(ValueError, match="BATCHxSEQ"):
        settings.parse_shape("4by128")


def test_seeds_from_environment(monkeypatch):
    monkeypatch.setenv("BENCH_SEEDS", "3")
    assert settings.seeds() == (0, 1, 2)
    monkeypatch.setenv("BENCH_SEEDS", "three")
    with pytest.raises(ValueError, match="BENCH_SEEDS"):
        settings.seeds()


def test_t_interval():
    mean, half = stats.mean_ci95([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.3027 / math.sqrt(3))
    assert stats.mean_ci95([5.0]) == (5.0, None)
    assert stats.t975(60) == pytest.approx(2.0003, abs=1e-4)


# The embedded model's shape, and its FLOPs worked out by hand (flops.py's counting):
# q, o: 256·(4·64) each; k, v: 256·(2·64) each; gate, up, down: 256·768 each; LM head 256·1000.
TINY = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=64,
            intermediate_size=768, vocab_size=1000)
TINY_LINEAR = 4 * (2 * 65536 + 2 * 32768 + 3 * 196608) + 256000         # = 3,401,728
TINY_ATTN_32 = 4 * 4 * 4 * 64 * 32                                        # 4·L·H·Q·T at T=32 = 131,072
# LoRA rank 16 on every linear but the head: 16·(in + out) per weight, 4 layers
TINY_LORA_16 = 4 * 16 * ((256 + 256) * 2 + (256 + 128) * 2 + (256 + 768) * 3)  # = 311,296


def test_train_flops_by_hand():
    from transformers import Qwen3Config

    cfg = Qwen3Config(**TINY)
    assert flops.linear_params(cfg) == TINY_LINEAR == 3_401_728
    assert flops.attention_flops_per_token(cfg, 32) == TINY_ATTN_32 == 131_072
    tokens = 2 * 32
    # full: 6 FLOPs per weight per token, attention forward + backward = 3x
    full = tokens * (6 * TINY_LINEAR + 3 * TINY_ATTN_32)
    assert flops.train_flops_per_step(cfg, 2, 32, True, 0) == full == 1_331_429_376
    # LoRA: frozen weights 4 (no weight gradient), adapter weights 6
    lora = tokens * (4 * TINY_LINEAR + 6 * TINY_LORA_16 + 3 * TINY_ATTN_32)
    assert flops.train_flops_per_step(cfg, 2, 32, False, TINY_LORA_16) == lora == 1_015_545_856
    # sequence length enters the attention term only, and linearly per token
    assert (flops.train_flops_per_step(cfg, 1, 64, True, 0) - 64 * 6 * TINY_LINEAR
            == 64 * 3 * 2 * TINY_ATTN_32)


@slow
def test_step_result_reports_every_number():
    r = cases_train.step_result(MODEL, "lora", "2x32")
    m = r["metrics"]
    for name in ("train_step_s", "train_tokens_per_s", "peak_rss_bytes", "train_total_params",
                 "train_optimizer_state_bytes", "train_saved_bytes"):
        assert m[name] > 0, name
    assert m["train_trainable_params"] == TINY_LORA_16
    assert m["train_tokens_per_s"] == pytest.approx(64 / m["train_step_s"])
    # the embedded model's own vocabulary sizes its lm_head (256 × vocab) where TINY has 1000
    vocab = json.loads((EMBEDDED_DIR / MODEL / "config.json").read_text())["vocab_size"]
    linear = TINY_LINEAR + 256 * (vocab - 1000)
    hand = 64 * (4 * linear + 6 * TINY_LORA_16 + 3 * TINY_ATTN_32)
    assert m["train_flops_per_s"] == pytest.approx(hand / m["train_step_s"])


@slow
def test_finetune_scores_the_task(monkeypatch):
    from bench_lib.train.finetune import aggregate, finetune_once

    out = finetune_once(get_spec(MODEL), "lora", "arc", TrainOptions(), "cpu", "float32", seed=0, steps=2,
                        batch_size=2, seq_len=32, n_eval=2, eval_batch=2)
    assert {"loss", "first_loss", "arc_accuracy", "arc_macro_f1"} <= set(out)
    agg = aggregate([out, {**out, "loss": out["loss"] + 1.0}], ["loss"])
    assert agg["train_ft_loss_mean"] == pytest.approx(out["loss"] + 0.5)
    assert agg["train_ft_loss_ci95"] == pytest.approx(12.7062 * 0.5)


def test_random_weights_skip_the_task_score():
    with pytest.raises(NotImplementedError, match="random weights"):
        cases_train.finetune_result("arch:Qwen/Qwen3-0.6B", "lora", "arc")


def test_memory_ratio_check_needs_cuda(monkeypatch):
    monkeypatch.setenv("BENCH_DEVICE", "cpu")
    with pytest.raises(NotImplementedError, match="CUDA"):
        cases_train.memory_ratio_result()


def test_method_subset_from_environment(monkeypatch):
    monkeypatch.setenv("BENCH_TRAIN_METHODS", "lora,dora")
    assert settings.methods() == ("lora", "dora")
    monkeypatch.setenv("BENCH_TRAIN_METHODS", "lora,qlora")
    with pytest.raises(ValueError, match="known methods"):
        settings.methods()
