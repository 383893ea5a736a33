"""A small OpenAI-compatible streaming server for the serving tests (run as a script; no tests here).

    python tests/fake_openai_server.py PORT MODE [TOKENS] [DELAY_S]

MODE: ok           streams TOKENS chunks DELAY_S apart, then a usage chunk and [DONE]
      never_ready  /v1/models answers 503 forever
      die          the process exits after the second chunk of the second request
      hang         sends the response headers, then nothing
It answers on 127.0.0.1 only and logs each request body as one JSON line to stdout.
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

    def _event(self, obj):
        data = b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with _lock:  # one whole line per request, even when handler threads print at once
            sys.stdout.write(json.dumps(body) + "\n")
            sys.stdout.flush()
            _count["n"] += 1
            nth = _count["n"]
        chat = self.path.endswith("/chat/completions")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        if MODE == "hang":
            time.sleep(3600)
        n = min(TOKENS, body.get("max_tokens") or TOKENS)
        for i in range(n):
            time.sleep(DELAY)
            if MODE == "die" and nth == 2 and i == 2:
                os._exit(3)
            choice = {"index": 0, "delta": {"content": f"t{i} "}} if chat else {"index": 0, "text": f"t{i} "}
            self._event({"choices": [choice]})
        self._event({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": n}})
        self._event(b"[DONE]")
        self.wfile.write(b"0\r\n\r\n")


if __name__ == "__main__":
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
