"""MemoryDB reserved nodes: DescribeReservedNodes (botocore paginator).

The API has neither UsagePrice nor a currency: the hourly cost is the
recurring charges alone, in USD. MemoryDB exists in only some regions.
"""

from __future__ import annotations

from exporter.services.base import ServiceSpec, TermFields, term_parser

parse = term_parser(
    TermFields(id="ReservationId", count="NodeCount", instance_type="NodeType", currency=None)
)

SPEC = ServiceSpec(
    name="memorydb",
    client_name="memorydb",
    operation="DescribeReservedNodes",
    iam_action="memorydb:DescribeReservedNodes",
    result_key="ReservedNodes",
    parse=parse,
    probe_args={"MaxResults": 20},
)
