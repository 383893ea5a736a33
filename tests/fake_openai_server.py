"""A small OpenAI-compatible streaming server for the serving tests (run as a script; no tests here).

    python tests/fake_openai_server.py PORT MODE [TOKENS] [DELAY_S] [SLOTS]

MODE: ok           streams min(TOKENS, max_tokens) chunks DELAY_S apart, then a usage chunk and [DONE]
      never_ready  /v1/models answers 503 forever
      die          the process exits after the second chunk of the third request (the first is a warm-up)
      hang         sends the response headers, then nothing
      hang_mid     sends one token, then nothing
      trickle      sends one token, then an SSE comment every 0.2 s forever
      empty        one chunk with no text and a finish_reason, usage 0 tokens, [DONE]
      short        one token with a finish_reason whatever was asked, usage 1 token, [DONE]
      garbage      one token, then a data line that is not JSON
      cold         as ok, but the first request waits 1 s before its first token
      knee         as ok, but only SLOTS requests generate at once; the others queue for a slot,
                   so latency rises sharply once more than SLOTS requests are in flight
Every chunk carries "id": "cmpl-<n>", n counting requests in arrival order. It answers on
127.0.0.1 only and logs each request body as one JSON line to stdout.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, MODE = int(sys.argv[1]), sys.argv[2]
TOKENS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
DELAY = float(sys.argv[4]) if len(sys.argv) > 4 else 0.01
SLOTS = threading.Semaphore(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
_count = {"n": 0}
_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if MODE == "never_ready":
            return self._json(503, {"error": "loading"})
        self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    def _raw(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, obj):
        self._raw(b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n")

    def _token(self, i, chat, finish=None, text=None):
        text = f"t{i} " if text is None else text
        choice = {"index": 0, "delta": {"content": text}} if chat else {"index": 0, "text": text}
        choice["finish_reason"] = finish
        self._event({"id": self.rid, "choices": [choice]})

    def _end(self, n):
        self._event({"id": self.rid, "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": n}})
        self._event(b"[DONE]")
        self.wfile.write(b"0\r\n\r\n")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with _lock:  # one whole line per request, even when handler threads print at once
            sys.stdout.write(json.dumps(body) + "\n")
            sys.stdout.flush()
            _count["n"] += 1
            nth = _count["n"]
        self.rid = f"cmpl-{nth}"
        chat = self.path.endswith("/chat/completions")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        if MODE == "hang":
            time.sleep(3600)
        if MODE in ("hang_mid", "trickle", "garbage"):
            self._token(0, chat)
            if MODE == "garbage":
                self._raw(b"data: {not json at all\n\n")
                return self._end(1)
            for _ in range(18000):
                time.sleep(0.2)
                if MODE == "trickle":
                    self._raw(b": ping\n\n")
            return
        if MODE == "empty":
            self._token(0, chat, finish="stop", text="")
            return self._end(0)
        if MODE == "short":
            self._token(0, chat, finish="stop")
            return self._end(1)
        if MODE == "cold" and nth == 1:
            time.sleep(1.0)
        n = min(TOKENS, body.get("max_tokens") or TOKENS)
        if MODE == "knee":
            SLOTS.acquire()
        try:
            for i in range(n):
                time.sleep(DELAY)
                if MODE == "die" and nth == 3 and i == 2:
                    os._exit(3)
                self._token(i, chat, finish="length" if i == n - 1 else None)
        finally:
            if MODE == "knee":
                SLOTS.release()
        self._end(n)


if __name__ == "__main__":
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
