"""One train step across N processes with torch.distributed: DDP, or FSDP for the full fine-tune.

Each rank is a process started by torch.multiprocessing (spawn), or by `torchrun` calling
`python -m bench_lib.train.cases_distributed` (then RANK/WORLD_SIZE/MASTER_* come from torchrun). Every
rank builds the same trainer as the single-process step (bench_lib.train.step.build_trainer,
same seed, so same initial weights), wraps the model, feeds its own fixed batch of the shape
(data parallel: seed = rank) and is measured by the same measure_steps: warm-up steps, then timed
steps with a synchronized clock, the first of them memory-accounted in that process (VmHWM on
Linux, CUDA max allocated/reserved on its own GPU). A step of the whole group takes as long as
its slowest rank, so tokens/s is world_size × batch × sequence length / the largest per-rank
median step time. Backends: gloo on CPU, nccl on CUDA (one GPU per rank). FSDP shards
parameters, gradients and optimizer state, which only pays on GPUs: on CPU it is refused.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
from pathlib import Path

STRATEGIES = ("ddp", "fsdp")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(strategy: str, method: str, world_size: int, device: str) -> None:
    """NotImplementedError with the reason for a combination this path cannot run."""
    import torch

    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    if world_size < 2:
        raise ValueError(f"world_size {world_size}: a distributed step needs at least 2 processes")
    if strategy == "fsdp" and not device.startswith("cuda"):
        raise NotImplementedError(f"FSDP shards a full fine-tune over GPUs; this run's device is {device} "
                                  "(use strategy='ddp' on CPU)")
    if strategy == "fsdp" and method != "full":
        raise NotImplementedError(f"FSDP is measured for the full fine-tune; {method!r} trains an adapter, use DDP")
    if device.startswith("cuda") and torch.cuda.device_count() < world_size:
        raise NotImplementedError(f"{world_size} ranks need {world_size} GPUs, this machine has "
                                  f"{torch.cuda.device_count()}")


def _wrap(trainer, strategy: str, rank: int) -> None:
    from torch.nn.parallel import DistributedDataParallel

    from bench_lib.train.methods import optimizer_class

    if strategy == "ddp":
        # same Parameter objects: the optimizer built on the bare model stays valid
        ids = [int(trainer.device.split(":")[1])] if trainer.device.startswith("cuda") else None
        trainer.model = DistributedDataParallel(trainer.model, device_ids=ids)
        return
    from torch.distributed.fsdp import FullyShardedDataParallel

    trainer.model = FullyShardedDataParallel(trainer.model, device_id=rank, use_orig_params=True)
    # FSDP replaces the parameters with shards: the optimizer must hold those
    trainer.optimizer = optimizer_class(trainer.opts.optimizer, trainer.device)(
        [p for p in trainer.model.parameters() if p.requires_grad], lr=trainer.opts.lr)


def _rank_main(rank: int, world_size: int, cfg: dict, out_dir: str | None) -> list[dict]:
    import torch
    import torch.distributed as dist

    from bench_lib.train import cases as cases_train
    from bench_lib.models import get_spec
    from bench_lib.train.step import build_trainer, measure_steps

    os.environ.update(MASTER_ADDR=cfg["addr"], MASTER_PORT=str(cfg["port"]))
    cuda = cfg["device"].startswith("cuda")
    device = f"cuda:{rank % max(torch.cuda.device_count(), 1)}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(device)
    else:  # the ranks share the cores instead of each taking all of them
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // cfg["local_world_size"]))
    dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world_size)
    try:
        _, dtype, tier = cases_train._settings()
        spec = get_spec(cfg["model"])
        trainer = build_trainer(spec, cfg["method"], cases_train._options(
            total_steps=tier.step_warmup + tier.step_repeats), device, dtype, seed=0)
        if trainer.method.after_step is not None:
            raise NotImplementedError(f"{cfg['method']} reallocates its adapters after a step on each rank apart")
        _wrap(trainer, cfg["strategy"], rank)
        batch = cases_train.fixed_batch(spec, cfg["shape"], seed=rank)
        run = measure_steps(trainer, batch, tier.step_warmup, tier.step_repeats)
        with torch.no_grad():  # equal on every rank when gradients were all-reduced
            checksum = float(sum(p.double().sum() for p in trainer.model.parameters() if p.requires_grad))
        bsz, seq = batch["input_ids"].shape
        record = {"rank": rank, "device": device, "dtype": dtype, "seconds": run["seconds"],
                  "losses": run["losses"], "tokens_per_step": int(bsz * seq), "param_checksum": checksum,
                  "memory": run["memory"].as_metrics(), "rss_method": run["memory"].rss_method}
    except NotImplementedError as exc:
        record = {"rank": rank, "skip": str(exc)}
    records: list = [None] * world_size
    dist.all_gather_object(records, record)  # over the process group: no shared folder across nodes
    dist.destroy_process_group()
    if rank == 0 and out_dir:
        Path(out_dir, "records.json").write_text(json.dumps(records))
    return records


def summarize(records: list[dict], world_size: int, strategy: str) -> dict:
    import statistics

    skips = [r["skip"] for r in records if "skip" in r]
    if skips:
        raise NotImplementedError(skips[0])
    medians = [statistics.median(r["seconds"]) for r in records]
    step_s = max(medians)
    tokens = sum(r["tokens_per_step"] for r in records)
    per_rank = [{"rank": r["rank"], "device": r["device"], "step_s": m, "tokens_per_s": r["tokens_per_step"] / m,
                 **r["memory"]} for r, m in zip(records, medians)]
    metrics = {"train_dist_step_s": step_s, "train_dist_tokens_per_s": tokens / step_s,
               "train_dist_max_rank_peak_rss_bytes": max(p["peak_rss_bytes"] for p in per_rank)}
    if all("cuda_max_allocated_bytes" in p for p in per_rank):
        metrics["train_dist_max_rank_cuda_allocated_bytes"] = max(p["cuda_max_allocated_bytes"] for p in per_rank)
    return {"metrics": metrics, "per_rank": per_rank, "world_size": world_size, "strategy": strategy,
            "param_checksums": [r["param_checksum"] for r in records], "losses": [r["losses"] for r in records]}


def step_result(model: str, method: str, shape: str, world_size: int = 2, strategy: str = "ddp") -> dict:
    """The train step of (model, method, shape) across `world_size` spawned processes on this machine."""
    import torch.multiprocessing as mp

    from bench_lib import config

    device = config.device()
    check(strategy, method, world_size, device)
    cfg = {"model": model, "method": method, "shape": shape, "strategy": strategy, "device": device,
           "addr": "127.0.0.1", "port": _free_port(), "local_world_size": world_size}
    with tempfile.TemporaryDirectory() as out_dir:
        mp.start_processes(_rank_main, args=(world_size, cfg, out_dir), nprocs=world_size, join=True,
                           start_method="spawn")
        records = json.loads(Path(out_dir, "records.json").read_text())
    out = summarize(records, world_size, strategy)
    out.update(model=model, method=method, shape=shape, device=device, profile=config.profile().name)
    return out


def step_grid(models, strategies, methods, shape: str, world_size: int = 2) -> dict:
    """{(model, strategy, method): result or skip} through cases.run_grid (a skip per combination)."""
    from bench_lib.grid import run_grid

    combos = [(m, meth, shape, world_size, st) for m in models for st in strategies for meth in methods]
    return {(m, st, meth): v for (m, meth, _, _, st), v in run_grid(step_result, combos).items()}


def main(argv: list[str] | None = None) -> int:
    """Under torchrun: `torchrun --nproc-per-node N -m bench_lib.train.cases_distributed MODEL METHOD SHAPE [ddp|fsdp]`;
    rank 0 prints the summary as JSON."""
    from bench_lib import config

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (3, 4):
        print("usage: torchrun --nproc-per-node N -m bench_lib.train.cases_distributed MODEL METHOD SHAPE [ddp|fsdp]",
              file=sys.stderr)
        return 2
    model, method, shape, strategy = (*argv, "ddp")[:4]
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    device = config.device()
    check(strategy, method, world, device)
    cfg = {"model": model, "method": method, "shape": shape, "strategy": strategy, "device": device,
           "addr": os.environ["MASTER_ADDR"], "port": int(os.environ["MASTER_PORT"]),
           "local_world_size": int(os.environ.get("LOCAL_WORLD_SIZE", world))}
    records = _rank_main(rank, world, cfg, None)
    if rank == 0:
        print(json.dumps(summarize(records, world, strategy), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
