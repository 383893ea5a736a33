"""Headless Chromium against pages served on 127.0.0.1 (asv's pages load JSON with XHR,
which browsers refuse for file:// URLs)."""
from __future__ import annotations

import functools
import http.server
import subprocess
import threading
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=20000", "--window-size=1400,1000"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # one line per request would bury the test output
        pass


def dump_dom_and_screenshot(browser: str, root: Path, page: str, tmp: Path) -> tuple[str, Path]:
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{page}"
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        common = [browser, *FLAGS]
        dom = subprocess.run([*common, f"--user-data-dir={tmp / 'profile-dom'}", "--dump-dom", url],
                             capture_output=True, text=True, timeout=120).stdout
        png = tmp / "page.png"
        subprocess.run([*common, f"--user-data-dir={tmp / 'profile-png'}", f"--screenshot={png}", url],
                       capture_output=True, timeout=120)
    finally:
        server.shutdown()
    return dom, png
