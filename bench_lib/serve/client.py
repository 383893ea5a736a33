"""Serving under load: a client for any OpenAI-compatible endpoint.

Definitions follow vLLM's serving benchmark (vllm/benchmarks/serve.py and
lib/endpoint_request_func.py), so numbers compare with what users get from `vllm bench serve`:
- a request's clock starts just before it is sent; TTFT is the arrival of the first chunk that
  carries a choice; every later such chunk adds one inter-token latency (ITL); end-to-end
  latency (E2EL) is the arrival of the last such chunk (the trailing usage chunk does not count);
- arrivals: gamma-distributed gaps with shape `burstiness` (1 = Poisson) at `request_rate`,
  rescaled so the n-th request is due at n / rate; rate inf sends everything at once;
  `max_concurrency` caps requests in flight;
- warm-up requests are sent one at a time before the clock starts and are not in the results.
The metrics are computed in metrics.py.

Deviations from vLLM's client:
- requests run on threads with the standard library's http.client (no aiohttp here);
- each request also records when it was due (its scheduled send time): on an open-loop schedule
  that is start + offset, under a concurrency cap with rate inf it is the moment a slot freed;
  latencies from that time count a client that fell behind (coordinated omission);
- a request succeeds only when it produced its requested output: at least `min_tokens` tokens
  (the fixed length, when the run fixes it), at least one otherwise; vLLM counts any stream
  with one chunk as a success, so an empty or short reply would flatter goodput there;
- a stream that ends without [DONE] or a finish_reason is a failure;
- a request fails when it exceeds `request_timeout_s` (vLLM waits up to 6 hours), and requests
  not yet sent when `run_timeout_s` is spent are recorded as failed rather than sent.
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
    start_time: float = 0.0         # actual send time (perf_counter)
    ttft: float = 0.0               # from the actual send time, as vLLM
    latency: float = 0.0            # E2EL from the actual send time
    itl: list[float] = field(default_factory=list)
    output_tokens: int | None = None  # the server's usage.completion_tokens; None: not reported
    prompt_len: int = 0
    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    scheduled_time: float | None = None  # when it was due; None: never scheduled (not sent)
    required_tokens: int = 1        # fewer output tokens than this is a failure
    text_chunks: int = 0            # chunks that carried text: each holds at least one token
    response_id: str = ""
    finish_reason: str = ""
    max_tokens: int = 0             # the budget asked for; finish_reason "length" says it was reached

    @property
    def lag(self) -> float:
        """Actual minus scheduled send time: how far the client fell behind its schedule."""
        return self.start_time - self.scheduled_time if self.scheduled_time is not None else 0.0


@dataclass
class LoadRun:
    outputs: list[RequestOutput]
    duration_s: float
    settings: dict
    warmup: list[RequestOutput] = field(default_factory=list)


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


def _read_events(response, sock, deadline: float):
    """Yield each SSE `data:` payload as it arrives, and DONE for the [DONE] marker. Every read
    waits at most until `deadline`, so a trickling stream cannot outlast the request's limit."""
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError("the request's time limit was spent while streaming")
        if sock is not None:
            sock.settimeout(left)
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
        for data in _read_events(resp, conn.sock, st + request_timeout_s):
            if data is DONE:
                finished = True
                break
            try:
                msg = json.loads(data)
            except ValueError:
                raise ValueError(f"the stream sent a data line that is not JSON: {data[:80]!r}") from None
            if not isinstance(msg, dict):
                raise ValueError(f"the stream sent a data line that is not a JSON object: {data[:80]!r}")
            if msg.get("error"):
                raise RuntimeError(f"server reported an error mid-stream: {msg['error']}")
            out.response_id = out.response_id or str(msg.get("id") or "")
            choices = msg.get("choices")
            if choices:
                now = time.perf_counter()
                if first:
                    out.itl.append(now - recent)
                else:
                    first, out.ttft = True, now - st
                recent = now
                text = _chunk_text(endpoint, choices[0])
                out.text += text
                out.text_chunks += bool(text)
                out.token_ids.extend(choices[0].get("token_ids") or [])
                out.finish_reason = choices[0].get("finish_reason") or out.finish_reason
                finished = finished or bool(out.finish_reason)
            elif msg.get("usage"):
                out.output_tokens = msg["usage"].get("completion_tokens")
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
    except TimeoutError as exc:  # socket.timeout is TimeoutError
        out.error = f"timed out: no complete reply within the per-request limit of {request_timeout_s:g} s ({exc})"
    except Exception as exc:  # recorded per request; the run goes on
        out.error = f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
    return out


def count_output_tokens(out: RequestOutput, tokenizer) -> int:
    """vLLM's count: the server's usage, else the generated ids, else the text re-tokenized."""
    if out.output_tokens is not None:
        return out.output_tokens
    if out.token_ids:
        return len(out.token_ids)
    if tokenizer is None:
        return 1 if out.text else 0  # vLLM counts 1 when nothing else can; an empty text has none
    return len(tokenizer(out.text, add_special_tokens=False).input_ids) if out.text else 0


def check_output_length(out: RequestOutput, tokenizer) -> None:
    """A finished stream that produced fewer tokens than requested is a failure with its reason.
    Without a server count, re-tokenizing the text can merge tokens (or drop one that decodes to
    nothing), so the count checked is the largest of that, the number of text-carrying chunks
    (each carries at least one token) and the budget when the server says it stopped there
    (finish_reason "length")."""
    if not out.success:
        return
    n = count_output_tokens(out, tokenizer)
    if out.output_tokens is None and not out.token_ids:
        n = max(n, out.text_chunks, out.max_tokens if out.finish_reason == "length" else 0)
    if n == 0:
        out.success, out.error = False, "empty reply: the stream finished without any output token"
    elif n < out.required_tokens:
        out.success, out.error = False, f"short reply: {n} of the {out.required_tokens} requested output tokens"


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


def _finish(result: RequestOutput, req: ServeRequest, tokenizer) -> RequestOutput:
    result.prompt_len = result.prompt_len or req.prompt_len
    result.required_tokens = max(req.min_tokens, 1)
    result.max_tokens = req.max_tokens
    check_output_length(result, tokenizer)
    return result


def run_load(base_url: str, endpoint: str, model: str, requests: Sequence[ServeRequest], *,
             request_rate: float = math.inf, burstiness: float = 1.0, max_concurrency: int | None = None,
             seed: int = 0, request_timeout_s: float = 120.0, run_timeout_s: float = 600.0,
             extra_body: dict | None = None, warmup: Sequence[ServeRequest] = (), tokenizer=None) -> LoadRun:
    """Send `warmup` one by one, then `requests` on the arrival schedule; bounded by count,
    per-request and whole-run time (the warm-up shares the run's time limit)."""
    if max_concurrency is not None and max_concurrency < 1:
        raise ValueError(f"max_concurrency must be >= 1 or None, got {max_concurrency}")
    if not request_timeout_s > 0:
        raise ValueError(f"request_timeout_s must be > 0, got {request_timeout_s}")
    offsets = arrival_offsets(len(requests), request_rate, burstiness, seed)
    outputs = [RequestOutput(prompt_len=r.prompt_len, required_tokens=max(r.min_tokens, 1)) for r in requests]
    slots = threading.BoundedSemaphore(max_concurrency) if max_concurrency else None
    threads = []
    run_end = time.perf_counter() + run_timeout_s
    warm = [_finish(send_request(base_url, endpoint, build_payload(endpoint, model, w, extra_body),
                                 min(request_timeout_s, max(run_end - time.perf_counter(), 0.001))), w, tokenizer)
            for w in warmup]

    def worker(i: int, scheduled: float) -> None:
        try:
            payload = build_payload(endpoint, model, requests[i], extra_body)
            # Never past the run's end: a silent server cannot hold the run beyond its limit.
            limit = min(request_timeout_s, max(run_end - time.perf_counter(), 0.001))
            result = send_request(base_url, endpoint, payload, limit)
            result.scheduled_time = scheduled
            outputs[i] = _finish(result, requests[i], tokenizer)
        finally:
            if slots:
                slots.release()

    start = time.perf_counter()
    open_loop = not math.isinf(request_rate)
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
        scheduled = start + offset if open_loop else time.perf_counter()
        t = threading.Thread(target=worker, args=(i, scheduled), daemon=True)
        t.start()
        threads.append((i, t))
    for i, t in threads:
        t.join(max(run_end - time.perf_counter(), 0) + 5.0)
        if t.is_alive():
            outputs[i].error = "still running when the run's time limit was spent"
    duration = time.perf_counter() - start
    settings = {"endpoint": endpoint, "request_rate": request_rate, "burstiness": burstiness,
                "max_concurrency": max_concurrency, "num_requests": len(requests), "seed": seed,
                "warmup_requests": len(warmup), "request_timeout_s": request_timeout_s,
                "run_timeout_s": run_timeout_s}
    return LoadRun(outputs, duration, settings, warm)
