"""Failed basic auth is rate-limited per client (issue 14, item 13b): the limiter
itself, WebConfig.authenticate, and the server's 429 over real sockets."""

from __future__ import annotations

import base64
import threading
import time

import bcrypt
import pytest

import exporter.webconfig as webconfig
from exporter.webconfig import (
    BCRYPT_CONCURRENCY,
    FAILED_AUTH_LIMIT,
    AuthDecision,
    FailedAuthLimiter,
    WebConfig,
    client_key,
)
from tests.http_support import serving

_REAL_CHECKPW = bcrypt.checkpw
ALICE = "alice"
SECRET = "s3cret"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Checkpw:
    """Counts bcrypt checks and how many ran at once; ``delay`` stretches each."""

    def __init__(self) -> None:
        self.calls = 0
        self.running = 0
        self.most = 0
        self.delay = 0.0
        self._lock = threading.Lock()

    def __call__(self, password: bytes, hashed: bytes) -> bool:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.delay)
            return _REAL_CHECKPW(password, hashed)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def checkpw(monkeypatch: pytest.MonkeyPatch) -> Checkpw:
    counter = Checkpw()
    monkeypatch.setattr(webconfig.bcrypt, "checkpw", counter)
    return counter


@pytest.fixture
def web() -> WebConfig:
    return WebConfig(
        basic_auth_users={ALICE: bcrypt.hashpw(SECRET.encode(), bcrypt.gensalt(4)).decode()}
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the limiter ---------------------------------------------------------------------------


def test_limiter_blocks_after_the_limit_until_the_window_ends():
    clock = Clock()
    limiter = FailedAuthLimiter(limit=3, window=60, clock=clock)
    for _ in range(2):
        limiter.failed("192.0.2.1")
        assert limiter.retry_after("192.0.2.1") == 0
    clock.now += 10
    limiter.failed("192.0.2.1")
    assert limiter.retry_after("192.0.2.1") == 50  # the window opened at the first failure
    assert limiter.retry_after("192.0.2.2") == 0  # another client
    clock.now += 49.5
    assert limiter.retry_after("192.0.2.1") == 1
    clock.now += 0.5
    assert limiter.retry_after("192.0.2.1") == 0
    limiter.failed("192.0.2.1")  # a new window: one failure so far
    assert limiter.retry_after("192.0.2.1") == 0


def test_limiter_memory_is_bounded():
    limiter = FailedAuthLimiter(limit=2, max_clients=100, clock=Clock())
    limiter.failed("10.0.0.1")
    limiter.failed("10.0.0.1")
    for i in range(1000):
        limiter.failed(f"10.1.{i // 256}.{i % 256}")
    assert len(limiter) == 100
    assert limiter.retry_after("10.0.0.1") == 0  # the oldest was forgotten


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("not-an-ip", "not-an-ip"),
        ("", None),
        (None, None),
    ],
)
def test_failures_count_per_ipv4_address_or_ipv6_64(address, key):
    assert client_key(address) == key


# --- WebConfig.authenticate ----------------------------------------------------------------


def test_failures_beyond_the_limit_are_refused_without_bcrypt(web, checkpw):
    for _ in range(FAILED_AUTH_LIMIT):
        assert web.authenticate(basic(ALICE, "wrong"), "192.0.2.1") == AuthDecision(False)
    assert checkpw.calls == FAILED_AUTH_LIMIT
    decision = web.authenticate(basic(ALICE, "wrong"), "192.0.2.1")
    assert not decision.ok and 1 <= decision.retry_after <= 60
    # Even the right password waits: it cannot be told apart without bcrypt.
    assert web.authenticate(basic(ALICE, SECRET), "192.0.2.1").retry_after > 0
    assert checkpw.calls == FAILED_AUTH_LIMIT
    # Other clients are not affected.
    assert web.authenticate(basic(ALICE, SECRET), "192.0.2.2") == AuthDecision(True)


def test_credentials_that_succeeded_before_pass_while_the_client_is_limited(web, checkpw):
    assert web.authenticate(basic(ALICE, SECRET), "192.0.2.1").ok
    for _ in range(FAILED_AUTH_LIMIT):
        web.authenticate(basic("mallory", "guess"), "192.0.2.1")
    assert web.authenticate(basic("mallory", "guess"), "192.0.2.1").retry_after > 0
    calls = checkpw.calls
    assert web.authenticate(basic(ALICE, SECRET), "192.0.2.1") == AuthDecision(True)
    assert checkpw.calls == calls  # from the cache


def test_requests_without_credentials_are_not_counted(web, checkpw):
    for _ in range(3 * FAILED_AUTH_LIMIT):
        assert web.authenticate(None, "192.0.2.1") == AuthDecision(False)
    assert web.authenticate(basic(ALICE, SECRET), "192.0.2.1").ok


def test_bcrypt_runs_at_most_bcrypt_concurrency_at_once(web, checkpw):
    slots = web._bcrypt_slots
    for _ in range(BCRYPT_CONCURRENCY):
        slots.acquire()
    try:
        assert web.authenticate(basic(ALICE, SECRET), "192.0.2.9") == AuthDecision(False, 1)
        assert checkpw.calls == 0
        threading.Timer(0.2, slots.release).start()
        assert web.check_basic_auth(basic(ALICE, SECRET))  # waits for a slot instead
        assert checkpw.calls == 1
    finally:
        for _ in range(BCRYPT_CONCURRENCY - 1):
            slots.release()


# --- over sockets -------------------------------------------------------------------------


def test_server_answers_429_with_retry_after_and_keeps_good_clients_in(web, checkpw):
    with serving(web_config=web) as served:
        assert served.get("/metrics", {"Authorization": basic(ALICE, SECRET)})[0] == 200
        for _ in range(FAILED_AUTH_LIMIT):
            status, headers, _ = served.get("/metrics", {"Authorization": basic(ALICE, "x")})
            assert status == 401 and headers["WWW-Authenticate"].startswith("Basic ")
        calls = checkpw.calls
        status, headers, body = served.get("/metrics", {"Authorization": basic(ALICE, "x")})
        assert status == 429
        assert 1 <= int(headers["Retry-After"]) <= 60
        assert b"Too many failed" in body
        assert checkpw.calls == calls
        # Prometheus, with the right password it used before, is unaffected.
        status, _, body = served.get("/metrics", {"Authorization": basic(ALICE, SECRET)})
        assert status == 200 and b"aws_reservation_days_until_expiry" in body
        assert served.get("/healthz")[0] == 200
        assert served.requests_total()[("/metrics", "429")] == 1.0


def test_a_flood_of_wrong_passwords_runs_few_bcrypt_checks(web, checkpw):
    checkpw.delay = 0.05
    with serving(web_config=web) as served:
        statuses: list[int] = []

        def attempt(i: int) -> None:
            statuses.append(served.get("/", {"Authorization": basic(ALICE, f"guess{i}")})[0])

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(60)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert len(statuses) == 60 and set(statuses) <= {401, 429}
    assert statuses.count(429) >= 60 - FAILED_AUTH_LIMIT - BCRYPT_CONCURRENCY
    assert checkpw.most <= BCRYPT_CONCURRENCY
    assert checkpw.calls <= FAILED_AUTH_LIMIT + BCRYPT_CONCURRENCY
