"""The per-(account, region) token bucket, on a fake clock."""

from __future__ import annotations

import pytest

from exporter.ratelimit import KeyedRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_burst_is_free_then_requests_are_spaced_at_the_rate():
    clock = Clock()
    limiter = KeyedRateLimiter(rate=5, burst=3, clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire(("111111111111", "us-east-1")) for _ in range(6)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3:] == pytest.approx([0.2, 0.2, 0.2])
    assert clock.now == pytest.approx(0.6)


def test_keys_are_independent():
    clock = Clock()
    limiter = KeyedRateLimiter(rate=1, burst=1, clock=clock, sleep=clock.sleep)
    assert limiter.acquire(("a", "us-east-1")) == 0
    assert limiter.acquire(("a", "eu-west-1")) == 0
    assert limiter.acquire(("b", "us-east-1")) == 0
    assert limiter.acquire(("a", "us-east-1")) == pytest.approx(1.0)


def test_tokens_refill_over_time_up_to_the_burst():
    clock = Clock()
    limiter = KeyedRateLimiter(rate=2, burst=2, clock=clock, sleep=clock.sleep)
    limiter.acquire("k")
    limiter.acquire("k")
    clock.now += 100  # long idle: refills to the burst, not beyond
    assert [limiter.acquire("k") for _ in range(3)] == pytest.approx([0, 0, 0.5])


def test_idle_buckets_are_forgotten():
    clock = Clock()
    limiter = KeyedRateLimiter(clock=clock, sleep=clock.sleep)
    limiter.acquire("old")
    clock.now += 7200
    limiter.acquire("new")
    limiter.forget_idle(older_than=3600)
    assert len(limiter) == 1


def test_rejects_nonsense_settings():
    with pytest.raises(ValueError):
        KeyedRateLimiter(rate=0)
