"""The snapshot store alone: last good data, status, retention and order."""

from __future__ import annotations

import threading

from exporter.model import Reservation, Target
from exporter.store import SnapshotStore

NOW = 1_750_000_000.0
A = Target("a", "111111111111", "us-east-1", "ec2")
B = Target("b", "222222222222", "eu-west-1", "rds")
C = Target("a", "111111111111", "eu-west-1", "ec2")


def res(rid: str) -> Reservation:
    return Reservation(rid, "active", start=NOW - 100, end=NOW + 86400, instance_count=1)


def test_a_success_stores_the_reservations_and_the_attempt() -> None:
    store = SnapshotStore()
    store.record_success(A, [res("r1"), res("r2")], attempted_at=NOW, duration=1.5)
    (result,) = store.results()
    assert result.target == A
    assert [r.reservation_id for r in result.reservations] == ["r1", "r2"]
    assert result.success is True
    assert (result.last_attempt, result.last_success, result.duration) == (NOW, NOW, 1.5)
    assert result.error_reason is None


def test_a_failure_keeps_the_last_good_data_and_its_time() -> None:
    store = SnapshotStore()
    store.record_success(A, [res("r1")], attempted_at=NOW, duration=1.0)
    store.record_failure(A, attempted_at=NOW + 60, duration=2.0, reason="throttled")
    (result,) = store.results()
    assert [r.reservation_id for r in result.reservations] == ["r1"]
    assert result.success is False
    assert result.error_reason == "throttled"
    assert (result.last_attempt, result.last_success, result.duration) == (NOW + 60, NOW, 2.0)


def test_a_first_failure_stores_no_data_and_no_success_time() -> None:
    store = SnapshotStore()
    store.record_failure(B, attempted_at=NOW, duration=0.0, reason="denied")
    (result,) = store.results()
    assert result.reservations == ()
    assert result.last_success is None
    assert result.error_reason == "denied"


def test_a_success_after_a_failure_replaces_the_data_and_clears_the_reason() -> None:
    store = SnapshotStore()
    store.record_success(A, [res("r1")], attempted_at=NOW, duration=1.0)
    store.record_failure(A, attempted_at=NOW + 60, duration=1.0, reason="timeout")
    store.record_success(A, [res("r9")], attempted_at=NOW + 120, duration=1.0)
    (result,) = store.results()
    assert [r.reservation_id for r in result.reservations] == ["r9"]
    assert (result.success, result.error_reason, result.last_success) == (True, None, NOW + 120)


def test_an_empty_success_is_stored_as_no_reservations() -> None:
    store = SnapshotStore()
    store.record_success(A, [res("r1")], attempted_at=NOW, duration=1.0)
    store.record_success(A, [], attempted_at=NOW + 60, duration=1.0)
    assert store.results()[0].reservations == ()


def test_retain_forgets_targets_no_longer_planned() -> None:
    store = SnapshotStore()
    for target in (A, B, C):
        store.record_success(target, [res(f"r-{target.region}")], attempted_at=NOW, duration=1)
    store.retain([A, C])
    assert {r.target for r in store.results()} == {A, C}
    assert len(store) == 2


def test_snapshot_is_ordered_by_target_and_cached_until_a_change() -> None:
    store = SnapshotStore()
    for target in (B, C, A):
        store.record_success(target, [], attempted_at=NOW, duration=1)
    first = store.snapshot()
    assert [p.result.target for p in first] == sorted(
        [A, B, C], key=lambda t: (t.account, t.account_id, t.region, t.service)
    )
    assert store.snapshot() is first
    store.record_failure(A, attempted_at=NOW + 1, duration=1, reason="error")
    assert store.snapshot() is not first


def test_concurrent_writers_never_lose_a_target() -> None:
    store = SnapshotStore()
    targets = [Target("a", "111111111111", f"r{i}", "ec2") for i in range(200)]

    def write(chunk: list[Target]) -> None:
        for target in chunk:
            store.record_success(target, [res(target.region)], attempted_at=NOW, duration=0)
            store.snapshot()

    threads = [threading.Thread(target=write, args=(targets[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 200
    assert {p.result.target for p in store.snapshot()} == set(targets)
