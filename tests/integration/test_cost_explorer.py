"""Cost Explorer as a source, over HTTP against the fake: an organization
where only the management account is read, reconciliation with an account
also read by role, a renamed attribute key, the page counter, and the
config's refusal of a short interval."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from exporter.aws import ClientFactory
from exporter.collector import render
from exporter.config import ConfigError, parse_config
from exporter.fake.demo_data import OFFERINGS, TERMS, make_record, make_savings_plan
from exporter.refresher import Refresher
from exporter.store import SnapshotStore
from exporter.telemetry import Telemetry
from tests.support import OWN_ACCOUNT, parse_samples

MEMBERS = ("222222222222", "333333333333", "444444444444")
ROLE = "arn:aws:iam::{}:role/ReservationExporter"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
BASE = {
    "refresh_interval": "1h",
    "regions": ["us-east-1"],
    "services": ["ec2", "rds", "savingsplans"],
    # Only the management account (the exporter's own) is read by role...
    "accounts": [{"name": "payer"}],
    # ... and Cost Explorer there lists the whole organization.
    "cost_explorer": {"enabled": True, "refresh_interval": "8h", "lookback": "7d"},
}


def ri(account: str, rid: str, days_left: float, state: str = "active", **kw) -> dict:
    end = NOW + timedelta(days=days_left)
    return make_record(
        "ec2",
        rid=rid,
        account_id=account,
        region=kw.pop("region", "us-east-1"),
        start=kw.pop("start", end - timedelta(seconds=TERMS[1])),
        seconds=TERMS[1],
        state=state,
        offering=OFFERINGS["ec2"][0],
        **kw,
    )


@pytest.fixture
def org(fake_env):
    fake = fake_env
    fake.add_org_account(OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT)
    for index, account in enumerate(MEMBERS):
        fake.add_org_account(account, f"member-{index}")
        fake.seed(
            account,
            "eu-west-1",
            "ec2",
            [ri(account, f"ri-{account}", 10 + index, region="eu-west-1")],
        )
        fake.seed(
            account,
            "us-east-1",
            "savingsplans",
            [
                make_savings_plan(
                    plan_id=f"00000000-0000-4000-8000-{account}",
                    account_id=account,
                    start=NOW - timedelta(days=300),
                    years=1,
                    state="active",
                )
            ],
        )
    fake.set_utilization(MEMBERS[0], "ec2", f"ri-{MEMBERS[0]}", 42.0)
    return fake


class Harness:
    def __init__(self, config: dict) -> None:
        self.telemetry = Telemetry()
        self.store = SnapshotStore()
        self.refresher = Refresher(
            parse_config(config),
            factory=ClientFactory(concurrency=4, on_session=self.telemetry.hook_session),
            store=self.store,
            telemetry=self.telemetry,
        )

    def cycle(self) -> dict:
        assert self.refresher.run_cycle()
        from prometheus_client import generate_latest

        text = render(self.store.snapshot(), time.time(), self.store.account_lines())
        return parse_samples(text + generate_latest(self.telemetry.registry).decode())


def series(samples: dict, name: str) -> dict[str, tuple[dict, float]]:
    return {
        dict(k[1])["reservation_id"]: (dict(k[1]), v) for k, v in samples.items() if k[0] == name
    }


def pages(samples: dict) -> float:
    return sum(
        v for k, v in samples.items() if k[0] == "aws_reservation_cost_explorer_requests_total"
    )


def test_every_member_account_is_exported_through_the_management_account(org) -> None:
    samples = Harness(BASE).cycle()
    expiry = series(samples, "aws_reservation_expiry_timestamp_seconds")
    for index, account in enumerate(MEMBERS):
        labels, end = expiry[f"ri-{account}"]
        assert (labels["account"], labels["account_id"], labels["region"]) == (
            f"member-{index}",
            account,
            "eu-west-1",
        )
        assert abs(end - (NOW + timedelta(days=10 + index)).timestamp()) < 2
        assert f"00000000-0000-4000-8000-{account}" in expiry
    info = series(samples, "aws_reservation_info")
    assert {info[f"ri-{a}"][0]["source"] for a in MEMBERS} == {"cost_explorer"}
    used = series(samples, "aws_reservation_utilization_ratio")
    assert used[f"ri-{MEMBERS[0]}"][1] == pytest.approx(0.42)
    # 2 RI services (ec2, rds) + Savings Plans: one page each
    assert pages(samples) == 3
    health = {
        dict(k[1])["service"]: v
        for k, v in samples.items()
        if k[0] == "aws_reservation_refresh_success"
    }
    assert health["cost_explorer"] == 1.0


def test_an_account_also_read_by_role_keeps_its_listing_and_is_not_doubled(org) -> None:
    member = MEMBERS[0]
    org.add_role(ROLE.format(member))
    # Its queued renewal is something Cost Explorer never shows.
    org.seed(
        member,
        "eu-west-1",
        "ec2",
        [
            ri(
                member,
                "ri-renewal",
                375,
                state="queued",
                start=NOW + timedelta(days=10),
                region="eu-west-1",
            )
        ],
    )
    config = {
        **BASE,
        "regions": ["eu-west-1"],
        "accounts": [{"name": "payer"}, {"name": "member", "role_arn": ROLE.format(member)}],
    }
    samples = Harness(config).cycle()
    info = series(samples, "aws_reservation_info")
    labels = info[f"ri-{member}"][0]
    assert (labels["account"], labels["source"]) == ("member", "both")
    assert info["ri-renewal"][0]["source"] == "describe"
    # One series per reservation (parse_samples refuses duplicates) and the renewal counts.
    covered = series(samples, "aws_reservation_renewal_covered_ratio")
    assert covered[f"ri-{member}"][1] == 1.0
    assert series(samples, "aws_reservation_utilization_ratio")[f"ri-{member}"][1] == pytest.approx(
        0.42
    )
    # The other members still come through Cost Explorer alone.
    assert info[f"ri-{MEMBERS[1]}"][0]["source"] == "cost_explorer"


def test_a_renamed_attribute_fails_loudly_and_keeps_the_last_good_data(org, caplog) -> None:
    h = Harness(BASE)
    first = series(h.cycle(), "aws_reservation_expiry_timestamp_seconds")
    org.ce_rename_attribute("endDateTime", "endDate")
    h.refresher.cost_explorer.read_at = 0.0  # due again
    samples = h.cycle()
    # a failed read is tried again in the next cycle, not 8 hours later
    assert pages(h.cycle()) == pages(samples) + 1
    assert series(samples, "aws_reservation_expiry_timestamp_seconds") == first
    errors = {
        (dict(k[1])["service"], dict(k[1])["reason"]): v
        for k, v in samples.items()
        if k[0] == "aws_reservation_refresh_errors_total"
    }
    assert errors == {("cost_explorer", "malformed"): 1.0}
    assert "attribute 'endDateTime' is missing" in caplog.text


def test_it_is_read_at_most_every_refresh_interval(org) -> None:
    h = Harness(BASE)
    h.cycle()
    samples = h.cycle()  # a second cycle within 8h: no new request
    assert pages(samples) == 3


def test_a_refresh_interval_below_an_hour_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"cost_explorer\.refresh_interval: must be 1h or more"):
        parse_config({**BASE, "cost_explorer": {"enabled": True, "refresh_interval": "30m"}})


def test_report_advises_from_the_utilization_in_every_format(org, tmp_path) -> None:
    import csv
    import io
    import json

    import yaml

    from exporter.commands import report

    org.set_utilization(MEMBERS[1], "ec2", f"ri-{MEMBERS[1]}", 95.0)
    org.set_utilization(MEMBERS[2], "ec2", f"ri-{MEMBERS[2]}", 10.0)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(BASE))
    expected = {
        f"ri-{MEMBERS[0]}": "resize",
        f"ri-{MEMBERS[1]}": "renew",
        f"ri-{MEMBERS[2]}": "let-lapse",
    }

    def run(fmt: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        assert (
            report.main(["--config.file", str(path), "--format", fmt], stdout=out, stderr=err) == 0
        )
        return out.getvalue()

    rows = {r["reservation_id"]: r for r in json.loads(run("json"))["reservations"]}
    assert {rid: rows[rid]["advice"] for rid in expected} == expected
    assert rows[f"ri-{MEMBERS[0]}"]["utilization"] == pytest.approx(0.42)
    table = csv.DictReader(io.StringIO(run("csv")))
    assert {
        r["reservation_id"]: r["advice"] for r in table if r["reservation_id"] in expected
    } == expected
    lines = run("table").splitlines()
    assert lines[0].split()[-2:] == ["USED", "ADVICE"]
    shown = {line.split()[4]: line.split()[-2:] for line in lines[1:]}
    assert shown[f"ri-{MEMBERS[0]}"] == ["42%", "resize"]
    assert shown[f"ri-{MEMBERS[2]}"] == ["10%", "let-lapse"]


def test_the_monthly_cost_of_the_schedule_is_logged_at_start(org, caplog) -> None:
    import logging

    with caplog.at_level(logging.INFO, logger="exporter"):
        h = Harness(BASE)
        assert "at least 3 requests a read" in caplog.text
        assert "about 270 a month, 2.70 USD" in caplog.text  # 3 x 90 reads of 8h
        h.cycle()
    read = "in 3 requests; at this size about 270 requests a month (2.70 USD) every 8h"
    assert read in caplog.text
