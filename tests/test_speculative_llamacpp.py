"""llama.cpp speculative decoding (prompt lookup, a second Llama as draft): greedy output equals
plain greedy token for token, and the round bookkeeping adds up."""
import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

from bench_lib.kvspec import protocol  # noqa: E402
from bench_lib.kvspec import speculative_llamacpp as sl  # noqa: E402

pytestmark = pytest.mark.slow  # runs the embedded models' GGUF exports in llama.cpp


@pytest.mark.parametrize("method", ["draft", "prompt-lookup"])
def test_greedy_exact(method):
    prompts = protocol.spec_prompts("tiny-qwen3", "openmath", 2)
    run = sl.runner("tiny-qwen3", method, "tiny-qwen3-draft" if method == "draft" else None,
                    max(len(p) for p in prompts) + protocol.SPEC_MAX_NEW_TOKENS)
    drafted = 0
    for prompt in prompts:
        plain, spec = run(prompt, False), run(prompt, True)
        assert spec.token_ids == plain.token_ids
        assert plain.acceptance.target_passes == len(plain.token_ids)
        assert spec.acceptance.accepted + spec.acceptance.target_passes == len(spec.token_ids)
        drafted += spec.acceptance.drafted
    assert drafted > 0
