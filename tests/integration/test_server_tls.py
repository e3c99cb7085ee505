"""TLS on the exporter's own server: handshakes run in the event loop without
blocking it, mutual TLS, kept-alive TLS connections, slow handshakes cut at
the request deadline."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import pytest

from exporter.webconfig import WebConfig, load_web_config
from tests.http_support import Wire, closed_by_server, serving
from tests.webconfigs.pki import build_pki

MTLS = """tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
"""


@pytest.fixture
def mtls(tmp_path: Path) -> tuple[Path, WebConfig]:
    build_pki(tmp_path)
    (tmp_path / "web.yml").write_text(MTLS)
    return tmp_path, load_web_config(tmp_path / "web.yml")


def client_context(directory: Path, *, with_cert: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=directory / "ca.crt")
    if with_cert:
        context.load_cert_chain(directory / "client.crt", directory / "client.key")
    return context


def test_mutual_tls_client_is_served_on_a_kept_alive_connection(mtls):
    directory, web = mtls
    with serving(web_config=web) as served:
        raw = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        with client_context(directory).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            wire = Wire(tls)
            for path in ("/healthz", "/metrics", "/readyz"):
                tls.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                status, headers, _ = wire.answer()
                assert status == (503 if path == "/readyz" else 200)
                assert headers["X-Content-Type-Options"] == "nosniff"
            # Pipelined: both requests arrive in one TLS read.
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 2)
            assert [wire.answer()[0] for _ in range(2)] == [200, 200]
        assert served.renders == 1


def test_a_client_without_certificate_is_refused_and_others_go_on(mtls):
    directory, web = mtls
    with serving(web_config=web) as served:
        raw = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        context = client_context(directory, with_cert=False)
        with (
            pytest.raises(ssl.SSLError) as refused,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.recv(1)
        assert refused.value.reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED"
        raw = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        with client_context(directory).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert Wire(tls).answer()[0] == 200


def test_a_client_that_never_handshakes_blocks_nobody_and_is_cut_at_the_deadline(mtls):
    directory, web = mtls
    with serving(web_config=web, request_timeout=0.5) as served:
        stalled = [socket.create_connection(("127.0.0.1", served.port), timeout=10)]
        stalled.append(socket.create_connection(("127.0.0.1", served.port), timeout=10))
        stalled[1].sendall(b"\x16\x03\x01\x02\x00")  # the start of a ClientHello, no more
        started = time.monotonic()
        raw = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        with client_context(directory).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert Wire(tls).answer()[0] == 200
        assert time.monotonic() - started < 0.4
        for sock in stalled:
            assert closed_by_server(sock) == b""
            sock.close()
        assert time.monotonic() - started < 2.0
