"""HTTP behaviour: methods, bad requests, gzip, reload, TLS and basic auth."""

from __future__ import annotations

import base64
import gzip
import http.client
import socket
import ssl

import bcrypt
import pytest
import yaml

from exporter.webconfig import load_web_config
from tests.http_support import Wire
from tests.integration.test_faults import CONFIG, seed
from tests.support import OWN_ACCOUNT, parse_samples
from tests.webconfigs.pki import build_pki


@pytest.fixture
def running(fake_env, run_exporter):
    seed(fake_env)
    with run_exporter(CONFIG, enable_lifecycle=True) as exporter:
        exporter.wait_ready()
        yield exporter


def request(port: int, method: str, path: str, headers: dict | None = None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


def raw(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/metrics", 405),
        ("PUT", "/metrics", 405),
        ("DELETE", "/", 405),
        ("OPTIONS", "/healthz", 405),
        ("PATCH", "/readyz", 405),
        ("GET", "/-/reload", 405),
        ("GET", "/metrics/../etc/passwd", 404),
        ("GET", "/favicon.ico", 404),
        ("POST", "/nope", 404),
    ],
)
def test_only_get_and_head_on_read_endpoints(running, method, path, status):
    code, headers, _ = request(running.exporter.port, method, path)
    assert code == status
    if status == 405:
        assert "Allow" in headers


def test_head_has_headers_but_no_body(running):
    code, headers, body = request(running.exporter.port, "HEAD", "/metrics")
    assert code == 200 and body == b""
    assert int(headers["Content-Length"]) > 1000


def test_gzip_when_asked(running):
    code, headers, body = request(
        running.exporter.port, "GET", "/metrics", {"Accept-Encoding": "gzip"}
    )
    assert code == 200 and headers["Content-Encoding"] == "gzip"
    samples = parse_samples(gzip.decompress(body).decode())
    assert any(k[0] == "aws_reservation_days_until_expiry" for k in samples)


def test_gzip_refused_with_q_zero_is_not_sent(running):
    code, headers, body = request(
        running.exporter.port, "GET", "/metrics", {"Accept-Encoding": "gzip;q=0, identity"}
    )
    assert code == 200 and "Content-Encoding" not in headers
    assert b"aws_reservation_days_until_expiry" in body


def test_security_headers(running):
    port = running.exporter.port
    for path in ("/", "/metrics", "/healthz", "/nope"):
        _, headers, _ = request(port, "GET", path)
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Server"].startswith("aws-reservation-exporter/")
        assert "Python" not in headers["Server"]
    _, headers, _ = request(port, "GET", "/")
    csp = headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; style-src 'sha256-")
    assert "frame-ancestors 'none'" in csp and "base-uri 'none'" in csp
    assert headers["Referrer-Policy"] == "no-referrer"


def test_a_post_body_on_keep_alive_gets_one_answer_and_the_connection_goes_on(running):
    body = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"  # a request, if it were misread
    with socket.create_connection(("127.0.0.1", running.exporter.port), timeout=10) as sock:
        wire = Wire(sock)
        sock.sendall(
            b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        status, _, answer = wire.answer("POST")
        assert (status, answer) == (200, b"config reloaded\n")
        assert wire.silent(0.5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert wire.answer()[::2] == (200, b"ok\n")
        assert wire.silent(0.3)


def test_abandoned_requests_render_nothing(running):
    port = running.exporter.port

    def metrics_answered() -> float:
        samples = parse_samples(request(port, "GET", "/metrics")[2].decode())
        key = (
            "aws_reservation_http_requests_total",
            frozenset({("path", "/metrics"), ("code", "200")}),
        )
        return samples.get(key, 0.0)

    before = metrics_answered()
    for _ in range(50):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and gone
    assert request(port, "GET", "/healthz")[0] == 200
    assert metrics_answered() == before + 1  # only the scrape that read the counter


def test_malformed_requests_get_4xx_and_service_continues(running):
    port = running.exporter.port
    # An HTTP/0.9-shaped request gets an HTTP/0.9-shaped answer: no status line.
    assert b"Error code: 400" in raw(port, b"GARBAGE\r\n\r\n")
    assert raw(port, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n").split(b" ")[1] == b"414"
    assert b"Error code: 505" in raw(port, b"GET / HTTP/9.9\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
        assert request(port, "GET", "/healthz")[0] == 200  # others are still served
    assert request(port, "GET", "/metrics")[0] == 200


def test_reload_endpoint_refuses_a_bad_config_and_keeps_the_old_one(running):
    port = running.exporter.port
    running.config_path.write_text("regions: [us-east-1]\nrefresh_interval: soon\n")
    code, _, body = request(port, "POST", "/-/reload")
    assert code == 500
    assert b"refresh_interval" in body
    samples = parse_samples(request(port, "GET", "/metrics")[2].decode())
    assert samples[("aws_reservation_config_last_reload_successful", frozenset())] == 0.0
    assert running.exporter.refresher.config.services == ("ec2", "rds")  # old one kept

    good = {**CONFIG, "services": ["ec2"], "accounts": [{"name": "payer"}]}
    running.config_path.write_text(yaml.safe_dump(good))
    code, _, body = request(port, "POST", "/-/reload")
    assert (code, body) == (200, b"config reloaded\n")
    assert running.exporter.refresher.config.services == ("ec2",)
    samples = parse_samples(request(port, "GET", "/metrics")[2].decode())
    assert samples[("aws_reservation_config_last_reload_successful", frozenset())] == 1.0


def test_reload_endpoint_is_off_without_the_lifecycle_flag(fake_env, run_exporter):
    with run_exporter(CONFIG) as exporter:
        assert request(exporter.exporter.port, "POST", "/-/reload")[0] == 403


@pytest.fixture
def secured(fake_env, run_exporter, tmp_path):
    seed(fake_env)
    build_pki(tmp_path)
    hashed = bcrypt.hashpw(b"s3cret-pass", bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yaml"
    web.write_text(
        yaml.safe_dump(
            {
                "tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"},
                "basic_auth_users": {"prometheus": hashed},
            }
        )
    )
    with run_exporter(CONFIG) as exporter:
        exporter.exporter.server.web_config = load_web_config(web)
        exporter.wait_ready()
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
        yield exporter.exporter.port, context


def https(port, context, path, auth: str | None = None):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def test_tls_and_basic_auth_protect_metrics_but_not_probes(secured):
    port, context = secured
    assert https(port, context, "/metrics")[0] == 401
    assert https(port, context, "/metrics", "prometheus:wrong")[0] == 401
    assert https(port, context, "/metrics", "prometheus:" + "x" * 100)[0] == 401
    code, body = https(port, context, "/metrics", "prometheus:s3cret-pass")
    assert code == 200 and b"aws_reservation_days_until_expiry" in body
    assert https(port, context, "/")[0] == 401
    assert https(port, context, "/healthz") == (200, b"ok\n")
    assert https(port, context, "/readyz") == (200, b"ready\n")


def test_plain_http_to_a_tls_port_does_not_break_the_server(secured):
    port, context = secured
    reply = raw(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"aws_reservation" not in reply
    assert https(port, context, "/healthz")[0] == 200


def test_own_account_is_labelled_with_its_real_id(running):
    samples = parse_samples(request(running.exporter.port, "GET", "/metrics")[2].decode())
    ids = {
        dict(k[1])["account_id"]
        for k in samples
        if k[0] == "aws_reservation_refresh_success" and dict(k[1])["account"] == "payer"
    }
    assert ids == {OWN_ACCOUNT}
