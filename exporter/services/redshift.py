"""Redshift reserved nodes: DescribeReservedNodes (botocore paginator).

Redshift spells the pending state ``pending-payment`` and has ``exchanging``
while a reservation is being exchanged (still in force).
"""

from __future__ import annotations

from types import MappingProxyType

from exporter.services.base import COMMON_STATES, Meaning, ServiceSpec, TermFields, term_parser

STATES = MappingProxyType(
    {**COMMON_STATES, "pending-payment": Meaning.LIVE, "exchanging": Meaning.LIVE}
)

parse = term_parser(TermFields(id="ReservedNodeId", count="NodeCount", instance_type="NodeType"))

SPEC = ServiceSpec(
    name="redshift",
    client_name="redshift",
    operation="DescribeReservedNodes",
    iam_action="redshift:DescribeReservedNodes",
    result_key="ReservedNodes",
    parse=parse,
    probe_args={"MaxRecords": 20},
    states=STATES,
)
