"""Case functions of the serving-under-load benchmark, shared by asv and pytest.

A grid starts one server per (server kind, model), runs every load against it, and stops it by
its process id. A failed start is recorded for each of that model's loads; a server that dies
mid-run leaves the failed requests recorded in that load's result and an error for the loads
after it; results of loads that ran before are kept.

Protocol per load: BENCH_SERVE_WARMUP warm-up requests (one at a time, not in the results),
then the load's requests, on prompts no earlier load on that server has sent: every prompt
starts with a tag naming its load and position, so a prefix cache cannot serve one load's
prompts from an earlier load's (the result says `prompts: fresh per load`).

Settings (environment):
BENCH_SERVE_LOADS     comma-separated loads: rate:<req/s> (Poisson), rate:inf, concurrency:<n>
                      (default rate:2,rate:8,concurrency:4)
BENCH_SERVE_ENDPOINT  completions | chat (default completions)
BENCH_SERVE_GOODPUT   limits in milliseconds as in vLLM's --goodput, e.g. ttft:1000,tpot:100;
                      unset (the default): goodput is not measured
BENCH_SERVE_URL       a running OpenAI-compatible server for the "url" kind (BENCH_SERVE_MODEL: its model name)
BENCH_SERVE_MAX_TOKENS  output budget per request (default per profile)
BENCH_SERVE_FIXED_OUTPUT  1 (default): every request generates exactly that budget (min_tokens =
                      max_tokens, as vLLM's benchmark with --ignore-eos), so TPOT and ITL are measured
                      over the same number of tokens on every server; 0: the model may stop at EOS.
                      Either way a reply shorter than required (the budget, or one token) is a failure
BENCH_SERVE_REQUEST_TIMEOUT  seconds one request may take (default per profile)
BENCH_SERVE_WARMUP    warm-up requests per load (default 1)
BENCH_SERVE_BURSTINESS  shape of the gamma-distributed gaps of rate loads, vLLM's --burstiness
                      (default 1: Poisson; large: evenly spaced)
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from typing import Iterable

from bench_lib import config, resources
from bench_lib.grid import run_grid
from bench_lib.serve import servers
from bench_lib.engines.base import EngineUnavailable
from bench_lib.models import get_spec
from bench_lib.serve import client as serve
from bench_lib.serve import metrics as serve_metrics

DEFAULT_LOADS = "rate:2,rate:8,concurrency:4"
GOODPUT_EXAMPLE = "ttft:1000,tpot:100"
READY_TIMEOUT_S = {"llamacpp": 120.0, "vllm": 600.0}


@dataclass(frozen=True)
class ServeSize:
    num_requests: int
    max_tokens: int         # budget per request; EOS may end a request earlier
    request_timeout_s: float
    run_timeout_s: float


SIZES = {"smoke": ServeSize(8, 32, 60, 300), "regular": ServeSize(64, 128, 300, 1200),
         "full": ServeSize(200, 256, 600, 3600)}


def _number(name: str, kind, minimum, what: str, example: str):
    text = os.environ.get(name, "").strip()
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not value >= minimum or (kind is float and math.isinf(value)):
        raise config.ConfigError(f"{name}={text!r} is not {what}; set e.g. {name}={example}")
    return value


def size() -> ServeSize:
    s = SIZES[config.profile().name]
    if os.environ.get("BENCH_SERVE_MAX_TOKENS"):
        s = replace(s, max_tokens=_number("BENCH_SERVE_MAX_TOKENS", int, 1, "a whole number of tokens >= 1", "64"))
    if os.environ.get("BENCH_SERVE_REQUEST_TIMEOUT"):
        s = replace(s, request_timeout_s=_number("BENCH_SERVE_REQUEST_TIMEOUT", float, 0.001, "a number of seconds > 0", "30"))
    return s


def burstiness() -> float:
    if not os.environ.get("BENCH_SERVE_BURSTINESS"):
        return 1.0
    return _number("BENCH_SERVE_BURSTINESS", float, 1e-9, "a positive number (1: Poisson)", "1")


def warmup_count() -> int:
    if not os.environ.get("BENCH_SERVE_WARMUP"):
        return 1
    return _number("BENCH_SERVE_WARMUP", int, 0, "a whole number of warm-up requests >= 0", "1")


def loads() -> list[str]:
    names = list(config.env_choices("BENCH_SERVE_LOADS", DEFAULT_LOADS, what="load"))
    for name in names:
        parse_load(name)
    return names


def parse_load(name: str) -> dict:
    kind, _, value = name.partition(":")
    try:
        if kind == "rate":
            rate = float(value)
            if rate > 0:
                return {"request_rate": rate}
        elif kind == "concurrency" and int(value) >= 1:
            return {"max_concurrency": int(value)}
    except ValueError:
        pass
    raise config.ConfigError(f"load {name!r} is not rate:<requests per second> (or rate:inf) or "
                             f"concurrency:<n>; set BENCH_SERVE_LOADS like {DEFAULT_LOADS}")


def goodput_limits_s(text: str | None = None, name: str = "BENCH_SERVE_GOODPUT") -> dict[str, float]:
    """vLLM's --goodput syntax, milliseconds → seconds; {} when unset (goodput not measured)."""
    text = text if text is not None else os.environ.get(name, "")
    out = {}
    for item in filter(None, (x.strip() for x in text.replace(" ", ",").split(","))):
        key, _, ms = item.partition(":")
        try:
            value = float(ms)
        except ValueError:
            value = -1.0
        if key not in ("ttft", "tpot", "e2el") or value < 0:
            raise config.ConfigError(f"{name} item {item!r} is not ttft|tpot|e2el:<milliseconds>, "
                                     f"e.g. {name}={GOODPUT_EXAMPLE}")
        out[key] = value / 1000.0
    return out


def fixed_output() -> bool:
    value = os.environ.get("BENCH_SERVE_FIXED_OUTPUT", "1")
    if value not in ("0", "1"):
        raise config.ConfigError(f"BENCH_SERVE_FIXED_OUTPUT={value!r}; use 1 (fixed output length) or 0 (stop at EOS)")
    return value == "1"


def endpoint() -> str:
    name = os.environ.get("BENCH_SERVE_ENDPOINT", "completions")
    if name not in serve.ENDPOINTS:
        raise config.ConfigError(f"BENCH_SERVE_ENDPOINT={name!r}; use one of {', '.join(serve.ENDPOINTS)}")
    return name


def serve_requests(model: str, endpoint_name: str, n: int, max_tokens: int, tag: str = "") -> list[serve.ServeRequest]:
    """The requests of one load (bench_lib.serve.prompts: workload, input and output lengths).
    Completions get the chat-templated text (the same prompt the offline benchmarks feed as
    ids), chat the messages. A `tag` starts every user turn with "[<tag>.<i>...] "."""
    from bench_lib.serve import prompts as serve_prompts

    return serve_prompts.build(model, endpoint_name, n, max_tokens, fixed_output(), tag)


def start_server(kind: str, model: str) -> servers.Server:
    """A ready server of `kind` (llamacpp, vllm, url) serving `model` on 127.0.0.1."""
    spec = get_spec(model)
    if kind == "url":
        url = os.environ.get("BENCH_SERVE_URL")
        if not url:
            raise NotImplementedError("no BENCH_SERVE_URL given: set it to a running OpenAI-compatible server")
        return servers.external(url, os.environ.get("BENCH_SERVE_MODEL"))
    port = servers.free_port()
    if kind == "llamacpp":
        servers.llamacpp_available()
        try:
            from bench_lib.gguf_export import cached_gguf
        except ImportError as exc:
            raise EngineUnavailable(f"GGUF export is not available ({exc})") from exc
        device = config.device()
        gguf = cached_gguf(spec, {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}[config.dtype_name(device)])
        gpu_layers = -1 if device.startswith("cuda") else 0
        cmd = servers.llamacpp_command(gguf, port, model, n_threads=_threads(), n_gpu_layers=gpu_layers)
        return servers.start("llamacpp", cmd, port, model, READY_TIMEOUT_S[kind])
    if kind == "vllm":
        spec.require_weight_files("vLLM")
        python = servers.vllm_python()
        device = config.device()
        cmd = servers.vllm_command(spec.location, port, model, config.dtype_name(device), python=python)
        return servers.start("vllm", cmd, port, model, READY_TIMEOUT_S[kind],
                             env=servers.vllm_env(device, offline=not spec.needs_hub))
    raise KeyError(f"unknown server kind {kind!r}; use llamacpp, vllm or url")


def _threads() -> int | None:
    return int(os.environ["BENCH_THREADS"]) if os.environ.get("BENCH_THREADS") else None


def measure_load(server: servers.Server, model: str, load: dict, label: str,
                 num_requests: int | None = None, run_timeout_s: float | None = None) -> dict:
    """One load ({"request_rate": r} and/or {"max_concurrency": c}) against a running server, on
    fresh prompts after the warm-up: metrics, the first failures, and the settings used."""
    from bench_lib.serve import prompts as serve_prompts

    server.check_alive()
    s, ep = size(), endpoint()
    n, warm = num_requests or s.num_requests, warmup_count()
    server.loads_run += 1
    tag = f"L{server.loads_run}"
    requests = serve_requests(model, ep, n + warm, s.max_tokens, tag)
    tok = resources.tokenizer_for(get_spec(model))
    run = serve.run_load(server.base_url, ep, server.model, requests[warm:], warmup=requests[:warm],
                         request_timeout_s=s.request_timeout_s, run_timeout_s=run_timeout_s or s.run_timeout_s,
                         tokenizer=tok, burstiness=burstiness(), **load)
    limits = goodput_limits_s()
    values = serve_metrics.serving_metrics(run, tok, limits)
    values["serve_server_peak_rss_bytes"] = servers.peak_rss_bytes(server)
    warm_failed = [f"warm-up {i}: {o.error}" for i, o in enumerate(run.warmup) if not o.success]
    goodput = os.environ.get("BENCH_SERVE_GOODPUT", "").strip() or None
    return {"metrics": values, "failures": warm_failed + serve_metrics.failures(run),
            "settings": {**run.settings, "load": label, "max_tokens": s.max_tokens, "fixed_output": fixed_output(),
                         "goodput_slo_ms": goodput, "prompts": f"fresh per load (tag {tag})",
                         **serve_prompts.describe(),
                         "server": server.kind, "model": model, "profile": config.profile().name}}


def serving_result(server: servers.Server, model: str, load: str) -> dict:
    return measure_load(server, model, parse_load(load), load)


def per_server_grid(kind: str, models: Iterable[str], keys: Iterable[str], measure) -> dict:
    """{(model, key): {"result"|"skip"|"error": ...}}: one server of `kind` per model, and
    `measure(server, model, key)` for each key on it (a load, an SLO), each recorded apart."""
    keys = list(keys)
    out = {}
    for model in models:
        try:
            server = start_server(kind, model)
        except (EngineUnavailable, NotImplementedError) as exc:
            out.update({(model, k): {"skip": str(exc)} for k in keys})
            continue
        except Exception as exc:  # a server that never became ready: recorded for each of its keys
            out.update({(model, k): {"error": f"{type(exc).__name__}: {exc}"} for k in keys})
            continue
        with servers.running(server):
            grid = run_grid(lambda k: measure(server, model, k), [(k,) for k in keys])
        out.update({(model, k): v for (k,), v in grid.items()})
    return out


def serving_grid(kind: str, models: Iterable[str], load_names: Iterable[str]) -> dict:
    """{(model, load): {"result"|"skip"|"error": ...}} for one server kind."""
    return per_server_grid(kind, models, load_names, serving_result)
