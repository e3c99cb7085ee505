"""Helpers for tests that run a real Alertmanager (and Prometheus) against a
local webhook: free ports, a webhook sink, process lifecycle, polling."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from tests.support import free_port
from tests.tooling import require_tool

T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def http_json(url: str, body: Any = None, timeout: float = 5) -> Any:
    """GET (or POST ``body`` as JSON) and decode the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


class WebhookSink:
    """Records the JSON bodies POSTed to it, by URL path."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                with sink._lock:
                    sink.received.append((self.path, payload))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def messages(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for p, body in self.received if p == "/" + path.lstrip("/")]

    def __enter__(self) -> WebhookSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def webhook_receivers(config: dict[str, Any], sink: WebhookSink) -> dict[str, Any]:
    """``config`` with every receiver's integrations replaced by a webhook to
    ``sink``/<receiver name> and grouping delays cut to a second. The route
    tree, matchers, grouping labels and inhibition rules stay as they are."""
    result = copy.deepcopy(config)
    result["receivers"] = [
        {
            "name": r["name"],
            "webhook_configs": [{"url": sink.url(r["name"]), "send_resolved": True}],
        }
        for r in config["receivers"]
    ]

    def fast(route: dict[str, Any]) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route or route is result["route"]:
                route[key] = "1s"
        for child in route.get("routes", []):
            fast(child)

    fast(result["route"])
    return result


def alertmanager_binary() -> str:
    """Upstream names it ``alertmanager``, Debian ``prometheus-alertmanager``."""
    return shutil.which("alertmanager") or require_tool("prometheus-alertmanager")


@contextmanager
def running_alertmanager(config_file: Path, workdir: Path) -> Iterator[str]:
    """Run Alertmanager on a free port (no clustering); yield its base URL."""
    port = free_port()
    args = [
        alertmanager_binary(),
        f"--config.file={config_file}",
        f"--storage.path={workdir / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    with _serving("alertmanager", args, port, workdir) as base:
        yield base


@contextmanager
def running_prometheus(config_file: Path, workdir: Path) -> Iterator[str]:
    """Run Prometheus on a free port with ``config_file``; yield its base URL."""
    port = free_port()
    args = [
        require_tool("prometheus"),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={workdir / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with _serving("prometheus", args, port, workdir) as base:
        yield base


@contextmanager
def _serving(name: str, args: list[str], port: int, workdir: Path) -> Iterator[str]:
    """Start ``args``, wait for /-/ready on ``port``, stop it on exit; its
    output goes to ``workdir/<name>.log``, quoted when it fails to start."""
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: process.poll() is not None or _ready(base), 60, f"{name} ready")
            if process.poll() is not None:
                raise AssertionError(f"{name} exited: {log_path.read_text()}")
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def prometheus_query(base: str, expr: str) -> dict[str, Any]:
    """An instant query; returns the API's whole answer (status, data or error)."""
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    try:
        return http_json(url, timeout=30)
    except urllib.error.HTTPError as exc:  # 400/422 carry the error as JSON
        return json.loads(exc.read())
