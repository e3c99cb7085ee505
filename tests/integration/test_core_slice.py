"""The core slice end to end: config -> STS AssumeRole per account -> EC2 and RDS
reservations at the fake AWS over HTTP -> the exact /metrics series."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.support import OWN_ACCOUNT

DAY = 86400
YEAR = 365 * DAY
NOW = datetime.now(timezone.utc).replace(microsecond=0)

PROD, STAGING, ANALYTICS = "222222222222", "333333333333", "444444444444"
EXTERNAL_ID = "prod-external-id-1"


def ec2(rid: str, state: str, end: datetime, count: int = 1, **extra) -> dict:
    start = end - timedelta(seconds=YEAR)
    record = {
        "ReservedInstancesId": rid,
        "State": state,
        "Start": start,
        "End": end,
        "Duration": YEAR,
        "InstanceCount": count,
        "InstanceType": "m5.large",
        "ProductDescription": "Linux/UNIX",
        "OfferingType": "No Upfront",
        "OfferingClass": "standard",
        "Scope": "Region",
        "UsagePrice": 0.0,
        "FixedPrice": 0.0,
        "CurrencyCode": "USD",
        "InstanceTenancy": "default",
        "RecurringCharges": [{"Frequency": "Hourly", "Amount": 0.062}],
    }
    record.update(extra)
    return record


def rds(rid: str, state: str, start: datetime, count: int = 1, multi_az: bool = False) -> dict:
    return {
        "ReservedDBInstanceId": rid,
        "ReservedDBInstancesOfferingId": f"offer-{rid}",
        "DBInstanceClass": "db.r6g.large",
        "StartTime": start,
        "Duration": YEAR,
        "FixedPrice": 1000.0,
        "UsagePrice": 0.0,
        "CurrencyCode": "USD",
        "DBInstanceCount": count,
        "ProductDescription": "postgresql",
        "OfferingType": "Partial Upfront",
        "MultiAZ": multi_az,
        "State": state,
        "RecurringCharges": [{"RecurringChargeFrequency": "Hourly", "RecurringChargeAmount": 0.1}],
    }


# What each account holds, and which ids must (not) be exported.
SEED = {
    (OWN_ACCOUNT, "us-east-1", "ec2"): [
        ec2("ri-own-3d", "active", NOW + timedelta(days=3), count=2),
        ec2("ri-own-queued", "queued", NOW + timedelta(days=3 + 365)),
        ec2("ri-own-pending", "payment-pending", NOW + timedelta(days=200)),
        ec2("ri-own-failed", "payment-failed", NOW + timedelta(days=200)),
    ],
    (PROD, "us-east-1", "ec2"): [
        ec2("ri-prod-recent", "retired", NOW - timedelta(days=10)),
        ec2("ri-prod-old", "retired", NOW - timedelta(days=90)),
        ec2(
            "ri-prod-weeks",
            "active",
            NOW + timedelta(days=25),
            Scope="Availability Zone",
            AvailabilityZone="us-east-1b",
        ),
    ],
    (PROD, "eu-west-1", "ec2"): [
        ec2("ri-prod-eu-months", "active", NOW + timedelta(days=150), CurrencyCode="USD"),
    ],
    (STAGING, "eu-west-1", "rds"): [
        rds(f"db-staging-{i:03d}", "active", NOW - timedelta(days=300) + timedelta(hours=i))
        for i in range(130)
    ]
    + [
        rds("db-staging-retired", "retired", NOW - timedelta(days=YEAR // DAY + 5)),
        rds("db-staging-failed", "payment-failed", NOW - timedelta(days=1)),
    ],
    (ANALYTICS, "us-east-1", "rds"): [
        rds("db-analytics-multi", "active", NOW - timedelta(days=360), count=3, multi_az=True),
    ],
}
NOT_EXPORTED = {"ri-own-failed", "ri-prod-old", "db-staging-failed"}

ACCOUNT_NAMES = {
    OWN_ACCOUNT: "payer",
    PROD: "production",
    STAGING: "staging",
    ANALYTICS: "analytics",
}

CONFIG = {
    "refresh_interval": "1h",
    "regions": ["us-east-1", "eu-west-1"],
    "services": ["ec2", "rds"],
    "concurrency": 4,
    "defaults": {"role_name": "ReservationExporter"},
    "accounts": [
        {"name": "payer"},
        {
            "name": "production",
            "role_arn": f"arn:aws:iam::{PROD}:role/ReservationExporter",
            "external_id": EXTERNAL_ID,
        },
        {"name": "staging", "id": STAGING},
        {"name": "analytics", "role_arn": f"arn:aws:iam::{ANALYTICS}:role/ReservationExporter"},
    ],
}


def seed(fake) -> None:
    fake.add_role(f"arn:aws:iam::{PROD}:role/ReservationExporter", external_id=EXTERNAL_ID)
    for account in (STAGING, ANALYTICS):
        fake.add_role(f"arn:aws:iam::{account}:role/ReservationExporter")
    for (account, region, service), records in SEED.items():
        fake.seed(account, region, service, records)


def _end(service: str, record: dict) -> float:
    if service == "ec2":
        return record["End"].timestamp()
    return record["StartTime"].timestamp() + record["Duration"]


def _start(service: str, record: dict) -> float:
    return (record["Start"] if service == "ec2" else record["StartTime"]).timestamp()


def expected_series() -> dict[tuple[str, frozenset], float]:
    """Every per-reservation series except days_until_expiry, from the seed."""
    out = {}
    for (account, region, service), records in SEED.items():
        for r in records:
            rid = r.get("ReservedInstancesId") or r.get("ReservedDBInstanceId")
            if rid in NOT_EXPORTED:
                continue
            ident = {
                "account": ACCOUNT_NAMES[account],
                "account_id": account,
                "region": region,
                "service": service,
                "reservation_id": rid,
            }
            key = frozenset(ident.items())
            out[("aws_reservation_expiry_timestamp_seconds", key)] = _end(service, r)
            out[("aws_reservation_start_timestamp_seconds", key)] = _start(service, r)
            count = r.get("InstanceCount") or r.get("DBInstanceCount")
            out[("aws_reservation_instances", key)] = count
            if service == "ec2":
                hourly = (r["UsagePrice"] + r["RecurringCharges"][0]["Amount"]) * count
                info = {
                    "instance_type": r["InstanceType"],
                    "product": r["ProductDescription"],
                    "offering_type": r["OfferingType"],
                    "scope": r["Scope"],
                    "availability_zone": r.get("AvailabilityZone", ""),
                    "multi_az": "",
                }
            else:
                hourly = (
                    r["UsagePrice"] + r["RecurringCharges"][0]["RecurringChargeAmount"]
                ) * count
                info = {
                    "instance_type": r["DBInstanceClass"],
                    "product": r["ProductDescription"],
                    "offering_type": r["OfferingType"],
                    "scope": "",
                    "availability_zone": "",
                    "multi_az": "true" if r["MultiAZ"] else "false",
                }
            money = frozenset({**ident, "currency": r["CurrencyCode"]}.items())
            out[("aws_reservation_hourly_cost", money)] = hourly
            out[("aws_reservation_upfront_cost", money)] = r["FixedPrice"] * count
            info_key = frozenset(
                {
                    **ident,
                    **info,
                    "state": r["State"],
                    "plan_type": "",
                    "source": "describe",
                }.items()
            )
            out[("aws_reservation_info", info_key)] = 1.0
    return out


RESERVATION_FAMILIES = {
    "aws_reservation_expiry_timestamp_seconds",
    "aws_reservation_start_timestamp_seconds",
    "aws_reservation_instances",
    "aws_reservation_hourly_cost",
    "aws_reservation_upfront_cost",
    "aws_reservation_info",
}


@pytest.fixture
def exporter(fake_env, run_exporter):
    seed(fake_env)
    with run_exporter(CONFIG) as running:
        running.wait_ready()
        yield running


def test_exports_exactly_the_seeded_reservations(exporter):
    samples, _, _ = exporter.samples()
    got = {k: v for k, v in samples.items() if k[0] in RESERVATION_FAMILIES}
    want = expected_series()
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key


def test_days_until_expiry_is_relative_to_scrape_time(exporter):
    samples, before, after = exporter.samples()
    days = {
        dict(k[1])["reservation_id"]: v
        for k, v in samples.items()
        if k[0] == "aws_reservation_days_until_expiry"
    }
    ends = {
        dict(k[1])["reservation_id"]: v
        for k, v in samples.items()
        if k[0] == "aws_reservation_expiry_timestamp_seconds"
    }
    assert set(days) == set(ends)
    assert len(days) == sum(len(v) for v in SEED.values()) - len(NOT_EXPORTED)
    for rid, value in days.items():
        low, high = (ends[rid] - after) / DAY, (ends[rid] - before) / DAY
        assert low - 1e-6 <= value <= high + 1e-6, rid
    assert math.isclose(days["ri-own-3d"], 3.0, abs_tol=0.01)
    assert math.isclose(days["ri-prod-recent"], -10.0, abs_tol=0.01)


def test_more_than_one_page_of_rds_reservations_in_one_region(exporter, fake_env):
    samples, _, _ = exporter.samples()
    staging = [
        k for k in samples if k[0] == "aws_reservation_info" and dict(k[1])["account"] == "staging"
    ]
    assert len(staging) == 131  # 130 active + 1 recently retired
    listings = fake_env.calls(
        account_id=STAGING, region="eu-west-1", operation="DescribeReservedDBInstances"
    )
    assert len(listings) == 2  # MaxRecords 100: two pages


def test_every_target_reports_health(exporter):
    samples, _, _ = exporter.samples()
    health = {
        (dict(k[1])["account"], dict(k[1])["region"], dict(k[1])["service"]): v
        for k, v in samples.items()
        if k[0] == "aws_reservation_refresh_success"
    }
    expected_targets = {
        (name, region, service)
        for name in ACCOUNT_NAMES.values()
        for region in ("us-east-1", "eu-west-1")
        for service in ("ec2", "rds")
    }
    assert set(health) == expected_targets
    assert set(health.values()) == {1.0}
    last = [
        v
        for k, v in samples.items()
        if k[0] == "aws_reservation_refresh_last_success_timestamp_seconds"
    ]
    assert len(last) == len(expected_targets)
    assert all(abs(time.time() - v) < 300 for v in last)


def test_roles_are_assumed_with_the_configured_external_id(exporter, fake_env):
    assumed = fake_env.calls(operation="AssumeRole", outcome="ok")
    roles = sorted(c.account_id for c in assumed)
    # One AssumeRole per role account (the own account assumes nothing).
    assert roles == [OWN_ACCOUNT] * 3


def test_wrong_external_id_fails_only_that_account(fake_env, run_exporter):
    seed(fake_env)
    config = {**CONFIG, "accounts": [dict(a) for a in CONFIG["accounts"]]}
    config["accounts"][1]["external_id"] = "wrong-external-id"
    with run_exporter(config) as running:
        running.wait_ready()
        samples, _, _ = running.samples()
    success = {
        (dict(k[1])["account"], dict(k[1])["region"], dict(k[1])["service"]): v
        for k, v in samples.items()
        if k[0] == "aws_reservation_refresh_success"
    }
    assert {k: v for k, v in success.items() if k[0] == "production"} == {
        ("production", r, s): 0.0 for r in ("us-east-1", "eu-west-1") for s in ("ec2", "rds")
    }
    assert all(v == 1.0 for k, v in success.items() if k[0] != "production")
    errors = {
        dict(k[1])["reason"]
        for k, v in samples.items()
        if k[0] == "aws_reservation_refresh_errors_total" and dict(k[1])["account"] == "production"
    }
    assert errors == {"denied"}
    ids = {dict(k[1])["reservation_id"] for k in samples if k[0] == "aws_reservation_info"}
    assert "ri-own-3d" in ids and "ri-prod-weeks" not in ids


def test_landing_page_and_probes(exporter):
    status, page = exporter.get("/")
    assert status == 200
    assert "ri-own-3d" in page and "/metrics" in page
    # Upcoming sorted by days left, then the ended ones in their own section.
    assert page.index("ri-own-3d") < page.index("ri-prod-weeks") < page.index("ri-prod-recent")
    assert page.index("Upcoming") < page.index("ri-own-3d")
    assert page.index("<summary>Ended") < page.index("ri-prod-recent")
    assert exporter.get("/healthz") == (200, "ok\n")
    assert exporter.get("/readyz") == (200, "ready\n")
    assert exporter.get("/nope")[0] == 404
