"""GPTQ and AWQ, 4-bit weights, group size 128, through maintained libraries.

GPTQ: transformers' GPTQConfig, which runs the GPTQ solver of the `gptqmodel` package (through
optimum) while loading. AWQ: AutoAWQ's `quantize`, then the saved checkpoint is loaded by
transformers. Both solvers and their kernels need CUDA, so on a CPU the scheme skips with that
reason. Not installed here on purpose: `pip install gptqmodel` would replace the environment's
numpy and build CUDA kernels; on a GPU machine install `gptqmodel` (GPTQ) and `autoawq` (AWQ) with
`-c .venv/constraints.txt`. Calibration uses the same train-split windows as the other schemes.
"""
from __future__ import annotations

import importlib.util

from bench_lib.models import load_model, load_tokenizer
from bench_lib.quant.base import Quantized, SchemeUnavailable, tensor_bytes

BITS, GROUP_SIZE = 4, 128
PACKAGES = {"gptq": "gptqmodel", "awq": "awq"}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("gptqmodel", "autoawq", "optimum"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "absent"
    return out


def _require(variant: str, ctx, spec) -> None:
    if not ctx.device.startswith("cuda"):
        raise SchemeUnavailable(f"{variant.upper()} quantization needs a CUDA device (its solver and kernels are "
                                f"CUDA-only); this run is on {ctx.device}")
    if importlib.util.find_spec(PACKAGES[variant]) is None:
        raise SchemeUnavailable(f"{variant.upper()} needs the {PACKAGES[variant]!r} package: "
                                f"pip install -c .venv/constraints.txt {'gptqmodel' if variant == 'gptq' else 'autoawq'}")
    spec.require_weight_files(f"{variant.upper()} (it calibrates saved weights)", SchemeUnavailable)


def _calibration_texts(spec, windows) -> list[str]:
    tok = load_tokenizer(spec)
    return [tok.decode(list(w)) for w in windows]


def _gptq(spec, ctx):
    from transformers import GPTQConfig

    config = GPTQConfig(bits=BITS, group_size=GROUP_SIZE, dataset=_calibration_texts(spec, ctx.calibration),
                        tokenizer=load_tokenizer(spec))
    return load_model(spec, ctx.device, ctx.dtype, quantization_config=config)


def _awq(spec, ctx):
    import tempfile

    from awq import AutoAWQForCausalLM

    model = AutoAWQForCausalLM.from_pretrained(spec.location)
    model.quantize(load_tokenizer(spec), quant_config={"zero_point": True, "q_group_size": GROUP_SIZE,
                                                       "w_bit": BITS, "version": "GEMM"},
                   calib_data=_calibration_texts(spec, ctx.calibration))
    out = tempfile.mkdtemp(prefix="awq-")
    model.save_quantized(out)
    load_tokenizer(spec).save_pretrained(out)
    from bench_lib.models import get_spec

    return load_model(get_spec(out), ctx.device, ctx.dtype)


def quantize(spec, variant: str, ctx) -> Quantized:
    _require(variant, ctx, spec)
    model = _gptq(spec, ctx) if variant == "gptq" else _awq(spec, ctx)
    return Quantized(f"{variant}-int4", "hf", tensor_bytes(model), model=model,
                     info={"bits": BITS, "group_size": GROUP_SIZE} | versions())
