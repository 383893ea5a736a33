import os

# The embedded default never needs the network; make any accidental hub access fail fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("BENCH_PROFILE", "smoke")


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def vllm_python() -> str:
    """The interpreter with vLLM (this one, or .venv-vllm); skips with the install hint without one."""
    from bench_lib.serve import servers
    from bench_lib.engines.base import EngineUnavailable

    try:
        return servers.vllm_python()
    except EngineUnavailable as exc:
        pytest.skip(str(exc))


# Shared read-only copies of the embedded model, tokenizer and engines, loaded once per session
# by whichever slow test asks first. A test that changes a model (training, quantizing in place,
# hooks left on) loads its own.

@pytest.fixture(scope="session")
def tiny_tokenizer():
    from bench_lib import resources

    from bench_lib.models import get_spec

    return resources.tokenizer_for(get_spec("tiny-qwen3"))


@pytest.fixture(scope="session")
def tiny_model():
    """The embedded target, float32 on CPU."""
    from bench_lib import models

    return models.load_model(models.get_spec("tiny-qwen3"))


@pytest.fixture(scope="session")
def tiny_draft():
    """The embedded draft model of tiny-qwen3, float32 on CPU."""
    from bench_lib import models

    return models.load_model(models.get_spec("tiny-qwen3-draft"))


@pytest.fixture(scope="session")
def tiny_prompt(tiny_tokenizer):
    """The first OpenMath prompt as token ids (the overhead check's prompt)."""
    from bench_lib import resources
    from bench_lib.workloads.generate import encode_prompts

    return encode_prompts(tiny_tokenizer, resources.examples_for("openmath", 1))[0]


@pytest.fixture(scope="session")
def hf_engine(tiny_model):
    """The suite's HF engine (forward loop) on the shared model."""
    from bench_lib import config
    from bench_lib.engines.hf import load
    from bench_lib.models import get_spec

    config.apply_threads()
    return load(get_spec("tiny-qwen3"), "cpu", "float32", model=tiny_model)


@pytest.fixture(scope="session")
def hf_generate_engine(tiny_model):
    """The HF engine through `model.generate` on the shared model."""
    from bench_lib.engines.hf import load_generate
    from bench_lib.models import get_spec

    return load_generate(get_spec("tiny-qwen3"), "cpu", "float32", model=tiny_model)


@pytest.fixture(scope="session")
def llamacpp_engine():
    """The llama.cpp engine on the embedded model's F32 GGUF export; skips without llama-cpp-python."""
    pytest.importorskip("llama_cpp")
    from bench_lib import config
    from bench_lib.engines.registry import load_engine
    from bench_lib.models import get_spec

    # Loaded outside resources.engine: the shared cache closes what it holds when a case asks
    # for another engine, and this one must live for the whole session.
    config.apply_threads()
    device = config.device()
    eng = load_engine("llamacpp", get_spec("tiny-qwen3"), device, config.dtype_name(device))
    yield eng
    eng.close()
