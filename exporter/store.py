"""The snapshot store: per target, the last good data plus the latest status,
and the renewal coverage of what it holds.

Refresh tasks replace one target's entry at a time (never a half-written one);
a scrape takes a consistent list of entries under a short lock.

Renewal coverage (``exporter.renewal``) is decided when data is stored. With
``scope: account`` every reservation's renewals live in its own target, so
each target is decided as it is stored. With ``scope: organization`` they
may live in any target: a stored target keeps its previous answers for the
reservations it still holds, and ``settle`` decides everything at once when
a refresh cycle ends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from exporter.collector import PreparedTarget, prepare, recover, restatus, target_key
from exporter.model import Reservation, Target, TargetResult
from exporter.renewal import Holding, Renewal, RenewalPolicy, decide, in_demand


class SnapshotStore:
    def __init__(self, policy: RenewalPolicy | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Target, PreparedTarget] = {}
        self._ordered: list[PreparedTarget] | None = None
        self._accounts: dict[str, bytes] = {}  # account name -> its account_info line
        self.policy = policy or RenewalPolicy()

    def set_policy(self, policy: RenewalPolicy) -> None:
        """Decide coverage with ``policy`` from now on (the next store or ``settle``)."""
        self.policy = policy

    def record_success(
        self,
        target: Target,
        reservations: Iterable[Reservation],
        *,
        attempted_at: float,
        duration: float,
        owner_labels: tuple[tuple[str, str], ...] = (),
        account_tags: tuple[tuple[str, str], ...] = (),
    ) -> None:
        result = TargetResult(
            target=target,
            reservations=tuple(reservations),
            success=True,
            last_attempt=attempted_at,
            duration=duration,
            last_success=attempted_at,
            owner_labels=owner_labels,
            account_tags=account_tags,
        )
        previous = self._get(target)
        self._put(prepare(result, self._renewals(result, previous, attempted_at)))

    def record_failure(
        self, target: Target, *, attempted_at: float, duration: float, reason: str
    ) -> None:
        """Mark ``target`` failed, keeping its last good reservations and success time."""
        previous = self._get(target)
        kept = previous.result if previous is not None else None
        result = TargetResult(
            target=target,
            reservations=kept.reservations if kept else (),
            success=False,
            last_attempt=attempted_at,
            duration=duration,
            last_success=kept.last_success if kept else None,
            error_reason=reason,
            owner_labels=kept.owner_labels if kept else (),
            account_tags=kept.account_tags if kept else (),
        )
        renewals = self._renewals(result, previous, attempted_at)
        if previous is not None and previous.result.reservations == result.reservations:
            prepared = restatus(previous, result)
            if prepared.renewals != renewals:
                prepared = recover(prepared, renewals)
        else:
            prepared = prepare(result, renewals)
        self._put(prepared)

    def settle(self, now: float) -> None:
        """Decide renewal coverage across targets (``scope: organization``).

        Call when a refresh cycle has stored everything. Entries stored
        meanwhile are left alone; the next ``settle`` decides them.
        """
        if self.policy.scope != "organization":
            return
        with self._lock:
            entries = dict(self._entries)
        decided = decide(_holdings(entries.values()), self.policy, now)
        by_target: dict[Target, dict[str, Renewal]] = {target: {} for target in entries}
        for (target, reservation_id), renewal in decided.items():
            by_target[target][reservation_id] = renewal
        updated = {
            target: recover(entry, by_target[target])
            for target, entry in entries.items()
            if entry.renewals != by_target[target]
        }
        with self._lock:
            for target, entry in updated.items():
                if self._entries.get(target) is entries[target]:
                    self._entries[target] = entry
            self._ordered = None

    def _renewals(
        self, result: TargetResult, previous: PreparedTarget | None, now: float
    ) -> Mapping[str, Renewal]:
        if self.policy.scope == "account":
            decided = decide(_holdings([result]), self.policy, now)
            return {reservation_id: renewal for (_, reservation_id), renewal in decided.items()}
        if previous is None:
            return {}
        # Until the cycle settles, keep the last answers for what is still in demand.
        still = {r.reservation_id for r in result.reservations if in_demand(r)}
        return {rid: renewal for rid, renewal in previous.renewals.items() if rid in still}

    def _get(self, target: Target) -> PreparedTarget | None:
        with self._lock:
            return self._entries.get(target)

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

    def renewals(self) -> dict[tuple[Target, str], Renewal]:
        """Every decided renewal, keyed by (target, reservation id)."""
        return {
            (p.result.target, reservation_id): renewal
            for p in self.snapshot()
            for reservation_id, renewal in p.renewals.items()
        }

    def record_account(self, name: str, line: bytes) -> None:
        """The account's ``aws_reservation_account_info`` line (collector.account_line)."""
        with self._lock:
            self._accounts[name] = line

    def retain_accounts(self, names: Iterable[str]) -> None:
        keep = set(names)
        with self._lock:
            for name in [n for n in self._accounts if n not in keep]:
                del self._accounts[name]

    def account_lines(self) -> list[bytes]:
        with self._lock:
            return [self._accounts[name] for name in sorted(self._accounts)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _holdings(entries: Iterable[PreparedTarget | TargetResult]) -> list[Holding]:
    holdings = []
    for entry in entries:
        result = entry.result if isinstance(entry, PreparedTarget) else entry
        holdings.extend(Holding(result.target, r) for r in result.reservations)
    return holdings
