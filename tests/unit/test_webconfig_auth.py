"""Basic auth: WebConfig.check_basic_auth against bcrypt hashes, with its success cache."""

from __future__ import annotations

import base64
import logging

import bcrypt
import pytest

import exporter.webconfig as webconfig
from exporter.webconfig import WebConfig, parse_web_config

# Cost 4 keeps the tests fast; the check does not depend on the cost.
PASSWORD_72 = "p" * 72
_REAL_CHECKPW = bcrypt.checkpw


def _hash(password: str, prefix: bytes = b"$2b$") -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4))
    return (prefix + hashed[4:]).decode()


@pytest.fixture(scope="module")
def web() -> WebConfig:
    return WebConfig(
        basic_auth_users={
            "alice": _hash("secret"),
            "bob": _hash("hunter2", b"$2y$"),
            "carol": _hash("pässwörd", b"$2a$"),
            "dave": _hash(PASSWORD_72),
        }
    )


def basic(user: str | bytes, password: str | bytes) -> str:
    raw = (user if isinstance(user, bytes) else user.encode()) + b":"
    raw += password if isinstance(password, bytes) else password.encode()
    return "Basic " + base64.b64encode(raw).decode()


class CountingCheckpw:
    """Wraps bcrypt.checkpw to count the (slow) calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, password: bytes, hashed: bytes) -> bool:
        self.calls += 1
        return _REAL_CHECKPW(password, hashed)


@pytest.fixture
def checkpw(monkeypatch: pytest.MonkeyPatch) -> CountingCheckpw:
    counter = CountingCheckpw()
    monkeypatch.setattr(webconfig.bcrypt, "checkpw", counter)
    return counter


@pytest.mark.parametrize(
    ("user", "password"),
    [("alice", "secret"), ("bob", "hunter2"), ("carol", "pässwörd"), ("dave", PASSWORD_72)],
)
def test_right_password_is_accepted_for_each_bcrypt_prefix(web: WebConfig, user, password):
    assert web.check_basic_auth(basic(user, password)) is True


@pytest.mark.parametrize(
    "header",
    [
        basic("alice", "wrong"),
        basic("alice", "secret "),
        basic("alice", ""),
        basic("Alice", "secret"),  # user names are case-sensitive
        basic("mallory", "secret"),
        basic("bob", "secret"),  # alice's password is not bob's
    ],
)
def test_wrong_credentials_are_refused(web: WebConfig, header: str):
    assert web.check_basic_auth(header) is False


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic",
        "Basic ",
        "Bearer " + base64.b64encode(b"alice:secret").decode(),
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"alice:secret").decode()[:-2],  # bad padding
        "Basic " + base64.b64encode(b"alice-secret").decode(),  # no colon
        basic(b"\xff\xfe", "secret"),  # user is not UTF-8
        "Digest username=alice",
    ],
)
def test_malformed_header_is_refused_without_raising(web: WebConfig, header: str | None):
    assert web.check_basic_auth(header) is False


def test_scheme_is_case_insensitive(web: WebConfig):
    token = base64.b64encode(b"alice:secret").decode()
    assert web.check_basic_auth(f"basic {token}") is True
    assert web.check_basic_auth(f"BASIC {token}") is True


def test_password_may_contain_colons(checkpw: CountingCheckpw):
    web = WebConfig(basic_auth_users={"eve": _hash("a:b:c")})
    assert web.check_basic_auth(basic("eve", "a:b:c")) is True


def test_password_over_72_bytes_is_refused_without_calling_bcrypt(
    web: WebConfig, checkpw: CountingCheckpw
):
    # bcrypt only reads 72 bytes: the 72-byte password followed by anything would otherwise match.
    assert web.check_basic_auth(basic("dave", PASSWORD_72 + "x")) is False
    assert web.check_basic_auth(basic("dave", "é" * 37)) is False  # 74 bytes, 37 characters
    assert checkpw.calls == 0


def test_successful_check_is_cached(checkpw: CountingCheckpw):
    web = WebConfig(basic_auth_users={"alice": _hash("secret")})
    for _ in range(5):
        assert web.check_basic_auth(basic("alice", "secret")) is True
    assert checkpw.calls == 1


def test_cache_does_not_let_a_wrong_password_through(checkpw: CountingCheckpw):
    web = WebConfig(basic_auth_users={"alice": _hash("secret")})
    assert web.check_basic_auth(basic("alice", "secret")) is True
    assert web.check_basic_auth(basic("alice", "secreT")) is False
    assert web.check_basic_auth(basic("alice", "secret")) is True
    assert checkpw.calls == 2  # the wrong password went to bcrypt; the right one stayed cached


def test_failed_checks_are_not_cached(checkpw: CountingCheckpw):
    web = WebConfig(basic_auth_users={"alice": _hash("secret")})
    for _ in range(3):
        assert web.check_basic_auth(basic("alice", "nope")) is False
    assert checkpw.calls == 3


def test_unknown_user_costs_a_bcrypt_check_too(checkpw: CountingCheckpw):
    # Otherwise response time would tell which user names exist.
    web = WebConfig(basic_auth_users={"alice": _hash("secret")})
    assert web.check_basic_auth(basic("mallory", "secret")) is False
    assert web.check_basic_auth(basic("mallory", "secret")) is False
    assert checkpw.calls == 2


def test_cache_holds_no_plain_password():
    web = WebConfig(basic_auth_users={"alice": _hash("correct-horse")})
    assert web.check_basic_auth(basic("alice", "correct-horse")) is True
    assert b"correct-horse" not in repr(vars(web)).encode()
    assert all(b"correct-horse" not in digest for digest in web._verified.values())


def test_no_users_means_every_request_passes():
    web = WebConfig()
    assert web.check_basic_auth(None) is True
    assert web.check_basic_auth("garbage") is True


def test_loaded_users_check_against_their_hashes():
    web = parse_web_config({"basic_auth_users": {"alice": _hash("secret")}}, ".")
    assert web.check_basic_auth(basic("alice", "secret")) is True
    assert web.check_basic_auth(basic("alice", "Secret")) is False


def test_checks_never_log_credentials(web: WebConfig, caplog: pytest.LogCaptureFixture):
    header = basic("alice", "wrong-password-xyz")
    with caplog.at_level(logging.DEBUG):
        web.check_basic_auth(header)
        web.check_basic_auth(basic("alice", "secret"))
    assert "wrong-password-xyz" not in caplog.text
    assert header.split()[1] not in caplog.text
