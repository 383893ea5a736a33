import os

# The embedded default never needs the network; make any accidental hub access fail fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("BENCH_PROFILE", "smoke")


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def vllm_python() -> str:
    """The interpreter with vLLM (this one, or .venv-vllm); skips with the install hint without one."""
    from bench_lib import servers
    from bench_lib.engines.base import EngineUnavailable

    try:
        return servers.vllm_python()
    except EngineUnavailable as exc:
        pytest.skip(str(exc))
