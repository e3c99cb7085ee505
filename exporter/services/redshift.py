"""Redshift reserved nodes: DescribeReservedNodes (botocore paginator).

Redshift spells the pending state ``pending-payment`` and has ``exchanging``
while a reservation is being exchanged (still in force).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from exporter.model import Reservation
from exporter.services.base import (
    COMMON_STATES,
    Meaning,
    ServiceSpec,
    count_of,
    required,
    start_plus_duration,
    unit_costs,
)

STATES = MappingProxyType(
    {**COMMON_STATES, "pending-payment": Meaning.LIVE, "exchanging": Meaning.LIVE}
)


def parse(record: Mapping[str, Any]) -> Reservation:
    start, end = start_plus_duration(record)
    count = count_of(record, "NodeCount")
    hourly, upfront = unit_costs(record, count)
    return Reservation(
        reservation_id=required(record, "ReservedNodeId"),
        state=required(record, "State"),
        start=start,
        end=end,
        instance_count=count,
        instance_type=record.get("NodeType", ""),
        offering_type=record.get("OfferingType", ""),
        hourly_cost=hourly,
        upfront_cost=upfront,
        currency=record.get("CurrencyCode") or "USD",
    )


SPEC = ServiceSpec(
    name="redshift",
    client_name="redshift",
    operation="DescribeReservedNodes",
    result_key="ReservedNodes",
    parse=parse,
    states=STATES,
)
