"""Serving under load: a client for any OpenAI-compatible endpoint and its metrics.

Definitions follow vLLM's serving benchmark (vllm/benchmarks/serve.py and
lib/endpoint_request_func.py), so numbers compare with what users get from `vllm bench serve`:
- a request's clock starts just before it is sent; TTFT is the arrival of the first chunk that
  carries a choice; every later such chunk adds one inter-token latency (ITL); end-to-end
  latency (E2EL) is the arrival of the last such chunk (the trailing usage chunk does not count);
- output tokens come from the server's `usage.completion_tokens` when it streams one, else from
  re-tokenizing the generated text with the model's tokenizer (vLLM's fallback);
- TPOT per request is (E2EL - TTFT) / (output tokens - 1), only for requests with > 1 token;
  goodput counts requests within every given limit, treating TPOT as 0 for one-token outputs;
- throughputs divide by the benchmark duration: from just before the first request is sent
  until the last one has finished;
- arrivals: gamma-distributed gaps with shape `burstiness` (1 = Poisson) at `request_rate`,
  rescaled so the n-th request is due at n / rate; rate inf sends everything at once;
  `max_concurrency` caps requests in flight.
Deviations: requests run on threads with the standard library's http.client (no aiohttp here);
a request also fails when it exceeds `request_timeout_s`, and requests not yet sent when
`run_timeout_s` is spent are recorded as failed rather than sent.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import math
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

ENDPOINTS = {"completions": "/v1/completions", "chat": "/v1/chat/completions"}
PERCENTILES = (50, 90, 99)
DONE = object()


@dataclass(frozen=True)
class ServeRequest:
    prompt: Any             # text or token ids (completions), or a list of messages (chat)
    prompt_len: int         # prompt tokens by our tokenizer; replaced by the server's count if it reports one
    max_tokens: int
    min_tokens: int = 0     # = max_tokens for a fixed output length (EOS suppressed until then)


@dataclass
class RequestOutput:
    success: bool = False
    error: str = ""
    start_time: float = 0.0
    ttft: float = 0.0
    latency: float = 0.0
    itl: list[float] = field(default_factory=list)
    output_tokens: int = 0  # 0 until the server reports usage or the text is re-tokenized
    prompt_len: int = 0
    text: str = ""
    token_ids: list[int] = field(default_factory=list)


@dataclass
class LoadRun:
    outputs: list[RequestOutput]
    duration_s: float
    settings: dict


class EndpointError(RuntimeError):
    """The endpoint cannot be used at all (wrong URL, not OpenAI-compatible); names the URL."""


def sampling_settings(max_tokens: int, min_tokens: int = 0) -> dict:
    """Greedy and unpenalized on every request: servers differ in their defaults (llama.cpp's
    server applies repeat_penalty 1.1 unless told otherwise), and defaults would make the engines
    generate different texts of different lengths."""
    return {"temperature": 0.0, "top_p": 1.0, "top_k": 1, "max_tokens": max_tokens, "min_tokens": min_tokens,
            "repeat_penalty": 1.0, "repetition_penalty": 1.0, "presence_penalty": 0.0,
            "frequency_penalty": 0.0, "seed": 0}


def build_payload(endpoint: str, model: str, req: ServeRequest, extra: dict | None = None) -> dict:
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; use one of {', '.join(ENDPOINTS)}")
    body = {"model": model, "stream": True, "stream_options": {"include_usage": True},
            **sampling_settings(req.max_tokens, req.min_tokens)}
    body["messages" if endpoint == "chat" else "prompt"] = req.prompt
    body.update(extra or {})
    return body


def _chunk_text(endpoint: str, choice: dict) -> str:
    if endpoint == "chat":
        return (choice.get("delta") or {}).get("content") or ""
    return choice.get("text") or ""


def _read_events(response, deadline: float):
    """Yield each SSE `data:` payload as it arrives, and DONE for the [DONE] marker."""
    while True:
        if time.perf_counter() > deadline:
            raise TimeoutError("request exceeded its time limit while streaming")
        line = response.readline()
        if not line:
            return
        line = line.strip()
        if not line or line.startswith(b":"):  # blank separators and SSE comments (pings)
            continue
        if line.startswith(b"data:"):
            data = line[5:].strip()
            if data == b"[DONE]":
                yield DONE
                return
            yield data


def send_request(base_url: str, endpoint: str, payload: dict, request_timeout_s: float) -> RequestOutput:
    """One streaming request; never raises: a failure is recorded in the output."""
    out = RequestOutput()
    url = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=request_timeout_s)
    body = json.dumps(payload).encode()
    out.start_time = st = time.perf_counter()
    recent = st
    first = finished = False
    try:
        conn.request("POST", url.path.rstrip("/") + ENDPOINTS[endpoint], body=body,
                     headers={"Content-Type": "application/json", "Accept": "text/event-stream"})
        resp = conn.getresponse()
        if resp.status != 200:
            detail = resp.read(500).decode(errors="replace")
            out.error = f"HTTP {resp.status} {resp.reason}: {detail}"
            return out
        for data in _read_events(resp, st + request_timeout_s):
            if data is DONE:
                finished = True
                break
            msg = json.loads(data)
            if msg.get("error"):
                raise RuntimeError(f"server reported an error mid-stream: {msg['error']}")
            choices = msg.get("choices")
            if choices:
                now = time.perf_counter()
                if first:
                    out.itl.append(now - recent)
                else:
                    first, out.ttft = True, now - st
                recent = now
                out.text += _chunk_text(endpoint, choices[0])
                out.token_ids.extend(choices[0].get("token_ids") or [])
                finished = finished or bool(choices[0].get("finish_reason"))
            elif msg.get("usage"):
                out.output_tokens = msg["usage"].get("completion_tokens") or 0
                out.prompt_len = msg["usage"].get("prompt_tokens") or 0
        # A stream cut off before [DONE] or a finish_reason (server died, connection reset) is a
        # failure: its partial timings would flatter the server.
        out.success = first and finished
        out.latency = recent - st
        if finished:  # let the server finish its response instead of resetting the connection
            with contextlib.suppress(Exception):
                resp.read()
        if not first:
            out.error = "the stream ended without a single token chunk"
        elif not finished:
            out.error = f"the stream broke off after {len(out.itl) + 1} chunks, without [DONE] or a finish_reason"
    except Exception as exc:  # recorded per request; the run goes on
        out.error = f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
    return out


def arrival_offsets(n: int, request_rate: float, burstiness: float = 1.0, seed: int = 0) -> list[float]:
    """Send time of each request, seconds after the start (vLLM's schedule, own random stream)."""
    if n <= 0:
        return []
    if not request_rate > 0:
        raise ValueError(f"request_rate must be > 0 (or inf), got {request_rate}")
    if not burstiness > 0:
        raise ValueError(f"burstiness must be > 0, got {burstiness}")
    if math.isinf(request_rate):
        return [0.0] * n
    rng = np.random.default_rng(seed)
    gaps = rng.gamma(shape=burstiness, scale=1.0 / (request_rate * burstiness), size=n)
    offsets = np.cumsum(gaps)
    # Rescale so the whole schedule spans n / rate: throughputs then do not depend on the seed.
    return list(offsets * (n / request_rate) / offsets[-1])


def run_load(base_url: str, endpoint: str, model: str, requests: Sequence[ServeRequest], *,
             request_rate: float = math.inf, burstiness: float = 1.0, max_concurrency: int | None = None,
             seed: int = 0, request_timeout_s: float = 120.0, run_timeout_s: float = 600.0,
             extra_body: dict | None = None) -> LoadRun:
    """Send `requests` on the arrival schedule; bounded by count, per-request and whole-run time."""
    if max_concurrency is not None and max_concurrency < 1:
        raise ValueError(f"max_concurrency must be >= 1 or None, got {max_concurrency}")
    offsets = arrival_offsets(len(requests), request_rate, burstiness, seed)
    outputs = [RequestOutput(prompt_len=r.prompt_len) for r in requests]
    slots = threading.BoundedSemaphore(max_concurrency) if max_concurrency else None
    threads = []

    def worker(i: int) -> None:
        try:
            payload = build_payload(endpoint, model, requests[i], extra_body)
            # Never past the run's end: a silent server cannot hold the run beyond its limit.
            limit = min(request_timeout_s, max(run_end - time.perf_counter(), 0.001))
            result = send_request(base_url, endpoint, payload, limit)
            result.prompt_len = result.prompt_len or requests[i].prompt_len
            outputs[i] = result
        finally:
            if slots:
                slots.release()

    start = time.perf_counter()
    run_end = start + run_timeout_s
    for i, offset in enumerate(offsets):
        wait = start + offset - time.perf_counter()
        if wait > 0:
            time.sleep(min(wait, max(run_end - time.perf_counter(), 0)))
        got_slot = slots.acquire(timeout=max(run_end - time.perf_counter(), 0)) if slots else True
        if not got_slot or time.perf_counter() >= run_end:
            for j in range(i, len(requests)):
                outputs[j].error = f"not sent: the run's time limit of {run_timeout_s:g} s was spent"
            if slots and got_slot:
                slots.release()
            break
        t = threading.Thread(target=worker, args=(i,), daemon=True)
        t.start()
        threads.append((i, t))
    for i, t in threads:
        t.join(max(run_end - time.perf_counter(), 0) + 5.0)
        if t.is_alive():
            outputs[i].error = "still running when the run's time limit was spent"
    duration = time.perf_counter() - start
    settings = {"endpoint": endpoint, "request_rate": request_rate, "burstiness": burstiness,
                "max_concurrency": max_concurrency, "num_requests": len(requests), "seed": seed}
    return LoadRun(outputs, duration, settings)


def count_output_tokens(out: RequestOutput, tokenizer) -> int:
    if out.output_tokens:
        return out.output_tokens
    if out.token_ids:
        return len(out.token_ids)
    if tokenizer is None:
        return 1  # vLLM's convention when nothing else can count them
    return len(tokenizer(out.text, add_special_tokens=False).input_ids)


def _stats(prefix: str, values: list[float]) -> dict[str, float]:
    # vLLM reports 0 for an empty list (np.mean(x or 0)); NaN says "not measured" honestly.
    if not values:
        return {f"{prefix}_mean_s": math.nan, **{f"{prefix}_p{p}_s": math.nan for p in PERCENTILES}}
    arr = np.asarray(values, dtype=float)
    return {f"{prefix}_mean_s": float(arr.mean()),
            **{f"{prefix}_p{p}_s": float(np.percentile(arr, p)) for p in PERCENTILES}}


def serving_metrics(run: LoadRun, tokenizer=None, goodput_limits_s: dict[str, float] | None = None) -> dict[str, float]:
    """Metric values named as registered in bench_lib.metrics (prefix `serve_`).

    goodput_limits_s: any of {"ttft", "tpot", "e2el"} in seconds.
    """
    unknown = set(goodput_limits_s or {}) - {"ttft", "tpot", "e2el"}
    if unknown:
        raise ValueError(f"unknown goodput limit(s) {sorted(unknown)}; use ttft, tpot and/or e2el (seconds)")
    ttfts, tpots, itls, e2els, good = [], [], [], [], 0
    total_in = total_out = completed = 0
    for out in run.outputs:
        if not out.success:
            continue
        n = count_output_tokens(out, tokenizer)
        tpot = (out.latency - out.ttft) / (n - 1) if n > 1 else 0.0
        if n > 1:
            tpots.append(tpot)
        ttfts.append(out.ttft)
        e2els.append(out.latency)
        itls.extend(out.itl)
        total_in += out.prompt_len
        total_out += n
        completed += 1
        measured = {"ttft": out.ttft, "tpot": tpot, "e2el": out.latency}
        if goodput_limits_s and all(measured[k] <= v for k, v in goodput_limits_s.items()):
            good += 1
    dur = run.duration_s
    values = {"serve_completed": float(completed), "serve_failed": float(len(run.outputs) - completed),
              "serve_duration_s": dur,
              "serve_request_throughput": completed / dur, "serve_output_throughput": total_out / dur,
              "serve_total_token_throughput": (total_in + total_out) / dur,
              "serve_goodput": good / dur if goodput_limits_s else math.nan}
    for prefix, vals in (("serve_ttft", ttfts), ("serve_tpot", tpots), ("serve_itl", itls), ("serve_e2el", e2els)):
        values.update(_stats(prefix, vals))
    return values


def failures(run: LoadRun, limit: int = 5) -> list[str]:
    return [f"request {i}: {o.error}" for i, o in enumerate(run.outputs) if not o.success][:limit]
