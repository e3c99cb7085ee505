"""Per-service parsing: ids, expiry math, costs, states — pure functions, no AWS."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

import pytest

from exporter.aws.errors import MalformedRecord
from exporter.services import REGISTRY
from exporter.services.base import (
    Meaning,
    fetch,
    is_exported,
    meaning_of,
    to_epoch,
)

START = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
START_TS = 1740830400.0  # 2025-03-01T12:00:00Z
YEAR = 31536000
HOURLY = [{"RecurringChargeFrequency": "Hourly", "RecurringChargeAmount": 0.05}]


def test_start_constant_is_what_we_think():
    assert START.timestamp() == START_TS


def test_ec2_uses_end_field_and_costs_per_count():
    r = REGISTRY["ec2"].parse(
        {
            "ReservedInstancesId": "ri-1",
            "State": "active",
            "Start": START,
            "End": START + timedelta(days=365),
            "InstanceCount": 3,
            "InstanceType": "m5.large",
            "ProductDescription": "Linux/UNIX",
            "OfferingType": "Partial Upfront",
            "Scope": "Availability Zone",
            "AvailabilityZone": "us-east-1a",
            "UsagePrice": 0.01,
            "FixedPrice": 500.0,
            "RecurringCharges": [{"Frequency": "Hourly", "Amount": 0.05}],
            "CurrencyCode": "USD",
        }
    )
    assert r.reservation_id == "ri-1"
    assert r.start == START_TS
    assert r.end == START_TS + 365 * 86400
    assert r.instance_count == 3
    assert r.hourly_cost == pytest.approx((0.01 + 0.05) * 3)
    assert r.upfront_cost == 1500.0
    assert (r.scope, r.availability_zone, r.multi_az) == ("Availability Zone", "us-east-1a", "")


@pytest.mark.parametrize(
    ("service", "id_key", "count_key", "type_key"),
    [
        ("rds", "ReservedDBInstanceId", "DBInstanceCount", "DBInstanceClass"),
        ("elasticache", "ReservedCacheNodeId", "CacheNodeCount", "CacheNodeType"),
        ("redshift", "ReservedNodeId", "NodeCount", "NodeType"),
        ("opensearch", "ReservedInstanceId", "InstanceCount", "InstanceType"),
        ("memorydb", "ReservationId", "NodeCount", "NodeType"),
    ],
)
def test_start_plus_duration_services(service, id_key, count_key, type_key):
    record = {
        id_key: f"{service}-res",
        "State": "active",
        "StartTime": START,
        "Duration": YEAR,
        count_key: 2,
        type_key: "x.large",
        "FixedPrice": 100.0,
        "UsagePrice": 0.5,
        "RecurringCharges": HOURLY,
    }
    r = REGISTRY[service].parse(record)
    assert r.reservation_id == f"{service}-res"
    assert r.end - r.start == YEAR
    assert r.end == START_TS + YEAR
    assert r.instance_count == 2
    assert r.instance_type == "x.large"
    assert r.upfront_cost == 200.0
    assert r.hourly_cost == pytest.approx((0.5 + 0.05) * 2)


def test_memorydb_and_elasticache_default_to_usd():
    for service, key in (("memorydb", "ReservationId"), ("elasticache", "ReservedCacheNodeId")):
        r = REGISTRY[service].parse(
            {key: "x", "State": "active", "StartTime": START, "Duration": YEAR}
        )
        assert r.currency == "USD"


def test_rds_multi_az_is_a_lowercase_bool_label():
    base = {
        "ReservedDBInstanceId": "db",
        "State": "active",
        "StartTime": START,
        "Duration": YEAR,
    }
    assert REGISTRY["rds"].parse({**base, "MultiAZ": True}).multi_az == "true"
    assert REGISTRY["rds"].parse({**base, "MultiAZ": False}).multi_az == "false"
    assert REGISTRY["rds"].parse(base).multi_az == ""


def test_savings_plan_iso_strings_commitment_and_region():
    r = REGISTRY["savingsplans"].parse(
        {
            "savingsPlanId": "sp-1",
            "state": "active",
            "start": "2025-03-01T12:00:00.000Z",
            "end": "2028-03-01T12:00:00Z",
            "savingsPlanType": "EC2Instance",
            "ec2InstanceFamily": "m5",
            "region": "eu-west-1",
            "paymentOption": "No Upfront",
            "productTypes": ["EC2"],
            "currency": "EUR",
            "commitment": "1.25",
            "upfrontPaymentAmount": "0.0",
        }
    )
    assert r.start == START_TS
    assert r.end == datetime(2028, 3, 1, 12, tzinfo=timezone.utc).timestamp()
    assert r.instance_count is None
    assert (r.hourly_cost, r.upfront_cost, r.currency) == (1.25, 0.0, "EUR")
    assert (r.region, r.plan_type, r.product) == ("eu-west-1", "EC2Instance", "EC2")


def test_compute_savings_plan_region_is_global():
    r = REGISTRY["savingsplans"].parse(
        {
            "savingsPlanId": "sp-2",
            "state": "queued",
            "start": "2026-01-01T00:00:00Z",
            "end": "2029-01-01T00:00:00Z",
            "savingsPlanType": "Compute",
            "commitment": "10",
        }
    )
    assert r.region == "global"


def test_naive_datetimes_are_utc_whatever_the_machine_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    if hasattr(time, "tzset"):
        time.tzset()
    try:
        assert to_epoch(datetime(2025, 3, 1, 12, 0, 0)) == START_TS
        assert to_epoch("2025-03-01T12:00:00") == START_TS
        assert to_epoch("2025-03-01T13:00:00+01:00") == START_TS
    finally:
        os.environ.pop("TZ", None)
        if hasattr(time, "tzset"):
            time.tzset()


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"State": "active", "StartTime": START, "Duration": YEAR}, "ReservedDBInstanceId"),
        ({"ReservedDBInstanceId": "x", "StartTime": START, "Duration": YEAR}, "State"),
        ({"ReservedDBInstanceId": "x", "State": "active", "Duration": YEAR}, "StartTime"),
        (
            {"ReservedDBInstanceId": "x", "State": "active", "StartTime": "yesterday"},
            "StartTime",
        ),
        ({"ReservedDBInstanceId": "x", "State": "active", "StartTime": START}, "Duration"),
        (
            {"ReservedDBInstanceId": "x", "State": "active", "StartTime": START, "Duration": 0},
            "Duration",
        ),
    ],
)
def test_missing_or_unparseable_required_fields_are_malformed(record, message):
    with pytest.raises(MalformedRecord, match=message):
        REGISTRY["rds"].parse(record)


def test_unparseable_savings_plan_end_is_malformed():
    with pytest.raises(MalformedRecord, match="end"):
        REGISTRY["savingsplans"].parse(
            {"savingsPlanId": "sp", "state": "active", "start": "2025-01-01", "end": "soon"}
        )


@pytest.mark.parametrize(
    ("service", "state", "meaning"),
    [
        ("ec2", "active", Meaning.LIVE),
        ("ec2", "payment-pending", Meaning.LIVE),
        ("ec2", "queued", Meaning.LIVE),
        ("ec2", "retired", Meaning.RETIRED),
        ("ec2", "payment-failed", Meaning.DROPPED),
        ("ec2", "queued-deleted", Meaning.DROPPED),
        ("savingsplans", "pending-return", Meaning.LIVE),
        ("savingsplans", "returned", Meaning.DROPPED),
        ("redshift", "pending-payment", Meaning.LIVE),
        ("redshift", "exchanging", Meaning.LIVE),
    ],
)
def test_state_meanings(service, state, meaning):
    assert meaning_of(REGISTRY[service], state) == (meaning, False)


def test_unknown_state_is_live_and_flagged():
    assert meaning_of(REGISTRY["rds"], "brand-new-state") == (Meaning.LIVE, True)


def test_retired_kept_strictly_within_lookback():
    lookback = 30 * 86400.0
    end = 1_000_000.0
    assert is_exported(Meaning.RETIRED, end, end + lookback - 1, lookback)
    assert not is_exported(Meaning.RETIRED, end, end + lookback, lookback)
    assert not is_exported(Meaning.DROPPED, end, end - 10, lookback)
    assert is_exported(Meaning.LIVE, end, end + 10 * lookback, lookback)


class _FakePaginatedClient:
    """Two pages from a botocore-style paginator."""

    def __init__(self, pages):
        self.pages = pages

    def get_paginator(self, name):
        assert name == "describe_reserved_db_instances"
        return self

    def paginate(self):
        return iter(self.pages)


def _rds(rid, state, start):
    return {"ReservedDBInstanceId": rid, "State": state, "StartTime": start, "Duration": YEAR}


def test_retired_reservation_older_than_lookback_is_dropped():
    now = START_TS + YEAR + 40 * 86400  # 40 days after these end
    pages = [
        {
            "ReservedDBInstances": [
                _rds("old", "retired", START),
                _rds("failed", "payment-failed", START),
            ]
        },
        {
            "ReservedDBInstances": [
                _rds("recent", "retired", START + timedelta(days=20)),
                _rds("live", "active", START + timedelta(days=200)),
                _rds("odd", "something-new", START + timedelta(days=200)),
            ]
        },
    ]
    seen = []
    kept = fetch(
        REGISTRY["rds"],
        _FakePaginatedClient(pages),
        now=now,
        lookback=30 * 86400,
        on_unknown_state=lambda svc, st: seen.append((svc, st)),
    )
    assert [r.reservation_id for r in kept] == ["recent", "live", "odd"]
    assert seen == [("rds", "something-new")]


class _TokenClient:
    def __init__(self, pages, token_key):
        self.pages = pages
        self.token_key = token_key
        self.calls = []

    def describe_savings_plans(self, **kwargs):
        self.calls.append(kwargs)
        return self.pages[len(self.calls) - 1]


def test_next_token_loop_follows_every_page_and_stops():
    sp = {
        "savingsPlanId": "a",
        "state": "active",
        "start": "2025-01-01T00:00:00Z",
        "end": "2030-01-01T00:00:00Z",
    }
    pages = [
        {"savingsPlans": [sp], "nextToken": "t1"},
        {"savingsPlans": [{**sp, "savingsPlanId": "b"}], "nextToken": "t2"},
        {"savingsPlans": [{**sp, "savingsPlanId": "c"}]},
    ]
    client = _TokenClient(pages, "nextToken")
    kept = fetch(REGISTRY["savingsplans"], client, now=START_TS, lookback=0)
    assert [r.reservation_id for r in kept] == ["a", "b", "c"]
    assert client.calls == [{}, {"nextToken": "t1"}, {"nextToken": "t2"}]


def test_repeated_next_token_is_malformed_not_an_endless_loop():
    sp = {
        "savingsPlanId": "a",
        "state": "active",
        "start": "2025-01-01T00:00:00Z",
        "end": "2030-01-01T00:00:00Z",
    }
    pages = [{"savingsPlans": [sp], "nextToken": "same"}] * 3
    with pytest.raises(MalformedRecord, match="repeated"):
        fetch(REGISTRY["savingsplans"], _TokenClient(pages, "nextToken"), now=0, lookback=0)
