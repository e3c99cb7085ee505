"""Savings Plans: DescribeSavingsPlans (global API, nextToken loop).

Listed once per account. ``start``/``end`` are ISO 8601 strings and the money
fields are decimal strings; the region label is the plan's region when it has
one (EC2 Instance plans), else ``global``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.model import GLOBAL_REGION, Reservation
from exporter.ownership import tags_from_map
from exporter.services.base import Pagination, ServiceSpec, required, to_epoch, to_number


def parse(record: Mapping[str, Any]) -> Reservation:
    products = record.get("productTypes") or ()
    return Reservation(
        reservation_id=required(record, "savingsPlanId"),
        state=required(record, "state"),
        start=to_epoch(required(record, "start"), "start"),
        end=to_epoch(required(record, "end"), "end"),
        instance_count=None,
        instance_type=record.get("ec2InstanceFamily", ""),
        product=",".join(sorted(products)),
        offering_type=record.get("paymentOption", ""),
        plan_type=record.get("savingsPlanType", ""),
        hourly_cost=to_number(record.get("commitment") or 0, "commitment"),
        upfront_cost=to_number(record.get("upfrontPaymentAmount") or 0, "upfrontPaymentAmount"),
        currency=record.get("currency") or "USD",
        region=record.get("region") or GLOBAL_REGION,
        term=(
            to_number(record["termDurationInSeconds"], "termDurationInSeconds")
            if record.get("termDurationInSeconds")
            else None
        ),
        tags=tags_from_map(record.get("tags")),
    )


SPEC = ServiceSpec(
    name="savingsplans",
    client_name="savingsplans",
    operation="DescribeSavingsPlans",
    iam_action="savingsplans:DescribeSavingsPlans",
    result_key="savingsPlans",
    parse=parse,
    probe_args={"maxResults": 20},
    pagination=Pagination.NEXT_TOKEN,
    token_key="nextToken",
    is_global=True,
)
