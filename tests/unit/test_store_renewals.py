"""The store decides renewal coverage as data arrives and the collector exports it."""

from __future__ import annotations

from exporter.collector import render
from exporter.model import Reservation, Target
from exporter.renewal import DAY, RenewalPolicy
from exporter.store import SnapshotStore
from tests.support import samples_named

NOW = 1_750_000_000.0
YEAR = 365 * DAY
MEMBER = Target("member", "222222222222", "us-east-1", "ec2")
PAYER = Target("payer", "111111111111", "us-east-1", "ec2")


def ri(rid: str, ends_in_days: float, count: int, state: str = "active", **kw) -> Reservation:
    end = NOW + ends_in_days * DAY
    fields = {
        "start": end - YEAR,
        "instance_count": count,
        "instance_type": "m5.large",
        "product": "Linux/UNIX",
        "scope": "Region",
        "tenancy": "default",
        "hourly_cost": 0.1 * count,
        "upfront_cost": 0.0,
        "term": YEAR,
    }
    fields.update(kw)
    return Reservation(rid, state, end=end, **fields)


def queued(rid: str, starts_in_days: float, count: int) -> Reservation:
    start = NOW + starts_in_days * DAY
    return ri(rid, starts_in_days + 365, count, state="queued", start=start)


def series(store: SnapshotStore, name: str) -> dict[str, float]:
    """reservation_id -> value of one family in the store's exposition."""
    return {
        labels["reservation_id"]: value
        for labels, value in samples_named(render(store.snapshot(), NOW), name)
    }


def test_account_scope_decides_each_target_as_it_is_stored() -> None:
    store = SnapshotStore(RenewalPolicy("account"))
    store.record_success(MEMBER, [ri("r", 20, 4), queued("q", 20, 3)], attempted_at=NOW, duration=1)
    assert series(store, "aws_reservation_renewal_covered_ratio") == {"r": 0.75}
    # 4 x 0.1 $/h, a quarter not renewed.
    cost = series(store, "aws_reservation_renewal_uncovered_hourly_cost")
    assert cost.keys() == {"r"}
    assert abs(cost["r"] - 0.1) < 1e-9
    (renewal,) = store.renewals().values()
    assert renewal.renewed_by == ("q",)


def test_a_failed_refresh_keeps_the_coverage_of_the_last_good_data() -> None:
    store = SnapshotStore(RenewalPolicy("account"))
    store.record_success(MEMBER, [ri("r", 20, 2), queued("q", 20, 2)], attempted_at=NOW, duration=1)
    store.record_failure(MEMBER, attempted_at=NOW + 60, duration=1, reason="throttled")
    assert series(store, "aws_reservation_renewal_covered_ratio") == {"r": 1.0}


def test_exchanged_reservation_is_exported_as_retired_early_without_a_ratio() -> None:
    store = SnapshotStore()
    exchanged = ri("old", -20, 1, state="retired", start=NOW - 200 * DAY, term=YEAR)
    store.record_success(MEMBER, [exchanged, ri("new", 300, 1)], attempted_at=NOW, duration=1)
    assert series(store, "aws_reservation_retired_early") == {"old": 1.0}
    assert series(store, "aws_reservation_renewal_covered_ratio") == {"new": 0.0}


def test_organization_scope_decides_across_accounts_when_the_cycle_settles() -> None:
    store = SnapshotStore(RenewalPolicy("organization"))
    store.record_success(MEMBER, [ri("r", 20, 2)], attempted_at=NOW, duration=1)
    store.record_success(PAYER, [queued("q", 20, 2)], attempted_at=NOW, duration=1)
    assert series(store, "aws_reservation_renewal_covered_ratio") == {}
    store.settle(NOW)
    assert series(store, "aws_reservation_renewal_covered_ratio") == {"r": 1.0}
    # Stored again before the next settle: the answer is kept, not dropped.
    store.record_success(MEMBER, [ri("r", 20, 2)], attempted_at=NOW + 60, duration=1)
    assert series(store, "aws_reservation_renewal_covered_ratio") == {"r": 1.0}
    # The renewal disappears (say, its purchase failed): the next settle says so.
    store.record_success(PAYER, [], attempted_at=NOW + 60, duration=1)
    store.settle(NOW + 60)
    assert series(store, "aws_reservation_renewal_covered_ratio") == {"r": 0.0}


def test_account_scope_ignores_renewals_in_other_accounts_and_settle_changes_nothing() -> None:
    store = SnapshotStore(RenewalPolicy("account"))
    store.record_success(MEMBER, [ri("r", 20, 2)], attempted_at=NOW, duration=1)
    store.record_success(PAYER, [queued("q", 20, 2)], attempted_at=NOW, duration=1)
    store.settle(NOW)
    assert series(store, "aws_reservation_renewal_covered_ratio") == {"r": 0.0}
