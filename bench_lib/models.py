"""Model registry: what a model name means and how its weights and tokenizer are loaded.

Three kinds of name:
- embedded (`tiny-qwen3`, `tiny-qwen3-draft`): committed under bench_lib/embedded/, loaded with
  HF_HUB_OFFLINE=1 so nothing touches the network; identical weights on every machine.
- hub (`Qwen/Qwen3-8B`, ...): the real `from_pretrained` path, from the hub cache or network.
  A directory holding a saved model also works as a name (the same code path).
- architecture-only (`arch:Qwen/Qwen3-8B`): the bundled published config with random weights
  created directly on the device: real memory and speed, meaningless task metrics.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
EMBEDDED_DIR = PACKAGE / "embedded"
CONFIG_DIR = PACKAGE / "model_configs"

HUB_IDS = (
    "Qwen/Qwen3-0.6B", "Qwen/Qwen3-1.7B", "Qwen/Qwen3-4B", "Qwen/Qwen3-8B",
    "meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.1-8B", "mistralai/Mistral-7B-v0.3",
)
EMBEDDED = ("tiny-qwen3", "tiny-qwen3-draft")


class UnknownModelError(KeyError):
    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str                  # "embedded" | "hub" | "arch"
    location: str              # directory, hub id, or bundled config file
    real_weights: bool         # False: task metrics are meaningless

    @property
    def has_weight_files(self) -> bool:
        """Saved weights on disk (or on the hub): what vLLM loads and a GGUF export reads.
        An architecture-only model's weights exist only once built on the device."""
        return self.kind != "arch"

    @property
    def needs_hub(self) -> bool:
        """Its files may have to come from the hub; embedded and architecture-only models never do."""
        return self.kind == "hub"

    @property
    def tokenizer_location(self) -> str:
        # Architecture-only models have no tokenizer of their own; the embedded one gives valid ids
        # (its vocabulary is smaller than every listed model's), which is all speed and memory need.
        return self.location if self.has_weight_files else str(EMBEDDED_DIR / "tiny-qwen3")

    def require_real_weights(self, what: str) -> None:
        """NotImplementedError (asv: skipped) where `what`, a task metric, would only measure noise."""
        if not self.real_weights:
            raise NotImplementedError(
                f"{self.name} has random weights (architecture-only): {what} would say nothing about a model; "
                "its speed and memory benchmarks still run")

    def require_weight_files(self, what: str, error: type[Exception] = NotImplementedError) -> None:
        """`error` (a subclass of NotImplementedError skips in asv) where `what` reads saved weights."""
        if not self.has_weight_files:
            raise error(
                f"{self.name} is architecture-only (random weights built on the device, no files): {what} "
                "needs saved weights; use an embedded model, a hub model or a directory holding a saved model")

    def stop_token_ids(self, tokenizer) -> list[int]:
        """The ids greedy decoding stops on, the same for every engine: the generation config's EOS
        (else the model config's, as transformers falls back to), then the tokenizer's if not among them."""
        return eos_ids(self._generation_eos(), tokenizer.eos_token_id)

    def _generation_eos(self):
        if self.has_weight_files:
            from transformers import GenerationConfig

            try:
                with _offline_if_local(self):
                    return GenerationConfig.from_pretrained(self.location).eos_token_id
            except (OSError, ValueError):
                pass
        return getattr(load_config(self), "eos_token_id", None)


def eos_ids(generation_eos: int | list[int] | None, tokenizer_eos: int | None) -> list[int]:
    """A generation config's eos_token_id (one id, a list or None) plus the tokenizer's, in that order."""
    ids = list(generation_eos) if isinstance(generation_eos, (list, tuple)) else (
        [generation_eos] if generation_eos is not None else [])
    if tokenizer_eos is not None and tokenizer_eos not in ids:
        ids.append(tokenizer_eos)
    return ids


def known_names() -> list[str]:
    return [*EMBEDDED, *HUB_IDS, *(f"arch:{h}" for h in HUB_IDS)]


def get_spec(name: str) -> ModelSpec:
    if name in EMBEDDED:
        return ModelSpec(name, "embedded", str(EMBEDDED_DIR / name), True)
    if name in HUB_IDS:
        return ModelSpec(name, "hub", name, True)
    if name.startswith("arch:") and name[5:] in HUB_IDS:
        return ModelSpec(name, "arch", str(CONFIG_DIR / (name[5:].replace("/", "--") + ".json")), False)
    if Path(name).is_dir() and (Path(name) / "config.json").exists():
        return ModelSpec(name, "hub", name, True)
    raise UnknownModelError(
        f"unknown model {name!r}. Known models: {', '.join(known_names())}; "
        "or give a directory holding a saved Hugging Face model (config.json and weights)")


@contextlib.contextmanager
def _offline_if_local(spec: ModelSpec):
    """Within the block, embedded and architecture-only models cannot reach the hub: they never need it.

    huggingface_hub reads HF_HUB_OFFLINE once, when it is imported, into constants.HF_HUB_OFFLINE
    (what its is_offline_mode() and transformers consult); setting only the variable after that
    import changes nothing. So both are set, and put back afterwards, so that a hub model loaded
    later in the same process can still download."""
    if spec.needs_hub:
        yield
        return
    hub_constants = sys.modules.get("huggingface_hub.constants")
    saved_env, saved_flag = os.environ.get("HF_HUB_OFFLINE"), getattr(hub_constants, "HF_HUB_OFFLINE", None)
    os.environ["HF_HUB_OFFLINE"] = "1"
    if hub_constants is not None:
        hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        if saved_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved_env
        hub_constants = sys.modules.get("huggingface_hub.constants")
        if hub_constants is not None:
            # Imported inside the block: it read "1"; outside it is what the environment says.
            hub_constants.HF_HUB_OFFLINE = (saved_flag if saved_flag is not None
                                            else hub_constants._is_true(saved_env))


def torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_tokenizer(spec: ModelSpec):
    from transformers import AutoTokenizer

    with _offline_if_local(spec):
        tok = AutoTokenizer.from_pretrained(spec.tokenizer_location)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_config(spec: ModelSpec):
    from transformers import AutoConfig

    with _offline_if_local(spec):
        if not spec.has_weight_files:
            import json

            data = json.loads(Path(spec.location).read_text())
            return AutoConfig.for_model(data.pop("model_type"), **data)
        return AutoConfig.from_pretrained(spec.location)


def load_model(spec: ModelSpec, device: str = "cpu", dtype: str = "float32", **kwargs):
    """A causal LM in eval mode on `device`; extra kwargs go to from_pretrained (e.g. quantization_config)."""
    import torch
    from transformers import AutoModelForCausalLM

    with _offline_if_local(spec):
        if not spec.has_weight_files:
            config = load_config(spec)
            # Built on the device itself: an 8B model never passes through CPU memory.
            with torch.device(device):
                model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype(dtype))
        else:
            model = AutoModelForCausalLM.from_pretrained(
                spec.location, dtype=torch_dtype(dtype),
                device_map=device if "quantization_config" in kwargs else None, **kwargs)
            if "quantization_config" not in kwargs:
                model.to(device)
    model.eval()
    return model
