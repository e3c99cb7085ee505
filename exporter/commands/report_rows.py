"""What ``report`` shows: one row per reservation, the targets that failed, and
their table (for people), JSON and CSV renderings. Times are UTC throughout."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from exporter.model import Reservation, Target, TargetResult
from exporter.ownership import owner_values
from exporter.renewal import Renewal, in_demand, renewed_text
from exporter.terminal import format_table, json_safe

DAY = 86400.0


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class ReportRow:
    """One reservation as the report shows it. Times are Unix seconds (UTC)."""

    account: str
    account_id: str
    region: str
    service: str
    reservation_id: str
    type: str  # instance/node type; the plan type for Savings Plans
    count: int | None  # None for Savings Plans
    state: str
    start: float
    end: float
    days_left: float
    hourly_cost: float | None
    currency: str
    # Share of it that renewals cover (0..1); None where it needs no renewal
    # (queued, pending-return, retired early).
    renewal_covered_ratio: float | None = None
    renewed_by: tuple[str, ...] = ()
    # Share used over cost_explorer.lookback (Cost Explorer); None when unknown.
    utilization: float | None = None
    advice: str = "unknown"  # renew | resize | let-lapse | unknown (``advise``)
    # (label, value) per configured owner label: the reservation's tag, else
    # its account's, else "" (exporter.ownership).
    owners: tuple[tuple[str, str], ...] = ()

    def owner(self, label: str) -> str | None:
        """The value of owner label ``label``; None when no such label is configured."""
        return dict(self.owners).get(label)

    @property
    def fully_renewed(self) -> bool:
        return self.renewal_covered_ratio is None or self.renewal_covered_ratio >= 1


@dataclass(frozen=True)
class FailedTarget:
    account: str
    account_id: str
    region: str
    service: str
    reason: str


RENEW, RESIZE, LET_LAPSE, UNKNOWN = "renew", "resize", "let-lapse", "unknown"


def advise(utilization: float | None, renew_above: float, let_lapse_below: float) -> str:
    """What to do when it ends, from how much of it was used: renew at or above
    ``renew_above``, let lapse below ``let_lapse_below``, resize in between."""
    if utilization is None:
        return UNKNOWN
    if utilization >= renew_above:
        return RENEW
    if utilization < let_lapse_below:
        return LET_LAPSE
    return RESIZE


def report_rows(
    results: Sequence[TargetResult],
    at: float,
    within: float | None = None,
    renewals: Mapping[tuple[Target, str], Renewal] | None = None,
    advice: tuple[float, float] = (0.8, 0.3),
) -> list[ReportRow]:
    """Rows for every reservation in ``results``, sorted by days left (soonest first).

    ``within`` (seconds) keeps reservations ending no later than ``at + within``;
    ones already ended (kept by expired_lookback) stay, with negative days left.
    ``renewals`` (from the store) fill the renewal columns; a reservation that
    needs a renewal but has no answer counts as not renewed, as in the alerts.
    """
    renewals = renewals or {}
    rows = []
    for result in results:
        target = result.target
        for r in result.reservations:
            days_left = (r.end - at) / DAY
            if within is not None and days_left > within / DAY:
                continue
            renewal = renewals.get((target, r.reservation_id))
            if renewal is not None:
                ratio: float | None = renewal.ratio
            else:
                ratio = 0.0 if in_demand(r) else None
            rows.append(
                ReportRow(
                    account=target.account,
                    account_id=target.account_id,
                    region=r.region or target.region,
                    service=target.service,
                    reservation_id=r.reservation_id,
                    type=_type_of(r),
                    count=r.instance_count,
                    state=r.state,
                    start=r.start,
                    end=r.end,
                    days_left=days_left,
                    hourly_cost=r.hourly_cost,
                    currency=r.currency,
                    renewal_covered_ratio=ratio,
                    renewed_by=renewal.renewed_by if renewal is not None else (),
                    utilization=r.utilization,
                    advice=advise(r.utilization, *advice),
                    owners=tuple(
                        zip(
                            (label for label, _ in result.owner_labels),
                            owner_values(result.owner_labels, r.tags, result.account_tags),
                            strict=True,
                        )
                    ),
                )
            )
    rows.sort(key=lambda r: (r.end, r.account, r.region, r.service, r.reservation_id))
    return rows


def _type_of(r: Reservation) -> str:
    """The instance/node type; for Savings Plans the plan type (and EC2 family)."""
    if r.plan_type:
        return f"{r.plan_type} {r.instance_type}".strip()
    return r.instance_type


def failed_targets(results: Sequence[TargetResult]) -> list[FailedTarget]:
    failed = [
        FailedTarget(
            r.target.account,
            r.target.account_id,
            r.target.region,
            r.target.service,
            r.error_reason or "error",
        )
        for r in results
        if not r.success
    ]
    return sorted(failed, key=lambda f: (f.account, f.region, f.service))


def expiring_within(rows: Sequence[ReportRow], window: float) -> list[ReportRow]:
    """Rows not yet ended, not fully renewed, that end within ``window`` seconds
    (for ``--fail-within``)."""
    return [r for r in rows if 0 <= r.days_left <= window / DAY and not r.fully_renewed]


# ----------------------------------------------------------------------- rendering


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc).replace(tzinfo=None, microsecond=0)


def iso(ts: float) -> str:
    """Unix seconds as ISO 8601 UTC with a Z, to the second; always a 4-digit year
    (``strftime("%Y")`` writes year 1 as ``1`` on glibc)."""
    return _utc(ts).isoformat() + "Z"


def table_time(ts: float) -> str:
    """``2030-01-06 00:00`` (UTC, to the minute) for the table."""
    return _utc(ts).isoformat(sep=" ", timespec="minutes")


def _record(row: ReportRow) -> dict[str, Any]:
    record = asdict(row)
    record["start"] = iso(row.start)
    record["end"] = iso(row.end)
    record["days_left"] = round(row.days_left, 2)
    if row.hourly_cost is not None:
        record["hourly_cost"] = round(row.hourly_cost, 6)
    if row.utilization is not None:
        record["utilization"] = round(row.utilization, 4)
    record["renewed_by"] = list(row.renewed_by)
    record["owners"] = dict(row.owners)
    return record


def render_json(
    rows: Sequence[ReportRow],
    failed: Sequence[FailedTarget],
    at: float,
    within: float | None,
) -> str:
    """``{"as_of", "within_days", "reservations": [...], "failed_targets": [...]}``."""
    document = {
        "as_of": iso(at),
        "within_days": None if within is None else round(within / DAY, 6),
        "reservations": [_record(r) for r in rows],
        "failed_targets": [asdict(f) for f in failed],
    }
    return json_safe(json.dumps(document, indent=2)) + "\n"


CSV_COLUMNS = tuple(f for f in ReportRow.__dataclass_fields__ if f != "owners")
# A spreadsheet evaluates a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text_cell(value: str) -> str:
    """A text cell a spreadsheet will not run: one that starts with ``= + - @``, a
    tab or a carriage return, or with ``= + - @`` after leading whitespace (some
    spreadsheets trim it), gets a leading ``'`` (OWASP's CSV injection advice)."""
    if value.startswith(_FORMULA_START) or value.lstrip().startswith(_FORMULA_START[:4]):
        return "'" + value
    return value


def owner_column(label: str) -> str:
    """The CSV column of an owner label: its name, unless a fixed column has it."""
    return f"owner_{label}" if label in CSV_COLUMNS else label


def render_csv(rows: Sequence[ReportRow], owner_labels: Sequence[str] = ()) -> str:
    """One header line, then one line per reservation (empty cells for missing values).

    Text cells go through ``csv_text_cell``; numbers (``days_left`` is
    negative for ended reservations) are written as numbers. Each owner label
    gets a column of its own, after the fixed ones.
    """
    buffer = io.StringIO()
    columns = [*CSV_COLUMNS, *map(owner_column, owner_labels)]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record = _record(row)
        record["renewed_by"] = " ".join(row.renewed_by)
        owners = record.pop("owners")
        record.update({owner_column(label): owners.get(label, "") for label in owner_labels})
        writer.writerow(
            {
                k: "" if v is None else csv_text_cell(v) if isinstance(v, str) else v
                for k, v in record.items()
            }
        )
    return buffer.getvalue()


TABLE_HEADERS = (
    "ACCOUNT",
    "ACCOUNT ID",
    "REGION",
    "SERVICE",
    "ID",
    "TYPE",
    "COUNT",
    "STATE",
    "END (UTC)",
    "DAYS LEFT",
    "RENEWED",
    "HOURLY COST",
)
_RIGHT = frozenset({"COUNT", "DAYS LEFT", "RENEWED", "HOURLY COST", "USED"})


def render_table(
    rows: Sequence[ReportRow], owner_labels: Sequence[str] = (), advice: bool = False
) -> str:
    """A plain-text table for people: control characters escaped, columns capped
    (``exporter.terminal.format_table``); one column per owner label after the
    id; with ``advice`` (Cost Explorer on), the utilization and the advice last."""
    headers = (*TABLE_HEADERS[:5], *(label.replace("_", " ").upper() for label in owner_labels))
    headers += TABLE_HEADERS[5:]
    if advice:
        headers += ("USED", "ADVICE")
    cells = [
        (
            r.account,
            r.account_id,
            r.region,
            r.service,
            r.reservation_id,
            *((r.owner(label) or "-") for label in owner_labels),
            r.type or "-",
            "-" if r.count is None else str(r.count),
            r.state,
            table_time(r.end),
            f"{r.days_left:.1f}",
            renewed_text(r.renewal_covered_ratio),
            "-" if r.hourly_cost is None else f"{r.hourly_cost:.4f} {r.currency}",
            *(
                ("-" if r.utilization is None else f"{r.utilization:.0%}", r.advice)
                if advice
                else ()
            ),
        )
        for r in rows
    ]
    return format_table(headers, cells, right=_RIGHT)
