"""HTTP endpoints: /metrics, /healthz, /readyz, the landing page and /-/reload.

Served from start-up, before the first refresh ends. A scrape renders the
snapshot and never calls AWS.

Connections are read by one event loop (``serve_forever``), not by a thread
each: a connection costs a socket and a small buffer until its request has
arrived complete (request line, headers and any Content-Length body), and only
then is it handed to one of at most ``MAX_WORKERS`` worker threads. So slow or
half-open clients hold no thread, a request whose client went away before
finishing it is never answered (and /metrics never rendered for it), and a
body is never parsed as the next request. /healthz and /readyz are answered
by the loop itself, so probes never wait behind workers busy with slow
readers. Limits: ``REQUEST_TIMEOUT`` from connect (or from a kept-alive
connection's first byte) to a complete request, ``IDLE_TIMEOUT`` between
requests on a kept-alive connection, at most ``MAX_CONNECTIONS`` open (the
longest-waiting one is closed for a new one), ``MAX_HEAD_BYTES`` of request
line and headers, ``MAX_BODY_BYTES`` of body.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import hashlib
import io
import logging
import queue
import re
import resource
import selectors
import socket
import ssl
import threading
import time
import urllib.parse
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, NamedTuple

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from exporter import __version__
from exporter.collector import chunks
from exporter.config.fields import DEFAULT_THRESHOLDS
from exporter.store import SnapshotStore
from exporter.telemetry import Telemetry
from exporter.web import calendar
from exporter.web import page as page_module
from exporter.web.view import View, build
from exporter.webconfig import BASIC_AUTH_CHALLENGE

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz", "/readyz"})  # probes work without auth
READ_PATHS = frozenset({"/", "/metrics", "/healthz", "/readyz", "/calendar.ics"})
WRITE_SIZE = 256 * 1024  # bytes per socket write (or gzip step) of /metrics
GZIP_LEVEL = 1  # fastest: /metrics compresses ~10x even so

MAX_WORKERS = 64  # requests answered at once (threads, started as needed)
MAX_CONNECTIONS = 1024  # open connections, idle and half-received ones included
FD_RESERVE = 128  # file descriptors left for everything else (AWS connections, logs)
REQUEST_TIMEOUT = 10.0  # seconds from connect (or a request's first byte) to the whole request
IDLE_TIMEOUT = 30.0  # seconds a kept-alive connection may wait for its next request
WRITE_TIMEOUT = 30.0  # seconds a single socket write of a response may block
LINGER_TIMEOUT = 2.0  # seconds to drain unread input after a response that closes
LINGER_BYTES = 1024 * 1024  # ... and at most this much of it
MAX_HEAD_BYTES = 16 * 1024  # request line + headers
MAX_BODY_BYTES = 16 * 1024  # no endpoint uses a body; /-/reload may carry a small one
MAX_HEADER_FIELDS = 100  # as http.client
SWEEP_INTERVAL = 0.25  # seconds between deadline checks
ACCEPT_BATCH = 64  # connections accepted per wake-up, so reads are not starved

_REQUEST_PATHS = READ_PATHS | {"/-/reload"}
_PROBE_PATHS = (b"/healthz", b"/readyz")
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")
_INLINE = re.compile(r"<(style|script)(\s[^>]*)?>(.*?)</\1\s*>", re.S | re.I)


# --------------------------------------------------------------------------- framing


class Frame(NamedTuple):
    """Where one request ends in the received bytes, and whether to refuse it."""

    size: int  # bytes of the buffer that belong to this request
    error: HTTPStatus | None = None  # answer this instead of serving the request
    reason: str | None = None
    close: bool = False  # close the connection after the answer


# Refusals decided before the request line or headers are complete: no parsing.
_UNPARSED = frozenset({HTTPStatus.REQUEST_URI_TOO_LONG, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE})


class RequestFramer:
    """Decides, from the bytes received so far, whether a whole request is here.

    One request: a request line, headers up to an empty line and, with
    Content-Length, that many bytes of body. A request line of fewer than three
    words (HTTP/0.9, garbage) is answered from the line alone. Refused with a
    status, after which the connection closes: a head over ``max_head`` bytes
    (414 or 431), more than 100 header fields (431), Transfer-Encoding (411),
    a malformed or conflicting Content-Length, obsolete line folding or a
    malformed field line (400), a body over ``max_body`` bytes (413). With
    ``Expect: 100-continue`` the request is answered without its body (no
    100 Continue is sent) and the connection closes.
    """

    def __init__(self, max_head: int = MAX_HEAD_BYTES, max_body: int = MAX_BODY_BYTES) -> None:
        self.max_head = max_head
        self.max_body = max_body
        self.reset()

    def reset(self) -> None:
        self._scanned = 0  # bytes already searched for the end of the head
        self._need: int | None = None  # head parsed: the request's total size

    def frame(self, buf: bytes | bytearray) -> Frame | None:
        """The request at the start of ``buf``, or None while it is incomplete."""
        if self._need is not None:
            return Frame(self._need) if len(buf) >= self._need else None
        line_end = buf.find(b"\n", 0, self.max_head)
        if line_end < 0:
            if len(buf) >= self.max_head:
                reason = f"the request line is longer than {self.max_head} bytes"
                return Frame(len(buf), HTTPStatus.REQUEST_URI_TOO_LONG, reason, True)
            return None
        if len(buf[:line_end].split()) < 3:
            return Frame(line_end + 1, close=True)
        # Only bytes not searched before can complete "\n\r\n" or "\n\n".
        start = max(line_end, self._scanned - 2)
        self._scanned = len(buf)
        ends = [i for i in (buf.find(b"\n\r\n", start), buf.find(b"\n\n", start)) if i >= 0]
        if not ends:
            if len(buf) >= self.max_head:
                reason = f"request line and headers are longer than {self.max_head} bytes"
                return Frame(len(buf), HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, reason, True)
            return None
        blank = min(ends)
        head_end = blank + (3 if buf[blank + 1 : blank + 2] == b"\r" else 2)
        if head_end > self.max_head:
            reason = f"request line and headers are longer than {self.max_head} bytes"
            return Frame(len(buf), HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, reason, True)
        return self._body(buf, line_end, head_end)

    def _body(self, buf: bytes | bytearray, line_end: int, head_end: int) -> Frame | None:
        lines = bytes(buf[line_end + 1 : head_end]).split(b"\n")[:-2]
        fields = [line[:-1] if line.endswith(b"\r") else line for line in lines]
        if len(fields) > MAX_HEADER_FIELDS:
            reason = f"more than {MAX_HEADER_FIELDS} header fields"
            return Frame(head_end, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, reason, True)
        lengths: set[int] = set()
        transfer_encoding = expect_continue = False
        for field in fields:
            name, colon, value = field.partition(b":")
            if field[:1] in (b" ", b"\t"):
                return Frame(head_end, HTTPStatus.BAD_REQUEST, "obsolete line folding", True)
            if not colon or not name or name.split() != [name]:
                return Frame(head_end, HTTPStatus.BAD_REQUEST, "malformed header field", True)
            key = name.lower()
            if key == b"content-length":
                for item in value.split(b","):
                    item = item.strip()
                    if not item.isdigit() or len(item) > 18:
                        reason = "malformed Content-Length"
                        return Frame(head_end, HTTPStatus.BAD_REQUEST, reason, True)
                    lengths.add(int(item))
            elif key == b"transfer-encoding":
                transfer_encoding = True
            elif key == b"expect":
                expect_continue = value.strip().lower() == b"100-continue"
        if transfer_encoding:
            reason = "Transfer-Encoding is not supported; send the body with a Content-Length"
            return Frame(head_end, HTTPStatus.LENGTH_REQUIRED, reason, True)
        if len(lengths) > 1:
            return Frame(head_end, HTTPStatus.BAD_REQUEST, "conflicting Content-Length", True)
        length = lengths.pop() if lengths else 0
        if length > self.max_body:
            reason = f"request bodies are limited to {self.max_body} bytes"
            return Frame(head_end, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, reason, True)
        need = head_end + length
        if len(buf) >= need:
            return Frame(need)
        if expect_continue:
            return Frame(head_end, close=True)
        self._need = need
        return None


# --------------------------------------------------------------------------- the server

_READING, _HANDSHAKE, _BUSY, _LINGER = "reading", "handshake", "busy", "linger"
_LISTENER, _WAKE = object(), object()


class _Connection:
    """One client connection, owned by the event loop except while a worker answers it."""

    __slots__ = ("address", "buffer", "deadline", "eof", "framer", "idle", "sock", "state")

    def __init__(self, sock: socket.socket, address: Any, deadline: float) -> None:
        self.sock = sock
        self.address = address
        self.buffer = bytearray()
        self.state = _READING
        self.deadline = deadline
        self.idle = False  # kept alive, no byte of the next request yet
        self.eof = False  # the client will send nothing more
        self.framer = RequestFramer()


def _close_socket(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def _fd_budget() -> int:
    """Connections this process can hold open, leaving FD_RESERVE descriptors spare."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(16, soft - FD_RESERVE)


_REQUEST_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = (
    weakref.WeakKeyDictionary()
)


def _requests_counter(registry: CollectorRegistry) -> Counter:
    counter = _REQUEST_COUNTERS.get(registry)
    if counter is None:
        counter = Counter(
            "aws_reservation_http_requests",
            "HTTP requests answered, by path (an endpoint, or 'other') and status code. "
            "Requests that never arrived complete are not answered and not counted.",
            ["path", "code"],
            registry=registry,
        )
        _REQUEST_COUNTERS[registry] = counter
    return counter


@dataclass(frozen=True)
class PageSettings:
    """What the landing page and the calendar take from the configuration."""

    thresholds: tuple[tuple[str, float], ...] = DEFAULT_THRESHOLDS
    owner_labels: tuple[str, ...] = ()
    refresh_interval: float | None = None

    @classmethod
    def of(cls, config: Any) -> PageSettings:
        return cls(config.expiry_thresholds, config.owner_label_names, config.refresh_interval)


class ExporterHTTPServer(HTTPServer):
    """The exporter's HTTP(S) server: an event loop reads requests, workers answer them.

    ``serve_forever()`` runs the loop; ``shutdown()`` stops it (from another
    thread) and ``server_close()`` releases the socket and the workers. The
    limits are module constants; the keyword arguments exist for tests.
    """

    allow_reuse_address = True
    request_queue_size = 512  # listen backlog

    def __init__(
        self,
        address: tuple[str, int],
        *,
        store: SnapshotStore,
        telemetry: Telemetry,
        ready: threading.Event,
        reload: Callable[[], tuple[bool, str]] | None = None,
        web_config: Any = None,
        settings: Callable[[], PageSettings] = PageSettings,
        clock: Callable[[], float] = time.time,
        max_workers: int = MAX_WORKERS,
        max_connections: int = MAX_CONNECTIONS,
        request_timeout: float = REQUEST_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
        write_timeout: float = WRITE_TIMEOUT,
    ) -> None:
        self.store = store
        self.telemetry = telemetry
        self.ready = ready
        self.reload = reload
        self.web_config = web_config
        self.settings = settings  # what the landing page needs from the current config
        self._calendar_lock = threading.Lock()
        self._calendar: tuple[list[Any], PageSettings, bytes] | None = None
        self.clock = clock
        self.max_workers = max_workers
        self.max_connections = min(max_connections, _fd_budget())
        self.request_timeout = request_timeout
        self.idle_timeout = idle_timeout
        self.write_timeout = write_timeout
        self.requests_total = _requests_counter(telemetry.registry)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self._conns: dict[int, _Connection] = {}
        self._waiting: collections.OrderedDict[int, _Connection] = collections.OrderedDict()
        self._selector: selectors.BaseSelector | None = None
        self._lock = threading.Lock()
        self._returns: collections.deque[tuple[_Connection, str]] = collections.deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()  # not serving
        self._loop_done = False
        self._accept_paused_until: float | None = None
        self._accept_warned_at = -60.0
        self._tasks: queue.SimpleQueue[tuple[_Connection, Frame, bytes | None] | None] = (
            queue.SimpleQueue()
        )
        self._idle_workers = threading.Semaphore(0)
        self._workers: list[threading.Thread] = []

    def metrics_chunks(self) -> list[bytes]:
        """The /metrics body in pieces; joined only a write at a time."""
        body = chunks(self.store.snapshot(), self.clock(), self.store.account_lines())
        body.append(generate_latest(self.telemetry.registry))
        return body

    def view(self) -> View:
        """The landing page's and calendar's view of the snapshot, now."""
        settings = self.settings()
        return build(
            self.store.snapshot(), self.clock(), settings.thresholds, settings.owner_labels
        )

    def calendar_feed(self) -> bytes:
        """``/calendar.ics``, built once per snapshot: the icalendar library takes
        ~0.3 ms an event, seconds at tens of thousands, and calendar apps poll."""
        snapshot = self.store.snapshot()
        settings = self.settings()
        with self._calendar_lock:  # one build at a time; the others get its result
            cached = self._calendar
            if cached is not None and cached[0] is snapshot and cached[1] == settings:
                return cached[2]
            view = build(snapshot, self.clock(), settings.thresholds, settings.owner_labels)
            body = calendar.feed(view, settings.owner_labels, stamp=view.newest_data)
            # The snapshot is kept with it: it is the identity compared above.
            self._calendar = (snapshot, settings, body)
            return body

    def count(self, path: str, code: int) -> None:
        self.requests_total.labels(path if path in _REQUEST_PATHS else "other", str(code)).inc()

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    @property
    def worker_threads(self) -> int:
        return len(self._workers)

    # -- lifecycle ------------------------------------------------------------

    def serve_forever(self, poll_interval: float = SWEEP_INTERVAL) -> None:
        """Accept, read and dispatch until ``shutdown()``."""
        if self._stop.is_set():
            return
        self._stopped.clear()
        selector = selectors.DefaultSelector()
        self._selector = selector
        self.socket.setblocking(False)
        selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
        selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        timeout = min(poll_interval, SWEEP_INTERVAL)
        next_sweep = 0.0
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(timeout):
                    if key.data is _LISTENER:
                        self._accept()
                    elif key.data is _WAKE:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    else:
                        self._event(key.data)
                self._take_back()
                now = time.monotonic()
                if self._accept_paused_until is not None and now >= self._accept_paused_until:
                    self._accept_paused_until = None
                    selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + SWEEP_INTERVAL
        finally:
            self._close_all()
            selector.close()
            self._selector = None
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop ``serve_forever`` and wait until it returned; answers in progress are cut."""
        self._stop.set()
        self._wake()
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        for _ in self._workers:
            self._tasks.put(None)
        _close_socket(self._wake_r)
        _close_socket(self._wake_w)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _close_all(self) -> None:
        with self._lock:
            self._loop_done = True
            returned = list(self._returns)
            self._returns.clear()
        for conn, _ in returned:
            self._forget(conn)
            _close_socket(conn.sock)
        for conn in list(self._conns.values()):
            self._forget(conn)
            if conn.state == _BUSY:
                # The worker is writing: wake it with an error; it closes the socket itself.
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)
            else:
                _close_socket(conn.sock)

    # -- the event loop ---------------------------------------------------------

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, address = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors, most likely
                now = time.monotonic()
                if now >= self._accept_warned_at + 60:
                    self._accept_warned_at = now
                    log.warning("cannot accept a connection: %s", exc)
                if not self._evict_oldest() and self._selector is not None:
                    self._selector.unregister(self.socket)
                    self._accept_paused_until = time.monotonic() + 0.1
                return
            if len(self._conns) >= self.max_connections and not self._evict_oldest():
                _close_socket(sock)  # every connection is being answered: refuse fast
                continue
            self._open(sock, address)

    def _open(self, sock: socket.socket, address: Any) -> None:
        try:
            sock.setblocking(False)
            # Headers and body go out in separate writes; without this, Nagle's
            # algorithm holds the body until the client's delayed ACK (~40 ms).
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            context = self.web_config.ssl_context() if self.web_config is not None else None
            if context is not None:
                sock = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        except (OSError, ValueError) as exc:
            log.debug("connection from %s refused: %s", address[0], exc)
            _close_socket(sock)
            return
        conn = _Connection(sock, address, time.monotonic() + self.request_timeout)
        if context is not None:
            conn.state = _HANDSHAKE
        assert self._selector is not None
        self._selector.register(sock, selectors.EVENT_READ, conn)
        self._conns[id(conn)] = conn
        self._waiting[id(conn)] = conn

    def _event(self, conn: _Connection) -> None:
        if id(conn) not in self._conns:
            return  # closed earlier in this round (evicted for a new connection)
        try:
            self._ready(conn)
        except Exception:
            log.exception("connection from %s failed", conn.address[0])
            self._close(conn)

    def _ready(self, conn: _Connection) -> None:
        try:
            if conn.state == _HANDSHAKE:
                # TLS: the handshake runs here, without blocking the loop, under
                # the request deadline; a refused client is logged at debug level.
                try:
                    conn.sock.do_handshake()  # type: ignore[attr-defined]
                except ssl.SSLWantReadError:
                    self._want(conn, selectors.EVENT_READ)
                    return
                except ssl.SSLWantWriteError:
                    self._want(conn, selectors.EVENT_WRITE)
                    return
                conn.state = _READING
            if conn.state == _LINGER:
                self._drain(conn)
                return
            self._read(conn)
            self._advance(conn)
        except OSError as exc:  # ssl.SSLError included
            log.debug("connection from %s ended: %s", conn.address[0], exc)
            if conn.state == _HANDSHAKE:
                self._linger(conn)  # e.g. plain HTTP to the TLS port: close without a reset
            else:
                self._close(conn)

    def _want(self, conn: _Connection, events: int) -> None:
        assert self._selector is not None
        if self._selector.get_key(conn.sock).events != events:
            self._selector.modify(conn.sock, events, conn)

    def _read(self, conn: _Connection) -> None:
        self._want(conn, selectors.EVENT_READ)
        room = MAX_HEAD_BYTES + MAX_BODY_BYTES - len(conn.buffer)
        while room > 0:
            try:
                data = conn.sock.recv(min(room, 65536))
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
                return
            except ssl.SSLWantWriteError:
                self._want(conn, selectors.EVENT_WRITE)
                return
            except ssl.SSLZeroReturnError:
                data = b""
            if not data:
                conn.eof = True
                return
            conn.buffer += data
            room -= len(data)

    def _advance(self, conn: _Connection) -> None:
        while True:
            if conn.buffer[:1] in (b"\r", b"\n"):
                # Empty lines before a request line are ignored (RFC 9112 §2.2).
                stripped = conn.buffer.lstrip(b"\r\n")
                del conn.buffer[: len(conn.buffer) - len(stripped)]
                conn.framer.reset()
            if conn.idle and conn.buffer:
                conn.idle = False
                conn.deadline = time.monotonic() + self.request_timeout
            frame = conn.framer.frame(conn.buffer)
            if frame is None:
                if conn.eof:
                    if conn.buffer:
                        log.debug("connection from %s closed mid-request: ignored", conn.address[0])
                    self._close(conn)
                return
            line = bytes(conn.buffer[: conn.buffer.find(b"\n")])
            if frame.error is not None or not _is_probe(line):
                self._dispatch(conn, frame)
                return
            if not self._answer_probe(conn, frame):
                return
            # Kept alive: a pipelined request may be buffered already.

    def _answer_probe(self, conn: _Connection, frame: Frame) -> bool:
        """Answer /healthz or /readyz here, so probes never wait for a worker (all of them
        may be writing to slow readers). True when the connection reads on."""
        request = bytes(conn.buffer[: frame.size])
        del conn.buffer[: frame.size]
        out = io.BytesIO()
        handler = Handler(conn.sock, conn.address, self, raw=request, frame=frame, out=out)
        data = out.getvalue()
        close = handler.close_connection or frame.close or conn.eof
        try:
            sent = conn.sock.send(data)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            sent = 0
        if sent < len(data):  # the client is not reading: a worker may wait for it
            self._dispatch(conn, Frame(0, close=close), pending=data[sent:])
            return False
        if close:
            self._linger(conn)
            return False
        conn.framer.reset()
        conn.idle = not conn.buffer
        timeout = self.idle_timeout if conn.idle else self.request_timeout
        conn.deadline = time.monotonic() + timeout
        self._waiting.move_to_end(id(conn))  # just served: the last to be closed for room
        return True

    def _dispatch(self, conn: _Connection, frame: Frame, pending: bytes | None = None) -> None:
        assert self._selector is not None
        self._selector.unregister(conn.sock)
        self._waiting.pop(id(conn), None)
        conn.state = _BUSY
        self._tasks.put((conn, frame, pending))
        if self._idle_workers.acquire(blocking=False):
            return
        if len(self._workers) < self.max_workers:
            worker = threading.Thread(
                target=self._work, name=f"http-worker-{len(self._workers)}", daemon=True
            )
            worker.start()
            self._workers.append(worker)

    def _take_back(self) -> None:
        while True:
            with self._lock:
                if not self._returns:
                    return
                conn, action = self._returns.popleft()
            if action == "resume":
                self._resume(conn)
            elif action == "linger":
                self._linger(conn)
            else:
                self._close(conn)

    def _resume(self, conn: _Connection) -> None:
        """Back from a worker, kept alive: wait for the next request."""
        now = time.monotonic()
        conn.state = _READING
        conn.framer.reset()
        conn.idle = not conn.buffer
        conn.deadline = now + (self.idle_timeout if conn.idle else self.request_timeout)
        try:
            conn.sock.setblocking(False)
        except OSError:
            self._close(conn)
            return
        assert self._selector is not None
        self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        self._waiting[id(conn)] = conn
        # A pipelined request may be buffered here, or decrypted in the TLS layer
        # where the selector cannot see it.
        self._ready(conn)

    def _linger(self, conn: _Connection) -> None:
        """Back from a worker, to be closed: stop sending, discard what the client still sends.

        Closing with unread input would reset the connection, and the reset can
        destroy the answer before the client read it.
        """
        if conn.state != _BUSY and self._selector is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(conn.sock)
        self._waiting.pop(id(conn), None)
        if conn.eof:
            self._close(conn)
            return
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
        except OSError:
            self._close(conn)
            return
        conn.state = _LINGER
        conn.buffer = bytearray()
        conn.deadline = time.monotonic() + LINGER_TIMEOUT
        assert self._selector is not None
        self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        self._waiting[id(conn)] = conn

    def _drain(self, conn: _Connection) -> None:
        drained = 0
        while drained < LINGER_BYTES:
            try:
                data = conn.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            if not data:
                break
            drained += len(data)
        self._close(conn)

    def _sweep(self, now: float) -> None:
        for conn in [c for c in self._waiting.values() if c.deadline <= now]:
            if conn.state != _LINGER and not conn.idle:
                log.debug("connection from %s timed out before a whole request", conn.address[0])
            self._close(conn)

    def _evict_oldest(self) -> bool:
        """Close the connection that has waited longest for its request (or to close)."""
        if not self._waiting:
            return False
        oldest = next(iter(self._waiting.values()))
        log.debug("connection from %s closed for a new one", oldest.address[0])
        self._close(oldest)
        return True

    def _forget(self, conn: _Connection) -> None:
        self._conns.pop(id(conn), None)
        self._waiting.pop(id(conn), None)
        if self._selector is not None and conn.state != _BUSY:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(conn.sock)

    def _close(self, conn: _Connection) -> None:
        self._forget(conn)
        _close_socket(conn.sock)

    # -- the workers ------------------------------------------------------------

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            conn, frame, pending = task
            action = "close"
            try:
                if pending is None:
                    action = self._answer(conn, frame)
                else:
                    action = self._finish_write(conn, pending, frame.close)
            except Exception:
                log.exception("answering %s failed", conn.address[0])
            finally:
                self._give_back(conn, action)
                self._idle_workers.release()

    def _answer(self, conn: _Connection, frame: Frame) -> str:
        request = bytes(conn.buffer[: frame.size])
        del conn.buffer[: frame.size]
        try:
            conn.sock.settimeout(self.write_timeout)
            handler = Handler(conn.sock, conn.address, self, raw=request, frame=frame)
        except OSError as exc:
            log.debug("connection from %s ended: %s", conn.address[0], exc)
            return "close"
        if handler.close_connection or frame.close or conn.eof:
            return "linger"
        return "resume"

    def _finish_write(self, conn: _Connection, pending: bytes, close: bool) -> str:
        try:
            conn.sock.settimeout(self.write_timeout)
            conn.sock.sendall(pending)
        except OSError as exc:
            log.debug("connection from %s ended: %s", conn.address[0], exc)
            return "close"
        return "linger" if close or conn.eof else "resume"

    def _give_back(self, conn: _Connection, action: str) -> None:
        with self._lock:
            if not self._loop_done:
                self._returns.append((conn, action))
                self._wake()
                return
        _close_socket(conn.sock)


# --------------------------------------------------------------------------- responses


def _is_probe(request_line: bytes) -> bool:
    words = request_line.split()
    return (
        len(words) == 3
        and words[0] in (b"GET", b"HEAD")
        and words[1].split(b"?", 1)[0] in _PROBE_PATHS
    )


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


def accepts_gzip(values: Iterable[str] | None) -> bool:
    """Whether ``Accept-Encoding`` field values (RFC 9110 §12.5.3) allow gzip.

    gzip (or x-gzip) with a q-value above 0, or, when gzip is not named, ``*``
    with one. A malformed q-value makes its entry unacceptable.
    """
    gzip_q: float | None = None
    star_q: float | None = None
    for value in values or ():
        for item in value.split(","):
            coding, *params = item.split(";")
            coding = coding.strip().lower()
            if not coding:
                continue
            q = 1.0
            for param in params:
                name, _, text = param.partition("=")
                if name.strip().lower() == "q":
                    text = text.strip()
                    q = float(text) if _QVALUE.fullmatch(text) else 0.0
            if coding in ("gzip", "x-gzip"):
                gzip_q = q if gzip_q is None else max(gzip_q, q)
            elif coding == "*":
                star_q = q if star_q is None else max(star_q, q)
    if gzip_q is not None:
        return gzip_q > 0
    return star_q is not None and star_q > 0


def html_headers(page: str) -> dict[str, str]:
    """Security headers for an HTML page: a CSP allowing only its own inline
    <style> and <script> blocks (by SHA-256), no framing, no referrer.

    Inline ``style=`` attributes, event handler attributes, external scripts,
    images and fonts are all blocked: a page that needs one must change this.
    """
    sources: dict[str, list[str]] = {"style": [], "script": []}
    for match in _INLINE.finditer(page):
        if match.group(2) and "src=" in match.group(2).lower():
            continue  # an external script: not allowed by default-src 'none'
        digest = base64.b64encode(hashlib.sha256(match.group(3).encode()).digest()).decode()
        sources[match.group(1).lower()].append(f"'sha256-{digest}'")
    policy = ["default-src 'none'"]
    for kind, hashes in sources.items():
        if hashes:
            policy.append(f"{kind}-src " + " ".join(dict.fromkeys(hashes)))
    policy += ["base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"]
    return {"Content-Security-Policy": "; ".join(policy), "Referrer-Policy": "no-referrer"}


class _SocketWriter:
    """``wfile``: every write goes to the socket whole (blocking, with the write timeout)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def write(self, data: bytes) -> int:
        self._sock.sendall(data)
        return len(data)

    def flush(self) -> None:
        pass


class Handler(BaseHTTPRequestHandler):
    """Answers one request that the event loop received whole (``raw``)."""

    server: ExporterHTTPServer
    server_version = f"aws-reservation-exporter/{__version__}"
    protocol_version = "HTTP/1.1"
    # Plain text: no HTML page echoing the request (nosniff keeps it text).
    error_message_format = "Error code: %(code)d\nMessage: %(message)s.\n%(explain)s\n"
    error_content_type = "text/plain; charset=utf-8"

    def __init__(
        self,
        request: Any,
        client_address: Any,
        server: ExporterHTTPServer,
        *,
        raw: bytes = b"",
        frame: Frame | None = None,
        out: io.BytesIO | None = None,
    ) -> None:
        self._raw = raw
        self._frame = frame if frame is not None else Frame(len(raw))
        self._out = out
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        self.connection = self.request
        self.rfile = io.BytesIO(self._raw)
        # The answer goes to the socket, or into ``out`` for the event loop to send.
        writer = self._out if self._out is not None else _SocketWriter(self.request)
        self.wfile = writer  # type: ignore[assignment]

    def finish(self) -> None:
        pass

    def handle(self) -> None:
        self.close_connection = True
        frame = self._frame
        if frame.error in _UNPARSED:
            self.requestline = self.request_version = self.command = ""
            self.send_error(frame.error, None, frame.reason)
            return
        self.handle_one_request()

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self._frame.error is not None:
            self.send_error(self._frame.error, None, self._frame.reason)
            return False
        return True

    def handle_expect_100(self) -> bool:
        # No 100 Continue: the body is here already, or it is not wanted.
        return True

    def version_string(self) -> str:
        return self.server_version  # not the Python version

    def send_response(self, code: int, message: str | None = None) -> None:
        super().send_response(code, message)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.server.count(self._path() if hasattr(self, "path") else "", int(code))

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
        elif path == "/calendar.ics":
            body = self.server.calendar_feed()
            self._send(
                HTTPStatus.OK,
                body,
                "text/calendar; charset=utf-8",
                head=head,
                headers={"Content-Disposition": 'inline; filename="aws-reservations.ics"'},
            )
        else:
            settings = self.server.settings()
            query = page_module.Query.parse(urllib.parse.parse_qs(self._query()))
            page = page_module.render(
                self.server.view(),
                query,
                version=__version__,
                ready=self.server.ready.is_set(),
                refresh_interval=settings.refresh_interval,
            )
            self._send(
                HTTPStatus.OK,
                page.encode(),
                "text/html; charset=utf-8",
                head=head,
                headers=html_headers(page),
            )

    def _metrics(self, head: bool) -> None:
        body = self.server.metrics_chunks()
        compress = accepts_gzip(self.headers.get_all("Accept-Encoding"))
        if compress:
            body = gzipped(body)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(sum(map(len, body))))
        self.send_header("Vary", "Accept-Encoding")
        if compress:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        if not head:
            for run in batched(body):
                self.wfile.write(run)

    # -- helpers --------------------------------------------------------------

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _query(self) -> str:
        return self.path.partition("?")[2][:4096]

    def _authorized(self, path: str) -> bool:
        config = self.server.web_config
        if config is None or path in OPEN_PATHS:
            return True
        decision = config.authenticate(self.headers.get("Authorization"), self.client_address[0])
        if decision.ok:
            return True
        if decision.retry_after:
            self._send(
                HTTPStatus.TOO_MANY_REQUESTS,
                b"Too many failed authentication attempts; try again later.\n",
                headers={"Retry-After": str(decision.retry_after)},
            )
            return False
        self._send(
            HTTPStatus.UNAUTHORIZED,
            b"Unauthorized\n",
            headers={"WWW-Authenticate": BASIC_AUTH_CHALLENGE},
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
