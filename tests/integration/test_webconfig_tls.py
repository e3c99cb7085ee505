"""End to end: a real HTTPS server wrapped with WebConfig's SSL context, real TLS clients."""

from __future__ import annotations

import base64
import http.client
import logging
import shutil
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from exporter.webconfig import BASIC_AUTH_CHALLENGE, WebConfig, load_web_config
from tests.webconfigs.pki import (
    ROTATED_SERIAL,
    SERVER_SERIAL,
    build_pki,
    issue,
    serial_of,
    write_cert,
    write_key,
)

# Both ways a server can use the context: wrap the listening socket once, or wrap each
# accepted socket (what exporter/server.py does). Rotation must work with either.
STYLES = ("listener", "per-connection")
# A client connecting to an IP sends no SNI (as Prometheus scraping a pod IP); to a name it does.
HOSTS = ("127.0.0.1", "localhost")

ALICE_HASH = "$2b$04$uZmvW3DlxKhtYs9skYhX5uEa/PF03FdldDljf98/ZkOU50F3Fl5Eu"  # "secret"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5  # a stuck client cannot hang server_close()

    def do_GET(self) -> None:
        if self.server.web.check_basic_auth(self.headers.get("Authorization")):
            status, body, headers = 200, b"ok\n", {}
        else:
            status, body, headers = (
                401,
                b"Unauthorized\n",
                {"WWW-Authenticate": BASIC_AUTH_CHALLENGE},
            )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    # server_close() joins the handler threads, so a test may inspect handshake_errors after.
    daemon_threads = False
    block_on_close = True

    def __init__(self, web: WebConfig, style: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.web = web
        self.style = style
        self.handshake_errors: list[Exception] = []
        if style == "listener":
            self.socket = web.wrap_server_socket(self.socket)

    def get_request(self) -> tuple[socket.socket, object]:
        sock, addr = super().get_request()
        context = self.web.ssl_context()
        if self.style == "per-connection" and context is not None:
            sock = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request: socket.socket, client_address: object) -> None:
        # The handshake runs here, in the worker thread, with a timeout.
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(5)
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                self.handshake_errors.append(exc)
                return
        super().finish_request(request, client_address)


@contextmanager
def serving(web: WebConfig, style: str = "listener") -> Iterator[_Server]:
    server = _Server(web, style)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    server_serial: int
    tls_version: str


def get(
    server: _Server,
    trust: Path,
    *,
    host: str = "127.0.0.1",
    cert: Path | None = None,
    key: Path | None = None,
    max_version: ssl.TLSVersion | None = None,
    authorization: str | None = None,
) -> Reply:
    """GET / over TLS, verifying the server against ``trust``; raises on TLS failures."""
    context = ssl.create_default_context(cafile=trust)
    if cert is not None:
        context.load_cert_chain(cert, key)
    if max_version is not None:
        context.maximum_version = max_version
    port = server.server_address[1]
    request = "GET / HTTP/1.0\r\nHost: test\r\n"
    if authorization is not None:
        request += f"Authorization: {authorization}\r\n"
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall((request + "\r\n").encode())
        response = http.client.HTTPResponse(tls)
        response.begin()
        response.read()
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return Reply(response.status, response.headers, serial_of(der), tls.version() or "")


def refusal(server: _Server, trust: Path, **client: object) -> ssl.SSLError:
    """The TLS error a client gets when the server refuses it.

    In TLS 1.3 the client finishes its handshake before the server has checked the client's
    certificate; the refusal arrives as an alert on the client's first read. The client must
    not send a request first: the server closing with that request unread would reset the
    connection, and the reset can destroy the alert before the client reads it.
    """
    context = ssl.create_default_context(cafile=trust)
    if client.get("cert") is not None:
        context.load_cert_chain(client["cert"], client["key"])  # type: ignore[arg-type]
    if client.get("max_version") is not None:
        context.maximum_version = client["max_version"]  # type: ignore[assignment]
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                data = tls.recv(1)
        except ssl.SSLError as exc:
            return exc
    raise AssertionError(f"the server did not refuse the client (read {data!r})")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def pki(tmp_path: Path):
    ca = build_pki(tmp_path)
    # The clients' trust store: a copy, so that tests may replace ca.crt (the server's client CA).
    shutil.copyfile(tmp_path / "ca.crt", tmp_path / "trust.crt")
    return tmp_path, ca


def web_config(directory: Path, text: str) -> WebConfig:
    path = directory / "web.yml"
    path.write_text(text)
    return load_web_config(path)


TLS_ONLY = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"


def mtls(mode: str, extra: str = "") -> str:
    return TLS_ONLY + f"  client_auth_type: {mode}\n  client_ca_file: ca.crt\n" + extra


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("host", HOSTS)
def test_tls_handshake_serves_the_configured_certificate(pki, style: str, host: str):
    directory, _ = pki
    with serving(web_config(directory, TLS_ONLY), style) as server:
        reply = get(server, directory / "trust.crt", host=host)
    assert reply.status == 200
    assert reply.server_serial == SERVER_SERIAL
    assert reply.tls_version == "TLSv1.3"


def test_plain_http_client_cannot_talk_to_tls_server(pki):
    directory, _ = pki
    with serving(web_config(directory, TLS_ONLY)) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            conn.request("GET", "/")
            conn.getresponse()
        conn.close()


def test_tls12_client_is_accepted_by_default(pki):
    directory, _ = pki
    with serving(web_config(directory, TLS_ONLY)) as server:
        reply = get(server, directory / "trust.crt", max_version=ssl.TLSVersion.TLSv1_2)
    assert reply.status == 200
    assert reply.tls_version == "TLSv1.2"


def test_tls13_only_server_rejects_tls12_only_client(pki):
    directory, _ = pki
    with serving(web_config(directory, TLS_ONLY + "  min_version: TLS13\n")) as server:
        error = refusal(server, directory / "trust.crt", max_version=ssl.TLSVersion.TLSv1_2)
        assert error.reason == "TLSV1_ALERT_PROTOCOL_VERSION"
        reply = get(server, directory / "trust.crt")
    assert reply.status == 200
    assert reply.tls_version == "TLSv1.3"
    assert len(server.handshake_errors) == 1


def test_require_and_verify_rejects_a_client_without_certificate(pki):
    directory, _ = pki
    with serving(web_config(directory, mtls("RequireAndVerifyClientCert"))) as server:
        error = refusal(server, directory / "trust.crt")
    assert error.reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED"
    assert [type(e) for e in server.handshake_errors] == [ssl.SSLError]


def test_require_and_verify_rejects_a_certificate_from_another_ca(pki):
    directory, _ = pki
    with serving(web_config(directory, mtls("RequireAndVerifyClientCert"))) as server:
        error = refusal(
            server,
            directory / "trust.crt",
            cert=directory / "rogue-client.crt",
            key=directory / "rogue-client.key",
        )
    assert error.reason == "TLSV1_ALERT_UNKNOWN_CA"
    assert len(server.handshake_errors) == 1


def test_require_and_verify_accepts_a_certificate_signed_by_the_client_ca(pki):
    directory, _ = pki
    with serving(web_config(directory, mtls("RequireAndVerifyClientCert"))) as server:
        reply = get(
            server,
            directory / "trust.crt",
            cert=directory / "client.crt",
            key=directory / "client.key",
        )
    assert reply.status == 200
    assert server.handshake_errors == []


def test_verify_if_given_accepts_no_certificate_and_rejects_a_bad_one(pki):
    directory, _ = pki
    with serving(web_config(directory, mtls("VerifyClientCertIfGiven"))) as server:
        assert get(server, directory / "trust.crt").status == 200
        good = get(
            server,
            directory / "trust.crt",
            cert=directory / "client.crt",
            key=directory / "client.key",
        )
        assert good.status == 200
        error = refusal(
            server,
            directory / "trust.crt",
            cert=directory / "rogue-client.crt",
            key=directory / "rogue-client.key",
        )
        assert error.reason == "TLSV1_ALERT_UNKNOWN_CA"


def test_request_client_cert_lets_any_client_in(pki):
    directory, _ = pki
    config = TLS_ONLY + "  client_auth_type: RequestClientCert\n"
    with serving(web_config(directory, config)) as server:
        assert get(server, directory / "trust.crt").status == 200
        rogue = get(
            server,
            directory / "trust.crt",
            cert=directory / "rogue-client.crt",
            key=directory / "rogue-client.key",
        )
        assert rogue.status == 200


def _rotate_server_certificate(directory: Path, ca) -> None:
    key, cert = issue(ca, "server", ROTATED_SERIAL, server=True)
    write_key(directory / "server.key", key)
    write_cert(directory / "server.crt", cert)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("host", HOSTS)
def test_rotated_certificate_is_served_from_the_next_connection(pki, style: str, host: str):
    directory, ca = pki
    with serving(web_config(directory, TLS_ONLY), style) as server:
        assert get(server, directory / "trust.crt", host=host).server_serial == SERVER_SERIAL
        _rotate_server_certificate(directory, ca)
        assert get(server, directory / "trust.crt", host=host).server_serial == ROTATED_SERIAL
        assert get(server, directory / "trust.crt", host=host).server_serial == ROTATED_SERIAL


def test_half_rotated_files_keep_the_previous_certificate_until_the_key_arrives(
    pki, caplog: pytest.LogCaptureFixture
):
    directory, ca = pki
    key, cert = issue(ca, "server", ROTATED_SERIAL, server=True)
    with (
        caplog.at_level(logging.INFO, logger="exporter.webconfig"),
        serving(web_config(directory, TLS_ONLY)) as server,
    ):
        write_cert(directory / "server.crt", cert)  # the new key is not there yet
        assert get(server, directory / "trust.crt").server_serial == SERVER_SERIAL
        assert get(server, directory / "trust.crt").server_serial == SERVER_SERIAL
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1  # once per state of the files, not per connection
        assert "does not match the certificate" in warnings[0].getMessage()

        write_key(directory / "server.key", key)
        assert get(server, directory / "trust.crt").server_serial == ROTATED_SERIAL
    assert any("reloaded TLS certificate" in r.getMessage() for r in caplog.records)


def test_rotated_client_ca_applies_to_the_next_connection(pki):
    directory, _ = pki
    client = {"cert": directory / "client.crt", "key": directory / "client.key"}
    rogue = {"cert": directory / "rogue-client.crt", "key": directory / "rogue-client.key"}
    with serving(web_config(directory, mtls("RequireAndVerifyClientCert"))) as server:
        assert get(server, directory / "trust.crt", **client).status == 200
        shutil.copyfile(directory / "rogue-ca.crt", directory / "ca.tmp")
        (directory / "ca.tmp").replace(directory / "ca.crt")
        assert get(server, directory / "trust.crt", **rogue).status == 200
        assert refusal(server, directory / "trust.crt", **client).reason == "TLSV1_ALERT_UNKNOWN_CA"


def test_basic_auth_over_tls(pki):
    directory, _ = pki
    config = TLS_ONLY + f"basic_auth_users:\n  alice: {ALICE_HASH}\n"
    with serving(web_config(directory, config)) as server:
        missing = get(server, directory / "trust.crt")
        assert missing.status == 401
        assert missing.headers["WWW-Authenticate"] == BASIC_AUTH_CHALLENGE
        assert (
            get(server, directory / "trust.crt", authorization=basic("alice", "secret")).status
            == 200
        )
        assert (
            get(server, directory / "trust.crt", authorization=basic("alice", "wrong")).status
            == 401
        )
        too_long = basic("alice", "x" * 73)
        assert get(server, directory / "trust.crt", authorization=too_long).status == 401
