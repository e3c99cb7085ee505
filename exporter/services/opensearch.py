"""OpenSearch reserved instances: DescribeReservedInstances (NextToken loop;
botocore has no paginator for it). IAM actions use the ``es:`` prefix."""

from __future__ import annotations

from exporter.services.base import Pagination, ServiceSpec, TermFields, term_parser

parse = term_parser(
    TermFields(
        id="ReservedInstanceId",
        count="InstanceCount",
        instance_type="InstanceType",
        offering_type="PaymentOption",
    )
)

SPEC = ServiceSpec(
    name="opensearch",
    client_name="opensearch",
    operation="DescribeReservedInstances",
    iam_action="es:DescribeReservedInstances",
    result_key="ReservedInstances",
    parse=parse,
    probe_args={"MaxResults": 20},
    pagination=Pagination.NEXT_TOKEN,
    token_key="NextToken",
)
