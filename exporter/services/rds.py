"""RDS reserved DB instances: DescribeReservedDBInstances (botocore paginator)."""

from __future__ import annotations

from exporter.services.base import ServiceSpec, TermFields, tag_reader, term_parser

parse = term_parser(
    TermFields(
        id="ReservedDBInstanceId",
        count="DBInstanceCount",
        instance_type="DBInstanceClass",
        product="ProductDescription",
        multi_az="MultiAZ",
        arn="ReservedDBInstanceArn",
        lease_id="LeaseId",
    )
)

SPEC = ServiceSpec(
    name="rds",
    client_name="rds",
    operation="DescribeReservedDBInstances",
    iam_action="rds:DescribeReservedDBInstances",
    result_key="ReservedDBInstances",
    parse=parse,
    probe_args={"MaxRecords": 20},
    read_tags=tag_reader("list_tags_for_resource", "ResourceName"),
    tags_iam_action="rds:ListTagsForResource",
    tags_probe_arn="arn:{partition}:rds:{region}:{account}:ri:{probe}",
)
