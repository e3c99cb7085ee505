"""The landing page's HTML: filters, sorting, paging, escaping, CSP; and the
calendar feed, parsed back with icalendar."""

from __future__ import annotations

import re
from datetime import timezone

from icalendar import Calendar

from exporter.config.fields import DEFAULT_THRESHOLDS
from exporter.model import Reservation, Target
from exporter.server import html_headers
from exporter.store import SnapshotStore
from exporter.web import calendar, page
from exporter.web.page import PAGE_SIZE, Query
from exporter.web.view import build
from tests.unit.test_web_view import DAY, NOW, ri, store

HOSTILE = "evil\"'<script>alert(1)</script>\nname"


def html_of(view, **query) -> str:
    return page.render(view, Query(**query), version="1.0", ready=True)


def ids(html: str) -> list[str]:
    return re.findall(r'<td class="id">(.*?)</td>', html)


def big_view(n: int = 250):
    s = SnapshotStore()
    for account in ("a", "b"):
        target = Target(account, "1" * 12 if account == "a" else "2" * 12, "us-east-1", "ec2")
        s.record_success(
            target, [ri(f"{account}-{i:03}", 1 + i) for i in range(n)], attempted_at=NOW, duration=1
        )
    return build(s.snapshot(), NOW, DEFAULT_THRESHOLDS)


def test_query_parsing_refuses_nonsense_quietly() -> None:
    q = Query.parse({"sort": ["drop table"], "page": ["-3"], "epage": ["x"], "q": ["  ec2 "]})
    assert (q.sort, q.page, q.ended_page, q.text) == ("days", 1, 1, "ec2")
    q = Query.parse({"account": ["a" * 500], "dir": ["desc"], "sort": ["cost"], "page": ["2"]})
    assert len(q.account) == page.MAX_QUERY and q.descending and (q.sort, q.page) == ("cost", 2)


def test_a_section_shows_one_page_of_rows_with_links_to_the_next() -> None:
    view = big_view()
    first = html_of(view)
    assert len(ids(first)) == PAGE_SIZE
    assert "page 1 of 5 (500 rows)" in first
    assert 'href="?page=2">next</a>' in first
    last = html_of(view, page=5)
    assert len(ids(last)) == 500 - 4 * PAGE_SIZE


def test_filters_keep_only_matching_rows() -> None:
    view = big_view(30)
    assert set(i[0] for i in ids(html_of(view, account="b"))) == {"b"}
    assert ids(html_of(view, text="A-02")) == [f"a-02{i}" for i in range(10)]
    assert ids(html_of(view, state="retired")) == []


def test_sorting_by_a_column_and_back() -> None:
    view = big_view(3)
    assert ids(html_of(view, sort="id", descending=True)) == [
        "b-002",
        "b-001",
        "b-000",
        "a-002",
        "a-001",
        "a-000",
    ]
    html = html_of(view, sort="id")
    # the heading links to the other direction, keeping the filters
    assert 'href="?sort=id&amp;dir=desc"' in html


def test_summary_names_failing_targets_and_prices_each_tier() -> None:
    html = html_of(build(store().snapshot(), NOW, DEFAULT_THRESHOLDS))
    assert re.search(r'data-tier="urgent".*?data-uncovered="2".*?data-ending="2"', html, re.S)
    assert "0.30 USD/h not covered" in html
    assert "1 of 2 targets failing" in html and "dev/eu-west-1/ec2 (denied)" in html


def test_hostile_values_are_text_and_the_csp_allows_no_script() -> None:
    s = SnapshotStore()
    target = Target(HOSTILE, "222222222222", "us-east-1", "rds")
    s.record_success(target, [ri(HOSTILE, 3)], attempted_at=NOW, duration=1)
    view = build(s.snapshot(), NOW, DEFAULT_THRESHOLDS)
    html = html_of(view)
    assert "<script>" not in html
    assert "evil&quot;&#x27;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    policy = html_headers(html)["Content-Security-Policy"]
    assert "script-src" not in policy and policy.startswith("default-src 'none'")
    assert re.search(r"style-src 'sha256-[A-Za-z0-9+/=]+'", policy)


def test_the_calendar_has_one_event_per_reservation_needing_renewal_in_utc() -> None:
    view = build(store().snapshot(), NOW, DEFAULT_THRESHOLDS)
    parsed = Calendar.from_ical(calendar.feed(view))
    events = {str(e["summary"]): e for e in parsed.walk("VEVENT")}
    # not the ended one, not the queued renewal
    assert len(events) == 5
    soon = next(e for title, e in events.items() if " soon " in title)
    assert str(soon["summary"]).startswith("NOT RENEWED (0% covered): ec2 reservation soon")
    start = soon.decoded("dtstart")
    assert start.tzinfo is not None and start.utcoffset().total_seconds() == 0
    assert start.timestamp() == NOW + 0.5 * DAY
    renewed = [t for t in events if t.startswith("NOT RENEWED (75% covered)")]
    assert renewed == ["NOT RENEWED (75% covered): ec2 reservation week in prod ends"]
    assert start.astimezone(timezone.utc) == start


def test_calendar_uids_are_stable_across_refreshes_and_unique() -> None:
    first = Calendar.from_ical(calendar.feed(build(store().snapshot(), NOW, DEFAULT_THRESHOLDS)))
    later = Calendar.from_ical(
        calendar.feed(build(store().snapshot(), NOW + 3600, DEFAULT_THRESHOLDS))
    )
    uids = [str(e["uid"]) for e in first.walk("VEVENT")]
    assert uids == [str(e["uid"]) for e in later.walk("VEVENT")]
    assert len(set(uids)) == len(uids)


def test_hostile_text_survives_the_calendar_as_text() -> None:
    s = SnapshotStore()
    s.record_success(
        Target(HOSTILE, "222222222222", "us-east-1", "rds"),
        [Reservation(HOSTILE, "active", start=NOW - DAY, end=NOW + DAY, instance_count=1)],
        attempted_at=NOW,
        duration=1,
    )
    raw = calendar.feed(build(s.snapshot(), NOW, DEFAULT_THRESHOLDS))
    assert b"\nname" not in raw.replace(b"\r\n ", b"")  # no raw newline inside a value
    (event,) = Calendar.from_ical(raw).walk("VEVENT")
    assert HOSTILE in str(event["summary"])
    assert str(event["description"]).startswith(f"Account: {HOSTILE} (222222222222)")
