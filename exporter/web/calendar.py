"""``/calendar.ics``: an iCalendar feed (RFC 5545) with one event per
reservation that has not ended yet and needs a renewal, at its end.

UIDs are derived from the reservation's identity, so a calendar app that
subscribes updates the same event on every fetch instead of adding another.
The icalendar library writes the format (escaping, folding, UTC times).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from icalendar import Calendar, Event

from exporter import __version__
from exporter.renewal import renewed_text
from exporter.web.view import Row, View

PRODID = f"-//aws-reservation-exporter//{__version__}//EN"
EVENT_LENGTH = timedelta(hours=1)


def uid(row: Row) -> str:
    """Stable across refreshes, restarts and replicas: a hash of the identity."""
    identity = "\x1f".join((row.account_id, row.region, row.service, row.reservation_id))
    return hashlib.sha256(identity.encode()).hexdigest()[:32] + "@aws-reservation-exporter"


def title(row: Row) -> str:
    """What a calendar shows: the uncovered ones are marked first."""
    what = f"{row.service} reservation {row.reservation_id} in {row.account} ends"
    if row.uncovered:
        return f"NOT RENEWED ({renewed_text(row.covered)} covered): {what}"
    return f"renewed: {what}"


def feed(view: View, owner_labels: Sequence[str] = (), stamp: float | None = None) -> bytes:
    """The feed; ``stamp`` (DTSTAMP, default the view's time) is when the data
    was read, so the same snapshot always gives the same bytes."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", "AWS reservations")
    stamped = datetime.fromtimestamp(view.now if stamp is None else stamp, tz=timezone.utc)
    for row in view.rows:
        if row.ended or not row.in_demand:
            continue
        end = datetime.fromtimestamp(row.end, tz=timezone.utc)
        event = Event()
        event.add("uid", uid(row))
        event.add("dtstamp", stamped)
        event.add("dtstart", end)
        event.add("dtend", end + EVENT_LENGTH)
        event.add("summary", title(row))
        event.add("description", _description(row, owner_labels))
        event.add("categories", ["AWS reservation", row.service])
        event.add("transp", "TRANSPARENT")  # an expiry does not make anyone busy
        calendar.add_component(event)
    return calendar.to_ical()


def _description(row: Row, owner_labels: Sequence[str]) -> str:
    lines = [
        f"Account: {row.account} ({row.account_id})",
        f"Region: {row.region}",
        f"Service: {row.service}",
        f"Reservation: {row.reservation_id}",
        f"Type: {row.type or '-'}" + (f" x {row.count}" if row.count is not None else ""),
        f"State: {row.state}",
        f"Renewals cover: {renewed_text(row.covered)}",
    ]
    if row.uncovered_hourly_cost:
        lines.append(f"Not covered: {row.uncovered_hourly_cost:.2f} {row.currency}/h")
    lines += [
        f"{label}: {value}" for label, value in zip(owner_labels, row.owners, strict=True) if value
    ]
    return "\n".join(lines)
