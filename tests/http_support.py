"""An in-process ExporterHTTPServer over real sockets for the server's tests
(unit and integration): a small held snapshot, render counting, and readers
that take answers off a connection byte-exactly."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import generate_latest

from exporter.model import Reservation, Target
from exporter.server import ExporterHTTPServer
from exporter.store import SnapshotStore
from exporter.telemetry import Telemetry
from tests.support import samples_named

NOW = 1_750_000_000.0


def _store() -> SnapshotStore:
    store = SnapshotStore()
    target = Target("acct", "123456789012", "eu-west-1", "ec2")
    reservations = [
        Reservation(
            reservation_id=f"ri-{i}",
            state="active",
            start=NOW - 86400,
            end=NOW + (i + 1) * 86400,
            instance_count=1,
            instance_type="m5.large",
        )
        for i in range(20)
    ]
    store.record_success(target, reservations, attempted_at=NOW, duration=0.1)
    return store


class Served:
    """A running server, and how often /metrics was rendered."""

    def __init__(self, server: ExporterHTTPServer) -> None:
        self.server = server
        self.port = server.server_address[1]
        self.renders = 0
        self.rendering = 0
        self.most_rendering = 0
        self.render_delay = 0.0
        self._lock = threading.Lock()
        render = server.metrics_chunks

        def counted() -> list[bytes]:
            with self._lock:
                self.renders += 1
                self.rendering += 1
                self.most_rendering = max(self.most_rendering, self.rendering)
            try:
                time.sleep(self.render_delay)
                return render()
            finally:
                with self._lock:
                    self.rendering -= 1

        server.metrics_chunks = counted  # type: ignore[method-assign]

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def get(self, path: str, headers: dict[str, str] | None = None, method: str = "GET"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def requests_total(self) -> dict[tuple[str, str], float]:
        text = generate_latest(self.server.telemetry.registry).decode()
        return {
            (labels["path"], labels["code"]): value
            for labels, value in samples_named(text, "aws_reservation_http_requests_total")
        }

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "condition not reached"
            time.sleep(0.02)


@contextmanager
def serving(**options: Any) -> Iterator[Served]:
    telemetry = Telemetry()
    server = ExporterHTTPServer(
        ("127.0.0.1", 0),
        store=_store(),
        telemetry=telemetry,
        ready=threading.Event(),
        clock=lambda: NOW,
        **options,
    )
    served = Served(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Wire:
    """Answers read off one connection, unbuffered: nothing is read past an answer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def answer(self, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines)
        length = 0 if method == "HEAD" else int(headers.get("Content-Length", "0"))
        while len(self.buf) < length:
            self._recv()
        body, self.buf = self.buf[:length], self.buf[length:]
        return int(status_line.split()[1]), headers, body

    def silent(self, seconds: float) -> bool:
        """Nothing more arrived, and nothing arrives within ``seconds``."""
        return self.buf == b"" and silent_for(self.sock, seconds)

    def _recv(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, "closed by the server"
        self.buf += chunk


def silent_for(sock: socket.socket, seconds: float) -> bool:
    """True if nothing (not even EOF) arrives on ``sock`` within ``seconds``."""
    sock.settimeout(seconds)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except TimeoutError:
        return True
    finally:
        sock.settimeout(10)
    return False


def closed_by_server(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Everything the server sends until it closes; fails if it does not close."""
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
