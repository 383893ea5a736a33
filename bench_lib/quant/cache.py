"""Disk cache of quantized models: built once per configuration, reused by every benchmark.

An entry lives in cache_dir()/quant/<model>-<scheme>-<key>/, where the key hashes the model's
weight files (name and content: a retrained model gets new entries, a fresh clone or copy of the
same files keeps them; see _model_identity), the scheme and its variant,
the versions of the scheme's libraries, torch and transformers, device, dtype and the calibration
text. It holds the artifact (a pickled model, a state dict or a GGUF file) and manifest.json with
the artifact's size and sha256 and what the build measured (seconds, peak memory), so a cache hit
still reports the build's real cost. The measurements are only reused on the machine that made
them; elsewhere the entry is rebuilt. A damaged artifact raises ArtifactError, and get_or_build
then rebuilds it once.
"""
from __future__ import annotations

import functools
import hashlib
import json
import platform
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from bench_lib.artifact_check import sha256_file
from bench_lib.measure.memory import PeakMemory, current_rss_bytes
from bench_lib.measure.timing import Clock, Stopwatch, device_sync
from bench_lib.quant.base import ArtifactError, Context, Quantized

CACHE_VERSION = "1"
MANIFEST = "manifest.json"


@dataclass
class BuildRecord:
    quantize_s: float
    peak_rss_bytes: int               # process peak while building
    peak_rss_delta_bytes: int         # that peak minus the resident size before the build
    cuda_max_allocated_bytes: int | None
    host: str
    from_cache: bool = False


# Files up to this size are identified by their sha256; larger ones (a hub model's shards) by the
# blob name the hub cache gives them, which is their hash, else by size and modification time.
CONTENT_HASH_LIMIT = 256 << 20


@functools.lru_cache(maxsize=256)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """Each file hashed once per process while unchanged (size and mtime are part of the key)."""
    return sha256_file(Path(path))


def _file_identity(f: Path) -> tuple:
    real = f.resolve()
    if real != f.absolute() and real.parent.name == "blobs":  # the hub cache: snapshots/x -> blobs/<hash>
        return (f.name, real.name)
    st = real.stat()
    if st.st_size <= CONTENT_HASH_LIMIT:
        return (f.name, st.st_size, _sha256(str(real), st.st_size, st.st_mtime_ns))
    return (f.name, st.st_size, st.st_mtime_ns)


def _model_identity(spec) -> list:
    """The model's files by content, so that the same weights in a fresh clone, another folder or
    after a checkout that touched them find the same cache entries, and changed weights never do."""
    path = Path(spec.location)
    if not spec.has_weight_files or not path.is_dir():
        return [spec.name]
    return [_file_identity(f) for f in sorted(path.iterdir()) if f.is_file()]


def entry_key(spec, scheme: str, variant: str, lib_versions: dict, ctx: Context) -> str:
    import numpy as np
    import torch
    import transformers

    parts = [CACHE_VERSION, _model_identity(spec), scheme, variant, sorted(lib_versions.items()), torch.__version__,
             transformers.__version__, ctx.device, ctx.dtype, ctx.train_steps,
             hashlib.sha256(np.ascontiguousarray(ctx.calibration).tobytes()).hexdigest()]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def entry_dir(spec, scheme: str, key: str) -> Path:
    from bench_lib import config

    safe = spec.name.strip("/").replace("/", "--").replace(":", "-")[-60:]
    return config.cache_dir() / "quant" / f"{safe}-{scheme}-{key}"


def build(spec, scheme: str, module, variant: str, ctx: Context) -> tuple[Quantized, BuildRecord]:
    """Quantize, timing it and taking its memory peak; model loading counts as part of the build."""
    import gc

    gc.collect()
    before = current_rss_bytes()
    with PeakMemory(ctx.device) as mem, Stopwatch(Clock(device_sync(ctx.device))) as sw:
        q = module.quantize(spec, variant, ctx)
    peaks = mem.result
    return q, BuildRecord(sw.seconds, peaks.peak_rss_bytes, max(peaks.peak_rss_bytes - before, 0),
                          peaks.cuda_max_allocated_bytes, platform.node())


def save(entry: Path, q: Quantized, module, record: BuildRecord) -> None:
    import torch

    tmp = entry.with_name(entry.name + ".tmp")
    if q.engine == "hf":
        tmp.mkdir(parents=True, exist_ok=True)
        artifact = tmp / "model.pt"
        (module.save if hasattr(module, "save") else torch.save)(q.model, artifact)
    else:  # the scheme wrote its file into ctx.workdir, which is tmp
        artifact = Path(q.path)
    manifest = {"scheme": q.scheme, "engine": q.engine, "weight_bytes": q.weight_bytes, "info": q.info,
                "artifact": artifact.name, "size": artifact.stat().st_size, "sha256": sha256_file(artifact),
                "build": asdict(record)}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
    shutil.rmtree(entry, ignore_errors=True)
    tmp.rename(entry)  # a half-written entry never looks complete


def load(entry: Path, spec, module, ctx: Context) -> tuple[Quantized, BuildRecord]:
    """The cached model and its build record; ArtifactError naming the file when it is damaged."""
    import torch

    try:
        manifest = json.loads((entry / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{entry / MANIFEST} is unreadable ({exc}); delete {entry} to rebuild it") from exc
    artifact = entry / manifest["artifact"]
    if not artifact.is_file() or artifact.stat().st_size != manifest["size"] or sha256_file(artifact) != manifest["sha256"]:
        have = artifact.stat().st_size if artifact.is_file() else "no file"
        raise ArtifactError(f"{artifact} is corrupt or truncated (expected {manifest['size']} bytes with sha256 "
                            f"{manifest['sha256'][:12]}…, found {have}); delete {entry} to rebuild it")
    record = BuildRecord(**(manifest["build"] | {"from_cache": True}))
    if manifest["engine"] == "llamacpp":
        from bench_lib.quant.gguf import tensor_bytes

        tensor_bytes(artifact)  # validates the file before llama.cpp ever sees it
        return Quantized(manifest["scheme"], "llamacpp", manifest["weight_bytes"], path=artifact,
                         info=manifest["info"]), record
    try:
        model = (module.load(artifact, spec, ctx) if hasattr(module, "load")
                 else torch.load(artifact, weights_only=False, map_location=ctx.device))
    except Exception as exc:  # unpickling a damaged or incompatible file raises many types
        raise ArtifactError(f"{artifact} could not be loaded ({type(exc).__name__}: {exc}); "
                            f"delete {entry} to rebuild it") from exc
    return Quantized(manifest["scheme"], "hf", manifest["weight_bytes"], model=model.eval(),
                     info=manifest["info"]), record


def get_or_build(spec, scheme: str, ctx: Context, rebuild: bool = False) -> tuple[Quantized, BuildRecord]:
    from bench_lib.quant.registry import scheme_module

    module, variant = scheme_module(scheme)
    entry = entry_dir(spec, scheme, entry_key(spec, scheme, variant, module.versions(), ctx))
    if (entry / MANIFEST).exists() and not rebuild:
        try:
            q, record = load(entry, spec, module, ctx)
            if record.host == platform.node():
                return _runtime(q, module), record
        except ArtifactError as exc:
            print(f"llm-bench: rebuilding {scheme} for {spec.name}: {exc}", file=sys.stderr)
    tmp = entry.with_name(entry.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        q, record = build(spec, scheme, module, variant, Context(**{**vars(ctx), "workdir": tmp}))
        save(entry, q, module, record)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a failed build leaves no half-written entry behind
        raise
    if q.engine == "llamacpp":
        q.path = entry / Path(q.path).name
    return _runtime(q, module), record


def _runtime(q: Quantized, module) -> Quantized:
    if q.model is not None and hasattr(module, "runtime"):
        q.model = module.runtime(q.model)
    return q
