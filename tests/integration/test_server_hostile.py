"""The HTTP server against slow, half-open and hostile clients (issue 14, items 9,
10 and 13c-e), over real sockets to an in-process ExporterHTTPServer."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import socket
import threading
import time

import pytest

from exporter import __version__
from exporter.server import (
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    Frame,
    RequestFramer,
    accepts_gzip,
    html_headers,
)
from tests.http_support import Wire, closed_by_server, serving, silent_for

# --- item 9: half-open and slow clients hold no thread and trigger nothing --------------


def test_half_open_clients_hold_no_thread_and_closing_them_renders_nothing():
    with serving() as served:
        assert served.get("/healthz")[0] == 200
        threads = threading.active_count()
        clients = []
        for i in range(200):
            sock = served.connect()
            sock.sendall(b"GET /metr" if i % 2 else b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            clients.append(sock)
        served.wait_until(lambda: served.server.open_connections >= 200)
        assert threading.active_count() - threads <= 1
        # Healthy clients are served meanwhile.
        assert served.get("/healthz")[0] == 200
        status, _, body = served.get("/metrics")
        assert status == 200 and b'reservation_id="ri-19"' in body
        assert served.renders == 1
        for sock in clients:
            sock.close()
        served.wait_until(lambda: served.server.open_connections == 0)
        assert served.renders == 1
        assert served.server.worker_threads <= 2
        assert served.requests_total() == {("/healthz", "200"): 2.0, ("/metrics", "200"): 1.0}


@pytest.mark.parametrize(
    "partial",
    [
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n",  # headers not ended
        b"GET /metrics HTTP/1.1",  # request line not ended
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",  # body short
    ],
)
def test_a_request_the_client_abandons_is_not_answered(partial):
    with serving() as served:
        with served.connect() as sock:
            sock.sendall(partial)
            sock.shutdown(socket.SHUT_WR)  # the client is done: the request stays unfinished
            assert closed_by_server(sock) == b""
        assert served.renders == 0
        assert served.requests_total() == {}


def test_a_slow_request_is_cut_at_the_request_deadline():
    with serving(request_timeout=0.5) as served, served.connect() as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\n")
        started = time.monotonic()
        for _ in range(3):  # slow-loris: a header line now and then does not extend it
            time.sleep(0.1)
            sock.sendall(b"X-A: b\r\n")
        assert closed_by_server(sock) == b""
        assert 0.4 < time.monotonic() - started < 2.0
        assert served.renders == 0


def test_an_idle_kept_alive_connection_is_closed_after_the_idle_timeout():
    with serving(idle_timeout=0.5) as served, served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert Wire(sock).answer()[0] == 200
        started = time.monotonic()
        assert closed_by_server(sock) == b""
        assert 0.4 < time.monotonic() - started < 2.0


def test_at_the_connection_cap_the_longest_waiting_connection_makes_room():
    with serving(max_connections=20) as served:
        waiting = [served.connect() for _ in range(20)]
        for sock in waiting:
            sock.sendall(b"GET /")
        served.wait_until(lambda: served.server.open_connections == 20)
        assert served.get("/healthz")[0] == 200  # served, not queued behind the 20
        assert served.server.open_connections <= 20
        assert closed_by_server(waiting[0]) == b""  # the oldest one went
        assert silent_for(waiting[-1], 0.2)  # the newest ones are still open
        for sock in waiting:
            sock.close()


def test_requests_are_answered_by_at_most_max_workers_threads():
    with serving(max_workers=2) as served:
        served.render_delay = 0.2
        results: list[int] = []

        def scrape() -> None:
            results.append(served.get("/metrics")[0])

        threads = [threading.Thread(target=scrape) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results == [200] * 8
        assert served.renders == 8
        assert served.most_rendering == 2
        assert served.server.worker_threads == 2


def test_pipelined_requests_get_one_answer_each_in_order():
    with serving() as served, served.connect() as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        wire = Wire(sock)
        assert [wire.answer()[0] for _ in range(3)] == [200, 404, 503]
        assert wire.silent(0.3)


# --- item 10: request bodies ----------------------------------------------------------------


def test_a_body_on_a_kept_alive_connection_is_read_and_not_parsed_as_a_request():
    # The body is itself a request: parsed as one, it would get a second answer.
    body = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    with serving() as served, served.connect() as sock:
        sock.sendall(
            b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        wire = Wire(sock)
        status, headers, _ = wire.answer()
        assert status == 405 and "Connection" not in headers
        assert wire.silent(0.3)  # exactly one answer
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert wire.answer()[0] == 200
        assert wire.silent(0.3)
        assert served.renders == 0


def test_a_body_arriving_in_pieces_is_waited_for():
    calls = []

    def reload() -> tuple[bool, str]:
        calls.append(1)
        return True, "config reloaded"

    with serving(reload=reload) as served, served.connect() as sock:
        sock.sendall(b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
        assert silent_for(sock, 0.3)  # not answered before the whole body is here
        sock.sendall(b"56789GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        wire = Wire(sock)
        assert wire.answer("POST")[:3:2] == (200, b"config reloaded\n")
        assert wire.answer()[0] == 200
        assert wire.silent(0.3)
        assert calls == [1]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"Content-Length: %d\r\n" % (MAX_BODY_BYTES + 1), 413),
        (b"Transfer-Encoding: chunked\r\n", 411),
        (b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", 411),
        (b"Content-Length: 3\r\nContent-Length: 4\r\n", 400),
        (b"Content-Length: -1\r\n", 400),
        (b"Content-Length : 3\r\n", 400),
        (b"X-Folded: a\r\n b\r\n", 400),
    ],
)
def test_bodies_that_cannot_be_framed_are_refused_and_the_connection_closed(headers, status):
    with serving() as served, served.connect() as sock:
        # The chunked body holds a request: it must never be answered.
        sock.sendall(
            b"POST /-/reload HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"
            b"1f\r\nGET /healthz HTTP/1.1\r\n\r\n\r\n0\r\n\r\n"
        )
        reply = closed_by_server(sock)
        assert reply.startswith(b"HTTP/1.1 %d " % status), reply[:80]
        assert reply.count(b"HTTP/1.1 ") == 1
        assert b"Connection: close" in reply


def test_expect_continue_is_answered_without_waiting_for_the_body():
    with serving() as served, served.connect() as sock:
        sock.sendall(
            b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        reply = closed_by_server(sock)
        assert reply.startswith(b"HTTP/1.1 405 ") and b"100 Continue" not in reply


def test_an_oversized_head_is_refused():
    with serving() as served:
        with served.connect() as sock:
            sock.sendall(b"GET /" + b"a" * MAX_HEAD_BYTES + b" HTTP/1.1\r\n\r\n")
            assert closed_by_server(sock).startswith(b"HTTP/1.1 414 ")
        with served.connect() as sock:
            sock.sendall(b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"b" * MAX_HEAD_BYTES + b"\r\n\r\n")
            assert closed_by_server(sock).startswith(b"HTTP/1.1 431 ")
        assert served.get("/healthz")[0] == 200


def test_framer_finds_the_end_of_each_request_in_any_split():
    message = (
        b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
        b"GET /healthz HTTP/1.1\nHost: x\n\n"
    )
    for cut in range(len(message) + 1):
        framer = RequestFramer()
        frames = []
        buf = bytearray()
        for piece in (message[:cut], message[cut:]):
            buf += piece
            while (frame := framer.frame(buf)) is not None:
                frames.append(bytes(buf[: frame.size]))
                del buf[: frame.size]
                framer.reset()
        first = message.index(b"GET")
        assert frames == [message[:first], message[first:]], cut
        assert buf == b""


def test_framer_answers_short_request_lines_from_the_line_alone():
    assert RequestFramer().frame(b"GARBAGE\r\n") == Frame(9, close=True)
    assert RequestFramer().frame(b"GET /\r\nrest") == Frame(7, close=True)
    assert RequestFramer().frame(b"GET / HTTP/1.1\r\nHost: x\r\n") is None


# --- item 13c, d: response headers -------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/metrics", 200),
        ("GET", "/healthz", 200),
        ("GET", "/readyz", 503),
        ("GET", "/", 200),
        ("GET", "/nope", 404),
        ("POST", "/metrics", 405),
        ("BREW", "/", 501),
    ],
)
def test_every_answer_has_nosniff_and_names_only_the_exporter(method, path, status):
    with serving() as served:
        code, headers, _ = served.get(path, method=method)
        assert code == status
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Server"] == f"aws-reservation-exporter/{__version__}"
        assert "python" not in str(headers).lower()


def test_error_pages_are_plain_text():
    with serving() as served, served.connect() as sock:
        sock.sendall(b"BREW /<script> HTTP/1.1\r\n\r\n")
        reply = closed_by_server(sock)
        assert reply.startswith(b"HTTP/1.1 501 ")
        assert b"Content-Type: text/plain; charset=utf-8" in reply
        assert b"<html" not in reply.lower()
        assert b"X-Content-Type-Options: nosniff" in reply


def test_landing_page_has_a_strict_csp_that_allows_its_own_style():
    with serving() as served:
        status, headers, body = served.get("/")
    assert status == 200
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert "unsafe" not in headers["Content-Security-Policy"]
    style = re.search(rb"<style>(.*?)</style>", body, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1)).digest()).decode()
    assert policy["style-src"] == f"'sha256-{digest}'"
    assert "script-src" not in policy
    assert headers["Referrer-Policy"] == "no-referrer"


def test_csp_hashes_every_inline_block_and_skips_external_scripts():
    page = "<style>a{}</style><script>x()</script><script src='/x.js'></script><style>b{}</style>"
    policy = html_headers(page)["Content-Security-Policy"]

    def sha(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert f"style-src {sha('a{}')} {sha('b{}')};" in policy
    assert f"script-src {sha('x()')};" in policy


# --- item 13e: Accept-Encoding ------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "gzip_expected"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("gzip;q=0.001", True),
        ("gzip;q=1.5", False),  # malformed q-value: not acceptable
        ("gzip;q=nan", False),
        ("identity", False),
        ("deflate, br", False),
        ("*", True),
        ("*;q=0", False),
        ("*, gzip;q=0", False),  # named codings win over *
        ("gzip;q=0, *", False),
        ("br;q=1.0, gzip;q=0.5, identity;q=0", True),
        ("identity;q=0", False),
        ("", False),
    ],
)
def test_accept_encoding_is_parsed_with_q_values(header, gzip_expected):
    assert accepts_gzip([header]) is gzip_expected


def test_gzip_is_not_sent_when_refused_with_q_zero():
    with serving() as served:
        _, headers, body = served.get("/metrics", {"Accept-Encoding": "gzip;q=0, identity"})
        assert headers["Content-Encoding"] is None
        assert body.startswith(b"# HELP")
        _, headers, body = served.get("/metrics", {"Accept-Encoding": "identity;q=0.5, *"})
        assert headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(body).startswith(b"# HELP")
        assert headers["Vary"] == "Accept-Encoding"


def test_probes_are_answered_while_every_worker_is_busy():
    with serving(max_workers=1) as served:
        served.render_delay = 1.5
        slow = threading.Thread(target=served.get, args=("/metrics",))
        slow.start()
        served.wait_until(lambda: served.rendering == 1)
        started = time.monotonic()
        assert served.get("/healthz")[0] == 200
        assert served.get("/readyz", method="HEAD")[0] == 503
        with served.connect() as sock:  # kept alive, pipelined
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
            wire = Wire(sock)
            assert [wire.answer()[0] for _ in range(3)] == [200, 200, 200]
        assert time.monotonic() - started < 0.5
        assert served.rendering == 1  # the only worker is still busy
        slow.join(10)
        assert served.server.worker_threads == 1
        assert served.requests_total()[("/healthz", "200")] == 4.0


def test_pipelined_probes_to_a_client_that_does_not_read_lose_nothing():
    count = 40000  # ~16,000 answers fill the loopback buffers here
    with serving() as served:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(30)
        sock.connect(("127.0.0.1", served.port))
        with sock:
            sender = threading.Thread(
                target=sock.sendall, args=(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * count,)
            )
            sender.start()
            # Not reading: the answers fill the socket buffers, a worker takes over the write.
            served.wait_until(lambda: served.server.worker_threads == 1, timeout=20)
            wire = Wire(sock)
            answers = [wire.answer()[2] for _ in range(count)]
            sender.join(30)
            assert answers == [b"ok\n"] * count
            assert wire.silent(0.3)
