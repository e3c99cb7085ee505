"""Realistic demo data for the fake AWS, and the exporter config that reads it.

``seed_demo(fake, now)`` seeds four accounts x two regions with reservations
of every service in every state that matters relative to ``now`` (expiring
in 1-2 days, within a week, in weeks, in months; just bought; payment
failed; retired recently and long ago), and renewals: an EC2 RI renewed by a
queued RI, an RDS reservation renewed by a new active one, a Savings Plan
renewed by a queued plan, a size-flexible renewal (2 x xlarge by 4 x
large), a partial one (4 expiring, 3 queued) and a staggered purchase that
is no renewal at all. The organization has OUs (``Root/Workloads/Payments``,
``Root/Workloads/Search``, ``Root/Platform``) and account tags ``Team`` and
``CostCenter``; some reservations carry a ``Team`` tag of their own that differs
from their account's, some only a ``CostCenter``, some no tags at all.
The payer is the organization's management account, so Cost Explorer
(``GetReservationUtilization``, ``GetSavingsPlansUtilizationDetails``) shows it
every account's reservations and plans, with a spread of utilizations.
``demo_config(layout)`` turns the returned layout into the exporter's own
configuration (DESIGN section 3).

``generate(service, count, now, ...)`` makes any number of plausible records
for tests and benchmarks (e.g. > 100 RDS reservations in one region).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from exporter.fake.catalog import SPECS
from exporter.fake.control import FakeControls

DAY = 86400
TERMS = {1: 31536000, 3: 94608000}  # AWS's 1- and 3-year terms, in seconds
REGIONS = ("us-east-1", "eu-west-1")
SERVICES = ("ec2", "rds", "elasticache", "redshift", "opensearch", "memorydb", "savingsplans")
ROLE_NAME = "ReservationExporter"


@dataclass(frozen=True)
class DemoAccount:
    name: str
    account_id: str
    role_arn: str | None = None  # None: reached with the exporter's own credentials
    external_id: str | None = field(default=None, repr=False)
    via: str | None = None  # role chaining: assumed from this account's session
    ou_path: str = ""  # its OU in Organizations, below the root ("" is the root)
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)  # account tags


@dataclass(frozen=True)
class DemoLayout:
    """What ``seed_demo`` created: enough to write the exporter's config."""

    accounts: tuple[DemoAccount, ...]
    regions: tuple[str, ...]
    services: tuple[str, ...]
    own_account_id: str  # use fake.env(own_account_id) / apply_env for the exporter
    records: dict[str, int]  # seeded records per service
    # Reservation id -> its own tags, for every reservation that has any.
    reservation_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    # Reservation id -> the utilization (percent) Cost Explorer reports for it,
    # where the demo chose one (the others get ``ceplan.default_utilization``).
    utilization: dict[str, float] = field(default_factory=dict)


ACCOUNTS = (
    DemoAccount("payer", "111111111111", tags={"Team": "finops", "CostCenter": "CC-1000"}),
    DemoAccount(
        "production",
        "222222222222",
        f"arn:aws:iam::222222222222:role/{ROLE_NAME}",
        external_id="demo-3f9c2a71-external",
        ou_path="Workloads/Payments",
        tags={"Team": "payments", "CostCenter": "CC-2100"},
    ),
    DemoAccount(
        "staging",
        "333333333333",
        f"arn:aws:iam::333333333333:role/{ROLE_NAME}",
        ou_path="Workloads/Search",
        tags={"Team": "search"},  # no CostCenter: that owner label stays empty
    ),
    DemoAccount(
        "analytics",
        "444444444444",
        f"arn:aws:iam::444444444444:role/{ROLE_NAME}",
        via="production",
        ou_path="Platform",
        tags={"Team": "data-platform", "CostCenter": "CC-3100"},
    ),
)
# Organization accounts the exporter is not configured for.
OTHER_ORG_ACCOUNTS = (
    ("555555555555", "sandbox-legacy", "SUSPENDED", "Platform"),
    ("666666666666", "closed-project", "CLOSED", ""),
)
# The Team tag of a reservation that differs from its account's (precedence).
RESERVATION_TEAMS = {
    "payer": "shared-services",
    "production": "checkout",
    "staging": "relevance",
    "analytics": "ml",
}
# The second reservation of each rotating pool: a CostCenter of its own, no Team.
CAPACITY_TAGS = {"CostCenter": "CC-9100", "Project": "reserved-capacity"}
# The RDS renewal pair of production belongs to the orders team.
RENEWAL_TAGS = {
    "production-orders-db-2024": {"Team": "orders", "CostCenter": "CC-2150"},
    "production-orders-db-renewal": {"Team": "orders", "CostCenter": "CC-2150"},
}
# What Cost Explorer reports for the RDS renewals the demo tells a story with: the
# orders database is busy (renew), the expiring reporting database nearly idle
# (let it lapse), its later, smaller purchase half used (resize). Every other
# reservation gets a spread derived from its id (ceplan.default_utilization).
DEMO_UTILIZATION = {
    "production-orders-db-2024": 97.0,
    "production-orders-db-renewal": 88.5,
    "staging-reporting-db-2025": 12.0,
    "staging-reporting-db-extra": 51.0,
}
# Services whose reservations have tags in AWS (Redshift and OpenSearch have none).
TAGGED_SERVICES = ("ec2", "rds", "elasticache", "memorydb", "savingsplans")


@dataclass(frozen=True)
class Scenario:
    label: str
    end_days: float  # end relative to now, in days
    state: str  # spelled the common way; Redshift's spelling is applied per service
    years: int = 1


# Every state that matters to the exporter and its alerts, relative to now.
SCENARIOS = (
    Scenario("expires in 1-2 days", 1.5, "active"),
    Scenario("expires within a week", 5, "active", 3),
    Scenario("expires in weeks", 20, "active"),
    Scenario("expires in weeks", 45, "active", 3),
    Scenario("expires in months", 200, "active"),
    Scenario("retired recently", -10, "retired"),
    Scenario("retired long ago", -75, "retired", 3),
    Scenario("payment failed", 364, "payment-failed"),
    Scenario("just bought", 365, "payment-pending"),
)


@dataclass(frozen=True)
class Offering:
    instance_type: str
    product: str
    offering_type: str
    fixed: float  # upfront per unit, USD
    hourly: float  # recurring hourly charge per unit, USD


# Plausible 1-year prices per unit (3-year terms are priced lower per hour).
OFFERINGS: dict[str, tuple[Offering, ...]] = {
    "ec2": (
        Offering("m5.large", "Linux/UNIX", "No Upfront", 0.0, 0.062),
        Offering("m5.xlarge", "Linux/UNIX", "Partial Upfront", 526.0, 0.06),
        Offering("c6i.2xlarge", "Linux/UNIX", "All Upfront", 1998.0, 0.0),
        Offering("r6i.large", "Windows", "No Upfront", 0.0, 0.178),
    ),
    "rds": (
        Offering("db.r6g.large", "postgresql", "No Upfront", 0.0, 0.165),
        Offering("db.m6g.xlarge", "mysql", "Partial Upfront", 1071.0, 0.122),
        Offering("db.r6g.2xlarge", "aurora-postgresql", "All Upfront", 5563.0, 0.0),
    ),
    "elasticache": (
        Offering("cache.r6g.large", "redis", "No Upfront", 0.0, 0.143),
        Offering("cache.m6g.large", "redis", "Partial Upfront", 482.0, 0.055),
        Offering("cache.t4g.medium", "memcached", "All Upfront", 340.0, 0.0),
    ),
    "redshift": (
        Offering("ra3.xlplus", "", "No Upfront", 0.0, 0.713),
        Offering("ra3.4xlarge", "", "Partial Upfront", 11300.0, 1.29),
        Offering("dc2.large", "", "All Upfront", 1380.0, 0.0),
    ),
    "opensearch": (
        Offering("r6g.large.search", "", "NO_UPFRONT", 0.0, 0.113),
        Offering("m6g.large.search", "", "PARTIAL_UPFRONT", 376.0, 0.043),
        Offering("r6g.xlarge.search", "", "ALL_UPFRONT", 1683.0, 0.0),
    ),
    "memorydb": (
        Offering("db.r6g.large", "", "No Upfront", 0.0, 0.297),
        Offering("db.r6g.xlarge", "", "Partial Upfront", 2205.0, 0.252),
        Offering("db.t4g.medium", "", "All Upfront", 610.0, 0.0),
    ),
}

_STATE_SPELLING = {("redshift", "payment-pending"): "pending-payment"}


# --- single records -------------------------------------------------------------


def make_record(
    service: str,
    *,
    rid: str,
    account_id: str,
    region: str,
    start: datetime,
    seconds: int,
    state: str,
    offering: Offering,
    count: int = 1,
    zone: str | None = None,
    multi_az: bool | None = None,
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """One reservation of a regional service, with botocore's member names and types.

    ``zone`` makes an EC2 RI zonal; ``multi_az`` is RDS's (random when None).
    """
    rng = rng or random.Random(rid)
    state = _STATE_SPELLING.get((service, state), state)
    end = start + timedelta(seconds=seconds)
    if service == "ec2":
        record: dict[str, Any] = {
            "ReservedInstancesId": rid,
            "InstanceType": offering.instance_type,
            "Scope": "Availability Zone" if zone else "Region",
            "Start": start,
            "End": end,
            "Duration": seconds,
            "UsagePrice": 0.0,
            "FixedPrice": offering.fixed,
            "InstanceCount": count,
            "ProductDescription": offering.product,
            "State": state,
            "InstanceTenancy": "default",
            "CurrencyCode": "USD",
            "OfferingType": offering.offering_type,
            "OfferingClass": "standard",
            "RecurringCharges": _charges(offering, "Amount", "Frequency"),
        }
        if zone:
            record["AvailabilityZone"] = zone
        return record
    common = {
        "StartTime": start,
        "Duration": seconds,
        "FixedPrice": offering.fixed,
        "State": state,
        "RecurringCharges": _charges(offering, "RecurringChargeAmount", "RecurringChargeFrequency"),
    }
    if service == "rds":
        return {
            "ReservedDBInstanceId": rid,
            "ReservedDBInstancesOfferingId": _uuid(rng),
            "DBInstanceClass": offering.instance_type,
            "UsagePrice": 0.0,
            "CurrencyCode": "USD",
            "DBInstanceCount": count,
            "ProductDescription": offering.product,
            "OfferingType": offering.offering_type,
            "MultiAZ": rng.random() < 0.5 if multi_az is None else multi_az,
            "ReservedDBInstanceArn": f"arn:aws:rds:{region}:{account_id}:ri:{rid}",
            "LeaseId": _uuid(rng),
            **common,
        }
    if service == "elasticache":
        return {
            "ReservedCacheNodeId": rid,
            "ReservedCacheNodesOfferingId": _uuid(rng),
            "CacheNodeType": offering.instance_type,
            "UsagePrice": 0.0,
            "CacheNodeCount": count,
            "ProductDescription": offering.product,
            "OfferingType": offering.offering_type,
            "ReservationARN": f"arn:aws:elasticache:{region}:{account_id}:reserved-instance:{rid}",
            **common,
        }
    if service == "redshift":
        return {
            "ReservedNodeId": rid,
            "ReservedNodeOfferingId": _uuid(rng),
            "NodeType": offering.instance_type,
            "UsagePrice": 0.0,
            "CurrencyCode": "USD",
            "NodeCount": count,
            "OfferingType": offering.offering_type,
            "ReservedNodeOfferingType": "Regular",
            **common,
        }
    if service == "opensearch":
        return {
            "ReservationName": f"search-{rid[:8]}",
            "ReservedInstanceId": rid,
            "BillingSubscriptionId": rng.randrange(10**9, 10**10),
            "ReservedInstanceOfferingId": _uuid(rng),
            "InstanceType": offering.instance_type,
            "UsagePrice": 0.0,
            "CurrencyCode": "USD",
            "InstanceCount": count,
            "PaymentOption": offering.offering_type,
            **common,
        }
    if service == "memorydb":
        return {
            "ReservationId": rid,
            "ReservedNodesOfferingId": _uuid(rng),
            "NodeType": offering.instance_type,
            "NodeCount": count,
            "OfferingType": offering.offering_type,
            "ARN": f"arn:aws:memorydb:{region}:{account_id}:reservednode/{rid}",
            **common,
        }
    raise ValueError(f"make_record: {service!r} is not a regional reservation service")


def make_savings_plan(
    *,
    plan_id: str,
    account_id: str,
    start: datetime,
    years: int,
    state: str,
    plan_type: str = "Compute",
    commitment: float = 10.0,
    payment: str = "No Upfront",
    region: str | None = None,
    family: str | None = None,
) -> dict[str, Any]:
    """One Savings Plan as DescribeSavingsPlans returns it (ISO strings, decimal strings)."""
    seconds = TERMS[years]
    hours = seconds / 3600
    upfront = {"No Upfront": 0.0, "Partial Upfront": 0.5, "All Upfront": 1.0}[payment]
    products = {
        "Compute": ["EC2", "Fargate", "Lambda"],
        "EC2Instance": ["EC2"],
        "SageMaker": ["SageMaker"],
    }[plan_type]
    plan: dict[str, Any] = {
        "offeringId": str(uuid.UUID(int=random.Random(plan_id + "o").getrandbits(128), version=4)),
        "savingsPlanId": plan_id,
        "savingsPlanArn": f"arn:aws:savingsplans::{account_id}:savingsplan/{plan_id}",
        "description": f"{years} year {payment} {plan_type} Savings Plan",
        "start": _iso(start),
        "end": _iso(start + timedelta(seconds=seconds)),
        "state": state,
        "savingsPlanType": plan_type,
        "paymentOption": payment,
        "productTypes": products,
        "currency": "USD",
        "commitment": f"{commitment:.3f}",
        "upfrontPaymentAmount": f"{commitment * hours * upfront:.2f}",
        "recurringPaymentAmount": f"{commitment * (1 - upfront):.3f}",
        "termDurationInSeconds": seconds,
    }
    if plan_type == "EC2Instance":
        plan["region"] = region or "us-east-1"
        plan["ec2InstanceFamily"] = family or "m5"
    return plan


# --- bulk data for tests and benchmarks -------------------------------------------


def generate(
    service: str,
    count: int,
    now: datetime,
    account_id: str = "111111111111",
    region: str = "us-east-1",
    seed: int | str = 0,
) -> list[dict[str, Any]]:
    """``count`` plausible records of ``service``: mostly active, ends spread from
    two months ago to three years ahead, deterministic for a given ``seed``."""
    if service not in SERVICES:
        raise ValueError(f"generate: unknown service {service!r}; expected one of {SERVICES}")
    rng = random.Random(f"{seed}-{account_id}-{region}-{service}")
    records = []
    for index in range(count):
        years = rng.choice((1, 1, 3))
        end = now + timedelta(days=rng.uniform(-60, 365 * years))
        start = end - timedelta(seconds=TERMS[years])
        state = "retired" if end < now else rng.choice(("active",) * 18 + ("payment-pending",))
        if service == "savingsplans":
            records.append(
                make_savings_plan(
                    plan_id=_uuid(rng),
                    account_id=account_id,
                    start=start,
                    years=years,
                    state=state,
                    commitment=round(rng.uniform(0.5, 40), 3),
                )
            )
            continue
        records.append(
            make_record(
                service,
                rid=_rid(service, rng, f"bulk-{index:05d}"),
                account_id=account_id,
                region=region,
                start=start,
                seconds=TERMS[years],
                state=state,
                offering=rng.choice(OFFERINGS[service]),
                count=rng.randint(1, 8),
                rng=rng,
            )
        )
    return records


# --- the demo ------------------------------------------------------------------


def seed_demo(fake: FakeControls, now: datetime | None = None) -> DemoLayout:
    """Seed accounts, roles, Organizations and reservations; return the layout.

    Works with an in-process ``FakeAws`` or a remote ``FakeAwsClient``.
    """
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    payer = ACCOUNTS[0]
    by_name = {account.name: account for account in ACCOUNTS}
    for account in ACCOUNTS:
        if account.role_arn:
            caller = by_name[account.via].account_id if account.via else payer.account_id
            fake.add_role(account.role_arn, account.external_id, trusted_account_ids=[caller])
        fake.add_org_account(
            account.account_id,
            account.name,
            management_account_id=payer.account_id,
            tags=dict(account.tags),
            ou_path=account.ou_path,
        )
    for account_id, name, state, ou_path in OTHER_ORG_ACCOUNTS:
        fake.add_org_account(account_id, name, state=state, ou_path=ou_path)

    counts: dict[str, int] = dict.fromkeys(SERVICES, 0)
    tagged: dict[str, dict[str, str]] = {}

    def tag(account: DemoAccount, region: str, service: str, rid: str, tags: dict | None) -> None:
        if tags and service in TAGGED_SERVICES:
            fake.tag_reservation(account.account_id, region, service, rid, tags)
            tagged[rid] = dict(tags)

    for service, account, region, records in _rotating_records(now):
        fake.seed(account.account_id, region, service, records)
        counts[service] += len(records)
        id_key = SPECS[service].id_key
        tag(account, region, service, records[0][id_key], {"Team": RESERVATION_TEAMS[account.name]})
        tag(account, region, service, records[1][id_key], CAPACITY_TAGS)
    utilization: dict[str, float] = {}
    for service, account, region, records in _renewals(now):
        fake.seed(account.account_id, region, service, records)
        counts[service] += len(records)
        for record in records:
            rid = record[SPECS[service].id_key]
            tag(account, region, service, rid, RENEWAL_TAGS.get(rid))
            if rid in DEMO_UTILIZATION:
                fake.set_utilization(account.account_id, service, rid, DEMO_UTILIZATION[rid])
                utilization[rid] = DEMO_UTILIZATION[rid]
    for account, plans in _savings_plans(now):
        fake.seed(account.account_id, "global", "savingsplans", plans)
        counts["savingsplans"] += len(plans)
        team = {"Team": RESERVATION_TEAMS[account.name]}
        tag(account, "global", "savingsplans", plans[0]["savingsPlanId"], team)
    return DemoLayout(ACCOUNTS, REGIONS, SERVICES, payer.account_id, counts, tagged, utilization)


def _rotating_records(now: datetime) -> Iterator[tuple[str, DemoAccount, str, list[dict]]]:
    """Three scenarios per (account, region, service), rotating so every service
    has every scenario somewhere."""
    slots = [(account, region) for account in ACCOUNTS for region in REGIONS]
    for service in SERVICES[:-1]:
        for slot, (account, region) in enumerate(slots):
            rng = random.Random(f"demo-{service}-{account.account_id}-{region}")
            records = []
            for pick in range(3):
                scenario = SCENARIOS[(3 * slot + pick) % len(SCENARIOS)]
                seconds = TERMS[scenario.years]
                start = now + timedelta(days=scenario.end_days) - timedelta(seconds=seconds)
                records.append(
                    make_record(
                        service,
                        rid=_rid(service, rng, f"{account.name}-{pick + 1}"),
                        account_id=account.account_id,
                        region=region,
                        start=start,
                        seconds=seconds,
                        state=scenario.state,
                        offering=OFFERINGS[service][(slot + pick) % len(OFFERINGS[service])],
                        count=rng.randint(1, 4),
                        zone=f"{region}a" if service == "ec2" and pick == 2 else None,
                        rng=rng,
                    )
                )
            yield service, account, region, records


def _renewals(now: datetime) -> Iterator[tuple[str, DemoAccount, str, list[dict]]]:
    """Renewals the coverage rule tells apart (DESIGN §10), each in a pool of its own
    so the rotating scenarios above do not take part in it."""
    payer, production, staging, analytics = ACCOUNTS
    rng = random.Random("demo-renewals")
    year = TERMS[1]

    def reservation(
        service: str,
        rid: str,
        start: datetime,
        state: str,
        account: DemoAccount = production,
        region: str = "us-east-1",
        **kw: Any,
    ) -> dict:
        return make_record(
            service,
            rid=rid,
            account_id=account.account_id,
            region=region,
            start=start,
            seconds=year,
            state=state,
            rng=rng,
            **kw,
        )

    # EC2: expiring in 4 days, renewed by a queued RI of the same type, product
    # and scope that starts the moment it ends.
    ending = now + timedelta(days=4)
    ri = {"offering": OFFERINGS["ec2"][1], "count": 4}
    yield (
        "ec2",
        production,
        "us-east-1",
        [
            reservation("ec2", _uuid(rng), ending - timedelta(seconds=year), "active", **ri),
            reservation("ec2", _uuid(rng), ending, "queued", **ri),
        ],
    )
    # RDS has no queued purchases: a renewal is a new active reservation bought early.
    ending = now + timedelta(days=3)
    db = {"offering": OFFERINGS["rds"][0], "count": 2, "multi_az": True}
    yield (
        "rds",
        production,
        "us-east-1",
        [
            reservation(
                "rds", "production-orders-db-2024", ending - timedelta(seconds=year), "active", **db
            ),
            reservation(
                "rds", "production-orders-db-renewal", now - timedelta(days=2), "active", **db
            ),
        ],
    )
    # Size flexibility: 2 x m6i.xlarge (16 normalized units) renewed by a queued
    # 4 x m6i.large (16 units), as AWS applies it to regional Linux RIs: 100%.
    ending = now + timedelta(days=15)
    large = Offering("m6i.large", "Linux/UNIX", "No Upfront", 0.0, 0.06)
    xlarge = Offering("m6i.xlarge", "Linux/UNIX", "No Upfront", 0.0, 0.12)
    yield (
        "ec2",
        payer,
        "us-east-1",
        [
            reservation(
                "ec2",
                _uuid(rng),
                ending - timedelta(seconds=year),
                "active",
                payer,
                offering=xlarge,
                count=2,
            ),
            reservation("ec2", _uuid(rng), ending, "queued", payer, offering=large, count=4),
        ],
    )
    # A partial renewal: 4 x c7g.large expiring, 3 queued: 75% covered, one
    # instance's worth of usage lapses to on-demand.
    ending = now + timedelta(days=9)
    graviton = Offering("c7g.large", "Linux/UNIX", "No Upfront", 0.0, 0.045)
    yield (
        "ec2",
        analytics,
        "eu-west-1",
        [
            reservation(
                "ec2",
                _uuid(rng),
                ending - timedelta(seconds=year),
                "active",
                analytics,
                "eu-west-1",
                offering=graviton,
                count=4,
            ),
            reservation(
                "ec2",
                _uuid(rng),
                ending,
                "queued",
                analytics,
                "eu-west-1",
                offering=graviton,
                count=3,
            ),
        ],
    )
    # A staggered purchase: 2 x db.r7g.large expiring in 6 days; the 1 x of the
    # same kind bought months later is capacity of its own, not a renewal: 0%.
    ending = now + timedelta(days=6)
    reporting = {
        "offering": Offering("db.r7g.large", "postgresql", "No Upfront", 0.0, 0.17),
        "multi_az": False,
    }
    yield (
        "rds",
        staging,
        "us-east-1",
        [
            reservation(
                "rds",
                "staging-reporting-db-2025",
                ending - timedelta(seconds=year),
                "active",
                staging,
                count=2,
                **reporting,
            ),
            reservation(
                "rds",
                "staging-reporting-db-extra",
                now - timedelta(days=200),
                "active",
                staging,
                count=1,
                **reporting,
            ),
        ],
    )


def _savings_plans(now: datetime) -> Iterator[tuple[DemoAccount, list[dict]]]:
    payer, production, staging, analytics = ACCOUNTS
    rng = random.Random("demo-savingsplans")
    year, three = TERMS[1], TERMS[3]

    def plan(account: DemoAccount, end_days: float, state: str, years: int = 1, **kw: Any) -> dict:
        seconds = year if years == 1 else three
        start = now + timedelta(days=end_days) - timedelta(seconds=seconds)
        return make_savings_plan(
            plan_id=_uuid(rng),
            account_id=account.account_id,
            start=start,
            years=years,
            state=state,
            **kw,
        )

    renewed_end = now + timedelta(days=12)
    yield (
        payer,
        [
            plan(payer, 200, "active", 3, commitment=25.0, payment="Partial Upfront"),
            plan(payer, 1.5, "active", plan_type="EC2Instance", commitment=4.2, family="m5"),
        ],
    )
    yield (
        production,
        [
            plan(production, 12, "active", commitment=12.5),
            make_savings_plan(
                plan_id=_uuid(rng),
                account_id=production.account_id,
                start=renewed_end,
                years=1,
                state="queued",
                commitment=12.5,
            ),
            plan(production, -10, "retired", plan_type="SageMaker", commitment=3.0),
        ],
    )
    yield (
        staging,
        [
            plan(
                staging,
                45,
                "active",
                plan_type="EC2Instance",
                commitment=2.75,
                region="eu-west-1",
                family="r6g",
                payment="All Upfront",
            ),
            plan(staging, 364, "payment-failed", commitment=1.0),
            plan(staging, 300, "returned", commitment=5.0),
        ],
    )
    yield (
        analytics,
        [
            plan(analytics, -75, "retired", 3, commitment=8.0),
            plan(analytics, 5, "active", commitment=6.0),
            plan(analytics, 300, "active", commitment=9.5),
        ],
    )


def demo_config(layout: DemoLayout, refresh_interval: str = "5m") -> dict[str, Any]:
    """The exporter configuration (DESIGN section 3) for what ``seed_demo`` created.

    Shows each way to reach an account: own credentials (payer), role ARN with
    ExternalId (production), account id with the default role name (staging)
    and role chaining (analytics via production); and owner labels from
    reservation and account tags, with Organizations discovery.
    """
    accounts: list[dict[str, Any]] = []
    for account in layout.accounts:
        entry: dict[str, Any] = {"name": account.name}
        if account.role_arn and account.external_id is None and account.via is None:
            entry["id"] = account.account_id
        elif account.role_arn:
            entry["role_arn"] = account.role_arn
            if account.external_id:
                entry["external_id"] = account.external_id
            if account.via:
                entry["via"] = account.via
        accounts.append(entry)
    return {
        "refresh_interval": refresh_interval,
        "expired_lookback": "30d",
        "regions": list(layout.regions),
        "services": list(layout.services),
        "defaults": {"role_name": ROLE_NAME},
        "accounts": accounts,
        # The payer is the management account: Organizations lists the same
        # accounts (configured ones win) and gives their tags and OU paths.
        "organizations": {"enabled": True},
        "owner_labels": {"team": "Team", "cost_center": "CostCenter"},
        # The payer is the management account: utilization from Cost Explorer.
        "cost_explorer": {"enabled": True},
    }


def demo_config_yaml(layout: DemoLayout, refresh_interval: str = "5m") -> str:
    """``demo_config`` as YAML text, with a header saying where it came from."""
    import yaml

    body = yaml.safe_dump(demo_config(layout, refresh_interval), sort_keys=False)
    return "# Demo configuration: accounts and roles seeded in the embedded fake AWS.\n" + body


# --- helpers ------------------------------------------------------------------


def _charges(offering: Offering, amount_key: str, frequency_key: str) -> list[dict[str, Any]]:
    if not offering.hourly:
        return []
    return [{amount_key: offering.hourly, frequency_key: "Hourly"}]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _rid(service: str, rng: random.Random, label: str) -> str:
    """Ids as each service spells them: UUIDs where AWS assigns them, names where
    the buyer chooses them (RDS, ElastiCache, MemoryDB)."""
    if service in ("rds", "elasticache", "memorydb"):
        return f"{label}-{rng.randrange(16**6):06x}"
    return _uuid(rng)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
