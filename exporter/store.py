"""The snapshot store: per target, the last good data plus the latest status.

Refresh tasks replace one target's entry at a time (never a half-written one);
a scrape takes a consistent list of entries under a short lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from exporter.collector import PreparedTarget, prepare, restatus, target_key
from exporter.model import Reservation, Target, TargetResult


class SnapshotStore:
    def __init__(self, preparer: Callable[[TargetResult], PreparedTarget] = prepare) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Target, PreparedTarget] = {}
        self._prepare = preparer
        self._ordered: list[PreparedTarget] | None = None

    def record_success(
        self,
        target: Target,
        reservations: Iterable[Reservation],
        *,
        attempted_at: float,
        duration: float,
    ) -> None:
        result = TargetResult(
            target=target,
            reservations=tuple(reservations),
            success=True,
            last_attempt=attempted_at,
            duration=duration,
            last_success=attempted_at,
        )
        self._put(self._prepare(result))

    def record_failure(
        self, target: Target, *, attempted_at: float, duration: float, reason: str
    ) -> None:
        """Mark ``target`` failed, keeping its last good reservations and success time."""
        with self._lock:
            previous = self._entries.get(target)
        kept = previous.result if previous is not None else None
        result = TargetResult(
            target=target,
            reservations=kept.reservations if kept else (),
            success=False,
            last_attempt=attempted_at,
            duration=duration,
            last_success=kept.last_success if kept else None,
            error_reason=reason,
        )
        if previous is not None and previous.result.reservations == result.reservations:
            prepared = restatus(previous, result)
        else:
            prepared = self._prepare(result)
        self._put(prepared)

    def _put(self, prepared: PreparedTarget) -> None:
        with self._lock:
            self._entries[prepared.result.target] = prepared
            self._ordered = None

    def retain(self, targets: Iterable[Target]) -> None:
        """Forget targets that are no longer configured (removed account, region...)."""
        keep = set(targets)
        with self._lock:
            for target in [t for t in self._entries if t not in keep]:
                del self._entries[target]
            self._ordered = None

    def snapshot(self) -> list[PreparedTarget]:
        """The current entries in a stable order (cached until the next change)."""
        with self._lock:
            if self._ordered is None:
                self._ordered = sorted(
                    self._entries.values(), key=lambda p: target_key(p.result.target)
                )
            return self._ordered

    def results(self) -> list[TargetResult]:
        return [p.result for p in self.snapshot()]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
