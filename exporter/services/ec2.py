"""EC2 Reserved Instances: DescribeReservedInstances (one unpaginated call)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.model import Reservation
from exporter.ownership import tags_from_list
from exporter.services.base import (
    Pagination,
    ServiceSpec,
    count_of,
    required,
    to_epoch,
    to_number,
    unit_costs,
)


def parse(record: Mapping[str, Any]) -> Reservation:
    count = count_of(record, "InstanceCount")
    hourly, upfront = unit_costs(record, count)
    return Reservation(
        reservation_id=required(record, "ReservedInstancesId"),
        state=required(record, "State"),
        start=to_epoch(required(record, "Start"), "Start"),
        end=to_epoch(required(record, "End"), "End"),
        instance_count=count,
        instance_type=record.get("InstanceType", ""),
        product=record.get("ProductDescription", ""),
        offering_type=record.get("OfferingType", ""),
        scope=record.get("Scope", ""),
        availability_zone=record.get("AvailabilityZone", ""),
        hourly_cost=hourly,
        upfront_cost=upfront,
        currency=record.get("CurrencyCode") or "USD",
        tenancy=record.get("InstanceTenancy") or "",
        # End moves earlier when an RI is modified, exchanged or sold; Duration does not.
        term=to_number(record["Duration"], "Duration") if record.get("Duration") else None,
        tags=tags_from_list(record.get("Tags")),
    )


SPEC = ServiceSpec(
    name="ec2",
    client_name="ec2",
    operation="DescribeReservedInstances",
    iam_action="ec2:DescribeReservedInstances",
    result_key="ReservedInstances",
    parse=parse,
    probe_args={"DryRun": True},
    pagination=Pagination.NONE,
)
