"""ElastiCache reserved cache nodes: DescribeReservedCacheNodes (botocore paginator).

The API has no currency field; prices are USD.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.model import Reservation
from exporter.services.base import ServiceSpec, count_of, required, start_plus_duration, unit_costs


def parse(record: Mapping[str, Any]) -> Reservation:
    start, end = start_plus_duration(record)
    count = count_of(record, "CacheNodeCount")
    hourly, upfront = unit_costs(record, count)
    return Reservation(
        reservation_id=required(record, "ReservedCacheNodeId"),
        state=required(record, "State"),
        start=start,
        end=end,
        instance_count=count,
        instance_type=record.get("CacheNodeType", ""),
        product=record.get("ProductDescription", ""),
        offering_type=record.get("OfferingType", ""),
        hourly_cost=hourly,
        upfront_cost=upfront,
        currency="USD",
    )


SPEC = ServiceSpec(
    name="elasticache",
    client_name="elasticache",
    operation="DescribeReservedCacheNodes",
    result_key="ReservedCacheNodes",
    parse=parse,
)
