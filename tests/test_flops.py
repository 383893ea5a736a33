"""Train FLOPs and the device tables, on hand-computed cases."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench_lib.train import flops

# h=4, 1 layer, 2 heads of 2, 1 KV head, MLP 8, vocab 10:
# q,o 4*2*2 each = 16+16, k,v 4*1*2 each = 8+8, MLP 3*4*8 = 96, LM head 4*10 = 40 -> 184
TINY = SimpleNamespace(hidden_size=4, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                       head_dim=2, intermediate_size=8, vocab_size=10)


def test_linear_params_by_hand():
    assert flops.linear_params(TINY) == 184


def test_peft_step_counts_frozen_adapter_projections_at_four():
    # per token: 4*(184 + 7) frozen + 6*5 trainable + 3 * attention (4*1*2*2*3 = 48); 3 tokens
    assert flops.train_flops_per_step(TINY, 1, 3, False, 5, frozen_adapter_params=7) == 3 * (764 + 30 + 144)
    assert flops.train_flops_per_step(TINY, 1, 3, False, 5) == 3 * (736 + 30 + 144)


def test_full_step_counts_every_weight_at_six():
    assert flops.train_flops_per_step(TINY, 2, 3, True, 184) == 6 * (6 * 184 + 144)


@pytest.mark.parametrize("name, key", [
    ("NVIDIA L40", "L40"), ("NVIDIA L40S", "L40S"), ("NVIDIA L4", "L4"),
    ("NVIDIA H100 80GB HBM3", "H100"), ("NVIDIA H100 PCIe", "H100 PCIe"), ("NVIDIA H100 NVL", "H100 NVL"),
    ("NVIDIA GH200 480GB", "GH200"), ("NVIDIA H200", "H200"), ("NVIDIA A10G", "A10G"), ("NVIDIA A10", "A10"),
    ("NVIDIA A100-SXM4-80GB", "A100"), ("NVIDIA GeForce RTX 4090", "RTX 4090"), ("NVIDIA A40", None),
])
def test_device_names_match_whole_words(name, key):
    assert flops.device_model(name, flops.PEAK_BF16_FLOPS) == key


def test_l40_is_not_read_as_l4():
    assert flops.PEAK_BF16_FLOPS[flops.device_model("NVIDIA L40", flops.PEAK_BF16_FLOPS)] == 181.05e12


@pytest.mark.slow  # builds a trainer on the embedded model
def test_vera_projections_of_the_tiny_model():
    pytest.importorskip("peft")
    from bench_lib.train.methods import TrainOptions
    from bench_lib.models import get_spec
    from bench_lib.train.step import build_trainer

    trainer = build_trainer(get_spec("tiny-qwen3"), "vera", TrainOptions(rank=8, target_modules=("q_proj", "v_proj")),
                            "cpu", "float32", 0)
    # tiny-qwen3: hidden 256, 4 heads x 64 (q out 256), 2 KV heads (v out 128), 4 layers
    assert flops.vera_projection_params(trainer.model) == 4 * 8 * ((256 + 256) + (256 + 128))


@pytest.mark.slow  # builds a trainer on the embedded model
def test_other_methods_add_no_frozen_projections():
    pytest.importorskip("peft")
    from bench_lib.train.methods import TrainOptions
    from bench_lib.models import get_spec
    from bench_lib.train.step import build_trainer

    trainer = build_trainer(get_spec("tiny-qwen3"), "lora", TrainOptions(rank=8), "cpu", "float32", 0)
    assert flops.vera_projection_params(trainer.model) == 0
