"""Synthetic accounts and reservation records, in botocore's member names.

Deterministic: the same account index always gets the same id, role and
records, so every phase of a benchmark sees identical data.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

REGIONS = ("us-east-1", "eu-west-1")
SERVICES = ("ec2", "rds", "elasticache", "redshift", "opensearch", "memorydb", "savingsplans")
REGIONAL_SERVICES = tuple(s for s in SERVICES if s != "savingsplans")
ROLE_NAME = "ReservationExporter"
PAGE_SIZE = 100  # the fake's default page (and AWS's default MaxRecords)

_BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)
_YEAR = 365 * 86400


def account_id(index: int) -> str:
    """The 12-digit id of synthetic account ``index``."""
    return f"{200000000000 + index:012d}"


def role_arn(index: int) -> str:
    return f"arn:aws:iam::{account_id(index)}:role/{ROLE_NAME}"


def records_for(service: str, account: str, region: str, count: int) -> list[dict[str, Any]]:
    """``count`` active reservations of ``service`` for one target."""
    return [_record(service, account, region, i) for i in range(count)]


def _record(service: str, account: str, region: str, i: int) -> dict[str, Any]:
    start = _BASE + timedelta(days=(i * 7) % 300)
    rid = f"{service}-{account}-{region}-{i:05d}"
    charges = [{"RecurringChargeAmount": 0.012, "RecurringChargeFrequency": "Hourly"}]
    common = {"StartTime": start, "Duration": _YEAR, "State": "active", "FixedPrice": 1000.0}
    if service == "ec2":
        return {
            "ReservedInstancesId": rid,
            "InstanceType": "m5.large",
            "AvailabilityZone": f"{region}a",
            "Start": start,
            "End": start + timedelta(seconds=_YEAR),
            "Duration": _YEAR,
            "UsagePrice": 0.0,
            "FixedPrice": 500.0,
            "InstanceCount": 2,
            "ProductDescription": "Linux/UNIX",
            "State": "active",
            "CurrencyCode": "USD",
            "OfferingClass": "standard",
            "OfferingType": "Partial Upfront",
            "Scope": "Availability Zone",
            "RecurringCharges": [{"Amount": 0.03, "Frequency": "Hourly"}],
        }
    if service == "rds":
        return {
            **common,
            "ReservedDBInstanceId": rid,
            "DBInstanceClass": "db.r6g.large",
            "UsagePrice": 0.0,
            "CurrencyCode": "USD",
            "DBInstanceCount": 1,
            "ProductDescription": "postgresql",
            "OfferingType": "Partial Upfront",
            "MultiAZ": i % 2 == 0,
            "RecurringCharges": charges,
        }
    if service == "elasticache":
        return {
            **common,
            "ReservedCacheNodeId": rid,
            "CacheNodeType": "cache.r6g.large",
            "UsagePrice": 0.0,
            "CacheNodeCount": 2,
            "ProductDescription": "redis",
            "OfferingType": "Partial Upfront",
            "RecurringCharges": charges,
        }
    if service == "redshift":
        return {
            **common,
            "ReservedNodeId": rid,
            "NodeType": "ra3.xlplus",
            "UsagePrice": 0.0,
            "CurrencyCode": "USD",
            "NodeCount": 2,
            "OfferingType": "Partial Upfront",
            "RecurringCharges": charges,
        }
    if service == "opensearch":
        return {
            **common,
            "ReservationName": f"search-{i}",
            "ReservedInstanceId": rid,
            "InstanceType": "r6g.large.search",
            "UsagePrice": 0.0,
            "CurrencyCode": "USD",
            "InstanceCount": 3,
            "PaymentOption": "PARTIAL_UPFRONT",
            "RecurringCharges": charges,
        }
    if service == "memorydb":
        return {
            **common,
            "ReservationId": rid,
            "NodeType": "db.r6g.large",
            "NodeCount": 2,
            "OfferingType": "Partial Upfront",
            "RecurringCharges": charges,
        }
    if service == "savingsplans":
        return {
            "savingsPlanId": f"sp-{account}-{i:05d}",
            "start": start.isoformat(),
            "end": (start + timedelta(seconds=_YEAR)).isoformat(),
            "state": "active",
            "savingsPlanType": "Compute",
            "paymentOption": "No Upfront",
            "productTypes": ["EC2", "Fargate", "Lambda"],
            "currency": "USD",
            "commitment": "1.5",
            "upfrontPaymentAmount": "0",
            "termDurationInSeconds": _YEAR,
        }
    raise ValueError(f"unknown service {service!r}")


def targets(
    index: int, regions: tuple[str, ...] = REGIONS, services: tuple[str, ...] = SERVICES
) -> Iterator[tuple[str, str]]:
    """(region, service) of every listing of account ``index``; Savings Plans once."""
    for service in services:
        if service == "savingsplans":
            yield "us-east-1", service
            continue
        for region in regions:
            yield region, service


def pages(service: str, records: int) -> int:
    """Listing calls one target needs: EC2 is one call; the others page by 100."""
    if service == "ec2":
        return 1
    return max(1, -(-records // PAGE_SIZE))


def record_count(index: int, region: str, service: str, per_target: int) -> int:
    """How many reservations a target holds: ``per_target``, except that every
    tenth account's RDS in the first region needs a second page (150 records),
    so the call count proves extra pages are followed, not skipped or repeated."""
    if service == "rds" and region == REGIONS[0] and index % 10 == 0:
        return max(per_target, PAGE_SIZE + PAGE_SIZE // 2)
    return per_target
