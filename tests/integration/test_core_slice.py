"""The core slice end to end: config -> STS AssumeRole per account -> EC2 and RDS
reservations at the fake AWS over HTTP -> the exact /metrics series."""

from __future__ import annotations

import math
import time

import pytest

from tests.core_slice import ACCOUNT_NAMES, CONFIG, DAY, NOT_EXPORTED, SEED, STAGING, seed
from tests.support import OWN_ACCOUNT


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
