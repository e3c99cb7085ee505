"""HTTP endpoints: /metrics, /healthz, /readyz, the landing page and /-/reload.

Served from start-up, before the first refresh ends. A scrape renders the
snapshot and never calls AWS.
"""

from __future__ import annotations

import contextlib
import html
import logging
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from exporter import __version__
from exporter.collector import chunks
from exporter.renewal import in_demand, renewed_text
from exporter.store import SnapshotStore
from exporter.telemetry import Telemetry

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz", "/readyz"})  # probes work without auth
READ_PATHS = frozenset({"/", "/metrics", "/healthz", "/readyz"})
LANDING_ROWS = 1000
WRITE_SIZE = 256 * 1024  # bytes per socket write (or gzip step) of /metrics
GZIP_LEVEL = 1  # fastest: /metrics compresses ~10x even so


class ExporterHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        *,
        store: SnapshotStore,
        telemetry: Telemetry,
        ready: threading.Event,
        reload: Callable[[], tuple[bool, str]] | None = None,
        web_config: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.telemetry = telemetry
        self.ready = ready
        self.reload = reload
        self.web_config = web_config
        self.clock = clock
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        # Headers and body go out in separate writes; without this, Nagle's
        # algorithm holds the body until the client's delayed ACK (~40 ms).
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        context = self.web_config.ssl_context() if self.web_config is not None else None
        if context is not None:
            # The handshake happens in the handler thread (first read), not here,
            # so one slow client cannot block the accept loop.
            sock = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def metrics_chunks(self) -> list[bytes]:
        """The /metrics body in pieces; joined only a write at a time."""
        body = chunks(self.store.snapshot(), self.clock())
        body.append(generate_latest(self.telemetry.registry))
        return body


def batched(pieces: list[bytes], size: int = WRITE_SIZE) -> Iterator[bytes]:
    """Consecutive pieces joined into runs of about ``size`` bytes.

    Thousands of small blocks would cost a syscall each; one joined body
    would copy everything at once (341 MB peak at 50k reservations).
    """
    run: list[bytes] = []
    length = 0
    for piece in pieces:
        run.append(piece)
        length += len(piece)
        if length >= size:
            yield b"".join(run)
            run, length = [], 0
    if run:
        yield b"".join(run)


def gzipped(pieces: list[bytes]) -> list[bytes]:
    """``pieces`` as one gzip stream, compressed a run at a time."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [compressor.compress(run) for run in batched(pieces)]
    out.append(compressor.flush())
    return out


class Handler(BaseHTTPRequestHandler):
    server: ExporterHTTPServer
    server_version = f"aws-reservation-exporter/{__version__}"
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a client may take to send its request

    def handle(self) -> None:
        try:
            # TLS: the handshake runs here, under the request timeout set in
            # setup(); a refused client (ssl.SSLError is an OSError) is logged
            # at debug level, not as a traceback.
            do_handshake = getattr(self.connection, "do_handshake", None)
            if do_handshake is not None:
                do_handshake()
            super().handle()
        except (ConnectionError, TimeoutError, OSError) as exc:
            log.debug("connection from %s ended: %s", self.client_address[0], exc)

    # -- dispatch -------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_POST(self) -> None:
        path = self._path()
        if path != "/-/reload":
            self._not_allowed(path)
            return
        if not self._authorized(path):
            return
        if self.server.reload is None:
            self._send(HTTPStatus.FORBIDDEN, b"Lifecycle API is not enabled.\n")
            return
        ok, message = self.server.reload()
        status = HTTPStatus.OK if ok else HTTPStatus.INTERNAL_SERVER_ERROR
        self._send(status, (message + "\n").encode())

    def do_PUT(self) -> None:
        self._not_allowed(self._path())

    do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = do_PUT

    def _dispatch(self, head: bool) -> None:
        path = self._path()
        if path == "/-/reload":
            self._not_allowed(path)
            return
        if path not in READ_PATHS:
            self._send(HTTPStatus.NOT_FOUND, b"Not found. See / for the endpoints.\n", head=head)
            return
        if not self._authorized(path):
            return
        if path == "/healthz":
            self._send(HTTPStatus.OK, b"ok\n", head=head)
        elif path == "/readyz":
            if self.server.ready.is_set():
                self._send(HTTPStatus.OK, b"ready\n", head=head)
            else:
                self._send(
                    HTTPStatus.SERVICE_UNAVAILABLE, b"first refresh not finished\n", head=head
                )
        elif path == "/metrics":
            self._metrics(head)
        else:
            page = landing_page(self.server).encode()
            self._send(HTTPStatus.OK, page, "text/html; charset=utf-8", head=head)

    def _metrics(self, head: bool) -> None:
        body = self.server.metrics_chunks()
        compress = "gzip" in (self.headers.get("Accept-Encoding") or "")
        if compress:
            body = gzipped(body)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(sum(map(len, body))))
        if compress:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        if not head:
            for run in batched(body):
                self.wfile.write(run)

    # -- helpers --------------------------------------------------------------

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _authorized(self, path: str) -> bool:
        config = self.server.web_config
        if config is None or path in OPEN_PATHS:
            return True
        if config.check_basic_auth(self.headers.get("Authorization")):
            return True
        self._send(
            HTTPStatus.UNAUTHORIZED,
            b"Unauthorized\n",
            headers={"WWW-Authenticate": 'Basic realm="aws-reservation-exporter"'},
        )
        return False

    def _not_allowed(self, path: str) -> None:
        allow = "POST" if path == "/-/reload" else "GET, HEAD"
        status = HTTPStatus.METHOD_NOT_ALLOWED
        if path not in READ_PATHS and path != "/-/reload":
            status = HTTPStatus.NOT_FOUND
        self._send(status, f"{status.phrase}\n".encode(), headers={"Allow": allow})

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        *,
        head: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Never the Authorization header; only method, path and status.
        log.debug("http %s %s", self.client_address[0], format % args)


def _ts(value: float | None) -> str:
    if value is None:
        return "never"
    return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def landing_page(server: ExporterHTTPServer) -> str:
    """A plain page for people without Grafana: targets and upcoming expiries."""
    now = server.clock()
    e = html.escape
    target_rows = []
    rows = []
    for prepared in server.store.snapshot():
        res = prepared.result
        t = res.target
        status = "ok" if res.success else f"failing ({res.error_reason})"
        target_rows.append(
            f"<tr><td>{e(t.account)}</td><td>{e(t.account_id)}</td><td>{e(t.region)}</td>"
            f"<td>{e(t.service)}</td><td class={'ok' if res.success else 'bad'}>{e(status)}</td>"
            f"<td>{_ts(res.last_success)}</td><td>{len(res.reservations)}</td></tr>"
        )
        for r in res.reservations:
            rows.append((r.end, t, r, prepared.renewals.get(r.reservation_id)))
    rows.sort(key=lambda row: row[0])
    reservation_rows = []
    for end, t, r, renewal in rows[:LANDING_ROWS]:
        days = (end - now) / 86400
        cls = "bad" if days < 7 else "warn" if days < 30 else "ok"
        count = "" if r.instance_count is None else str(r.instance_count)
        ratio = renewal.ratio if renewal is not None else (0.0 if in_demand(r) else None)
        renewed_cls = "ok" if ratio is None or ratio >= 1 else "bad" if ratio == 0 else "warn"
        reservation_rows.append(
            f"<tr><td class={cls}>{days:.1f}</td><td>{_ts(end)}</td><td>{e(t.account)}</td>"
            f"<td>{e(t.account_id)}</td><td>{e(r.region or t.region)}</td><td>{e(t.service)}</td>"
            f"<td>{e(r.reservation_id)}</td><td>{e(r.instance_type or r.plan_type)}</td>"
            f"<td>{count}</td><td>{e(r.state)}</td>"
            f"<td class={renewed_cls}>{renewed_text(ratio)}</td></tr>"
        )
    more = (
        f"<p>Showing the first {LANDING_ROWS} of {len(rows)}; see /metrics for all.</p>"
        if len(rows) > LANDING_ROWS
        else ""
    )
    ready = "ready" if server.ready.is_set() else "first refresh in progress"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>AWS reservation exporter</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; margin-bottom: 2em; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
.ok {{ color: #1a7f37; }} .warn {{ color: #b35900; }} .bad {{ color: #c62828; font-weight: bold; }}
</style></head><body>
<h1>AWS reservation exporter</h1>
<p>Version {e(__version__)} &middot; {e(ready)} &middot; now {_ts(now)}</p>
<ul><li><a href="metrics">/metrics</a></li><li><a href="healthz">/healthz</a></li>
<li><a href="readyz">/readyz</a></li></ul>
<h2>Reservations by days left</h2>
<table><tr><th>days left</th><th>ends</th><th>account</th><th>account id</th><th>region</th>
<th>service</th><th>reservation</th><th>type</th><th>count</th><th>state</th>
<th title="share of it that renewals bought so far cover">renewed</th></tr>
{"".join(reservation_rows)}</table>{more}
<h2>Targets</h2>
<table><tr><th>account</th><th>account id</th><th>region</th><th>service</th><th>status</th>
<th>last success</th><th>reservations</th></tr>
{"".join(target_rows)}</table>
</body></html>
"""
