"""ElastiCache reserved cache nodes: DescribeReservedCacheNodes (botocore paginator).

The API has no currency field; prices are USD.
"""

from __future__ import annotations

from exporter.services.base import ServiceSpec, TermFields, tag_reader, term_parser

parse = term_parser(
    TermFields(
        id="ReservedCacheNodeId",
        count="CacheNodeCount",
        instance_type="CacheNodeType",
        product="ProductDescription",
        currency=None,
        arn="ReservationARN",
    )
)

SPEC = ServiceSpec(
    name="elasticache",
    client_name="elasticache",
    operation="DescribeReservedCacheNodes",
    iam_action="elasticache:DescribeReservedCacheNodes",
    result_key="ReservedCacheNodes",
    parse=parse,
    probe_args={"MaxRecords": 20},
    read_tags=tag_reader("list_tags_for_resource", "ResourceName"),
    tags_iam_action="elasticache:ListTagsForResource",
    tags_probe_arn="arn:{partition}:elasticache:{region}:{account}:reserved-instance:{probe}",
)
