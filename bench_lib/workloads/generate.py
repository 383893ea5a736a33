"""Generate on task prompts, measure speed and memory, score the answers.

Definitions follow vLLM's benchmark: TTFT is the time to the first generated token (prefill
included), TPOT is (end-to-end latency - TTFT) / (output tokens - 1) per request, output
tokens/s is all generated tokens over the wall time of the batches that produced them.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Sequence

from bench_lib.engines.base import Engine, RequestTiming
from bench_lib.measure.energy import EnergyMeter
from bench_lib.measure.memory import PeakMemory
from bench_lib.measure.timing import Spread
from bench_lib.tasks.base import Example


def encode_prompts(tokenizer, examples: Sequence[Example]) -> list[list[int]]:
    """Chat-templated prompt ids; `enable_thinking=False` turns off Qwen3's thinking block
    (templates that do not know the flag ignore it)."""
    return [tokenizer.apply_chat_template([{"role": "user", "content": ex.prompt}], add_generation_prompt=True,
                                          tokenize=True, return_dict=False, enable_thinking=False)
            for ex in examples]


@dataclass
class GenerationRun:
    token_ids: list[list[int]]
    timings: list[RequestTiming]
    wall_s: float

    @property
    def output_tokens(self) -> int:
        return sum(len(t) for t in self.token_ids)


def generate_all(engine: Engine, prompts: Sequence[Sequence[int]], batch_size: int, max_new_tokens: int) -> GenerationRun:
    """All prompts in consecutive batches of `batch_size` (the last one may be smaller)."""
    ids, timings, wall = [], [], 0.0
    for i in range(0, len(prompts), batch_size):
        out = engine.generate(prompts[i:i + batch_size], max_new_tokens)
        ids.extend(out.token_ids)
        timings.extend(out.timings)
        wall += out.wall_s
    return GenerationRun(ids, timings, wall)


def speed_metrics(runs: Sequence[GenerationRun]) -> tuple[dict[str, float], dict[str, Spread]]:
    """Medians over requests of all measured runs, and tokens/s as the median over runs."""
    ttft = [t.first_token_s for r in runs for t in r.timings]
    tpot = [t.tpot_s for r in runs for t in r.timings if t.output_tokens > 1]
    e2e = [t.finish_s for r in runs for t in r.timings]
    tps = [r.output_tokens / r.wall_s for r in runs if r.wall_s > 0]
    spreads = {"ttft_s": Spread.of(ttft), "tpot_s": Spread.of(tpot), "e2e_latency_s": Spread.of(e2e),
               "output_tokens_per_s": Spread.of(tps)}
    values = {k: s.median for k, s in spreads.items()}
    values["output_tokens"] = float(statistics.median(r.output_tokens for r in runs))
    return values, spreads


def measure_generation(engine: Engine, tokenizer, task, examples: Sequence[Example], batch_size: int,
                       repeats: int, warmup: int, max_new_tokens: int | None = None) -> dict:
    """Warm up, then `repeats` measured passes over the examples; memory peaks and energy of the first
    measured pass; the task score of its answers. Returns metrics, spreads, the decoded answers and,
    for the roofline, the first pass's prompt and output lengths and times to first token. torch's
    allocator peaks are reported only for engines whose memory goes through it (`torch_allocator`)."""
    prompts = encode_prompts(tokenizer, examples)
    max_new = max_new_tokens or task.max_new_tokens
    for _ in range(warmup):
        generate_all(engine, prompts[:batch_size], batch_size, max_new)
    with PeakMemory(engine.device, torch_allocator=getattr(engine, "torch_allocator", False)) as mem, \
            EnergyMeter(engine.device) as energy:
        first = generate_all(engine, prompts, batch_size, max_new)
    runs = [first] + [generate_all(engine, prompts, batch_size, max_new) for _ in range(repeats - 1)]
    texts = [tokenizer.decode(ids, skip_special_tokens=True) for ids in first.token_ids]
    values, spreads = speed_metrics(runs)
    values.update(mem.result.as_metrics())
    if energy.per(first.output_tokens) is not None:
        values["energy_j_per_output_token"] = energy.per(first.output_tokens)
    values.update(task.score(texts, examples))
    # Greedy decoding of the same batches must give the same tokens every time.
    stable = all(r.token_ids == first.token_ids for r in runs)
    return {"metrics": values, "spreads": spreads, "texts": texts, "stable_outputs": stable,
            "rss_method": mem.result.rss_method, "device_memory_method": mem.result.device_memory_method,
            "energy_source": energy.source, "energy_skip": energy.skip_reason,
            "prompt_lengths": [len(p) for p in prompts], "output_lengths": [len(t) for t in first.token_ids],
            "first_token_s": [t.first_token_s for t in first.timings]}
