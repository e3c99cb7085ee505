"""RDS reserved DB instances: DescribeReservedDBInstances (botocore paginator)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.model import Reservation
from exporter.services.base import ServiceSpec, count_of, required, start_plus_duration, unit_costs


def parse(record: Mapping[str, Any]) -> Reservation:
    start, end = start_plus_duration(record)
    count = count_of(record, "DBInstanceCount")
    hourly, upfront = unit_costs(record, count)
    multi_az = record.get("MultiAZ")
    return Reservation(
        reservation_id=required(record, "ReservedDBInstanceId"),
        state=required(record, "State"),
        start=start,
        end=end,
        instance_count=count,
        instance_type=record.get("DBInstanceClass", ""),
        product=record.get("ProductDescription", ""),
        offering_type=record.get("OfferingType", ""),
        multi_az="" if multi_az is None else str(bool(multi_az)).lower(),
        hourly_cost=hourly,
        upfront_cost=upfront,
        currency=record.get("CurrencyCode") or "USD",
    )


SPEC = ServiceSpec(
    name="rds",
    client_name="rds",
    operation="DescribeReservedDBInstances",
    result_key="ReservedDBInstances",
    parse=parse,
)
