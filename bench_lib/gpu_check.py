"""`make gpu-check`: one prepared run of every CUDA path of the suite, for a GPU machine lent for
minutes and without network.

The packages such a machine lacks travel as wheels in GPU_WHEELS (default .gpu-wheels/, ignored by
git), downloaded beforehand by `make gpu-wheels` from scripts/gpu-wheels.txt. The run installs the
wheels whose distributions are missing (`--no-index --no-deps`: nothing is fetched, nothing the
machine has is replaced), then runs each stage in its own process under its own time limit, all
within DEADLINE_S, and writes asv results under results/<machine fingerprint>/ with a markdown
summary beside them (gpu-check.md). `--dry-run` runs anywhere: it lists the stages, checks that
the wheel folder holds every wheel of the list, and that tracked tree plus wheels fit the 64 MiB
a lent machine receives.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "scripts" / "gpu-wheels.txt"
BUDGET_BYTES = 64 * 2**20
DEADLINE_S = 9 * 60
MODELS = ("tiny-qwen3", "arch:Qwen/Qwen3-1.7B")
TRAIN_SHAPE = "1x256"
ENV = {"BENCH_DEVICE": "cuda", "BENCH_DTYPE": "bfloat16", "BENCH_PROFILE": "smoke", "HF_HUB_OFFLINE": "1",
       "BENCH_MODELS": ",".join(MODELS), "BENCH_TASKS": "arc", "BENCH_TRAIN_SHAPES": TRAIN_SHAPE,
       "BENCH_ENGINES": "hf"}
# Published training memory on Qwen3-8B (the users' study): GB and ratios; batch and sequence unpublished.
PUBLISHED = {"train_qlora_over_lora": (0.38, "7.6 GB / 20.2 GB"), "train_vera_over_lora": (0.80, "VeRA r=512 / LoRA r=256")}
RATIO_SHAPE = "1x512"


def stages() -> list[dict]:
    """(name, what it runs, time limit s). asv stages write results; the others print and return JSON.

    Sized from the first run on an H200 (2026-12-04, docs/gpu-check-2026-12-04.md): there, each asv
    benchmark process (spawn: a fresh interpreter importing CUDA torch, transformers and
    bitsandbytes, then reading setup_cache's pickle) cost about 14 s, so a whole class of 22 track_
    methods did not fit 100 s, and asv writes a result file only when its run ends: a stage cut
    short keeps nothing. The asv stages therefore run last and track the headline metrics only
    (every other metric is in the same setup_cache and a full `make bench` reports it)."""
    # Two asv runs of the same commit and machine add to one result file; split, a timeout in
    # training cannot cost the inference results.
    infer = "ttft|tpot|tokens_per_s|cuda_max_allocated|energy_per_token|accuracy"
    train = "step_time|tokens_per_s|cuda_max_allocated|energy_per_step|mfu"
    return [
        {"name": "cuda-tests", "limit": 30, "what": "pytest tests/test_device_energy.py (1 GiB in torch and NVML, energy counter)",
         "cmd": [sys.executable, "-m", "pytest", "-q", "-rs", "tests/test_device_energy.py"]},
        {"name": "ratios", "limit": 70, "what": f"arch:Qwen/Qwen3-8B train memory QLoRA-nf4/LoRA r=256 and VeRA r=512/LoRA "
                                               f"r=256 at batch x sequence {RATIO_SHAPE}, beside the published 0.38 and 0.80",
         "cmd": "stage"},
        {"name": "quant-cuda", "limit": 30, "what": "GPTQ and AWQ int4 on tiny-qwen3 (built, or the skip reason)", "cmd": "stage"},
        {"name": "kv-fp8", "limit": 30, "what": "HF fp8 KV cache on CUDA, tiny-qwen3 at context 256", "cmd": "stage"},
        {"name": "asv-infer", "limit": 150, "bench": rf"^bench_inference\.ArcInference\.track_({infer})$", "cmd": "asv",
         "what": f"asv ArcInference: HF bf16 on {', '.join(MODELS)}, batch 1 and 4 ({infer.replace('|', ', ')})"},
        {"name": "asv-train", "limit": 190, "bench": rf"^bench_train\.TrainStep\.track_({train})$", "cmd": "asv",
         "what": f"asv TrainStep: every method at {TRAIN_SHAPE} on both models, QLoRA NF4/FP4/int8 through bitsandbytes "
                 f"({train.replace('|', ', ')})"},
    ]


# --- wheels and size ---------------------------------------------------------------------------

def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def requirements(path: Path = REQUIREMENTS) -> list[tuple[str, str | None]]:
    """(name, pinned version or None) per line; comments and blank lines skipped."""
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            out.append((name.strip(), version.strip() or None))
    return out


def wheel_files(folder: Path) -> dict[str, tuple[str, Path]]:
    """{normalized name: (version, path)} of the wheels in a folder."""
    found = {}
    for p in sorted(folder.glob("*.whl")) if folder.is_dir() else []:
        name, version = p.name.split("-")[:2]
        found[_norm(name)] = (version, p)
    return found


def missing_wheels(folder: Path, reqs: list[tuple[str, str | None]]) -> list[str]:
    have = wheel_files(folder)
    out = []
    for name, version in reqs:
        got = have.get(_norm(name))
        if got is None or (version and got[0] != version):
            out.append(f"{name}=={version}" if version else name)
    return out


def tracked_bytes(root: Path = ROOT) -> int:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout.split(b"\0")
    return sum((root / n.decode()).stat().st_size for n in names if n and (root / n.decode()).is_file())


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT)) + "/"
    except ValueError:
        return str(path)


def dry_run(wheels: Path, strict: bool) -> int:
    print(f"gpu-check plan (deadline {DEADLINE_S // 60} min, environment "
          + " ".join(f"{k}={v}" for k, v in ENV.items()) + ")")
    for i, s in enumerate(stages(), 1):
        print(f"  {i}. {s['name']:<11} <= {s['limit']:>3} s  {s['what']}")
    print(f"  first: the wheels of {_shown(wheels)} whose distributions are missing are installed; last: "
          "results/<fingerprint>/gpu-check.md is written")
    reqs = requirements()
    tree = tracked_bytes()
    rc = 0
    if not wheels.is_dir():
        print(f"wheels: {_shown(wheels)} is absent; prepare it with `make gpu-wheels` ({len(reqs)} wheels of "
              f"{REQUIREMENTS.relative_to(ROOT)})")
        rc = 1 if strict else 0
    else:
        missing = missing_wheels(wheels, reqs)
        if missing:
            print(f"wheels: {len(missing)} of {len(reqs)} missing from {_shown(wheels)}: {', '.join(missing)}; run `make gpu-wheels`")
            rc = 1 if strict else 0
        else:
            print(f"wheels: all {len(reqs)} present in {_shown(wheels)}")
    total = tree + folder_bytes(wheels)
    print(f"size: tracked tree {tree / 2**20:.1f} MiB + wheels {folder_bytes(wheels) / 2**20:.1f} MiB = "
          f"{total / 2**20:.1f} MiB of {BUDGET_BYTES / 2**20:.0f} MiB")
    if total > BUDGET_BYTES:
        print(f"size: over the {BUDGET_BYTES // 2**20} MiB a lent machine receives; drop wheels from "
              f"{REQUIREMENTS.relative_to(ROOT)}")
        rc = 1
    return rc


# --- stages (each in its own process: `python -m bench_lib.gpu_check --stage NAME`) -------------

def _gb(x: float | None) -> str:
    return f"{x / 1e9:.2f} GB" if x else "n/a"


def stage_ratios() -> list[str]:
    from bench_lib.train import cases as cases_train

    out = cases_train.memory_ratio_result(cases_train.RATIO_MODEL, RATIO_SHAPE)
    batch, seq = RATIO_SHAPE.split("x")
    lines = [f"{out['model']}, batch {batch} x sequence {seq}, targets {out['target_modules']}, no gradient "
             "checkpointing (the users did not publish their batch and sequence)"]
    for meth, m in out["runs"].items():
        lines.append(f"  {meth}: CUDA max allocated {_gb(m.get('cuda_max_allocated_bytes'))}, reserved "
                     f"{_gb(m.get('cuda_max_reserved_bytes'))}, NVML process {_gb(m.get('device_memory_bytes'))}")
    for key, (published, what) in PUBLISHED.items():
        got = out["metrics"][f"{key}_allocated"]
        nv = [out["runs"][meth].get("device_memory_bytes") for meth in (key.split("_")[1] + ("-nf4" if "qlora" in key else ""), "lora")]
        nv_ratio = f"{nv[0] / nv[1]:.3f}" if all(nv) else "n/a"
        lines.append(f"  {key}: allocated {got:.3f}, reserved {out['metrics'][f'{key}_reserved']:.3f}, NVML {nv_ratio}; "
                     f"published {published:.2f} ({what})")
    return lines


def stage_quant_cuda() -> list[str]:
    from bench_lib.quant import cases as cases_quant

    lines = []
    for scheme in ("gptq-int4", "awq-int4"):
        try:
            m = cases_quant.scheme_result("tiny-qwen3", scheme, with_tasks=False)["metrics"]
            lines.append(f"  {scheme}: built, {m['quant_bits_per_weight']:.2f} bits/weight, KLD {m['quality_kld_mean']:.4f}")
        except NotImplementedError as exc:
            lines.append(f"  {scheme}: skipped: {exc}")
    return lines


def stage_kv_fp8() -> list[str]:
    from bench_lib.kvspec import cases as cases_kvspec

    try:
        m = cases_kvspec.kv_cache_result("tiny-qwen3", "fp8", 256)["metrics"]
    except NotImplementedError as exc:
        return [f"  fp8 KV cache: skipped: {exc}"]
    return [f"  fp8 KV cache, context 256: {m['kvspec_decode_tokens_per_s']:.1f} decode tokens/s, "
            f"{m['kvspec_cache_bytes'] / 2**20:.2f} MiB cache, greedy agreement {m['kvspec_greedy_agreement']:.3f}"]


STAGE_FUNCTIONS = {"ratios": stage_ratios, "quant-cuda": stage_quant_cuda, "kv-fp8": stage_kv_fp8}


# --- the run -----------------------------------------------------------------------------------

def versions_against_lock(installed: dict[str, str], lock_text: str) -> list[str]:
    """The measured libraries as installed, each beside requirements/gpu.txt's version where they
    differ: a lent machine brings its own torch and transformers, and a result must say so."""
    from bench_lib import environment
    from bench_lib.tracking import upgrade

    locked = upgrade.lock_versions(lock_text)
    parts, differ = [], []
    for name in environment.MEASURED:
        have = installed.get(name)
        if have is None:
            continue
        want = locked.get(name)
        parts.append(f"{name} {have}")
        if want and have.split("+")[0] != want:
            differ.append(f"{name} {have} (lock {want})")
    return [f"libraries: {', '.join(parts)}",
            "differs from requirements/gpu.txt: " + (", ".join(differ) if differ else "nothing measured")]


def install_wheels(wheels: Path) -> str:
    from importlib.metadata import PackageNotFoundError, version

    todo = []
    for name, (_, path) in wheel_files(wheels).items():
        try:
            version(name)
        except PackageNotFoundError:
            todo.append(str(path))
    if not todo:
        return "wheels: every carried distribution is already installed"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", *todo], check=True)
    return f"wheels: installed {len(todo)} ({', '.join(Path(t).name.split('-')[0] for t in todo)})"


def _machine(env: dict) -> str:
    out = subprocess.run([sys.executable, "-m", "bench_lib.cli", "fingerprint", "--asv-machine"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def _command(stage: dict, machine: str) -> list[str]:
    if stage["cmd"] == "asv":
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return [sys.executable, "-m", "asv", "run", "--python=same", "--launch-method", "spawn", "--record-samples",
                "--machine", machine, "--set-commit-hash", commit, "-a", "rounds=1", "-a", "repeat=3",
                "--bench", stage["bench"]]
    if stage["cmd"] == "stage":
        return [sys.executable, "-m", "bench_lib.gpu_check", "--stage", stage["name"]]
    return stage["cmd"]


def run(wheels: Path) -> int:
    started = time.monotonic()
    try:
        import torch
    except ImportError:
        print("gpu-check: torch is not installed; this check needs a CUDA build of torch")
        return 1
    if not torch.cuda.is_available():
        print("gpu-check: no CUDA device visible (torch.cuda.is_available() is False); run it on a GPU machine, "
              "or use --dry-run")
        return 1
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    report = [f"# gpu-check on {torch.cuda.get_device_name(0)}, commit {commit}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
              "", install_wheels(wheels)]
    from bench_lib import environment

    report += versions_against_lock(environment.installed(), (ROOT / "requirements" / "gpu.txt").read_text())
    report.append(f"CUDA {torch.version.cuda}, {torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")
    # asv drops PYTHONPATH from its benchmark processes and reads ASV_PYTHONPATH instead
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT), "ASV_PYTHONPATH": str(ROOT)}
    machine = _machine(env)
    report.append(f"asv machine: {machine}")
    path = ROOT / "results" / machine / "gpu-check.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    rc = 0
    for stage in stages():
        left = DEADLINE_S - (time.monotonic() - started)
        limit = min(stage["limit"], max(left, 0))
        if limit < 5:
            report.append(f"## {stage['name']}: not run, the {DEADLINE_S // 60}-minute deadline is spent")
            rc = 1
            continue
        t0 = time.monotonic()
        try:
            p = subprocess.run(_command(stage, machine), cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit)
            status, text = ("ok" if p.returncode == 0 else f"exit {p.returncode}"), p.stdout + p.stderr
        except subprocess.TimeoutExpired as exc:
            status, text = f"timed out after {limit:.0f} s", (exc.stdout or b"").decode(errors="replace")
        rc = rc or int(status != "ok")
        lines = text.strip().splitlines()
        if stage["cmd"] == "asv":  # its tables are in the summary below; keep what went wrong
            lines = [ln for ln in lines if re.search(r"failed|Error|Traceback|skipped", ln)] or ["every benchmark ok"]
        tail = "\n".join(lines[-25:])
        report += ["", f"## {stage['name']}: {status} in {time.monotonic() - t0:.0f} s", "", "```", tail, "```"]
        print(f"{stage['name']}: {status}", flush=True)
        path.write_text("\n".join(report) + "\n")  # kept as it grows: a run cut short keeps its stages
    for bench in ("ArcInference", r"TrainStep\."):
        table = subprocess.run([sys.executable, "-m", "bench_lib.cli", "table", bench, "--machine", machine],
                               cwd=ROOT, env=env, capture_output=True, text=True)
        report += ["", f"## asv results: {bench.rstrip(chr(92) + '.')}", "", (table.stdout or table.stderr).strip()]
    path.write_text("\n".join(report) + "\n")
    print("\n".join(report))
    print(f"summary: {path} ({time.monotonic() - started:.0f} s)")
    return rc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheels", type=Path, default=ROOT / os.environ.get("GPU_WHEELS", ".gpu-wheels"),
                        help="folder of carried wheels (default .gpu-wheels)")
    parser.add_argument("--dry-run", action="store_true", help="list the stages, check wheels and size; needs no GPU")
    parser.add_argument("--strict-wheels", action="store_true", help="with --dry-run: fail when a wheel is missing")
    parser.add_argument("--stage", choices=sorted(STAGE_FUNCTIONS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        print("\n".join(STAGE_FUNCTIONS[args.stage]()))
        return 0
    if args.dry_run:
        return dry_run(args.wheels, args.strict_wheels)
    return run(args.wheels)


if __name__ == "__main__":
    sys.exit(main())
