"""What the fake knows about each reservation API, one row per service.

Names come from botocore's service models, so a record seeded here is
checked against the same shapes the exporter's clients parse with.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import botocore.session
from botocore.model import Shape, StructureShape

GLOBAL = "global"  # store key for APIs that are not regional (Savings Plans)


@dataclass(frozen=True)
class ApiSpec:
    """One reservation listing call as AWS defines it."""

    service: str  # the exporter's service label, e.g. "opensearch"
    client_name: str  # botocore service name
    signing_name: str  # SigV4 signing name, also the IAM action prefix
    protocol: str  # ec2 | query | json | rest-json
    operation: str
    result_key: str
    id_key: str
    start_key: str  # the timestamp a "bad_timestamp" malformation corrupts
    token_key: str | None = None  # request and response member for the page token
    limit_key: str | None = None  # request member for the page size
    page_default: int = 100
    page_min: int = 1
    page_max: int = 100
    not_found: str | None = None  # error code when an id filter matches nothing
    invalid_code: str = "InvalidParameterValue"  # error code for bad paging input
    is_global: bool = False
    # Reservation tags, where AWS has them: in the listing's records (EC2
    # ``Tags``, Savings Plans ``tags``) or from a tag API called with the
    # reservation's ARN (RDS, ElastiCache, MemoryDB).
    tags_member: str | None = None  # record member that carries the tags
    tags_operation: str | None = None  # the tag API's operation
    tags_not_found: str | None = None  # its error for an unknown reservation ARN
    arn_key: str | None = None  # record member that holds the reservation's ARN
    arn_format: str | None = None  # the ARN AWS gives a reservation that names none

    @property
    def iam_action(self) -> str:
        return f"{self.signing_name}:{self.operation}"

    @property
    def has_tags(self) -> bool:
        return bool(self.tags_member or self.tags_operation)

    @property
    def arn_prefix(self) -> str | None:
        """The resource part every reservation ARN starts with (``ri:`` for RDS)."""
        if self.arn_format is None:
            return None
        return self.arn_format.split(":", 5)[5].split("{id}", 1)[0]

    def arn(self, account_id: str, region: str, reservation_id: str) -> str | None:
        """The ARN AWS gives reservation ``reservation_id`` of this service."""
        if self.arn_format is None:
            return None
        return self.arn_format.format(
            partition=partition_of_region(region),
            region="" if self.is_global else region,
            account=account_id,
            id=reservation_id,
        )


SPECS: Mapping[str, ApiSpec] = {
    spec.service: spec
    for spec in (
        ApiSpec(
            "ec2",
            "ec2",
            "ec2",
            "ec2",
            "DescribeReservedInstances",
            "ReservedInstances",
            "ReservedInstancesId",
            "Start",
            tags_member="Tags",
            arn_format="arn:{partition}:ec2:{region}:{account}:reserved-instances/{id}",
        ),
        ApiSpec(
            "rds",
            "rds",
            "rds",
            "query",
            "DescribeReservedDBInstances",
            "ReservedDBInstances",
            "ReservedDBInstanceId",
            "StartTime",
            token_key="Marker",
            limit_key="MaxRecords",
            page_min=20,
            not_found="ReservedDBInstanceNotFound",
            tags_operation="ListTagsForResource",
            # ListTagsForResource declares no reservation error in botocore's
            # model; RDS's own one for an unknown reservation is this (404).
            tags_not_found="ReservedDBInstanceNotFound",
            arn_key="ReservedDBInstanceArn",
            arn_format="arn:{partition}:rds:{region}:{account}:ri:{id}",
        ),
        ApiSpec(
            "elasticache",
            "elasticache",
            "elasticache",
            "query",
            "DescribeReservedCacheNodes",
            "ReservedCacheNodes",
            "ReservedCacheNodeId",
            "StartTime",
            token_key="Marker",
            limit_key="MaxRecords",
            page_min=20,
            not_found="ReservedCacheNodeNotFound",
            tags_operation="ListTagsForResource",
            tags_not_found="ReservedCacheNodeNotFound",  # declared by the operation (404)
            arn_key="ReservationARN",
            arn_format="arn:{partition}:elasticache:{region}:{account}:reserved-instance:{id}",
        ),
        ApiSpec(
            "redshift",
            "redshift",
            "redshift",
            "query",
            "DescribeReservedNodes",
            "ReservedNodes",
            "ReservedNodeId",
            "StartTime",
            token_key="Marker",
            limit_key="MaxRecords",
            page_min=20,
            not_found="ReservedNodeNotFound",
        ),
        ApiSpec(
            "opensearch",
            "opensearch",
            "es",
            "rest-json",
            "DescribeReservedInstances",
            "ReservedInstances",
            "ReservedInstanceId",
            "StartTime",
            token_key="NextToken",
            limit_key="MaxResults",
            not_found="ResourceNotFoundException",
            invalid_code="ValidationException",
        ),
        ApiSpec(
            "memorydb",
            "memorydb",
            "memorydb",
            "json",
            "DescribeReservedNodes",
            "ReservedNodes",
            "ReservationId",
            "StartTime",
            token_key="NextToken",
            limit_key="MaxResults",
            not_found="ReservedNodeNotFoundFault",
            invalid_code="InvalidParameterValueException",
            tags_operation="ListTags",
            # ListTags declares cluster, snapshot... faults but none for
            # reservations; MemoryDB's reservation error is this one.
            tags_not_found="ReservedNodeNotFoundFault",
            arn_key="ARN",
            arn_format="arn:{partition}:memorydb:{region}:{account}:reservednode/{id}",
        ),
        ApiSpec(
            "savingsplans",
            "savingsplans",
            "savingsplans",
            "rest-json",
            "DescribeSavingsPlans",
            "savingsPlans",
            "savingsPlanId",
            "start",
            token_key="nextToken",
            limit_key="maxResults",
            page_max=1000,
            invalid_code="ValidationException",
            is_global=True,
            tags_member="tags",
            arn_key="savingsPlanArn",
            arn_format="arn:{partition}:savingsplans::{account}:savingsplan/{id}",
        ),
    )
}

# (signing name, operation) -> spec: how the WSGI layer recognises a listing.
BY_CALL: Mapping[tuple[str, str], ApiSpec] = {
    (spec.signing_name, spec.operation): spec for spec in SPECS.values()
}

# Other names people use for a service: boto3 client names, signing names.
_ALIASES = {"es": "opensearch", "memory-db": "memorydb"}


def spec_for(service: str) -> ApiSpec:
    """The spec for an exporter service name, boto3 client name or signing name."""
    name = _ALIASES.get(service, service)
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(
            f"unknown reservation service {service!r}; expected one of {', '.join(SPECS)}"
        ) from None


def signing_name(service: str) -> str:
    """The SigV4 signing name for ``service`` (``opensearch`` -> ``es``); others unchanged."""
    name = _ALIASES.get(service, service)
    return SPECS[name].signing_name if name in SPECS else service


def partition_of_region(region: str) -> str:
    """``aws-cn`` for ``cn-north-1``, ``aws-us-gov`` for ``us-gov-west-1``, else ``aws``."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def store_region(spec: ApiSpec, region: str) -> str:
    """Where records of ``spec`` live: their region, or ``global``."""
    return GLOBAL if spec.is_global else region


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def record_shape(service: str) -> StructureShape:
    """botocore's shape of one record in the listing of ``service``."""
    spec = SPECS[service]
    operation = _session().get_service_model(spec.client_name).operation_model(spec.operation)
    output = operation.output_shape
    assert output is not None
    member = output.members[spec.result_key].member
    assert isinstance(member, StructureShape)
    return member


def wire_name(service: str, member: str) -> str:
    """The name ``member`` of a record travels under (EC2 XML: ``Start`` -> ``start``)."""
    return record_shape(service).members[member].serialization.get("name", member)


@functools.cache
def output_members(service: str) -> frozenset[str]:
    """Top-level member names of the listing's output shape."""
    spec = SPECS[service]
    operation = _session().get_service_model(spec.client_name).operation_model(spec.operation)
    assert operation.output_shape is not None
    return frozenset(operation.output_shape.members)


def normalise_record(service: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A checked copy of ``record`` in botocore's Python types.

    Every key must be a member of botocore's shape (so the fake never returns
    what AWS would not); timestamps may be given as datetimes, ISO 8601 strings
    or Unix seconds and come back as aware UTC datetimes.
    """
    if service not in SPECS:
        spec_for(service)  # raises the helpful error
    normalised = _normalise(record_shape(service), record, service)
    assert isinstance(normalised, dict)
    return normalised


def _normalise(shape: Shape, value: Any, path: str) -> Any:
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, Mapping):
            raise ValueError(f"{path}: expected a mapping, got {type(value).__name__}")
        unknown = sorted(set(value) - set(shape.members))
        if unknown:
            raise ValueError(
                f"{path}: {', '.join(unknown)} not in botocore's {shape.name} "
                f"(members: {', '.join(shape.members)})"
            )
        return {
            key: _normalise(shape.members[key], item, f"{path}.{key}")
            for key, item in value.items()
        }
    if kind == "list":
        if isinstance(value, (str, bytes, Mapping)):
            raise ValueError(f"{path}: expected a list")
        return [_normalise(shape.member, item, f"{path}[]") for item in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {str(k): _normalise(shape.value, v, f"{path}.{k}") for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        return _to_datetime(value, path)
    return value


def _to_datetime(value: Any, path: str) -> datetime:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        dt = datetime.fromtimestamp(value, tz=timezone.utc)
    elif isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{path}: not a timestamp: {value!r}") from None
    else:
        raise ValueError(f"{path}: not a timestamp: {value!r}")
    # Naive means UTC here: the machine's time zone must never matter.
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


# --- Cost Explorer ----------------------------------------------------------------

CE_SERVICE_NAMES: Mapping[str, str] = {
    "ec2": "Amazon Elastic Compute Cloud - Compute",
    "rds": "Amazon Relational Database Service",
    "elasticache": "Amazon ElastiCache",
    "redshift": "Amazon Redshift",
    "opensearch": "Amazon OpenSearch Service",
    "memorydb": "Amazon MemoryDB",
}
"""The value of Cost Explorer's ``SERVICE`` dimension for each reservation service.

``GetReservationUtilization`` takes exactly one of them in
``Filter={"Dimensions": {"Key": "SERVICE", "Values": [name]}}`` (EC2's when no
SERVICE filter is given). They are the names botocore's documentation of the
operation lists as supported; Savings Plans have a call of their own
(``GetSavingsPlansUtilizationDetails``) and no entry here.
"""

# Older names Cost Explorer still accepts for a service (the same reservations).
CE_SERVICE_ALIASES: Mapping[str, str] = {"Amazon Elasticsearch Service": "opensearch"}

# Cost Explorer's page token member per operation (request and response alike).
CE_TOKEN_KEYS: Mapping[str, str] = {
    "GetReservationUtilization": "NextPageToken",
    "GetSavingsPlansUtilizationDetails": "NextToken",
}


def ce_service(name: str) -> str | None:
    """The reservation service whose Cost Explorer ``SERVICE`` value is ``name``, or None."""
    for service, value in CE_SERVICE_NAMES.items():
        if value == name:
            return service
    return CE_SERVICE_ALIASES.get(name)
