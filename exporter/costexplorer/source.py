"""The paged Cost Explorer calls of one read: every RI service, then the
Savings Plans. Every page counts (and costs); a read that cannot complete
fails as a whole, so a partial answer never replaces the last good one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from exporter.aws.errors import MalformedResponse, check_deadline
from exporter.costexplorer.catalog import RI_SERVICES
from exporter.costexplorer.parse import RI_CALL, SP_CALL, Row, reservation_row, savings_plan_row

MAX_PAGES = 500  # per call: 500 pages of RIs is far beyond any organization


@dataclass
class Reading:
    """What one read found."""

    rows: list[Row] = field(default_factory=list)
    pages: int = 0


def read(
    client: Any,
    services: Iterable[str],
    lookback_days: int,
    today: date,
    now: float,
    on_page: Callable[[str], None] = lambda operation: None,
) -> Reading:
    """Every RI of ``services`` and (with ``savingsplans``) every plan, over the
    last ``lookback_days`` complete days before ``today`` (UTC)."""
    start, end = today - timedelta(days=lookback_days), today
    period = {"Start": start.isoformat(), "End": end.isoformat()}
    hours = lookback_days * 24.0
    reading = Reading()
    wanted = list(services)
    for service in (s for s in wanted if s in RI_SERVICES):
        params = {
            "TimePeriod": period,
            "GroupBy": [{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}],
            "Filter": {"Dimensions": {"Key": "SERVICE", "Values": [RI_SERVICES[service]]}},
        }
        for answer in _pages(client.get_reservation_utilization, params, "NextPageToken", RI_CALL):
            on_page(RI_CALL)
            reading.pages += 1
            seen: set[str] = set()
            for by_time in answer.get("UtilizationsByTime") or ():
                for group in by_time.get("Groups") or ():
                    parsed = reservation_row(group, service, hours)
                    if parsed.reservation.reservation_id not in seen:  # one row per lease
                        seen.add(parsed.reservation.reservation_id)
                        reading.rows.append(parsed)
    if "savingsplans" in wanted:
        for answer in _pages(
            client.get_savings_plans_utilization_details,
            {"TimePeriod": period},
            "NextToken",
            SP_CALL,
        ):
            on_page(SP_CALL)
            reading.pages += 1
            for detail in answer.get("SavingsPlansUtilizationDetails") or ():
                reading.rows.append(savings_plan_row(detail, now))
    return reading


def _pages(call: Callable[..., Any], params: dict[str, Any], token_key: str, name: str):  # type: ignore[no-untyped-def]
    """Every page of ``call``; an endless or repeating token is malformed."""
    token: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        check_deadline()
        answer = call(**params, **({token_key: token} if token else {}))
        yield answer
        token = answer.get(token_key)
        if not token:
            return
        if token in seen:
            raise MalformedResponse(f"{name}: the same page token came back twice")
        seen.add(token)
    raise MalformedResponse(f"{name}: more than {MAX_PAGES} pages; stopped")
