"""The landing page's data, from the snapshot the process holds: the summary
per alert tier, the timeline, the reservations and the targets. Pure: no
HTML, no AWS, no clock but the one given."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from exporter.collector import PreparedTarget
from exporter.model import Target
from exporter.ownership import owner_values
from exporter.renewal import effective_hourly_cost, in_demand

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Row:
    """One reservation as the page shows it."""

    days_left: float
    end: float
    account: str
    account_id: str
    region: str
    service: str
    reservation_id: str
    type: str
    count: int | None
    state: str
    # Share renewals cover, 0..1; None where no renewal is needed (queued,
    # pending-return, retired early), as in the metrics.
    covered: float | None
    hourly_cost: float | None
    uncovered_hourly_cost: float | None
    covered_hourly_cost: float | None
    currency: str
    owners: tuple[str, ...]  # values, in the order of the owner labels
    ended: bool  # the end has passed (retired, within expired_lookback)
    in_demand: bool

    @property
    def uncovered(self) -> bool:
        return self.covered is not None and self.covered < 1

    def text(self) -> str:
        """Everything a text search looks at, lower-cased."""
        fields = (
            self.account,
            self.account_id,
            self.region,
            self.service,
            self.reservation_id,
            self.type,
            self.state,
            *self.owners,
        )
        return " ".join(fields).lower()


@dataclass(frozen=True, slots=True)
class Tier:
    """Reservations that end within one alert threshold (counted in every
    tier whose threshold they are within, like the dashboard's stat)."""

    name: str
    days: float
    ending: int  # in demand, not ended, ending within the threshold
    uncovered: int  # ... of which renewals do not cover all
    uncovered_cost: dict[str, float]  # currency -> $/h not covered


@dataclass(frozen=True, slots=True)
class TargetStatus:
    target: Target
    success: bool
    reason: str | None
    last_success: float | None
    reservations: int


@dataclass(frozen=True, slots=True)
class Bucket:
    """Hourly cost of the reservations ending in one month, per currency."""

    start: float
    label: str  # "2026-12"
    covered: dict[str, float] = field(default_factory=dict)
    uncovered: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class View:
    now: float
    rows: tuple[Row, ...]  # every reservation, soonest end first
    tiers: tuple[Tier, ...]
    targets: tuple[TargetStatus, ...]  # failures first
    timeline: tuple[Bucket, ...]
    owner_labels: tuple[str, ...]
    oldest_data: float | None  # the oldest target's last success
    newest_data: float | None

    @property
    def failing(self) -> tuple[TargetStatus, ...]:
        return tuple(t for t in self.targets if not t.success)


def build(
    snapshot: Sequence[PreparedTarget],
    now: float,
    thresholds: Sequence[tuple[str, float]],
    owner_labels: Sequence[str] = (),
    months: int = 12,
) -> View:
    """The view of ``snapshot`` at ``now``; ``thresholds`` are (tier, seconds)."""
    rows: list[Row] = []
    targets: list[TargetStatus] = []
    for prepared in snapshot:
        result = prepared.result
        t = result.target
        targets.append(
            TargetStatus(
                t,
                result.success,
                result.error_reason,
                result.last_success,
                len(result.reservations),
            )
        )
        seen: set[str] = set()
        for r in result.reservations:
            if r.reservation_id in seen:  # AWS listing an id twice: one row, as in /metrics
                continue
            seen.add(r.reservation_id)
            renewal = prepared.renewals.get(r.reservation_id)
            demand = in_demand(r)
            covered = renewal.ratio if renewal is not None else (0.0 if demand else None)
            effective = effective_hourly_cost(t.service, r) if demand else None
            uncovered_cost = (
                renewal.uncovered_hourly_cost
                if renewal is not None
                else effective
                if demand
                else None
            )
            covered_cost = (
                effective * covered if effective is not None and covered is not None else None
            )
            values = owner_values(result.owner_labels, r.tags, result.account_tags)
            rows.append(
                Row(
                    days_left=(r.end - now) / DAY,
                    end=r.end,
                    account=t.account,
                    account_id=t.account_id,
                    region=r.region or t.region,
                    service=t.service,
                    reservation_id=r.reservation_id,
                    type=f"{r.plan_type} {r.instance_type}".strip()
                    if r.plan_type
                    else r.instance_type,
                    count=r.instance_count,
                    state=r.state,
                    covered=covered,
                    hourly_cost=r.hourly_cost,
                    uncovered_hourly_cost=uncovered_cost,
                    covered_hourly_cost=covered_cost,
                    currency=renewal.currency if renewal is not None else r.currency,
                    owners=_owners(owner_labels, result.owner_labels, values),
                    ended=r.end <= now,
                    in_demand=demand,
                )
            )
    rows.sort(key=lambda row: (row.end, row.account, row.region, row.service, row.reservation_id))
    successes = [t.last_success for t in targets if t.last_success is not None]
    targets.sort(key=lambda s: (s.success, s.target.account, s.target.region, s.target.service))
    return View(
        now=now,
        rows=tuple(rows),
        tiers=tuple(_tier(name, seconds / DAY, rows) for name, seconds in thresholds),
        targets=tuple(targets),
        timeline=tuple(_timeline(rows, now, months)),
        owner_labels=tuple(owner_labels),
        oldest_data=min(successes) if successes else None,
        newest_data=max(successes) if successes else None,
    )


def _owners(
    wanted: Sequence[str], configured: Sequence[tuple[str, str]], values: Sequence[str]
) -> tuple[str, ...]:
    """``values`` (of the target's configured labels) in the order of ``wanted``."""
    by_label = {label: value for (label, _), value in zip(configured, values, strict=True)}
    return tuple(by_label.get(label, "") for label in wanted)


def _tier(name: str, days: float, rows: Sequence[Row]) -> Tier:
    ending = [r for r in rows if r.in_demand and 0 < r.days_left <= days]
    uncovered = [r for r in ending if r.uncovered]
    cost: dict[str, float] = {}
    for r in uncovered:
        if r.uncovered_hourly_cost is not None and math.isfinite(r.uncovered_hourly_cost):
            cost[r.currency] = cost.get(r.currency, 0.0) + r.uncovered_hourly_cost
    return Tier(name, days, len(ending), len(uncovered), cost)


def _timeline(rows: Sequence[Row], now: float, months: int) -> list[Bucket]:
    """One bucket per calendar month (UTC) from this one on, ``months`` of them."""
    today = datetime.fromtimestamp(now, tz=timezone.utc)
    starts = []
    year, month = today.year, today.month
    for _ in range(months + 1):
        starts.append(datetime(year, month, 1, tzinfo=timezone.utc).timestamp())
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    buckets = [
        Bucket(start, datetime.fromtimestamp(start, tz=timezone.utc).strftime("%Y-%m"))
        for start in starts[:-1]
    ]
    for r in rows:
        if not r.in_demand or r.end <= now or r.end >= starts[-1]:
            continue
        index = max(i for i, start in enumerate(starts[:-1]) if start <= r.end)
        bucket = buckets[index]
        for part, cost in (
            (bucket.covered, r.covered_hourly_cost),
            (bucket.uncovered, r.uncovered_hourly_cost),
        ):
            if cost is not None and math.isfinite(cost):
                part[r.currency] = part.get(r.currency, 0.0) + cost
    return buckets
