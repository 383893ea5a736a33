"""llama.cpp engine through llama-cpp-python's `Llama`, on a GGUF exported from the same weights.

The model and context are llama-cpp-python's `Llama`; decoding runs on its C bindings
(llama_decode one token at a time, llama.cpp's greedy sampler), as llama.cpp's own tools do,
not through `Llama.generate`, whose Python-side sampling and bookkeeping cost about 4% of a
decode step of the embedded tiny model (measured against the bare loop in engines/overhead.py).

llama-cpp-python's high-level API runs one sequence at a time, so a batch of N prompts is N
requests served one after another: every request's timestamps count from the start of the
batch call (as if all N were submitted together), and `engine_report` keeps each request's own
service time. Greedy decoding is explicit (llama.cpp's greedy sampler here; GREEDY below for the
callers that use `Llama.generate`: llama.cpp's own defaults sample), and the KV cache is cleared
before every request so a repeated prompt is prefilled again, as the HF engine does.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from bench_lib.engines.base import EngineUnavailable, Generation, RequestTiming
from bench_lib.measure.timing import Clock
from bench_lib.models import ModelSpec

# Sampling settings passed on every call; greedy means the argmax token, nothing else.
GREEDY = dict(temp=0.0, top_k=1, top_p=1.0, min_p=0.0, typical_p=1.0, repeat_penalty=1.0,
              frequency_penalty=0.0, presence_penalty=0.0)
_DTYPE_TO_GGUF = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}
# llama.cpp's llama_split_mode (LLAMA_SPLIT_MODE_NONE/LAYER/ROW): how offloaded weights spread over
# several GPUs: none (main_gpu holds all), layer (whole layers per GPU), row (each matrix split by rows).
SPLIT_MODES = {"none": 0, "layer": 1, "row": 2}


def split_options(device: str, split_mode: str | None, tensor_split: Sequence[float] | None) -> dict:
    """Llama() keyword arguments for a split over GPUs; the reason where it cannot run here."""
    if split_mode is None and tensor_split is None:
        return {}
    if split_mode is not None and split_mode not in SPLIT_MODES:
        raise ValueError(f"llama.cpp split_mode {split_mode!r}; use one of {', '.join(SPLIT_MODES)}")
    if tensor_split is not None and (not tensor_split or any(float(x) < 0 for x in tensor_split)):
        raise ValueError(f"llama.cpp tensor_split {list(tensor_split)!r}: give one non-negative share per GPU")
    if not device.startswith("cuda"):
        raise EngineUnavailable(f"llama.cpp split_mode/tensor_split spread offloaded layers over GPUs; "
                                f"this run's device is {device} (nothing is offloaded)")
    import torch

    if tensor_split is not None and len(tensor_split) > torch.cuda.device_count():
        raise EngineUnavailable(f"tensor_split has {len(tensor_split)} shares, this machine has "
                                f"{torch.cuda.device_count()} GPUs")
    out = {"split_mode": SPLIT_MODES[split_mode or "layer"]}
    if tensor_split is not None:
        out["tensor_split"] = [float(x) for x in tensor_split]
    return out


def _import_llama_cpp():
    try:
        import llama_cpp
    except ImportError as exc:
        raise EngineUnavailable(f"llama-cpp-python is not installed ({exc}); run scripts/install_llamacpp.sh") from exc
    return llama_cpp


def check_decode(rc: int, where: str = "") -> None:
    if rc != 0:
        raise RuntimeError(f"llama_decode returned {rc} (1: no KV-cache slot for the batch, <0: error){where}")


class LlamaCppEngine:
    name = "llamacpp"
    torch_allocator = False    # llama.cpp's CUDA buffers are its own; only NVML sees them
    sequential = True          # a batch is N requests one after another (see the module docstring)

    def __init__(self, llm, device: str, gguf_path: Path, stop_ids: set[int] | None = None):
        self.llm, self.device, self.gguf_path = llm, device, gguf_path
        self.clock = Clock(self.synchronize)
        self._llama_cpp = _import_llama_cpp()
        self._vocab = self._llama_cpp.llama_model_get_vocab(llm.model)
        self._sampler = self._llama_cpp.llama_sampler_init_greedy()
        self.stop_ids = stop_ids

    def synchronize(self) -> None:
        # llama_decode returns after the backend has computed the logits, on CPU and CUDA alike.
        pass

    def is_eog(self, token: int) -> bool:
        if self.stop_ids is not None:
            return token in self.stop_ids
        return bool(self._llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def _perf(self) -> dict:
        data = self._llama_cpp.llama_perf_context(self.llm.ctx)
        return {"prompt_eval_ms": data.t_p_eval_ms, "prompt_tokens": data.n_p_eval,
                "eval_ms": data.t_eval_ms, "eval_tokens": data.n_eval}

    def _decode(self, tokens: Sequence[int]) -> None:
        """llama_decode in chunks of n_batch (a longer batch is refused), as Llama.eval does."""
        lc, n_batch = self._llama_cpp, self.llm.n_batch
        for i in range(0, len(tokens), n_batch):
            chunk = tokens[i:i + n_batch]
            arr = (lc.llama_token * len(chunk))(*chunk)  # named: the batch only points at it
            check_decode(lc.llama_decode(self.llm.ctx, lc.llama_batch_get_one(arr, len(chunk))),
                         f" at token {i} of {len(tokens)}")

    def _one(self, prompt: Sequence[int], max_new_tokens: int, start: float, ignore_eos: bool):
        """Generate for one prompt; timestamps relative to `start`."""
        lc, ctx = self._llama_cpp, self.llm.ctx
        lc.llama_memory_clear(lc.llama_get_memory(ctx), True)  # no prefix reuse from the previous request
        self.llm.reset()  # the wrapper's own token count must agree with the cleared cache
        lc.llama_perf_context_reset(ctx)
        began = self.clock.now() - start
        self._decode(list(prompt))
        ids, times = [], []
        while True:
            token = lc.llama_sampler_sample(self._sampler, ctx, -1)
            ids.append(token)
            times.append(self.clock.now() - start)
            if len(ids) >= max_new_tokens or (not ignore_eos and self.is_eog(token)):
                break
            self._decode([token])
        lc.llama_memory_clear(lc.llama_get_memory(ctx), True)
        return ids, RequestTiming(times[0], times[-1], len(ids)), began, self._perf()

    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int, ignore_eos: bool = False) -> Generation:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        too_long = [len(p) + max_new_tokens for p in prompts if len(p) + max_new_tokens > self.llm.n_ctx()]
        if too_long:
            raise ValueError(f"prompt + max_new_tokens = {max(too_long)} exceeds the llama.cpp context "
                             f"n_ctx={self.llm.n_ctx()}; load the engine with a larger n_ctx")
        start = self.clock.now()
        token_ids, timings, service, perfs = [], [], [], []
        for prompt in prompts:
            ids, timing, began, perf = self._one(prompt, max_new_tokens, start, ignore_eos)
            token_ids.append(ids)
            timings.append(timing)
            service.append(timing.finish_s - began)
            perfs.append(perf)
        wall = self.clock.now() - start
        report = {key: sum(p[key] for p in perfs) for key in perfs[0]} if perfs else {}
        report.update(batch_semantics="sequential", request_service_s=service)
        return Generation(token_ids, timings, wall, report)

    def close(self) -> None:
        if self._sampler is not None:
            self._llama_cpp.llama_sampler_free(self._sampler)
            self._sampler = None
        if self.llm is not None:
            self.llm.close()
        self.llm = None


def _stop_ids(spec: ModelSpec) -> set[int] | None:
    """Every engine's stop ids (ModelSpec.stop_token_ids), so llama.cpp stops where HF does; its own
    end-of-generation set also contains tokens such as <|endoftext|> that HF would generate through.
    None (llama.cpp's set) for a model without weight files: its GGUF was not made from a config of ours."""
    if not spec.has_weight_files:
        return None
    from bench_lib.models import load_tokenizer

    return set(spec.stop_token_ids(load_tokenizer(spec)))


def _threads(n_threads: int | None) -> int:
    """BENCH_THREADS, else as many threads as torch uses: both engines then get the same cores
    (llama-cpp-python's own default is half the logical CPUs)."""
    if n_threads is not None:
        return n_threads
    from bench_lib import config

    env = config.threads()
    if env is not None:
        return env
    import torch

    return torch.get_num_threads()


def load(spec: ModelSpec, device: str, dtype: str, gguf_path: str | Path | None = None, n_ctx: int = 2048,
         n_threads: int | None = None, n_gpu_layers: int | None = None, type_k: int | None = None,
         type_v: int | None = None, flash_attn: bool | None = None, draft_model=None, logits_all: bool = False,
         split_mode: str | None = None, tensor_split: Sequence[float] | None = None, **kw) -> LlamaCppEngine:
    """A llama.cpp engine for `spec`. Without `gguf_path` the model is exported (cached) to a GGUF
    of `dtype`. On CUDA every layer is offloaded unless `n_gpu_layers` says otherwise; that needs a
    llama-cpp-python built with -DGGML_CUDA=on. `split_mode` (none/layer/row) and `tensor_split`
    (a share per GPU, as llama.cpp's --tensor-split) spread the offloaded weights over GPUs."""
    split = split_options(device, split_mode, tensor_split)
    llama_cpp = _import_llama_cpp()
    if gguf_path is None:
        from bench_lib.gguf_export import cached_gguf

        spec.require_weight_files("the llama.cpp engine (a GGUF export)", EngineUnavailable)
        gguf_path = cached_gguf(spec, _DTYPE_TO_GGUF[dtype])
    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"GGUF file {gguf_path} does not exist; export one with "
                                "bench_lib.gguf_export.cached_gguf(spec) or give an existing path")
    if device.startswith("cuda"):
        if not llama_cpp.llama_supports_gpu_offload():
            raise EngineUnavailable("this llama-cpp-python build has no GPU offload; rebuild it with "
                                    "CMAKE_ARGS=-DGGML_CUDA=on scripts/install_llamacpp.sh (and an empty wheel cache)")
        layers = -1 if n_gpu_layers is None else n_gpu_layers
    else:
        layers = 0 if n_gpu_layers is None else n_gpu_layers
    options = dict(n_ctx=n_ctx, n_gpu_layers=layers, logits_all=logits_all, verbose=False, seed=0)
    threads = _threads(n_threads)
    options.update(n_threads=threads, n_threads_batch=threads)
    for key, value in (("type_k", type_k), ("type_v", type_v), ("flash_attn", flash_attn),
                       ("draft_model", draft_model)):
        if value is not None:
            options[key] = value
    options.update(split)
    options.update(kw)
    try:
        llm = llama_cpp.Llama(model_path=str(gguf_path), **options)
    except ValueError as exc:  # llama-cpp-python reports a file llama.cpp cannot load as ValueError
        raise ValueError(f"llama.cpp could not load {gguf_path} ({exc}); the file may be truncated or not a "
                         "GGUF: delete it and export again") from exc
    return LlamaCppEngine(llm, device, gguf_path, _stop_ids(spec))
