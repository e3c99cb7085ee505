"""A token bucket per (account, region), so this exporter never drains the
request budget that AWS shares with everything else in that account and region
(EC2's API throttling is per account and region)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable


class KeyedRateLimiter:
    """``rate`` requests per second per key, bursts of up to ``burst``."""

    def __init__(
        self,
        rate: float = 5.0,
        burst: int = 10,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, at)

    def acquire(self, key: Hashable) -> float:
        """Take one token for ``key``, sleeping if none is left; returns the wait."""
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate) - 1.0
            self._buckets[key] = (tokens, now)
        wait = -tokens / self.rate if tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait

    def forget_idle(self, older_than: float = 3600.0) -> None:
        """Drop buckets not used for a while (accounts that went away)."""
        with self._lock:
            now = self._clock()
            for key in [k for k, (_, at) in self._buckets.items() if now - at > older_than]:
                del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
