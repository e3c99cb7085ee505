"""MemoryDB reserved nodes: DescribeReservedNodes (botocore paginator).

The API has neither UsagePrice nor a currency: the hourly cost is the
recurring charges alone, in USD. MemoryDB exists in only some regions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.model import Reservation
from exporter.services.base import ServiceSpec, count_of, required, start_plus_duration, unit_costs


def parse(record: Mapping[str, Any]) -> Reservation:
    start, end = start_plus_duration(record)
    count = count_of(record, "NodeCount")
    hourly, upfront = unit_costs(record, count)
    return Reservation(
        reservation_id=required(record, "ReservationId"),
        state=required(record, "State"),
        start=start,
        end=end,
        instance_count=count,
        instance_type=record.get("NodeType", ""),
        offering_type=record.get("OfferingType", ""),
        hourly_cost=hourly,
        upfront_cost=upfront,
        currency="USD",
    )


SPEC = ServiceSpec(
    name="memorydb",
    client_name="memorydb",
    operation="DescribeReservedNodes",
    result_key="ReservedNodes",
    parse=parse,
)
