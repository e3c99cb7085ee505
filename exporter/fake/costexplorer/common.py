"""What both Cost Explorer reads share: who sees which accounts, request checks,
paging and the way Cost Explorer writes numbers."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any

from moto.core.responses import BaseResponse

from exporter.fake.errors import Rejection, render
from exporter.fake.service_error import FakeServiceError
from exporter.fake.store import decode_token, encode_token

PAGE_DEFAULT = 20  # documented for GetSavingsPlansUtilizationDetails; assumed for RIs
TIMESTAMP = "%Y-%m-%dT%H:%M:%S.000Z"  # how Cost Explorer writes start and end times
MEMBER_DENIED = "User not enabled for cost explorer access"
# Purchases Cost Explorer lists, by state, and the status it gives them.
LISTED_STATES = {"active": "Active", "retired": "Retired"}
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T00:00:00Z)?$")


# --- numbers -------------------------------------------------------------------------


def hours_between(start: datetime, end: datetime, lo: datetime, hi: datetime) -> float:
    """Hours of [start, end) inside [lo, hi)."""
    return max(0.0, (min(end, hi) - max(start, lo)).total_seconds() / 3600)


def fields_of(use: Any) -> tuple[float, ...]:
    return tuple(getattr(use, name) for name in use.__dataclass_fields__)


def ratio(part: float, whole: float) -> float:
    return 100 * part / whole if whole else 0.0


def amount(value: float) -> str:
    """A decimal string as Cost Explorer writes amounts (``44.0``, ``6.96``)."""
    value = round(value, 8)
    return repr(value) if value else "0.0"  # never "-0.0"


def percentage(value: float) -> str:
    """A percentage as Cost Explorer writes it (``100``, ``87.5``)."""
    text = amount(round(value, 2))
    return text[:-2] if text.endswith(".0") else text


# --- who sees what ----------------------------------------------------------------------


def visible_accounts(account_id: str) -> list[tuple[str, str]]:
    """(account id, name) of every account whose reservations ``account_id`` sees.

    The management account sees its organization; a member is refused like a
    linked account without Cost Explorer access; an account in no
    organization sees itself (named by its id: the fake knows no other name).
    """
    from moto.organizations.models import organizations_backends

    backend = organizations_backends[account_id]["aws"]
    if backend.org is not None:
        return [(account.id, account.name) for account in backend.accounts]
    if account_id in organizations_backends.master_accounts:
        raise FakeServiceError("AccessDeniedException", MEMBER_DENIED)
    return [(account_id, account_id)]


# --- request checks ----------------------------------------------------------------------


def invalid(message: str) -> FakeServiceError:
    return FakeServiceError("ValidationException", message)


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


def parse_day(value: Any, name: str) -> date:
    match = _DATE.match(value) if isinstance(value, str) else None
    try:
        if match is None:
            raise ValueError
        return date.fromisoformat(match.group(1))
    except ValueError:
        raise invalid(
            f"TimePeriod.{name} must be a date in the format YYYY-MM-DD, got {value!r}"
        ) from None


def time_period(params: Mapping[str, Any], *, within_13_months: bool = False) -> tuple[date, date]:
    """(start, end) of the request: dates, start before end, end not after today.

    An end after today is refused as AWS refuses it: ``DataUnavailableException``
    with an empty message (the utilization APIs have no data for a day that
    has not ended).
    """
    period = params.get("TimePeriod")
    if not isinstance(period, Mapping):
        raise invalid("TimePeriod is required")
    start = parse_day(period.get("Start"), "Start")
    end = parse_day(period.get("End"), "End")
    if start >= end:
        raise invalid(f"Start date {start} must be before end date {end}")
    today = utc_today()
    if end > today:
        raise FakeServiceError("DataUnavailableException", "")
    if within_13_months:
        earliest = date(today.year - 1, today.month, 1)  # the last 12 months and this one
        if start < earliest:
            raise FakeServiceError("DataUnavailableException", "")
    return start, end


def filter_conditions(expression: Any, allowed: Iterable[str]) -> dict[str, set[str]]:
    """A Filter of ``Dimensions``, or ``And`` of them one level deep, as
    {dimension: accepted values}. Anything else is refused."""
    if expression in (None, {}):
        return {}
    if not isinstance(expression, Mapping):
        raise invalid("Filter must be an expression")
    if set(expression) == {"And"} and isinstance(expression["And"], list):
        parts = expression["And"]
    elif set(expression) == {"Dimensions"}:
        parts = [expression]
    else:
        raise invalid(
            "Only Dimensions, or And of Dimensions (one level), are supported in this Filter"
        )
    conditions: dict[str, set[str]] = {}
    allowed = set(allowed)
    for part in parts:
        dimensions = part.get("Dimensions") if isinstance(part, Mapping) else None
        if not isinstance(dimensions, Mapping) or set(part) != {"Dimensions"}:
            raise invalid("Only Dimensions, or And of Dimensions (one level), are supported")
        key, values = dimensions.get("Key"), dimensions.get("Values")
        if key not in allowed:
            supported = ", ".join(sorted(allowed))
            raise invalid(f"Dimension {key} is not allowed. Supported dimensions: {supported}")
        if dimensions.get("MatchOptions") not in (None, [], ["EQUALS"]):
            raise invalid(f"MatchOptions of {key}: only EQUALS is supported")
        if not isinstance(values, list) or not values:
            raise invalid(f"Values are invalid. {key} needs at least one value")
        found = {str(v) for v in values}
        conditions[key] = conditions[key] & found if key in conditions else found
    return conditions


def page_size(params: Mapping[str, Any]) -> int:
    raw = params.get("MaxResults")
    if raw is None:
        return PAGE_DEFAULT
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise invalid(f"MaxResults must be an integer of at least 1, got {raw!r}")
    return raw


def page(items: list[Any], token: Any, size: int) -> tuple[list[Any], str | None]:
    offset = 0
    if token not in (None, ""):
        try:
            offset = decode_token(str(token))
        except ValueError:
            offset = -1
        if not 0 < offset < len(items):
            raise FakeServiceError(
                "InvalidNextTokenException",
                "The pagination token is invalid. Try again without a pagination token.",
            )
    end = offset + size
    return items[offset:end], encode_token(end) if end < len(items) else None


def sort_items(
    items: list[Any], sort_by: Any, keys: Mapping[str, Callable[[Any], str]]
) -> list[Any]:
    if sort_by is None:
        return items
    key = sort_by.get("Key") if isinstance(sort_by, Mapping) else None
    if key not in keys:
        raise invalid(f"SortBy Key {key!r} is not supported. Supported: {', '.join(keys)}")
    order = sort_by.get("SortOrder", "ASCENDING")
    if order not in ("ASCENDING", "DESCENDING"):
        raise invalid(f"SortOrder must be ASCENDING or DESCENDING, got {order!r}")
    return sorted(items, key=lambda item: float(keys[key](item)), reverse=order == "DESCENDING")


def params_of(response: BaseResponse) -> dict[str, Any]:
    try:
        body = json.loads(response.body or "{}")
    except ValueError:
        raise invalid("The request body is not JSON") from None
    if not isinstance(body, dict):
        raise invalid("The request body is not a JSON object")
    return body


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def answering_errors(
    handler: Callable[[BaseResponse], Any],
) -> Callable[[BaseResponse], Any]:
    """``handler`` with its refusals sent as Cost Explorer sends them (json,
    HTTP 400, the code in ``__type``), rendered here rather than by moto's
    serialiser, which warns about codes the model does not declare
    (``AccessDeniedException``: any AWS API may answer it)."""

    @functools.wraps(handler)
    def answer(response: BaseResponse) -> Any:
        try:
            return handler(response)
        except FakeServiceError as error:
            status, headers, body = render("json", Rejection(error.code, error.message, 400))
            return body.decode(), {**dict(headers), "status": status}

    return answer
