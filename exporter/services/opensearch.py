"""OpenSearch reserved instances: DescribeReservedInstances (NextToken loop;
botocore has no paginator for it). IAM actions use the ``es:`` prefix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.model import Reservation
from exporter.services.base import (
    Pagination,
    ServiceSpec,
    count_of,
    required,
    start_plus_duration,
    unit_costs,
)


def parse(record: Mapping[str, Any]) -> Reservation:
    start, end = start_plus_duration(record)
    count = count_of(record, "InstanceCount")
    hourly, upfront = unit_costs(record, count)
    return Reservation(
        reservation_id=required(record, "ReservedInstanceId"),
        state=required(record, "State"),
        start=start,
        end=end,
        instance_count=count,
        instance_type=record.get("InstanceType", ""),
        offering_type=record.get("PaymentOption", ""),
        hourly_cost=hourly,
        upfront_cost=upfront,
        currency=record.get("CurrencyCode") or "USD",
    )


SPEC = ServiceSpec(
    name="opensearch",
    client_name="opensearch",
    operation="DescribeReservedInstances",
    result_key="ReservedInstances",
    parse=parse,
    pagination=Pagination.NEXT_TOKEN,
    token_key="NextToken",
)
