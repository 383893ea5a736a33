"""`llm-bench kvspec`: run the KV-cache and speculative-decoding grids here and print both tables
(the same case functions asv runs; BENCH_PROFILE sets repeats and sizes)."""
from __future__ import annotations

from bench_lib.formatting import KIB, cell, number

ENGINES = ("hf", "llamacpp", "vllm")


def add_arguments(parser) -> None:
    from bench_lib import config
    from bench_lib.kvspec.protocol import KV_CONTEXTS
    from bench_lib.kvspec.kvcache import KV_TYPES
    from bench_lib.kvspec.speculative import METHODS
    from bench_lib.kvspec.kvcache_llamacpp import KV_TYPES as LLAMACPP_TYPES
    from bench_lib.kvspec.kvcache_vllm import KV_TYPES as VLLM_TYPES

    from bench_lib import argcheck
    from bench_lib.tasks import TASKS

    parser.add_argument("--models", type=argcheck.model_list, default=",".join(config.model_names()))
    parser.add_argument("--engines", type=argcheck.list_of(ENGINES, "engine"), default=",".join(ENGINES),
                        help="hf, llamacpp and/or vllm")
    parser.add_argument("--kv-types", type=argcheck.list_of(KV_TYPES, "HF KV type"), default=",".join(KV_TYPES),
                        help="HF types; llama.cpp runs " + ",".join(LLAMACPP_TYPES) + ", vLLM " + ",".join(VLLM_TYPES))
    parser.add_argument("--contexts", type=argcheck.int_list(1), default=",".join(map(str, KV_CONTEXTS)))
    parser.add_argument("--methods", type=argcheck.list_of(METHODS, "method"), default=",".join(METHODS))
    parser.add_argument("--tasks", type=argcheck.list_of(TASKS, "task"), default="squad")
    parser.add_argument("--n-prompts", type=argcheck.int_at_least(1), default=None,
                        help="speculative prompts per task (default: profile)")
    parser.add_argument("--only", choices=("kv", "spec"), default=None)


# (column, metric, format spec[, scale])
KV_COLUMNS = [("cache KiB", "kvspec_cache_bytes", ".1f", KIB), ("engine KiB", "kvspec_cache_bytes_engine", ".1f", KIB),
              ("decode tok/s", "kvspec_decode_tokens_per_s", ".1f"), ("prefill s", "kvspec_prefill_s", ".3f"),
              ("KLD mean", "quality_kld_mean", ".5f"), ("KLD p99", "quality_kld_p99", ".4f"),
              ("same top", "quality_same_top_p", ".3f"), ("greedy agree", "kvspec_greedy_agreement", ".2f")]
SPEC_COLUMNS = [("accept rate", "kvspec_acceptance_rate", ".3f"), ("accept len", "kvspec_acceptance_length", ".2f"),
                ("pos1", "kvspec_acceptance_pos1", ".2f"), ("pos2", "kvspec_acceptance_pos2", ".2f"),
                ("pos3", "kvspec_acceptance_pos3", ".2f"), ("pos4", "kvspec_acceptance_pos4", ".2f"),
                ("target passes", "kvspec_target_passes", ".0f"), ("plain tok/s", "kvspec_plain_tokens_per_s", ".1f"),
                ("spec tok/s", "kvspec_spec_tokens_per_s", ".1f"), ("speedup", "kvspec_speedup", ".2f"),
                ("exact", "kvspec_greedy_exact", ".0f")]


def _table(keys: list[str], columns, grid: dict) -> list[str]:
    lines = ["| " + " | ".join(keys + [c[0] for c in columns]) + " |",
             "|" + "---|" * (len(keys) + len(columns))]
    notes = []
    for key, entry in grid.items():
        cells = [cell(entry, lambda m, c=c: number(m.get(c[1]), *c[2:])) for c in columns]
        lines.append("| " + " | ".join([*map(str, key), *cells]) + " |")
        if "result" not in entry:
            notes.append(f"- {', '.join(map(str, key))}: {entry.get('skip') or entry.get('error')}")
    return lines + ([""] + notes if notes else [])


def run(args) -> int:
    from bench_lib import argcheck, config
    from bench_lib.kvspec import cases as cases_kvspec

    models, engines, tasks = (argcheck.split_list(x) for x in (args.models, args.engines, args.tasks))
    contexts = [int(c) for c in argcheck.split_list(args.contexts)]
    print(f"profile {config.profile().name}, device {config.device()}")
    failed = measured = 0
    if args.only in (None, "kv"):
        print("\n### KV cache\n")
        grid = {}
        for engine in engines:
            types = argcheck.split_list(args.kv_types) if engine == "hf" else cases_kvspec.kv_types(engine)
            for key, entry in cases_kvspec.kv_grid(models, types, contexts, engine).items():
                grid[(engine, *key)] = entry
        print("\n".join(_table(["engine", "model", "kv type", "context"], KV_COLUMNS, grid)))
        failed += sum("error" in e for e in grid.values())
        measured += sum("result" in e for e in grid.values())
    if args.only in (None, "spec"):
        print("\n### Speculative decoding\n")
        grid = {}
        for engine in engines:
            # --methods names HF's methods; each engine runs those its backend has
            methods = [m for m in argcheck.split_list(args.methods) if m in cases_kvspec.spec_methods(engine)]
            for key, entry in cases_kvspec.speculative_grid(models, methods, tasks, engine, args.n_prompts).items():
                grid[(engine, *key)] = entry
        print("\n".join(_table(["engine", "model", "method", "task"], SPEC_COLUMNS, grid)))
        failed += sum("error" in e for e in grid.values())
        measured += sum("result" in e for e in grid.values())
    # A table without one measured row, or with a failed one, is not a result.
    return 1 if failed or not measured else 0
