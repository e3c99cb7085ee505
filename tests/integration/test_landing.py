"""The landing page and /calendar.ics of a running exporter against the fake
AWS: hostile names from Organizations and a hostile reservation id render as
text, the calendar is parsed back with stable UIDs across refreshes, and the
calendar needs the same basic auth as /metrics."""

from __future__ import annotations

import base64
import re
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import bcrypt
import yaml
from icalendar import Calendar

from exporter.fake.demo_data import OFFERINGS, TERMS, make_record

PROD = "222222222222"
ROLE = f"arn:aws:iam::{PROD}:role/ReservationExporter"
# Set by a member-account admin (account name) and by whoever bought the
# reservation (RDS lets the buyer choose its id).
HOSTILE_NAME = "prod\"'<script>alert(1)</script>\nforged"
HOSTILE_ID = "db-<img src=x onerror=alert(1)>\"'"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
CONFIG = {
    "refresh_interval": "1h",
    "regions": ["us-east-1"],
    "services": ["rds"],
    "accounts": [{"name": "payer"}],
    "organizations": {"enabled": True},
}


def seed(fake) -> None:
    fake.add_org_account("111111111111", "payer", management_account_id="111111111111")
    fake.add_org_account(PROD, HOSTILE_NAME)
    fake.add_role(ROLE)
    record = make_record(
        "rds",
        rid=HOSTILE_ID,
        account_id=PROD,
        region="us-east-1",
        start=NOW + timedelta(days=10) - timedelta(seconds=TERMS[1]),
        seconds=TERMS[1],
        state="active",
        offering=OFFERINGS["rds"][0],
    )
    fake.seed(PROD, "us-east-1", "rds", [record])


def calendar_events(text: str) -> dict[str, dict]:
    return {
        str(e["uid"]): {"summary": str(e["summary"]), "start": e.decoded("dtstart")}
        for e in Calendar.from_ical(text).walk("VEVENT")
    }


def test_hostile_names_and_ids_are_text_in_the_page_and_the_calendar(fake_env, run_exporter):
    seed(fake_env)
    with run_exporter(CONFIG) as running:
        running.wait_ready()
        status, page = running.get("/")
        assert status == 200
        assert "<script>alert" not in page and "<img src=x" not in page
        # written out by the exporter (printable), then escaped by the page
        shown = "prod&quot;&#x27;&lt;script&gt;alert(1)&lt;/script&gt;\\nforged"
        assert shown in page
        assert "db-&lt;img src=x onerror=alert(1)&gt;&quot;&#x27;" in page
        status, feed = running.get("/calendar.ics")
        assert status == 200
        (event,) = calendar_events(feed).values()
        assert HOSTILE_ID in event["summary"] and "<script>" in event["summary"]
        assert "\nforged" not in feed  # newlines inside values are escaped


def test_the_calendar_keeps_its_uids_across_refreshes(fake_env, run_exporter):
    seed(fake_env)
    with run_exporter(CONFIG) as running:
        running.wait_ready()
        first = calendar_events(running.get("/calendar.ics")[1])
        assert len(first) == 1
        (event,) = first.values()
        assert event["start"].utcoffset() == timedelta(0)
        assert abs(event["start"] - (NOW + timedelta(days=10))) < timedelta(seconds=2)
        cycles = running.exporter.telemetry.cycles._value.get()
        running.exporter.refresher.set_config(running.exporter.refresher.config)  # refresh now
        for _ in range(100):
            if running.exporter.telemetry.cycles._value.get() > cycles:
                break
            time.sleep(0.1)
        assert running.exporter.telemetry.cycles._value.get() > cycles
        assert calendar_events(running.get("/calendar.ics")[1]).keys() == first.keys()


def test_the_page_filters_and_pages_over_http(fake_env, run_exporter):
    seed(fake_env)
    fake_env.seed(
        "111111111111",
        "us-east-1",
        "rds",
        [
            make_record(
                "rds",
                rid=f"own-{i:03}",
                account_id="111111111111",
                region="us-east-1",
                start=NOW - timedelta(days=30),
                seconds=TERMS[1],
                state="active",
                offering=OFFERINGS["rds"][0],
            )
            for i in range(120)
        ],
    )
    with run_exporter(CONFIG) as running:
        running.wait_ready()
        _, page = running.get("/")
        assert "page 1 of 2 (121 rows)" in page
        _, page = running.get("/?account=payer&q=own-11")
        assert re.findall(r'<td class="id">(.*?)</td>', page) == [f"own-11{i}" for i in range(10)]


def test_the_calendar_needs_the_same_basic_auth_as_metrics(fake_env, run_exporter, tmp_path):
    seed(fake_env)
    hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yaml"
    web.write_text(yaml.safe_dump({"basic_auth_users": {"finops": hashed}}))
    with run_exporter(CONFIG, web_config_file=str(web)) as running:
        running.wait_ready()
        assert running.get("/calendar.ics")[0] == 401
        request = urllib.request.Request(running.url + "/calendar.ics")
        token = base64.b64encode(b"finops:secret").decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"] == "text/calendar; charset=utf-8"
            assert len(calendar_events(answer.read().decode())) == 1


def test_the_calendar_is_built_once_per_snapshot(fake_env, run_exporter):
    seed(fake_env)
    with run_exporter(CONFIG) as running:
        running.wait_ready()
        server = running.exporter.server
        first = server.calendar_feed()
        assert server.calendar_feed() is first  # the same snapshot: not built again
        target = server.store.snapshot()[0].result.target
        server.store.record_failure(target, attempted_at=time.time(), duration=0, reason="error")
        again = server.calendar_feed()
        assert again is not first and again == first  # rebuilt, same events and stamp
