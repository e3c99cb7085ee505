"""RDS reserved DB instances: DescribeReservedDBInstances (botocore paginator)."""

from __future__ import annotations

from exporter.services.base import ServiceSpec, TermFields, term_parser

parse = term_parser(
    TermFields(
        id="ReservedDBInstanceId",
        count="DBInstanceCount",
        instance_type="DBInstanceClass",
        product="ProductDescription",
        multi_az="MultiAZ",
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
)
