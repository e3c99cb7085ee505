"""Renewal coverage: how much of each reservation the renewals already bought
take over when it ends (DESIGN §10). Decided at refresh time from the
reservations the process holds; metrics, alerts, ``report`` and the landing
page all read the answer from here.

The rule, per pool (``exporter.capacity``):

- demand: every held reservation except queued and pending-return ones and
  except reservations retired early (modified, exchanged or sold);
- a candidate C for an expiring R is active, payment-pending or queued, ends
  after R, and starts no earlier than ``purchase_window`` before R's end and
  no later than a day after it; for an R that has already ended, a C in
  force now counts too however late it started (the gap is over), but never
  one that started more than ``purchase_window`` before R's end;
- R are served in order of (end, id); candidates in order of their deadline
  min(start + window, end), then start, then id (earliest deadline first),
  each giving min(need, what it has left): a candidate's quantity is used once.

``scope`` ``account`` compares reservations of one account only;
``organization`` compares every account the process reads.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from exporter.capacity import capacity_of
from exporter.model import Reservation, Target

DAY = 86400.0
HOUR = 3600.0
GRACE = DAY  # a renewal may start up to a day after the end it replaces
DEFAULT_PURCHASE_WINDOW = 30 * DAY

Scope = Literal["account", "organization"]

_CANDIDATE_STATES = frozenset({"active", "payment-pending", "pending-payment", "queued"})
_NOT_DEMAND_STATES = frozenset({"queued", "pending-return"})


@dataclass(frozen=True, slots=True)
class RenewalPolicy:
    scope: Scope = "account"
    purchase_window: float = DEFAULT_PURCHASE_WINDOW


@dataclass(frozen=True, slots=True)
class Holding:
    """One reservation as the process holds it, with the target it was read from."""

    target: Target
    reservation: Reservation

    @property
    def key(self) -> tuple[Target, str]:
        return self.target, self.reservation.reservation_id


@dataclass(frozen=True, slots=True)
class Renewal:
    """How much of one reservation in demand is renewed."""

    ratio: float  # covered / quantity, 0..1
    quantity: float  # in ``unit``
    covered: float
    unit: str
    renewed_by: tuple[str, ...]  # ids of the reservations that cover it
    uncovered_hourly_cost: float | None  # (1 - ratio) x effective hourly cost
    currency: str


def retired_early(r: Reservation) -> bool:
    """Retired more than an hour before its term ended: modified, exchanged or sold.

    Such a reservation did not lapse; whatever replaced it is listed on its own.
    """
    if r.state.lower() != "retired" or r.term is None:
        return False
    return r.end < r.start + r.term - HOUR


def in_demand(r: Reservation) -> bool:
    """Whether ``r`` is a reservation whose end needs a renewal."""
    return r.state.lower() not in _NOT_DEMAND_STATES and not retired_early(r)


def effective_hourly_cost(service: str, r: Reservation) -> float | None:
    """The whole hourly price: recurring + upfront spread over the term.

    A Savings Plan's commitment already includes its upfront part.
    """
    if service == "savingsplans":
        return r.hourly_cost
    if r.hourly_cost is None and r.upfront_cost is None:
        return None
    term_hours = (r.term or (r.end - r.start)) / HOUR
    upfront = (r.upfront_cost or 0.0) / term_hours if term_hours > 0 else 0.0
    return (r.hourly_cost or 0.0) + upfront


def renewed_text(ratio: float | None) -> str:
    """The covered share as people read it: ``75%``; never rounds a gap up to 100%."""
    if ratio is None:
        return "-"
    if ratio >= 1:
        return "100%"
    return f"{min(99, math.floor(ratio * 100))}%"


def region_of(holding: Holding) -> str:
    """The region a reservation belongs to (a Savings Plan's own, else its target's)."""
    return holding.reservation.region or holding.target.region


@dataclass(slots=True)
class _Supply:
    reservation_id: str
    start: float
    end: float
    available_from: float  # the earliest end of an R it may renew (sort key)
    left: float


def decide(
    holdings: Iterable[Holding], policy: RenewalPolicy, now: float
) -> dict[tuple[Target, str], Renewal]:
    """The renewal of every reservation in demand, keyed by (target, reservation id).

    A reservation id listed twice in one target counts once (the first).
    """
    pools: dict[tuple[str, ...], list[tuple[Holding, float, str]]] = defaultdict(list)
    seen: set[tuple[Target, str]] = set()
    for holding in holdings:
        if holding.key in seen:
            continue
        seen.add(holding.key)
        capacity = capacity_of(holding.target.service, region_of(holding), holding.reservation)
        scope = (holding.target.account_id,) if policy.scope == "account" else ()
        pools[(*scope, *capacity.pool)].append((holding, capacity.quantity, capacity.unit))
    decided: dict[tuple[Target, str], Renewal] = {}
    for members in pools.values():
        decided.update(_match_pool(members, policy.purchase_window, now))
    return decided


def _match_pool(
    members: list[tuple[Holding, float, str]], window: float, now: float
) -> Mapping[tuple[Target, str], Renewal]:
    """Earliest-deadline-first matching in one pool, in O((R + C) log C).

    Expiring reservations come in order of end. A candidate joins the heap
    once it may start in time for the current end (a candidate in force now
    joins at once: it is in time for any later end, and for an ended one by
    the late-replacement rule); the heap yields the earliest deadline first,
    and a candidate whose deadline has passed can serve no later end either.
    """
    supply = sorted(
        (
            _Supply(
                reservation_id=h.reservation.reservation_id,
                start=h.reservation.start,
                end=h.reservation.end,
                available_from=(
                    -math.inf
                    if h.reservation.start <= now < h.reservation.end
                    else h.reservation.start - GRACE
                ),
                left=quantity,
            )
            for h, quantity, _ in members
            if h.reservation.state.lower() in _CANDIDATE_STATES and quantity > 0
        ),
        key=lambda s: s.available_from,
    )
    demand = sorted(
        (m for m in members if in_demand(m[0].reservation)),
        key=lambda m: (m[0].reservation.end, m[0].reservation.reservation_id),
    )
    heap: list[tuple[float, float, str, int]] = []
    joined = 0
    decided: dict[tuple[Target, str], Renewal] = {}
    for holding, quantity, unit in demand:
        r = holding.reservation
        while joined < len(supply) and supply[joined].available_from <= r.end:
            s = supply[joined]
            deadline = min(s.start + window, s.end)
            heapq.heappush(heap, (deadline, s.start, s.reservation_id, joined))
            joined += 1
        covered = 0.0
        renewed_by: list[str] = []
        while heap and covered < quantity:
            s = supply[heap[0][3]]
            if s.left <= 0 or s.end <= r.end or s.start + window < r.end:
                heapq.heappop(heap)  # used up, or too early for this end and all later ones
                continue
            take = min(quantity - covered, s.left)
            s.left -= take
            covered += take
            renewed_by.append(s.reservation_id)
        ratio = 1.0 if quantity <= 0 else round(min(1.0, covered / quantity), 6)
        cost = effective_hourly_cost(holding.target.service, r)
        decided[holding.key] = Renewal(
            ratio=ratio,
            quantity=quantity,
            covered=min(covered, quantity),
            unit=unit,
            renewed_by=tuple(renewed_by),
            uncovered_hourly_cost=None if cost is None else round((1.0 - ratio) * cost, 9),
            currency=r.currency,
        )
    return decided
