"""The landing page's view: tiers, timeline, rows, targets; from a store."""

from __future__ import annotations

from datetime import datetime, timezone

from exporter.config.fields import DEFAULT_THRESHOLDS
from exporter.model import Reservation, Target
from exporter.renewal import RenewalPolicy
from exporter.store import SnapshotStore
from exporter.web.view import build

DAY = 86400.0
NOW = datetime(2026, 6, 10, 12, tzinfo=timezone.utc).timestamp()
YEAR = 365 * DAY
EC2 = Target("prod", "222222222222", "us-east-1", "ec2")
RDS = Target("prod", "222222222222", "us-east-1", "rds")
BROKEN = Target("dev", "333333333333", "eu-west-1", "ec2")


def ri(rid: str, days: float, count: int = 1, state: str = "active", **kw) -> Reservation:
    end = NOW + days * DAY
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


def store() -> SnapshotStore:
    s = SnapshotStore(RenewalPolicy("account"))
    s.record_success(
        EC2,
        [
            ri("soon", 0.5, count=2),  # critical, not renewed: 0.2 $/h
            ri("week", 5, count=4),  # urgent, 3 of 4 renewed: 0.1 $/h
            ri("week-renewal", 370, count=3, state="queued", start=NOW + 5 * DAY),
            ri("month", 20),  # warning: 0.1 $/h
            ri("later", 45, count=10),  # notice: 1.0 $/h
            ri("far", 200),  # beyond every tier
            ri("gone", -3, state="retired"),  # ended
        ],
        attempted_at=NOW - 120,
        duration=1,
    )
    s.record_failure(BROKEN, attempted_at=NOW - 60, duration=1, reason="denied")
    return s


def test_each_tier_counts_what_ends_within_it_and_prices_the_uncovered_share() -> None:
    view = build(store().snapshot(), NOW, DEFAULT_THRESHOLDS)
    tiers = {t.name: (t.days, t.ending, t.uncovered) for t in view.tiers}
    assert tiers == {
        "notice": (60, 4, 4),
        "warning": (30, 3, 3),
        "urgent": (7, 2, 2),
        "critical": (1, 1, 1),
    }
    cost = {t.name: round(t.uncovered_cost["USD"], 6) for t in view.tiers}
    assert cost == {"notice": 1.4, "warning": 0.4, "urgent": 0.3, "critical": 0.2}


def test_rows_are_soonest_first_with_the_covered_share() -> None:
    view = build(store().snapshot(), NOW, DEFAULT_THRESHOLDS)
    assert [r.reservation_id for r in view.rows] == [
        "gone",
        "soon",
        "week",
        "month",
        "later",
        "far",
        "week-renewal",
    ]
    by_id = {r.reservation_id: r for r in view.rows}
    assert by_id["week"].covered == 0.75 and by_id["week"].uncovered
    assert by_id["week-renewal"].covered is None and not by_id["week-renewal"].in_demand
    assert by_id["gone"].ended and not by_id["soon"].ended


def test_failing_targets_come_first_and_data_age_is_known() -> None:
    view = build(store().snapshot(), NOW, DEFAULT_THRESHOLDS)
    assert [t.target for t in view.failing] == [BROKEN]
    assert view.targets[0].target == BROKEN and view.targets[0].reason == "denied"
    assert (view.oldest_data, view.newest_data) == (NOW - 120, NOW - 120)


def test_timeline_has_twelve_months_of_covered_and_uncovered_cost() -> None:
    view = build(store().snapshot(), NOW, DEFAULT_THRESHOLDS)
    labels = [b.label for b in view.timeline]
    assert labels[0] == "2026-06" and labels[-1] == "2027-05" and len(labels) == 12
    june = view.timeline[0]
    # soon (0.2 uncovered), week (0.3 covered + 0.1 uncovered), month (0.1)
    assert round(june.uncovered["USD"], 6) == 0.4
    assert round(june.covered["USD"], 6) == 0.3
    july = view.timeline[1]  # later: 45 days out, on 2026-07-25
    assert round(july.uncovered["USD"], 6) == 1.0
    december = view.timeline[6]  # far: 200 days out
    assert round(december.uncovered["USD"], 6) == 0.1
    # nothing from the queued renewal (it needs no renewal) or the ended one
    total = sum(sum(b.uncovered.values()) + sum(b.covered.values()) for b in view.timeline)
    assert abs(total - 1.8) < 1e-9


def test_owner_values_follow_the_requested_label_order() -> None:
    s = SnapshotStore()
    s.record_success(
        RDS,
        [ri("db", 3, tags=(("Team", "payments"),))],
        attempted_at=NOW,
        duration=1,
        owner_labels=(("team", "Team"), ("cost_center", "CostCenter")),
        account_tags=(("CostCenter", "cc-1"), ("Team", "platform")),
    )
    view = build(s.snapshot(), NOW, DEFAULT_THRESHOLDS, ("cost_center", "team", "other"))
    assert view.rows[0].owners == ("cc-1", "payments", "")
