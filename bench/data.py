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

# Relative to today, so the data never ages out: starts 330 to 31 days ago,
# ends 35 to 334 days ahead (every reservation active).
_BASE = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
    days=330
)
YEAR = 365 * 86400  # the term of every synthetic reservation


def account_id(index: int) -> str:
    """The 12-digit id of synthetic account ``index``."""
    return f"{200000000000 + index:012d}"


def role_arn(index: int) -> str:
    return f"arn:aws:iam::{account_id(index)}:role/{ROLE_NAME}"


def records_for(service: str, account: str, region: str, count: int) -> list[dict[str, Any]]:
    """``count`` active reservations of ``service`` for one target, built by the
    fake's own record makers (botocore's member names and types)."""
    # Imported here: exporter.fake loads moto, which must stay out of the
    # benchmark's exporter processes (their RSS is measured).
    from exporter.fake.demo_data import Offering, make_record, make_savings_plan

    records = []
    for i in range(count):
        start = start_of(i)
        if service == "savingsplans":
            plan_id = f"sp-{account}-{i:05d}"
            records.append(
                make_savings_plan(
                    plan_id=plan_id, account_id=account, start=start, years=1, state="active"
                )
            )
            continue
        if service not in _OFFERINGS:
            raise ValueError(f"unknown service {service!r}")
        instance_type, product, payment = _OFFERINGS[service]
        records.append(
            make_record(
                service,
                rid=f"{service}-{account}-{region}-{i:05d}",
                account_id=account,
                region=region,
                start=start,
                seconds=YEAR,
                state="active",
                offering=Offering(instance_type, product, payment, 1000.0, 0.012),
                count=2,
                zone=f"{region}a" if service == "ec2" else None,
                multi_az=i % 2 == 0,
            )
        )
    return records


def start_of(i: int) -> datetime:
    """When a target's ``i``-th synthetic reservation starts (it ends a YEAR later)."""
    return _BASE + timedelta(days=(i * 7) % 300)


# (type, product, payment option) of each regional service's reservations.
_OFFERINGS = {
    "ec2": ("m5.large", "Linux/UNIX", "Partial Upfront"),
    "rds": ("db.r6g.large", "postgresql", "Partial Upfront"),
    "elasticache": ("cache.r6g.large", "redis", "Partial Upfront"),
    "redshift": ("ra3.xlplus", "", "Partial Upfront"),
    "opensearch": ("r6g.large.search", "", "PARTIAL_UPFRONT"),
    "memorydb": ("db.r6g.large", "", "Partial Upfront"),
}


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
