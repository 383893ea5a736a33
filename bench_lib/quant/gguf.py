"""GGUF k-quants and legacy quants through llama.cpp's own quantizer.

The F32 (CPU) or F16 (CUDA) GGUF of the model comes from bench_lib.gguf_export.cached_gguf; each
type is made from it by `llama_cpp.llama_model_quantize`, exactly what `llama-quantize` does,
and runs on the llama.cpp engine. Every file is checked with the gguf package's reader before
llama.cpp opens it, so a corrupt or truncated file is a clear error rather than a crash.
"""
from __future__ import annotations

import ctypes
from pathlib import Path

from bench_lib.quant.base import ArtifactError, Quantized, SchemeUnavailable

def _llama_cpp():
    try:
        import llama_cpp
    except ImportError as exc:
        raise SchemeUnavailable(f"GGUF schemes need llama-cpp-python ({exc}); run scripts/install_llamacpp.sh") from exc
    return llama_cpp


def versions() -> dict:
    import gguf

    from bench_lib import gguf_export

    return {"llama_cpp": _llama_cpp().__version__, "gguf": getattr(gguf, "__version__", "?"),
            "gguf_export": gguf_export.EXPORTER_VERSION}


def tensor_bytes(path: Path) -> int:
    """Bytes of the file's tensor data; ArtifactError when the file is not a whole GGUF."""
    import gguf

    path = Path(path)
    try:
        reader = gguf.GGUFReader(str(path))
        tensors = list(reader.tensors)
        end = max((int(t.data_offset) + int(t.n_bytes) for t in tensors), default=0)
    except Exception as exc:  # the reader raises ValueError, IndexError, struct errors... on damaged files
        raise ArtifactError(f"{path} is not a readable GGUF file ({type(exc).__name__}: {exc}); it is corrupt or "
                            "truncated: delete it and build it again") from exc
    if not tensors or end > path.stat().st_size:
        raise ArtifactError(f"{path} is truncated: its tensors need {end} bytes, the file has {path.stat().st_size}; "
                            "delete it and build it again")
    return sum(int(t.n_bytes) for t in tensors)


def quantize_file(src: Path, dst: Path, type_name: str) -> None:
    """llama.cpp's quantizer on a source checked first; a failed run leaves no partial `dst`."""
    llama_cpp = _llama_cpp()
    tensor_bytes(src)  # llama.cpp's own reader only says "returned 1" on a damaged source
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{type_name}")
    try:
        rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
        if rc != 0:
            raise RuntimeError(f"llama_model_quantize({src.name} -> {type_name}) returned {rc}")
        tensor_bytes(dst)
    except BaseException:
        Path(dst).unlink(missing_ok=True)
        raise


def quantize(spec, variant: str, ctx) -> Quantized:
    from bench_lib.gguf_export import cached_gguf

    _llama_cpp()
    spec.require_weight_files("a GGUF export", SchemeUnavailable)
    src = cached_gguf(spec, "f16" if ctx.device.startswith("cuda") else "f32")
    dst = Path(ctx.workdir) / f"model-{variant}.gguf"
    quantize_file(src, dst, variant)
    return Quantized(f"gguf-{variant.lower()}", "llamacpp", tensor_bytes(dst), path=dst,
                     info={"type": variant, "source": src.name} | versions())
