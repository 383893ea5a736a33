"""`llm-bench fleet`: the asv suite sharded over a scheduler, one job per shard, results merged.

The benchmarks that `asv run --bench REGEX` would run are found by asv's own discovery, grouped
by class (a class's setup_cache is computed once per job, so a class stays whole while there
are at least as many classes as shards, else it is split into its benchmarks) and packed into N
shards by cost: the durations asv stored in earlier results (each benchmark's own plus its
class's setup_cache), else an equal weight per unit. Each shard is one submitit job (a local
process, or a SLURM job with GPUs, memory and a time limit) that registers its node's
fingerprint as the asv machine and runs asv for its shard into a folder of its own, with the
interpreter the command itself runs (the locked environment of `make install`). The shards'
result files are then merged per machine, commit and environment into one asv result file
under results/<machine>/ (bench_lib.tracking.fleet_merge) and `asv publish` runs over them.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from bench_lib import config

from bench_lib.tracking import asv_results, asv_run

PLAN = "fleet.json"
# Makes the jobs of the listed shard indices exit non-zero before asv runs: how the failure
# path (a shard reported with its log, the others merged, `--resume`) is exercised for real.
FAIL_ENV = "LLM_BENCH_FLEET_FAIL_SHARDS"


def add_arguments(parser) -> None:
    parser.add_argument("--scheduler", choices=("local", "debug", "slurm"), default="local",
                        help="local: one process per shard (submitit LocalExecutor); debug: in this process, "
                             "one after another; slurm: one SLURM job per shard")
    parser.add_argument("--shards", type=int, default=2, help="number of jobs (default 2)")
    parser.add_argument("--bench", default=".", help="regular expression over benchmark names, as asv run --bench")
    parser.add_argument("--results", type=Path, default=Path("results"), help="merged results (default results)")
    parser.add_argument("--work", type=Path, default=Path(".fleet"),
                        help="shard folders, job logs and the plan (default .fleet)")
    parser.add_argument("--resume", action="store_true", help="resubmit only the shards of --work without results")
    parser.add_argument("--timeout-min", type=int, default=120, help="time limit of one job in minutes")
    parser.add_argument("--gpus", type=int, default=0, help="GPUs per job (slurm; local: visible GPUs)")
    parser.add_argument("--mem-gb", type=int, default=None, help="memory per job (slurm)")
    parser.add_argument("--cpus", type=int, default=None, help="CPUs per job (slurm)")
    parser.add_argument("--partition", default=None, help="SLURM partition")
    parser.add_argument("--slurm-setup", action="append", default=[],
                        help="shell line run before the job in its sbatch script (repeatable)")
    parser.add_argument("--print-sbatch", action="store_true",
                        help="print the sbatch script a shard would be submitted with, then stop")
    parser.add_argument("--no-publish", action="store_true", help="merge only, skip asv publish")


# --- selection and shards ---------------------------------------------------------------------


def discover(root: Path, regex: str, conf_path: Path) -> dict:
    """{benchmark name: asv's discovery record} of what `asv run --bench regex` selects."""
    from asv import environment
    from asv.benchmarks import Benchmarks
    from asv.config import Config
    from asv.repo import get_repo

    conf = Config.load(str(conf_path))
    os.environ["ASV_PYTHONPATH"] = str(root)  # discovery imports this checkout's suite and bench_lib
    envs = list(environment.get_environments(conf, ["existing:same"], verbose=False))
    found = Benchmarks.discover(conf, get_repo(conf), envs, [asv_run.head(root)], regex=[regex])
    return {name: dict(found[name]) for name in sorted(found.keys())}


def measured_costs(results: Path) -> dict[str, float]:
    """Seconds each benchmark name and each '<setup_cache key>' took in the newest stored result."""
    costs: dict[str, tuple[int, float]] = {}
    if not Path(results).is_dir():
        return {}
    for path in asv_results.result_files(results):
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        date = data.get("date") or 0
        cols = data.get("result_columns", [])
        found = {k: v for k, v in (data.get("durations") or {}).items() if isinstance(v, (int, float))}
        for bench, values in (data.get("results") or {}).items():
            duration = dict(zip(cols, values)).get("duration")
            if isinstance(duration, (int, float)):
                found[bench] = duration
        for key, secs in found.items():
            if key not in costs or date >= costs[key][0]:
                costs[key] = (date, float(secs))
    return {k: v for k, (_, v) in costs.items()}


def units(benchmarks: dict, shards: int) -> list[tuple[list[str], str | None]]:
    """(benchmark names, setup_cache key) per unit: whole classes, or single benchmarks when
    there are fewer classes than shards."""
    classes: dict[str, list[str]] = {}
    for name in benchmarks:
        classes.setdefault(name.rsplit(".", 1)[0], []).append(name)
    if len(classes) >= shards:
        return [(names, benchmarks[names[0]].get("setup_cache_key")) for names in classes.values()]
    return [([name], benchmarks[name].get("setup_cache_key")) for name in benchmarks]


def split(benchmarks: dict, shards: int, costs: dict[str, float]) -> list[dict]:
    """Longest-processing-time packing of the units into `shards` shards by cost."""
    weighted = []
    for names, cache_key in units(benchmarks, shards):
        known = [costs[n] for n in names if n in costs]
        cost = sum(known) + costs.get(f"<setup_cache {cache_key}>", 0.0) if known else None
        weighted.append((names, cost))
    measured = [c for _, c in weighted if c is not None]
    default = sum(measured) / len(measured) if measured else 1.0
    out = [{"benchmarks": [], "cost": 0.0, "measured": True} for _ in range(shards)]
    for names, cost in sorted(weighted, key=lambda u: (-(u[1] if u[1] is not None else default), u[0])):
        target = min(out, key=lambda s: s["cost"])
        target["benchmarks"].extend(names)
        target["cost"] += cost if cost is not None else default
        target["measured"] &= cost is not None
    return [dict(s, index=i) for i, s in enumerate(out) if s["benchmarks"]]


def shard_regex(names: list[str], user_regex: str) -> str:
    """One asv --bench regex for exactly these benchmarks, still narrowed by the user's regex
    (which may select only some parameter combinations: asv matches 'name(p1, p2)')."""
    alternatives = "|".join(re.escape(n) for n in sorted(names))
    return f"^(?=.*?(?:{user_regex}))(?:{alternatives})(?:\\(|$)"


# --- the job ------------------------------------------------------------------------------------


def run_shard(spec: dict) -> dict:
    """Body of one job: fingerprint, then asv run of the shard into its own results folder."""
    os.chdir(spec["root"])
    if str(spec["index"]) in config.env_choices(FAIL_ENV, "", what="shard index"):
        raise SystemExit(f"shard {spec['index']}: made to fail by {FAIL_ENV}")
    from bench_lib import environment

    here = environment.env_id(environment.installed())
    if spec.get("env") and here != spec["env"]:
        # refused before the benchmarks run: its results could not join the series anyway
        raise RuntimeError(f"shard {spec['index']}: this node's environment {here} is not the submitter's "
                           f"{spec['env']} ({sys.executable}); install the same lock here (make install)")
    results = Path(spec["folder"]) / "results"
    results.mkdir(parents=True, exist_ok=True)
    log = Path(spec["folder"]) / "asv.log"
    rc = asv_run.run(Path(sys.executable), Path(spec["root"]), results, spec["regex"], spec["asv_args"], log)
    files = [str(p) for p in asv_results.result_files(results)]
    if not files:
        raise RuntimeError(f"shard {spec['index']}: asv exited {rc} and wrote no result file; see {log}")
    return {"index": spec["index"], "rc": rc, "files": files, "log": str(log)}


def executor(args):
    import submitit

    folder = args.work / "jobs"
    if args.scheduler == "debug":
        ex = submitit.DebugExecutor(folder=folder)
    elif args.scheduler == "local":
        ex = submitit.LocalExecutor(folder=folder, python=sys.executable)
        ex.update_parameters(timeout_min=args.timeout_min, gpus_per_node=args.gpus)
    else:
        ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        params = {"timeout_min": args.timeout_min, "name": "llm-bench-fleet", "nodes": 1, "tasks_per_node": 1,
                  "slurm_setup": args.slurm_setup}
        params.update({k: v for k, v in (("gpus_per_node", args.gpus or None), ("mem_gb", args.mem_gb),
                                          ("cpus_per_task", args.cpus), ("slurm_partition", args.partition))
                       if v is not None})
        ex.update_parameters(**params)
    return ex


def sbatch_text(args) -> str:
    """The sbatch script submitit writes for one shard (its command line and resources)."""
    from submitit.slurm.slurm import _make_sbatch_string

    folder = str((args.work / "jobs").resolve())
    command = f"{sys.executable} -u -m submitit.core._submit {folder}"
    return _make_sbatch_string(command=command, folder=folder, job_name="llm-bench-fleet",
                               partition=args.partition, time=args.timeout_min, nodes=1, ntasks_per_node=1,
                               cpus_per_task=args.cpus, gpus_per_node=args.gpus or None,
                               mem=f"{args.mem_gb}GB" if args.mem_gb else None, setup=args.slurm_setup or None)


# --- the command --------------------------------------------------------------------------------


def plan(args, root: Path) -> dict:
    args.work.mkdir(parents=True, exist_ok=True)
    conf = asv_run.config(root, args.work / "discover" / "results", args.work / "asv-discover.json")
    benchmarks = discover(root, args.bench, conf)
    if not benchmarks:
        raise ValueError(f"--bench {args.bench!r} selects no benchmark; `asv check` lists the suite's names")
    shards = split(benchmarks, args.shards, measured_costs(args.results))
    tier = ["-a", "rounds=1", "-a", "repeat=5"] if os.environ.get("BENCH_PROFILE", "smoke") == "smoke" else []
    for s in shards:
        s.update(regex=shard_regex(s["benchmarks"], args.bench), folder=str((args.work / f"shard-{s['index']}").resolve()),
                 root=str(root), asv_args=tier)
    from bench_lib import environment

    env = environment.env_id(environment.installed())
    for s in shards:
        s["env"] = env
    out = {"bench": args.bench, "commit": asv_run.head(root), "shards": shards}
    (args.work / PLAN).write_text(json.dumps(out, indent=1) + "\n")
    return out


def submit(args, ex, shards: list[dict]) -> list[dict]:
    """Submit the shards, wait for them; a status per shard (landed, or failed with its log)."""
    jobs = [(s, ex.submit(run_shard, s)) for s in shards]
    if args.scheduler == "slurm":
        print("submitted SLURM jobs " + ", ".join(str(j.job_id) for _, j in jobs) + f"; logs in {args.work / 'jobs'}",
              file=sys.stderr)
    out = []
    for s, job in jobs:
        try:
            res = job.result()
            out.append({**s, "status": "landed", "rc": res["rc"], "log": res["log"]})
        except Exception as exc:  # the scheduler's failure, timeout or the job's own exception
            log = getattr(getattr(job, "paths", None), "stderr", None)
            out.append({**s, "status": "failed", "reason": str(exc).strip().splitlines()[-1][:200] if str(exc) else
                        type(exc).__name__, "log": str(log) if log else str(Path(s["folder"]) / "asv.log")})
    return out


def has_results(shard: dict) -> bool:
    results = Path(shard["folder"]) / "results"
    return results.is_dir() and bool(asv_results.result_files(results))


def run(args) -> int:
    from bench_lib.tracking import fleet_merge

    root = Path.cwd()
    if not (root / "asv.conf.json").exists():
        print("llm-bench fleet: no asv.conf.json here; run it from the project's root", file=sys.stderr)
        return 2
    if args.shards < 1:
        print(f"llm-bench fleet: --shards {args.shards} must be at least 1", file=sys.stderr)
        return 2
    if args.print_sbatch:
        print(sbatch_text(args))
        return 0
    try:
        re.compile(args.bench)
        import submitit  # noqa: F401
    except re.error as exc:
        print(f"llm-bench fleet: --bench {args.bench!r} is not a regular expression ({exc})", file=sys.stderr)
        return 2
    except ImportError:
        print("llm-bench fleet: needs submitit; install the fleet extra (pip install 'llm-bench[fleet]')",
              file=sys.stderr)
        return 2
    if args.resume:
        try:
            the_plan = json.loads((args.work / PLAN).read_text())
        except (OSError, ValueError):
            print(f"llm-bench fleet: --resume needs an earlier run's {args.work / PLAN}; run without --resume",
                  file=sys.stderr)
            return 2
    else:
        try:
            the_plan = plan(args, root)
        except (ValueError, subprocess.CalledProcessError) as exc:
            print(f"llm-bench fleet: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # asv.util.UserError: the suite does not import (asv printed why)
            if type(exc).__name__ != "UserError":
                raise
            print(f"llm-bench fleet: asv discovery failed ({exc}); `asv check --python=same` shows why",
                  file=sys.stderr)
            return 2
    todo = [s for s in the_plan["shards"] if not (args.resume and has_results(s))]
    try:
        ex = executor(args) if todo else None
    except RuntimeError as exc:  # submitit: no srun/sbatch on this machine
        print(f"llm-bench fleet: cannot submit to {args.scheduler} here ({exc}); run it where sbatch works, "
              "or use --scheduler local", file=sys.stderr)
        return 2
    for s in the_plan["shards"]:
        note = "kept" if s not in todo else "submitted"
        print(f"shard {s['index']}: {len(s['benchmarks'])} benchmarks, cost {s['cost']:.1f}"
              f"{' s' if s['measured'] else ' (partly estimated)'}, {note}", file=sys.stderr)
    status = submit(args, ex, todo) if todo else []
    failed = [s for s in status if s["status"] == "failed"]
    for s in status:
        if s["status"] == "failed":
            print(f"shard {s['index']} failed: {s['reason']}; log: {s['log']}", file=sys.stderr)
        elif s["rc"]:  # asv records a failing benchmark as null and goes on
            print(f"shard {s['index']} landed, asv exited {s['rc']} (some benchmarks failed); log: {s['log']}",
                  file=sys.stderr)
    landed = [s for s in the_plan["shards"] if has_results(s)]
    try:
        merged = fleet_merge.merge([Path(s["folder"]) / "results" for s in landed], args.results)
    except fleet_merge.MixedEnvironments as exc:
        print(f"llm-bench fleet: {exc}", file=sys.stderr)
        return 2
    for path in merged:
        print(f"merged: {path}", file=sys.stderr)
    if merged and not args.no_publish:
        rc = fleet_merge.publish(root, args.results)
        if rc:
            return rc
    if failed:
        print(f"{len(failed)} of {len(the_plan['shards'])} shards failed; rerun with --resume to resubmit them",
              file=sys.stderr)
        return 1
    return 0
