"""What every service module shares: the spec type, parsing helpers and the
export rule for reservation states (DESIGN §4)."""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from exporter.aws.errors import MalformedRecord, MalformedResponse
from exporter.model import Reservation
from exporter.ownership import Tags, tags_from_list

log = logging.getLogger(__name__)


class Meaning(enum.Enum):
    """What a state means for export, whatever the service spells it."""

    LIVE = "live"  # exported: active, payment-pending, queued, pending-return
    RETIRED = "retired"  # exported only within expired_lookback of its end
    DROPPED = "dropped"  # never exported: payment-failed, queued-deleted, returned


# Shared meaning of the state strings the AWS APIs use. Services add their own
# spellings (Redshift's pending-payment, exchanging) in their module.
COMMON_STATES: Mapping[str, Meaning] = MappingProxyType(
    {
        "active": Meaning.LIVE,
        "payment-pending": Meaning.LIVE,
        "queued": Meaning.LIVE,
        "pending-return": Meaning.LIVE,
        "retired": Meaning.RETIRED,
        "payment-failed": Meaning.DROPPED,
        "queued-deleted": Meaning.DROPPED,
        "returned": Meaning.DROPPED,
    }
)


# 1000 pages of 100 records: far beyond any real account, region and service.
MAX_PAGES = 1000


class Pagination(enum.Enum):
    NONE = "none"  # one call returns everything (EC2)
    PAGINATOR = "paginator"  # botocore ships a paginator
    NEXT_TOKEN = "next_token"  # hand-written token loop


@dataclass(frozen=True)
class ServiceSpec:
    """Everything the refresher needs to know about one service."""

    name: str  # label value, e.g. "opensearch"
    client_name: str  # boto3 client name
    operation: str  # API operation, e.g. "DescribeReservedInstances"
    # What IAM must allow for it (doctor, iam/): OpenSearch's prefix is "es".
    iam_action: str
    result_key: str  # list member in the response
    parse: Callable[[Mapping[str, Any]], Reservation]
    # doctor's probe: the smallest page the call accepts (EC2 has no paging, but DryRun).
    probe_args: Mapping[str, Any]
    pagination: Pagination = Pagination.PAGINATOR
    token_key: str = "NextToken"  # request and response member for NEXT_TOKEN
    is_global: bool = False  # one listing per account, whatever its regions
    states: Mapping[str, Meaning] = field(default_factory=lambda: COMMON_STATES)
    # The reservation's tags by its ARN, where the service needs a call per
    # reservation (RDS, ElastiCache, MemoryDB); None where ``parse`` reads them
    # from the listing (EC2, Savings Plans) or the service has none.
    read_tags: Callable[[Any, str], Tags] | None = None
    tags_iam_action: str | None = None  # what read_tags needs IAM to allow
    # doctor's tag probe: an ARN of no reservation ({partition}, {region},
    # {account}, {probe}); "not found" means the read is allowed.
    tags_probe_arn: str | None = None

    @property
    def method_name(self) -> str:
        """boto3's snake_case method for the operation."""
        from botocore import xform_name

        return xform_name(self.operation)

    def list_records(
        self, client: Any, max_pages: int | None = None
    ) -> Iterator[Mapping[str, Any]]:
        """Yield every raw record, following pagination.

        An endpoint that keeps inventing page tokens must not hold a cycle:
        more than ``max_pages`` pages fail the target as malformed.
        """
        max_pages = max_pages or MAX_PAGES  # read at call time: tests lower it
        for number, page in enumerate(self._pages(client), start=1):
            if number > max_pages:
                raise MalformedRecord(
                    f"{self.operation} returned more than {max_pages} pages; stopped reading"
                )
            yield from page.get(self.result_key) or ()

    def _pages(self, client: Any) -> Iterator[Mapping[str, Any]]:
        if self.pagination is Pagination.PAGINATOR:
            yield from client.get_paginator(self.method_name).paginate()
            return
        call = getattr(client, self.method_name)
        if self.pagination is Pagination.NONE:
            yield call()
            return
        kwargs: dict[str, Any] = {}
        seen: set[str] = set()
        while True:
            page = call(**kwargs)
            yield page
            token = page.get(self.token_key)
            if not token:
                return
            if token in seen:  # a broken endpoint must not loop us forever
                raise MalformedRecord(f"{self.operation} returned a repeated {self.token_key}")
            seen.add(token)
            kwargs[self.token_key] = token


# --- parsing helpers -------------------------------------------------------


def required(record: Mapping[str, Any], key: str) -> Any:
    value = record.get(key)
    if value is None or value == "":
        raise MalformedRecord(f"missing required field {key}")
    return value


def to_epoch(value: Any, key: str = "timestamp") -> float:
    """A botocore timestamp (datetime) or ISO 8601 string as Unix seconds, UTC.

    Naive datetimes are taken as UTC: the machine's time zone never matters.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise MalformedRecord(f"{key}: unparseable timestamp {value!r}") from exc
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    else:
        raise MalformedRecord(f"{key}: unparseable timestamp {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def to_number(value: Any, key: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise MalformedRecord(f"{key}: not a number: {value!r}") from exc


def start_plus_duration(record: Mapping[str, Any]) -> tuple[float, float]:
    """(start, end) for services whose end is StartTime + Duration seconds."""
    start = to_epoch(required(record, "StartTime"), "StartTime")
    duration = to_number(required(record, "Duration"), "Duration")
    if duration <= 0:
        raise MalformedRecord(f"Duration: must be positive, got {duration!r}")
    return start, start + duration


def hourly_recurring(record: Mapping[str, Any]) -> float:
    """Sum of the hourly RecurringCharges of one unit."""
    total = 0.0
    for charge in record.get("RecurringCharges") or ():
        # EC2 names the members Frequency/Amount; the other services
        # RecurringChargeFrequency/RecurringChargeAmount.
        frequency = charge.get("RecurringChargeFrequency", charge.get("Frequency", ""))
        if str(frequency).lower() == "hourly":
            amount = charge.get("RecurringChargeAmount", charge.get("Amount", 0))
            total += to_number(amount, "RecurringChargeAmount")
    return total


def unit_costs(record: Mapping[str, Any], count: int) -> tuple[float, float]:
    """(hourly, upfront) for the whole reservation (DESIGN §4)."""
    usage = to_number(record.get("UsagePrice") or 0, "UsagePrice")
    fixed = to_number(record.get("FixedPrice") or 0, "FixedPrice")
    return (usage + hourly_recurring(record)) * count, fixed * count


def count_of(record: Mapping[str, Any], key: str) -> int:
    value = record.get(key)
    if value is None:
        return 1
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise MalformedRecord(f"{key}: not an integer: {value!r}") from exc


# --- the export rule -------------------------------------------------------

_unknown_lock = threading.Lock()
_unknown_seen: set[tuple[str, str]] = set()


def meaning_of(spec: ServiceSpec, state: str) -> tuple[Meaning, bool]:
    """The meaning of ``state`` for ``spec`` and whether the state is unknown.

    Unknown states are exported verbatim and treated as live, so a new AWS
    state never hides a reservation; the first sighting is logged.
    """
    meaning = spec.states.get(state.lower())
    if meaning is not None:
        return meaning, False
    with _unknown_lock:
        first = (spec.name, state) not in _unknown_seen
        _unknown_seen.add((spec.name, state))
    if first:
        log.warning(
            "service %s returned unknown reservation state %r; exporting it as live",
            spec.name,
            state,
        )
    return Meaning.LIVE, True


def is_exported(meaning: Meaning, end: float, now: float, lookback: float) -> bool:
    """Whether a reservation in this state and with this end is exported at ``now``."""
    if meaning is Meaning.LIVE:
        return True
    if meaning is Meaning.RETIRED:
        return now - end < lookback
    return False


def fetch(
    spec: ServiceSpec,
    client: Any,
    now: float,
    lookback: float,
    on_unknown_state: Callable[[str, str], None] | None = None,
) -> list[Reservation]:
    """List, parse and filter one target's reservations.

    A record that cannot be parsed raises ``MalformedRecord``, failing the whole
    target so its last good data is kept rather than replaced by a partial list.
    """
    kept: list[Reservation] = []
    for record in spec.list_records(client):
        reservation = spec.parse(record)
        meaning, unknown = meaning_of(spec, reservation.state)
        if unknown and on_unknown_state is not None:
            on_unknown_state(spec.name, reservation.state)
        if is_exported(meaning, reservation.end, now, lookback):
            kept.append(reservation)
    return kept


@dataclass(frozen=True)
class TermFields:
    """Member names of a reservation whose end is StartTime + Duration."""

    id: str
    count: str
    instance_type: str
    offering_type: str = "OfferingType"
    product: str | None = None  # the API's product member, where it has one
    currency: str | None = "CurrencyCode"  # None: the API has no currency (USD)
    multi_az: str | None = None
    arn: str | None = None  # the reservation's ARN, where its tags are read by it
    lease_id: str | None = None  # RDS: the lease id Cost Explorer lists it by


def term_parser(fields: TermFields) -> Callable[[Mapping[str, Any]], Reservation]:
    """A ``parse`` for the services that share the StartTime + Duration shape."""

    def parse(record: Mapping[str, Any]) -> Reservation:
        start, end = start_plus_duration(record)
        count = count_of(record, fields.count)
        hourly, upfront = unit_costs(record, count)
        multi_az = record.get(fields.multi_az) if fields.multi_az else None
        return Reservation(
            reservation_id=required(record, fields.id),
            state=required(record, "State"),
            start=start,
            end=end,
            instance_count=count,
            instance_type=record.get(fields.instance_type, ""),
            product=record.get(fields.product, "") if fields.product else "",
            offering_type=record.get(fields.offering_type, ""),
            multi_az="" if multi_az is None else str(bool(multi_az)).lower(),
            hourly_cost=hourly,
            upfront_cost=upfront,
            currency=(record.get(fields.currency) if fields.currency else None) or "USD",
            arn=_text(record.get(fields.arn)) if fields.arn else "",
            lease_id=_text(record.get(fields.lease_id)) if fields.lease_id else "",
        )

    return parse


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def tag_reader(method: str, arn_parameter: str) -> Callable[[Any, str], Tags]:
    """A ``read_tags`` calling ``method`` (boto3 name) with the reservation's ARN
    as ``arn_parameter``; the answer's ``TagList`` holds Key/Value pairs."""

    def read_tags(client: Any, arn: str) -> Tags:
        answer = getattr(client, method)(**{arn_parameter: arn})
        tags = answer.get("TagList") if isinstance(answer, Mapping) else None
        if tags is None:
            tags = []  # AWS leaves the member out when a resource has no tags
        if not isinstance(tags, list):
            raise MalformedResponse(f"{method}: TagList is not a list")
        return tags_from_list(tags)

    return read_tags
