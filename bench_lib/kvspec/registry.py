"""Engine name → KV-cache or speculative-decoding backend module, imported only when asked for
(the contract each module meets is in kvspec/protocol.py)."""
from __future__ import annotations

import importlib

KV_BACKENDS = {
    "hf": "bench_lib.kvspec.kvcache_hf",
    "llamacpp": "bench_lib.kvspec.kvcache_llamacpp",
    "vllm": "bench_lib.kvspec.kvcache_vllm",
}
SPEC_BACKENDS = {
    "hf": "bench_lib.kvspec.speculative",
    "llamacpp": "bench_lib.kvspec.speculative_llamacpp",
    "vllm": "bench_lib.kvspec.speculative_vllm",
}


def _backend(table: dict, what: str, engine: str):
    if engine not in table:
        raise NotImplementedError(f"{what} is not wired for engine {engine!r} ({', '.join(table)})")
    return importlib.import_module(table[engine])


def kv_backend(engine: str):
    return _backend(KV_BACKENDS, "the KV-cache benchmark", engine)


def spec_backend(engine: str):
    return _backend(SPEC_BACKENDS, "speculative decoding", engine)
