"""Speculative decoding on the embedded target and draft: greedy output equals plain greedy token
for token for every method, acceptance bookkeeping adds up (and raises when the hooks' counts
disagree with the output), and a mismatch is reported as one."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from bench_lib.kvspec import cases as cases_kvspec  # noqa: E402
from bench_lib.models import get_spec  # noqa: E402
from bench_lib.kvspec import protocol, speculative as sp  # noqa: E402
from bench_lib.kvspec.acceptance import Acceptance  # noqa: E402

MAX_NEW = 32


slow = pytest.mark.slow  # generates with the embedded target and draft


@pytest.fixture(scope="module")
def setup(tiny_model, tiny_draft, tiny_tokenizer):
    # ARC: its answers put the draft's mistakes (the choice text, the label) inside the drafted
    # windows. On OpenMath every draft token is accepted: its one wrong token, the result, falls
    # on the position the target itself decodes after four accepted proposals.
    prompts = protocol.spec_prompts("tiny-qwen3", "arc", 3)
    return tiny_model, tiny_draft, tiny_tokenizer, get_spec("tiny-qwen3").stop_token_ids(tiny_tokenizer), prompts


@slow
@pytest.mark.parametrize("max_new", [MAX_NEW, 6])  # 6 cuts every output before its EOS
@pytest.mark.parametrize("method", sp.METHODS)
def test_greedy_exact_and_counts(setup, method, max_new):
    target, draft, tok, eos, prompts = setup
    kwargs = sp.method_kwargs(method, target, draft)
    total = Acceptance()
    for prompt in prompts:
        plain = sp.generate_one(target, prompt, max_new, eos, tok.pad_token_id, {})
        spec = sp.generate_one(target, prompt, max_new, eos, tok.pad_token_id, kwargs)
        assert spec.token_ids == plain.token_ids
        assert plain.acceptance.drafted == 0
        assert plain.acceptance.target_passes >= len(plain.token_ids)
        assert spec.acceptance.target_passes <= plain.acceptance.target_passes
        total.extend(spec.acceptance)
    assert total.drafted > 0
    assert all(s.drafted <= sp.NUM_DRAFT_TOKENS for s in total.steps)


@slow
def test_per_pass_counts_and_positions(setup):
    target, draft, tok, eos, prompts = setup
    total = Acceptance()
    for prompt in prompts:
        run = sp.generate_one(target, prompt, MAX_NEW, eos, tok.pad_token_id, sp.method_kwargs("draft", target, draft))
        assert run.acceptance.accepted + run.acceptance.target_passes == len(run.token_ids)
        total.extend(run.acceptance)
    # the target keeps some proposals whole and cuts others
    assert max(s.drafted for s in total.steps) == sp.NUM_DRAFT_TOKENS
    assert any(s.accepted == s.drafted > 0 for s in total.steps)
    assert any(s.accepted < s.drafted for s in total.steps)
    pos = total.per_position()
    assert len(pos) == sp.NUM_DRAFT_TOKENS and pos == sorted(pos, reverse=True) and 0 < pos[0] <= 1
    assert pos[0] == pytest.approx(sum(s.accepted >= 1 for s in total.steps) / total.drafts)


class _DropsAPass(sp._Recorder):
    def acceptance(self, *args):
        del self.passes[1]
        return super().acceptance(*args)


class _ClaimsAllAccepted(sp._Recorder):
    """Reports a verdict that accepts every proposal: the token after each input is the next input."""

    def acceptance(self, *args):
        for p in self.passes:
            p.verdict = torch.cat([p.fed[1:], p.verdict[-1:]])[-len(p.verdict):]
        return super().acceptance(*args)


@slow
@pytest.mark.parametrize("broken", [_DropsAPass, _ClaimsAllAccepted])
def test_counts_that_disagree_with_the_output_raise(monkeypatch, setup, broken):
    target, draft, tok, eos, prompts = setup
    monkeypatch.setattr(sp, "_Recorder", broken)
    with pytest.raises(sp.BookkeepingError, match="bookkeeping is off|no verification pass|not the generated"):
        for prompt in prompts:
            sp.generate_one(target, prompt, MAX_NEW, eos, tok.pad_token_id, sp.method_kwargs("draft", target, draft))


@slow
def test_embedded_draft_is_neither_useless_nor_perfect(setup):
    target, draft, tok, eos, prompts = setup
    total = Acceptance()
    for prompt in prompts:
        total.extend(sp.generate_one(target, prompt, MAX_NEW, eos, tok.pad_token_id,
                                     sp.method_kwargs("draft", target, draft)).acceptance)
    assert 0.05 < total.rate() < 0.95, f"draft acceptance rate {total.rate():.3f}: retune the draft's training"


def test_acceptance_definitions():
    a = Acceptance()
    for drafted, accepted in [(4, 4), (4, 1), (4, 0), (0, 0), (2, 2)]:
        a.add(drafted, accepted)
    assert a.target_passes == 5 and a.drafts == 4 and a.drafted == 14 and a.accepted == 7
    assert a.rate() == pytest.approx(7 / 14)
    assert a.mean_length() == pytest.approx(1 + 7 / 4)
    assert a.per_position() == pytest.approx([3 / 4, 2 / 4, 1 / 4, 1 / 4])
    with pytest.raises(ValueError, match="inconsistent"):
        a.add(2, 3)


@slow
def test_mismatch_fails_the_case(monkeypatch, setup):
    target, _, tok, eos, prompts = setup
    first = sp.generate_one(target, prompts[0], MAX_NEW, eos, tok.pad_token_id, {}).token_ids[0]
    # A "method" that changes the output must be caught, not averaged into a number.
    monkeypatch.setattr(sp, "method_kwargs", lambda *a, **k: {"suppress_tokens": [first]})
    with pytest.raises(protocol.SpeculativeMismatch, match="differs from plain greedy at token 0"):
        cases_kvspec.speculative_result("tiny-qwen3", "prompt-lookup", "arc", n_prompts=1)


def test_unknown_method_lists_known():
    with pytest.raises(KeyError, match="prompt-lookup"):
        sp.method_kwargs("medusa", target=None)


@slow
def test_prompt_lookup_generation(benchmark, setup):
    target, draft, tok, eos, prompts = setup
    run = benchmark.pedantic(sp.generate_one, args=(target, prompts[0], MAX_NEW, eos, tok.pad_token_id,
                                                    sp.method_kwargs("prompt-lookup", target)),
                             rounds=3, warmup_rounds=1)
    assert run.token_ids
