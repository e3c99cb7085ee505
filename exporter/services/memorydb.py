"""MemoryDB reserved nodes: DescribeReservedNodes (botocore paginator).

The API has neither UsagePrice nor a currency: the hourly cost is the
recurring charges alone, in USD. MemoryDB exists in only some regions.
"""

from __future__ import annotations

from exporter.services.base import ServiceSpec, TermFields, tag_reader, term_parser

parse = term_parser(
    TermFields(
        id="ReservationId",
        count="NodeCount",
        instance_type="NodeType",
        currency=None,
        arn="ARN",
    )
)

SPEC = ServiceSpec(
    name="memorydb",
    client_name="memorydb",
    operation="DescribeReservedNodes",
    iam_action="memorydb:DescribeReservedNodes",
    result_key="ReservedNodes",
    parse=parse,
    read_tags=tag_reader("list_tags", "ResourceArn"),
    tags_iam_action="memorydb:ListTags",
    tags_probe_arn="arn:{partition}:memorydb:{region}:{account}:reservednode/{probe}",
    probe_args={"MaxResults": 20},
)
