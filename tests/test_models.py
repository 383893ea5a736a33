"""Model registry: names, errors, the hub loading path on a saved copy, architecture-only configs."""
import pytest
import torch

from bench_lib import config, models

slow = pytest.mark.slow  # loads or builds a model


def test_unknown_model_lists_known_names():
    with pytest.raises(models.UnknownModelError) as info:
        models.get_spec("qwen-tiny")
    message = str(info.value)
    for name in ("tiny-qwen3", "Qwen/Qwen3-8B", "arch:meta-llama/Llama-3.1-8B", "mistralai/Mistral-7B-v0.3"):
        assert name in message


def test_embedded_tokenizer_has_chat_template_and_special_tokens():
    tok = models.load_tokenizer(models.get_spec("tiny-qwen3"))
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    ids = tok.apply_chat_template([{"role": "user", "content": "What is 2 + 2?"}], add_generation_prompt=True,
                                  tokenize=True, return_dict=False)
    text = tok.decode(ids)
    assert text.startswith("<|im_start|>user\nWhat is 2 + 2?<|im_end|>") and text.endswith("<|im_start|>assistant\n")
    assert tok.decode(tok.encode("Dublin, 1,234.5 \\boxed{7}")) == "Dublin, 1,234.5 \\boxed{7}"  # byte-level: lossless


def test_draft_shares_the_tokenizer():
    a = models.load_tokenizer(models.get_spec("tiny-qwen3"))
    b = models.load_tokenizer(models.get_spec("tiny-qwen3-draft"))
    assert a.get_vocab() == b.get_vocab()


@slow
def test_hub_path_loads_a_saved_copy_with_identical_outputs(tmp_path, tiny_model, tiny_tokenizer):
    model = tiny_model
    model.save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    copy_spec = models.get_spec(str(tmp_path))
    assert copy_spec.kind == "hub" and copy_spec.real_weights
    copy = models.load_model(copy_spec)
    ids = torch.tensor([[1, 5, 9, 200, 31]])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, copy(ids).logits)


@pytest.mark.parametrize("name,total,low,high", [
    # Published parameter counts (billions) of each architecture, counted on the meta device.
    ("arch:Qwen/Qwen3-0.6B", None, 0.55, 0.65),
    ("arch:Qwen/Qwen3-1.7B", None, 1.6, 2.1),
    ("arch:Qwen/Qwen3-4B", None, 3.9, 4.1),
    ("arch:Qwen/Qwen3-8B", None, 8.1, 8.3),
    ("arch:meta-llama/Llama-3.2-1B", None, 1.2, 1.3),
    ("arch:meta-llama/Llama-3.1-8B", None, 8.0, 8.1),
    ("arch:mistralai/Mistral-7B-v0.3", None, 7.2, 7.3),
])
def test_architecture_only_configs_have_published_sizes(name, total, low, high):
    from transformers import AutoModelForCausalLM

    spec = models.get_spec(name)
    assert spec.kind == "arch" and not spec.real_weights
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(models.load_config(spec))
    billions = sum(p.numel() for p in model.parameters()) / 1e9
    assert low < billions < high, f"{name}: {billions:.3f}B parameters"


def test_spec_says_what_an_architecture_only_model_cannot_do():
    arch, embedded = models.get_spec("arch:Qwen/Qwen3-0.6B"), models.get_spec("tiny-qwen3")
    assert not arch.has_weight_files and not arch.needs_hub
    assert embedded.has_weight_files and not embedded.needs_hub and models.get_spec("Qwen/Qwen3-8B").needs_hub
    with pytest.raises(NotImplementedError, match=r"arch:Qwen/Qwen3-0.6B has random weights.*a task metric"):
        arch.require_real_weights("a task metric")
    with pytest.raises(ValueError, match=r"arch:Qwen/Qwen3-0.6B is architecture-only.*vLLM needs saved weights"):
        arch.require_weight_files("vLLM", ValueError)
    embedded.require_real_weights("a task metric")  # a model with weights passes both
    embedded.require_weight_files("vLLM")


@pytest.mark.parametrize("name,expected", [
    # generation config's EOS (<|im_end|> for Qwen3, <|end_of_text|> for Llama), then the tokenizer's
    ("tiny-qwen3", [2]),
    ("arch:Qwen/Qwen3-8B", [151645, 2]),
    ("arch:meta-llama/Llama-3.1-8B", [128001, 2]),
    ("arch:mistralai/Mistral-7B-v0.3", [2]),
])
def test_stop_token_ids(name, expected):
    spec = models.get_spec(name)
    assert spec.stop_token_ids(models.load_tokenizer(spec)) == expected


def test_stop_token_ids_fall_back_to_the_model_config(tmp_path):
    """A saved model without generation_config.json: transformers takes the config's EOS, so do we."""
    import shutil
    from pathlib import Path

    for f in Path(models.get_spec("tiny-qwen3").location).iterdir():
        if f.name not in ("generation_config.json", "model.safetensors"):
            shutil.copy(f, tmp_path / f.name)
    config_file = tmp_path / "config.json"
    config_file.write_text(config_file.read_text().replace('"eos_token_id": 2', '"eos_token_id": 7'))
    spec = models.get_spec(str(tmp_path))
    assert spec.stop_token_ids(models.load_tokenizer(spec)) == [7, 2]


def test_eos_ids_merge_once_in_order():
    assert models.eos_ids([5, 2], 2) == [5, 2]
    assert models.eos_ids(5, 2) == [5, 2]
    assert models.eos_ids(None, 2) == [2] and models.eos_ids(None, None) == []


@slow
def test_architecture_only_model_is_built_with_random_weights_on_the_device():
    spec = models.get_spec("arch:Qwen/Qwen3-0.6B")
    model = models.load_model(spec, "cpu", "bfloat16")
    assert next(model.parameters()).dtype == torch.bfloat16
    assert model.config.hidden_size == 1024 and model.config.num_hidden_layers == 28
    del model


@pytest.mark.parametrize("var,value,message", [
    ("BENCH_PROFILE", "huge", "BENCH_PROFILE='huge' is not a size tier"),
    ("BENCH_DTYPE", "int3", "BENCH_DTYPE='int3' is not one of"),
    ("BENCH_DEVICE", "tpu", "BENCH_DEVICE='tpu' is not one of"),
    ("BENCH_TASKS", "arc,mmlu", "unknown task"),
])
def test_bad_settings_name_the_variable(monkeypatch, var, value, message):
    monkeypatch.setenv(var, value)
    with pytest.raises(config.ConfigError, match=message):
        {"BENCH_PROFILE": config.profile, "BENCH_DTYPE": config.dtype_name, "BENCH_DEVICE": config.device,
         "BENCH_TASKS": config.task_names}[var]()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_requested_without_cuda(monkeypatch):
    monkeypatch.setenv("BENCH_DEVICE", "cuda")
    with pytest.raises(config.ConfigError, match="no CUDA device"):
        config.device()
