"""/metrics is written in runs of the pre-rendered blocks, plain or gzip, and
the bytes on the wire are exactly the rendered exposition."""

from __future__ import annotations

import gzip
import http.client
import threading
from collections.abc import Iterator

import pytest

from exporter.collector import render
from exporter.model import Reservation, Target
from exporter.server import WRITE_SIZE, ExporterHTTPServer, batched, gzipped
from exporter.store import SnapshotStore
from exporter.telemetry import Telemetry
from tests.support import samples_named

NOW = 1_750_000_000.0
TARGETS = 40
PER_TARGET = 100


def _store() -> SnapshotStore:
    store = SnapshotStore()
    for t in range(TARGETS):
        target = Target(f"acct-{t}", f"{100000000000 + t}", "eu-west-1", "ec2")
        reservations = [
            Reservation(
                reservation_id=f"ri-{t}-{i}",
                state="active",
                start=NOW - 86400,
                end=NOW + (i + 1) * 3600.5,
                instance_count=i + 1,
                instance_type="m5.large",
                hourly_cost=0.25,
                upfront_cost=99.5,
            )
            for i in range(PER_TARGET)
        ]
        store.record_success(target, reservations, attempted_at=NOW - 5, duration=0.25)
    return store


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[ExporterHTTPServer, SnapshotStore]]:
    store = _store()
    server = ExporterHTTPServer(
        ("127.0.0.1", 0),
        store=store,
        telemetry=Telemetry(),
        ready=threading.Event(),
        clock=lambda: NOW,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, store
    server.shutdown()
    server.server_close()


def _get(server: ExporterHTTPServer, method: str, headers: dict[str, str]):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    conn.request(method, "/metrics", headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


def test_plain_body_is_the_rendered_exposition(served):
    server, store = served
    response, body = _get(server, "GET", {})
    assert response.status == 200
    assert int(response.headers["Content-Length"]) == len(body)
    expected = render(store.snapshot(), NOW).encode()
    assert len(expected) > 4 * WRITE_SIZE  # several socket writes
    assert body.startswith(expected)
    days = samples_named(body.decode(), "aws_reservation_days_until_expiry")
    assert len(days) == TARGETS * PER_TARGET
    by_id = {labels["reservation_id"]: value for labels, value in days}
    assert by_id["ri-7-0"] == round(3600.5 / 86400, 6)
    assert by_id["ri-39-99"] == round(100 * 3600.5 / 86400, 6)


def test_gzip_body_decompresses_to_the_same_exposition(served):
    server, store = served
    response, body = _get(server, "GET", {"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert int(response.headers["Content-Length"]) == len(body)
    text = gzip.decompress(body)
    assert text.startswith(render(store.snapshot(), NOW).encode())
    assert len(body) * 5 < len(text)


def test_head_announces_the_length_without_a_body(served):
    server, _ = served
    plain, _ = _get(server, "GET", {})
    response, body = _get(server, "HEAD", {})
    assert body == b""
    # The telemetry part may differ by a few bytes between requests (CPU seconds).
    assert abs(int(response.headers["Content-Length"]) - int(plain.headers["Content-Length"])) < 64


def test_batched_joins_small_pieces_into_runs_and_keeps_order():
    pieces = [bytes([65 + i % 26]) * (i % 7 + 1) for i in range(1000)]
    runs = list(batched(pieces, size=100))
    assert b"".join(runs) == b"".join(pieces)
    assert all(len(run) >= 100 for run in runs[:-1])
    assert all(len(run) < 100 + 7 for run in runs)
    assert list(batched([], size=100)) == []


def test_gzipped_is_one_valid_stream():
    pieces = [f"line {i}\n".encode() for i in range(50_000)]
    assert gzip.decompress(b"".join(gzipped(pieces))) == b"".join(pieces)
