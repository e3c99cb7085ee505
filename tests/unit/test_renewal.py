"""exporter.renewal: which share of an expiring reservation its renewals cover.

The table states each case in days from now, as the issue does; one reservation
per case is the one under test ("r"), the rest are the purchases around it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import pytest

from exporter.model import GLOBAL_REGION, Reservation, Target
from exporter.renewal import (
    DAY,
    HOUR,
    Holding,
    RenewalPolicy,
    decide,
    effective_hourly_cost,
    in_demand,
    retired_early,
)

NOW = 1_800_000_000.0
YEAR = 365 * DAY
MEMBER = "222222222222"
OTHER = "333333333333"


@dataclass(frozen=True)
class R:
    """A reservation in days from NOW; service and account say where it was read."""

    rid: str
    ends: float  # days from now
    service: str = "ec2"
    type: str = "m5.large"
    count: int = 1
    state: str = "active"
    starts: float | None = None  # days from now; default: a one-year term
    product: str = "Linux/UNIX"
    tenancy: str = "default"
    zone: str = ""
    multi_az: str = ""
    plan_type: str = ""
    commitment: float | None = None
    plan_region: str | None = None
    account_id: str = MEMBER
    region: str = "us-east-1"
    extra: dict = field(default_factory=dict)

    def holding(self) -> Holding:
        end = NOW + self.ends * DAY
        start = NOW + self.starts * DAY if self.starts is not None else end - YEAR
        savings_plan = self.service == "savingsplans"
        reservation = Reservation(
            reservation_id=self.rid,
            state=self.state,
            start=start,
            end=end,
            instance_count=None if savings_plan else self.count,
            instance_type=self.type,
            product=self.product,
            scope="Availability Zone" if self.zone else ("Region" if self.service == "ec2" else ""),
            availability_zone=self.zone,
            multi_az=self.multi_az,
            plan_type=self.plan_type,
            hourly_cost=self.commitment if savings_plan else 0.1 * self.count,
            upfront_cost=0.0,
            region=(self.plan_region or GLOBAL_REGION) if savings_plan else None,
            tenancy=self.tenancy if self.service == "ec2" else "",
            **self.extra,
        )
        region = GLOBAL_REGION if savings_plan else self.region
        target = Target(f"acct-{self.account_id}", self.account_id, region, self.service)
        return Holding(target, reservation)


def ratios(
    reservations: Iterable[R], *, scope: str = "account", window_days: float = 30
) -> dict[str, float]:
    policy = RenewalPolicy(scope=scope, purchase_window=window_days * DAY)  # type: ignore[arg-type]
    decided = decide([r.holding() for r in reservations], policy, NOW)
    return {rid: renewal.ratio for (_, rid), renewal in decided.items()}


def rds(rid: str, ends: float, **kw) -> R:
    kw.setdefault("type", "db.r6g.large")
    kw.setdefault("product", "postgresql")
    kw.setdefault("multi_az", "false")
    return R(rid, ends, service="rds", **kw)


def plan(rid: str, ends: float, commitment: float, **kw) -> R:
    kw.setdefault("plan_type", "Compute")
    kw.setdefault("product", "EC2,Fargate,Lambda")
    kw.setdefault("type", "")
    return R(rid, ends, service="savingsplans", commitment=commitment, **kw)


def queued(rid: str, starts: float, **kw) -> R:
    return R(rid, starts + 365, state="queued", starts=starts, **kw)


# t1 ends +10, t2 +20; a long renewal starts +5 and a bridge runs +9..+15.
EDF = [R("t1", 10), R("t2", 20), R("long", 370, starts=5), R("bridge", 15, starts=9)]

# (case, reservations, expected covered ratio per reservation id, policy overrides)
CASES = [
    (
        "staggered RDS purchase: an older reservation of the same kind is not a renewal",
        [rds("r", 5, count=2), rds("older", 90, count=1, starts=-275)],
        {"r": 0.0},
        {},
    ),
    (
        "4 instances expiring with 3 queued",
        [R("r", 20, count=4), queued("q", 20, count=3)],
        {"r": 0.75},
        {},
    ),
    (
        "1 x m5.xlarge Linux renewed by 2 x m5.large queued (size flexibility)",
        [R("r", 20, type="m5.xlarge"), queued("q", 20, type="m5.large", count=2)],
        {"r": 1.0},
        {},
    ),
    (
        "the same on Windows: no size flexibility",
        [
            R("r", 20, type="m5.xlarge", product="Windows"),
            queued("q", 20, type="m5.large", count=2, product="Windows"),
        ],
        {"r": 0.0},
        {},
    ),
    (
        "two 2 x c6i.large ending +10 and +12, one queued 3 x: the first is served first",
        [
            R("t1", 10, type="c6i.large", count=2),
            R("t2", 12, type="c6i.large", count=2),
            queued("q", 10, type="c6i.large", count=3),
        ],
        {"t1": 1.0, "t2": 0.5},
        {},
    ),
    (
        "a renewal starting exactly one day after the end still counts",
        [R("r", 20), queued("q", 21)],
        {"r": 1.0},
        {},
    ),
    (
        "a renewal starting one day and one hour after the end does not",
        [R("r", 20), queued("q", 21 + 1 / 24)],
        {"r": 0.0},
        {},
    ),
    (
        "PostgreSQL Multi-AZ db.r6g.xlarge renewed by two single-AZ xlarge (Multi-AZ is double)",
        [
            rds("r", 10, type="db.r6g.xlarge", multi_az="true"),
            rds("new", 365, type="db.r6g.xlarge", count=2, starts=-5),
        ],
        {"r": 1.0},
        {},
    ),
    (
        "PostgreSQL Multi-AZ renewed by one single-AZ of the same size covers half",
        [
            rds("r", 10, type="db.r6g.xlarge", multi_az="true"),
            rds("new", 365, type="db.r6g.xlarge", starts=-5),
        ],
        {"r": 0.5},
        {},
    ),
    (
        "SQL Server licence-included Multi-AZ renewed single-AZ: no size flexibility",
        [
            rds("r", 10, type="db.r5.xlarge", product="sqlserver-se(li)", multi_az="true"),
            rds("new", 365, type="db.r5.xlarge", product="sqlserver-se(li)", count=2, starts=-5),
        ],
        {"r": 0.0},
        {},
    ),
    (
        "Compute Savings Plan of $10/h renewed at $6/h",
        [plan("r", 12, 10.0), plan("q", 377, 6.0, state="queued", starts=12)],
        {"r": 0.6},
        {},
    ),
    (
        "an EC2 Instance plan is not renewed by a Compute plan",
        [
            plan("r", 12, 4.0, plan_type="EC2Instance", type="m5", plan_region="us-east-1"),
            plan("q", 377, 4.0, state="queued", starts=12),
        ],
        {"r": 0.0},
        {},
    ),
    (
        "an EC2 Instance plan renewed by one of the same family and region",
        [
            plan("r", 12, 4.0, plan_type="EC2Instance", type="m5", plan_region="us-east-1"),
            plan(
                "q",
                377,
                4.0,
                state="queued",
                starts=12,
                plan_type="EC2Instance",
                type="m5",
                plan_region="us-east-1",
            ),
        ],
        {"r": 1.0},
        {},
    ),
    (
        "a member account's RI renewed in another account: scope account",
        [R("r", 20), queued("q", 20, account_id=OTHER)],
        {"r": 0.0},
        {"scope": "account"},
    ),
    (
        "a member account's RI renewed in another account: scope organization",
        [R("r", 20), queued("q", 20, account_id=OTHER)],
        {"r": 1.0},
        {"scope": "organization"},
    ),
    (
        "a zonal RI renewed in another Availability Zone",
        [R("r", 20, zone="us-east-1a"), queued("q", 20, zone="us-east-1b")],
        {"r": 0.0},
        {},
    ),
    (
        "a zonal RI renewed in its own Availability Zone",
        [R("r", 20, zone="us-east-1a"), queued("q", 20, zone="us-east-1a")],
        {"r": 1.0},
        {},
    ),
    (
        "a queued-deleted renewal is no renewal",
        [R("r", 20), R("q", 385, state="queued-deleted", starts=20)],
        {"r": 0.0},
        {},
    ),
    (
        "an RDS renewal bought 40 days before the end, with a 30-day window",
        [rds("r", 10), rds("new", 335, starts=-30)],
        {"r": 0.0},
        {},
    ),
    (
        "the same renewal with a 60-day window",
        [rds("r", 10), rds("new", 335, starts=-30)],
        {"r": 1.0},
        {"window_days": 60},
    ),
    (
        "earliest deadline first: the bridge serves t1, the long renewal the bridge, t2 lapses",
        # Three reservations end (t1 +10, bridge +15, t2 +20) and one long one
        # goes on, so capacity drops by one: exactly one of them is uncovered.
        # Start order would give the long renewal to t1 and leave two uncovered.
        EDF,
        {"t1": 1.0, "bridge": 1.0, "t2": 0.0, "long": 0.0},
        {},
    ),
    (
        "earliest deadline first: a third reservation ending before the bridge takes the long one",
        [
            R("t1", 10),
            R("t3", 12),
            R("t2", 20),
            R("long", 370, starts=5),
            R("bridge", 15, starts=9),
        ],
        {"t1": 1.0, "t3": 1.0, "bridge": 0.0, "t2": 0.0},
        {},
    ),
    (
        "ended reservation: a replacement in force now counts, even bought late",
        [R("r", -10, state="retired"), R("new", 360, starts=-5)],
        {"r": 1.0},
        {},
    ),
    (
        "ended reservation: an older reservation in force now is no replacement",
        [R("r", -10, state="retired"), R("older", 200, starts=-165)],
        {"r": 0.0},
        {},
    ),
    (
        "ended reservation: a replacement bought 20 days after the end counts once in force",
        [R("r", -25, state="retired"), R("late", 360, starts=-5)],
        {"r": 1.0},
        {},
    ),
    (
        "a renewal must end after the reservation it renews",
        [R("r", 20), R("short", 19, starts=0)],
        {"r": 0.0},
        {},
    ),
    (
        "payment-pending counts as a renewal (Redshift spells it pending-payment)",
        [
            R("r", 10, service="redshift", type="ra3.xlplus", product=""),
            R(
                "new",
                365,
                service="redshift",
                type="ra3.xlplus",
                product="",
                state="pending-payment",
                starts=0,
            ),
        ],
        {"r": 1.0, "new": 0.0},
        {},
    ),
    (
        "an unknown state never renews anything",
        [R("r", 20), R("odd", 385, state="mystery", starts=20)],
        {"r": 0.0},
        {},
    ),
    (
        "OpenSearch matches the exact type only",
        [
            R("r", 10, service="opensearch", type="r6g.large.search", product=""),
            R("new", 365, service="opensearch", type="r6g.xlarge.search", product="", starts=0),
        ],
        {"r": 0.0},
        {},
    ),
    (
        "ElastiCache is size-flexible within family and engine",
        [
            R("r", 10, service="elasticache", type="cache.r6g.xlarge", product="redis"),
            R(
                "new",
                365,
                service="elasticache",
                type="cache.r6g.large",
                product="redis",
                count=2,
                starts=0,
            ),
        ],
        {"r": 1.0},
        {},
    ),
    (
        "ElastiCache does not cross engines",
        [
            R("r", 10, service="elasticache", type="cache.r6g.large", product="redis"),
            R(
                "new",
                365,
                service="elasticache",
                type="cache.r6g.large",
                product="memcached",
                starts=0,
            ),
        ],
        {"r": 0.0},
        {},
    ),
    (
        "dedicated tenancy is not size-flexible",
        [
            R("r", 20, type="m5.xlarge", tenancy="dedicated"),
            queued("q", 20, type="m5.large", count=2, tenancy="dedicated"),
        ],
        {"r": 0.0},
        {},
    ),
    (
        "G4dn is not size-flexible even on Linux",
        [R("r", 20, type="g4dn.2xlarge"), queued("q", 20, type="g4dn.xlarge", count=2)],
        {"r": 0.0},
        {},
    ),
    (
        "another region is another pool",
        [R("r", 20), queued("q", 20, region="eu-west-1")],
        {"r": 0.0},
        {},
    ),
    (
        "an (Amazon VPC) platform is the same Linux/UNIX",
        [R("r", 20, product="Linux/UNIX (Amazon VPC)"), queued("q", 20)],
        {"r": 1.0},
        {},
    ),
    (
        "zero window: only renewals starting at the end up to a day after",
        [R("r", 20), R("early", 380, starts=15), queued("q", 20)],
        {"r": 1.0},
        {"window_days": 0},
    ),
]


@pytest.mark.parametrize(
    ("reservations", "expected", "policy"),
    [pytest.param(rs, exp, pol, id=name) for name, rs, exp, pol in CASES],
)
def test_covered_ratio(reservations: list[R], expected: dict[str, float], policy: dict) -> None:
    got = ratios(reservations, **policy)
    assert {rid: got.get(rid) for rid in expected} == expected


def test_earliest_deadline_first_uses_each_candidate_once() -> None:
    holdings = {r.rid: r.holding() for r in EDF}
    decided = decide(holdings.values(), RenewalPolicy(), NOW)
    assert decided[holdings["t1"].key].renewed_by == ("bridge",)
    assert decided[holdings["bridge"].key].renewed_by == ("long",)
    assert decided[holdings["t2"].key].renewed_by == ()


def test_renewed_by_names_the_covering_reservations_in_the_order_used() -> None:
    policy = RenewalPolicy()
    holdings = [
        R("r", 20, count=4).holding(),
        queued("q1", 20, count=1).holding(),
        queued("q2", 20, count=2, type="m5.medium").holding(),  # 2 x 2 units
    ]
    renewal = decide(holdings, policy, NOW)[holdings[0].key]
    assert renewal.renewed_by == ("q1", "q2")
    assert (renewal.quantity, renewal.covered, renewal.unit) == (16.0, 8.0, "normalized units")
    assert renewal.ratio == 0.5


def test_queued_pending_return_and_early_retired_reservations_are_not_in_demand() -> None:
    exchanged = R("exchanged", -100, state="retired", starts=-200, extra={"term": YEAR}).holding()
    holdings = [
        queued("q", 20).holding(),
        plan("returning", 300, 5.0, state="pending-return").holding(),
        exchanged,
        R("r", 20).holding(),
    ]
    decided = decide(holdings, RenewalPolicy(), NOW)
    assert {rid for _, rid in decided} == {"r"}
    assert retired_early(exchanged.reservation)
    assert not in_demand(exchanged.reservation)


def test_retired_at_the_end_of_its_term_is_not_early() -> None:
    whole = R("r", -10, state="retired", extra={"term": YEAR}).holding().reservation
    assert not retired_early(whole)
    # Within an hour of the term's end is rounding, not an exchange.
    nearly = replace(whole, end=whole.end - 0.5 * HOUR)
    assert not retired_early(nearly)
    assert retired_early(replace(whole, end=whole.end - 2 * HOUR))
    # An active reservation with an early End is not "retired early": it still alerts.
    assert not retired_early(replace(whole, state="active", end=whole.end - 30 * DAY))


def test_uncovered_hourly_cost_spreads_the_upfront_payment_over_the_term() -> None:
    holding = R("r", 20, count=2).holding()
    reservation = replace(holding.reservation, hourly_cost=0.2, upfront_cost=876.0, term=YEAR)
    holding = Holding(holding.target, reservation)
    # 0.2 $/h recurring + 876 $ / 8760 h = 0.3 $/h; half covered -> 0.15 $/h uncovered.
    renewal = decide([holding, queued("q", 20, count=1).holding()], RenewalPolicy(), NOW)[
        holding.key
    ]
    assert renewal.ratio == 0.5
    assert renewal.uncovered_hourly_cost == pytest.approx(0.15)
    assert effective_hourly_cost("ec2", reservation) == pytest.approx(0.3)


def test_savings_plan_cost_is_its_commitment_alone() -> None:
    holding = plan("r", 12, 10.0).holding()
    reservation = replace(holding.reservation, upfront_cost=43800.0)
    assert effective_hourly_cost("savingsplans", reservation) == 10.0
    renewal = decide(
        [
            Holding(holding.target, reservation),
            plan("q", 377, 6.0, state="queued", starts=12).holding(),
        ],
        RenewalPolicy(),
        NOW,
    )[holding.key]
    assert renewal.uncovered_hourly_cost == pytest.approx(4.0)
    assert (renewal.unit, renewal.currency) == ("$/h commitment", "USD")


def test_fractions_that_add_up_to_the_whole_count_as_fully_covered() -> None:
    parts = [plan(f"q{i}", 377, 0.1, state="queued", starts=12) for i in range(10)]
    assert ratios([plan("r", 12, 1.0), *parts])["r"] == 1.0


def test_a_reservation_listed_twice_counts_once() -> None:
    r = R("r", 20, count=2).holding()
    q = queued("q", 20, count=1).holding()
    decided = decide([r, r, q, q], RenewalPolicy(), NOW)
    assert decided[r.key].ratio == 0.5


def test_every_reservation_in_demand_gets_an_answer_even_far_from_its_end() -> None:
    assert ratios([R("far", 300), R("soon", 3)]) == {"far": 0.0, "soon": 0.0}


def _literal_rule(holdings: list[Holding], window: float, now: float) -> dict[str, float]:
    """DESIGN §10 written as plainly as possible (one pool, O(R x C)), to check
    the heap-based matching against."""
    candidates = sorted(
        (h.reservation for h in holdings if h.reservation.state in ("active", "queued")),
        key=lambda c: (min(c.start + window, c.end), c.start, c.reservation_id),
    )
    left = {c.reservation_id: float(c.instance_count or 0) for c in candidates}
    demand = sorted(
        (h.reservation for h in holdings if in_demand(h.reservation)),
        key=lambda r: (r.end, r.reservation_id),
    )
    ratios = {}
    for r in demand:
        need, covered = float(r.instance_count or 0), 0.0
        for c in candidates:
            in_time = r.end - window <= c.start <= r.end + DAY
            late = r.end <= now and c.start <= now < c.end and c.start >= r.end - window
            if c.end > r.end and (in_time or late) and left[c.reservation_id] > 0:
                take = min(need - covered, left[c.reservation_id])
                left[c.reservation_id] -= take
                covered += take
        ratios[r.reservation_id] = round(covered / need, 6)
    return ratios


@pytest.mark.parametrize("seed", range(40))
def test_matching_agrees_with_the_literal_rule_on_random_pools(seed: int) -> None:
    import random

    rng = random.Random(seed)
    holdings = []
    for index in range(rng.randint(1, 40)):
        state = rng.choice(("active", "active", "queued", "retired", "queued-deleted"))
        starts = rng.uniform(-400, 200)
        length = rng.choice((365, 365, 20, 90))
        holdings.append(
            R(
                f"r{index:02d}",
                starts + length,
                count=rng.randint(1, 5),
                state=state,
                starts=starts,
            ).holding()
        )
    window = rng.choice((0, 10, 30, 90)) * DAY
    decided = decide(holdings, RenewalPolicy(purchase_window=window), NOW)
    got = {rid: renewal.ratio for (_, rid), renewal in decided.items()}
    assert got == _literal_rule(holdings, window, NOW)
