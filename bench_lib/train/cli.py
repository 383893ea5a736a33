"""`python -m bench_lib.cli train`: the method table (step time, memory, trainable parameters,
task score ± 95% interval), or with --ratios the GPU memory-ratio check against the published
QLoRA ≈ 0.38 × LoRA and VeRA ≈ 0.80 × LoRA.

Settings come from the environment as for asv (BENCH_PROFILE, BENCH_MODELS, BENCH_DEVICE,
BENCH_SEEDS, ...); the flags narrow the grid.
"""
from __future__ import annotations

import json
import sys

from bench_lib.formatting import MIB, MS, cell, number

PUBLISHED = {"train_qlora_over_lora_allocated": 0.38, "train_vera_over_lora_allocated": 0.80}


def _scores() -> dict[str, str]:
    """task → the score the fine-tuning table shows, for every registered task."""
    from bench_lib.tasks import TASKS, get_task

    return {name: get_task(name).finetune_metric for name in TASKS}


SCORE = _scores()  # the registered tasks in registry order


def _method_names():
    from bench_lib.train.methods import METHODS

    return METHODS


def add_arguments(parser) -> None:
    from bench_lib import argcheck

    parser.add_argument("--model", type=argcheck.model_name, default=None,
                        help="model name (default: the first of BENCH_MODELS)")
    parser.add_argument("--methods", type=argcheck.list_of(_method_names, "method"), default=None,
                        help="comma-separated methods (default: BENCH_TRAIN_METHODS or all)")
    parser.add_argument("--shape", type=argcheck.shape, default=None,
                        help="BATCHxSEQ of the step (default: the tier's first shape)")
    parser.add_argument("--task", type=argcheck.one_of(SCORE, "task"), default="openmath",
                        help="task fine-tuned and scored (arc, squad, openmath)")
    parser.add_argument("--no-finetune", action="store_true", help="step measurements only")
    parser.add_argument("--ratios", action="store_true",
                        help="GPU only: LoRA r=256, QLoRA-nf4 r=256, VeRA r=512 memory ratios on arch:Qwen/Qwen3-8B")
    parser.add_argument("--ratio-model", type=argcheck.model_name, default=None,
                        help="model of --ratios (default arch:Qwen/Qwen3-8B)")
    parser.add_argument("--ratio-shape", type=argcheck.shape, default="1x512", help="BATCHxSEQ of --ratios")
    parser.add_argument("--grad-ckpt", action="store_true", help="gradient checkpointing in --ratios")
    parser.add_argument("--ratio-targets", default=None,
                        help="adapter targets of --ratios: comma-separated module names or all-linear "
                             "(default: peft's default for the architecture, q_proj,v_proj on Qwen3)")
    parser.add_argument("--json", default=None, help="also write the raw results to this file")


def method_table(model: str, methods: list[str], shape: str, task: str | None) -> tuple[str, dict]:
    from bench_lib.train import cases as cases_train

    steps = cases_train.step_grid([model], methods, [shape], what="train step")
    fts = cases_train.finetune_grid(task, [model], methods, what="fine-tune") if task else {}
    score = SCORE.get(task)
    rows = [f"| method | step ms | tokens/s | peak RSS MiB | CUDA alloc MiB | trainable params | optimizer MiB | "
            f"saved MiB | loss after K ± 95% | {score or 'score'} ± 95% |", "|---" * 10 + "|"]
    notes = []
    for meth in methods:
        st = steps[(model, meth, shape)]
        ft = fts.get((model, meth, task), {"skip": "not run"})
        rows.append("| " + " | ".join([
            meth,
            cell(st, lambda m: number(m["train_step_s"], ".1f", MS)),
            cell(st, lambda m: number(m["train_tokens_per_s"], ".3g")),
            cell(st, lambda m: number(m.get("peak_rss_bytes"), ".1f", MIB)),
            cell(st, lambda m: number(m.get("cuda_max_allocated_bytes"), ".1f", MIB)),
            cell(st, lambda m: number(m["train_trainable_params"], ",.0f")),
            cell(st, lambda m: number(m["train_optimizer_state_bytes"], ".1f", MIB)),
            cell(st, lambda m: number(m.get("train_saved_bytes"), ".1f", MIB)),
            cell(ft, lambda m: _pm(m, "loss")),
            cell(ft, lambda m: _pm(m, score)),
        ]) + " |")
        for what, entry in (("step", st), ("fine-tune", ft)):
            if "skip" in entry and entry["skip"] != "not run":
                notes.append(f"- {meth} {what} skipped: {entry['skip']}")
            if "error" in entry:
                notes.append(f"- {meth} {what} failed: {entry['error']}")
    return "\n".join(rows + _deltas(task, score, methods, model, fts) + ([""] + notes if notes else [])), \
        {"steps": steps, "finetune": fts}


def _deltas(task: str | None, score: str | None, methods: list[str], model: str, fts: dict) -> list[str]:
    """Each method's task score minus the first method's, paired over the same seeds and examples."""
    from bench_lib.train import cases as cases_train

    ok = {m: fts[(model, m, task)]["result"] for m in methods if "result" in fts.get((model, m, task), {})}
    if not task or methods[0] not in ok or len(ok) < 2:
        return []
    ref = methods[0]
    lines = ["", f"{score}, method minus {ref} (same seeds and test examples, paired bootstrap 95% interval; "
                 "* where it excludes 0):"]
    for meth in methods[1:]:
        if meth in ok:
            d = cases_train.method_delta(task, ok[ref]["per_seed"], ok[meth]["per_seed"])[score]
            lines.append(f"- {meth}: {d['delta']:+.4g} [{d['ci_low']:+.4g}, {d['ci_high']:+.4g}]"
                         f"{'*' if d['excludes_zero'] else ''}")
    return lines


def _pm(metrics: dict, name: str | None) -> str:
    mean = metrics.get(f"train_ft_{name}_mean")
    half = metrics.get(f"train_ft_{name}_ci95")
    return number(mean, ".3g") + (f" ± {number(half, '.3g')}" if half is not None else "")


def ratio_report(model: str, shape: str, grad_ckpt: bool, targets: str | None) -> tuple[str, dict]:
    from bench_lib.train import cases as cases_train

    if targets and targets != "all-linear":
        targets = tuple(t.strip() for t in targets.split(",") if t.strip())
    r = cases_train.memory_ratio_result(model, shape, grad_ckpt, targets)
    lines = [f"{model}, batch×seq {shape}, gradient checkpointing {'on' if grad_ckpt else 'off'}, "
             f"adapter targets {r['target_modules']}", "",
             "| method | rank | CUDA max allocated GiB | CUDA max reserved GiB |", "|---|---|---|---|"]
    for meth, rank in cases_train.RATIO_RUNS.items():
        m = r["runs"][meth]
        lines.append(f"| {meth} | {rank} | {m['cuda_max_allocated_bytes'] / 2**30:.2f} | "
                     f"{m['cuda_max_reserved_bytes'] / 2**30:.2f} |")
    lines += ["", "| ratio | measured | published |", "|---|---|---|"]
    for name, value in r["metrics"].items():
        lines.append(f"| {name} | {value:.3f} | {PUBLISHED.get(name, '–')} |")
    return "\n".join(lines), r


def _jsonable(obj):
    if isinstance(obj, dict):  # grid keys are parameter tuples
        return {", ".join(map(str, k)) if isinstance(k, tuple) else str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def run(args) -> int:
    from bench_lib import argcheck, config
    from bench_lib.train import settings

    if args.ratios:
        try:
            text, raw = ratio_report(args.ratio_model or "arch:Qwen/Qwen3-8B", args.ratio_shape, args.grad_ckpt,
                                     args.ratio_targets)
        except NotImplementedError as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            return 2
    else:
        model = args.model or config.model_names()[0]
        shape = args.shape or settings.shapes()[0]
        methods = argcheck.split_list(args.methods) if args.methods else list(settings.methods())
        task = None if args.no_finetune else args.task
        tier = settings.tier()
        print(f"{model} on {config.device()} ({config.dtype_name()}), profile {config.profile().name}: step "
              f"{shape}, fine-tune {tier.steps} steps of {tier.finetune_shape} on {task or '–'}, "
              f"{len(settings.seeds())} seed(s)\n")
        text, raw = method_table(model, methods, shape, task)
    print(text)
    if args.json:
        try:
            with open(args.json, "w") as f:
                json.dump(_jsonable(raw), f, indent=1, default=str)
        except OSError as exc:
            print(f"llm-bench train: cannot write {args.json} ({exc.strerror or exc})", file=sys.stderr)
            return 3
    if args.ratios:
        return 0
    entries = [e for grid in raw.values() for e in grid.values()]
    failed = sum("error" in e for e in entries)
    measured = sum("result" in e for e in entries)
    print(f"\n{measured} measured, {len(entries) - measured - failed} skipped, {failed} failed", file=sys.stderr)
    # A table without one measured row, or with a failed one, is not a result.
    return 1 if failed or not measured else 0
