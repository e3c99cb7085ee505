"""Loading --web.config.file: every bad fixture gives the exact message a user would read."""

from __future__ import annotations

import logging
import shutil
import socket
import ssl
from pathlib import Path

import pytest

from exporter.webconfig import WebConfig, WebConfigError, load_web_config
from tests.support import WEBCONFIGS
from tests.webconfigs.pki import build_pki

FIXTURES = WEBCONFIGS
BAD = sorted(FIXTURES.glob("*.bad.yaml"))
OK = sorted(FIXTURES.glob("*.ok.yaml"))


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki").resolve()
    build_pki(directory)
    return directory


def _header(fixture: Path, tag: str) -> list[str]:
    prefix = f"# {tag}: "
    return [
        line[len(prefix) :] for line in fixture.read_text().splitlines() if line.startswith(prefix)
    ]


def _install(fixture: Path, directory: Path) -> Path:
    """Copy a fixture next to the generated certificates its relative paths name."""
    target = directory / fixture.name
    shutil.copyfile(fixture, target)
    return target


def test_fixture_sets_are_not_empty():
    assert len(BAD) >= 30
    assert len(OK) >= 5


@pytest.mark.parametrize("fixture", BAD, ids=[f.name for f in BAD])
def test_bad_web_config_is_rejected_with_exact_message(fixture: Path, pki_dir: Path):
    expected = _header(fixture, "error")
    assert expected, f"{fixture.name} has no '# error: ' line"
    config = _install(fixture, pki_dir)
    expected = [
        line.replace("{dir}", str(pki_dir)).replace("{file}", str(config)) for line in expected
    ]

    with pytest.raises(WebConfigError) as excinfo:
        load_web_config(config)

    assert excinfo.value.errors == expected
    assert str(excinfo.value) == "\n".join(expected)


@pytest.mark.parametrize("fixture", OK, ids=[f.name for f in OK])
def test_good_web_config_loads(fixture: Path, pki_dir: Path):
    (expected_repr,) = _header(fixture, "repr")
    web = load_web_config(_install(fixture, pki_dir))

    assert repr(web) == expected_repr
    assert web.tls_enabled == ("tls=off" not in expected_repr)
    assert (web.ssl_context() is not None) == web.tls_enabled
    assert web.auth_enabled == ("basic_auth_users=0" not in expected_repr)


def test_missing_web_config_file_is_named(tmp_path: Path):
    path = tmp_path / "web.yml"
    with pytest.raises(WebConfigError) as excinfo:
        load_web_config(path)
    assert str(excinfo.value) == f"{path}: cannot read web config file: No such file or directory"


def test_relative_paths_resolve_against_the_config_directory_not_cwd(
    pki_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)  # no certificates here
    web = load_web_config(_install(FIXTURES / "tls.ok.yaml", pki_dir))
    assert web.tls is not None
    assert web.tls.cert_file == pki_dir / "server.crt"
    assert web.tls.key_file == pki_dir / "server.key"


def test_absolute_paths_are_used_as_written(pki_dir: Path, tmp_path: Path):
    config = tmp_path / "web.yml"
    config.write_text(
        f"tls_server_config:\n  cert_file: {pki_dir / 'server.crt'}\n"
        f"  key_file: {pki_dir / 'server.key'}\n"
    )
    web = load_web_config(config)
    assert web.tls is not None
    assert web.tls.cert_file == pki_dir / "server.crt"


def test_mutual_tls_context_requires_tls13_and_a_verified_client(pki_dir: Path):
    context = load_web_config(_install(FIXTURES / "mtls.ok.yaml", pki_dir)).ssl_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
    assert [ca["subject"] for ca in context.get_ca_certs()] == [((("commonName", "test ca"),),)]


@pytest.mark.parametrize(
    ("fixture", "mode"),
    [
        ("tls.ok.yaml", ssl.CERT_NONE),
        ("request-client-cert.ok.yaml", ssl.CERT_NONE),
        ("tls-and-basic-auth.ok.yaml", ssl.CERT_OPTIONAL),
    ],
)
def test_client_auth_type_sets_verify_mode(fixture: str, mode: ssl.VerifyMode, pki_dir: Path):
    context = load_web_config(_install(FIXTURES / fixture, pki_dir)).ssl_context()
    assert context is not None
    assert context.verify_mode == mode
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_ssl_context_is_the_same_object_every_time(pki_dir: Path):
    web = load_web_config(_install(FIXTURES / "tls.ok.yaml", pki_dir))
    assert web.ssl_context() is web.ssl_context()


def test_default_web_config_is_plain_http_without_auth():
    web = WebConfig()
    assert not web.tls_enabled
    assert not web.auth_enabled
    assert web.ssl_context() is None
    assert web.check_basic_auth(None) is True
    with socket.socket() as sock:
        assert web.wrap_server_socket(sock) is sock


def test_basic_auth_without_tls_warns_about_clear_text(
    pki_dir: Path, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.WARNING, logger="exporter.webconfig"):
        load_web_config(_install(FIXTURES / "basic-auth.ok.yaml", pki_dir))
    assert "basic auth is configured without TLS" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="exporter.webconfig"):
        load_web_config(_install(FIXTURES / "tls-and-basic-auth.ok.yaml", pki_dir))
    assert caplog.text == ""


def test_error_for_a_non_hash_never_echoes_the_value(pki_dir: Path):
    with pytest.raises(WebConfigError) as excinfo:
        load_web_config(_install(FIXTURES / "user-plain-password.bad.yaml", pki_dir))
    assert "correct-horse-battery-staple" not in str(excinfo.value)


def test_repr_never_shows_hashes(pki_dir: Path):
    web = load_web_config(_install(FIXTURES / "basic-auth.ok.yaml", pki_dir))
    assert "$2" not in repr(web)
