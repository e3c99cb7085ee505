"""`report` end to end against the fake AWS over HTTP: rows, formats, --at,
--within, --fail-within, failed targets and the exit statuses."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from exporter.commands import report
from exporter.fake import FakeAws
from tests.support import OWN_ACCOUNT, ROOT

STAGING = "333333333333"
ROLE = f"arn:aws:iam::{STAGING}:role/ReservationExporter"
AT = datetime(2030, 1, 1, tzinfo=timezone.utc)
YEAR = 365 * 86400


@pytest.fixture
def fake(isolated_fake: FakeAws) -> FakeAws:
    return isolated_fake


def rds(
    rid: str,
    end_days: float,
    count: int = 1,
    usage: float = 0.1,
    state: str = "active",
    account: str = OWN_ACCOUNT,
):
    end = AT + timedelta(days=end_days)
    return {
        "ReservedDBInstanceId": rid,
        "ReservedDBInstanceArn": f"arn:aws:rds:us-east-1:{account}:ri:{rid}",
        "DBInstanceClass": "db.r6g.large",
        "StartTime": end - timedelta(seconds=YEAR),
        "Duration": YEAR,
        "FixedPrice": 100.0,
        "UsagePrice": usage,
        "CurrencyCode": "USD",
        "DBInstanceCount": count,
        "ProductDescription": "postgresql",
        "OfferingType": "Partial Upfront",
        "MultiAZ": False,
        "State": state,
        "RecurringCharges": [{"RecurringChargeAmount": 0.05, "RecurringChargeFrequency": "Hourly"}],
    }


def ec2(rid: str, end_days: float, state: str):
    end = AT + timedelta(days=end_days)
    return {
        "ReservedInstancesId": rid,
        "InstanceType": "m5.large",
        "Start": end - timedelta(seconds=YEAR),
        "End": end,
        "Duration": YEAR,
        "FixedPrice": 0.0,
        "UsagePrice": 0.0,
        "InstanceCount": 3,
        "ProductDescription": "Linux/UNIX",
        "State": state,
        "CurrencyCode": "USD",
        "OfferingType": "No Upfront",
        "Scope": "Region",
        "RecurringCharges": [{"Amount": 0.062, "Frequency": "Hourly"}],
    }


def savings_plan(pid: str, end_days: float):
    end = AT + timedelta(days=end_days)
    return {
        "savingsPlanId": pid,
        "start": (end - timedelta(seconds=YEAR)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "end": end.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "state": "active",
        "savingsPlanType": "Compute",
        "paymentOption": "No Upfront",
        "currency": "USD",
        "commitment": "2.500",
        "upfrontPaymentAmount": "0.00",
    }


@pytest.fixture
def seeded(fake: FakeAws, tmp_path) -> str:
    """Two accounts (own credentials and an assumed role); returns the config path."""
    fake.add_role(ROLE, trusted_account_ids=[OWN_ACCOUNT])
    fake.seed(OWN_ACCOUNT, "us-east-1", "rds", [rds("db-a", 5, count=2), rds("db-late", 90)])
    fake.seed(
        OWN_ACCOUNT,
        "eu-west-1",
        "ec2",
        [ec2("ri-ended", -10, "retired"), ec2("ri-old", -40, "retired")],
    )
    fake.seed(OWN_ACCOUNT, "us-east-1", "savingsplans", [savings_plan("sp-1", 30)])
    fake.seed(STAGING, "us-east-1", "rds", [rds("db-b", 5, usage=0.2, account=STAGING)])
    config = {
        "regions": ["us-east-1", "eu-west-1"],
        "services": ["ec2", "rds", "savingsplans"],
        "expired_lookback": "30d",
        "accounts": [{"name": "payer"}, {"name": "staging", "id": STAGING}],
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def run(*argv: str, prompter=None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = report.main(list(argv), prompter=prompter, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_json_lists_every_reservation_sorted_by_days_left(seeded):
    code, out, err = run("--config.file", seeded, "--format", "json", "--at", "2030-01-01")
    assert code == 0, err
    document = json.loads(out)
    assert document["as_of"] == "2030-01-01T00:00:00Z"
    assert document["failed_targets"] == []
    got = [
        (
            r["account"],
            r["account_id"],
            r["region"],
            r["service"],
            r["reservation_id"],
            r["days_left"],
            r["end"],
            r["hourly_cost"],
            r["count"],
            r["state"],
        )
        for r in document["reservations"]
    ]
    assert got == [
        (
            "payer",
            OWN_ACCOUNT,
            "eu-west-1",
            "ec2",
            "ri-ended",
            -10.0,
            "2029-12-22T00:00:00Z",
            0.186,
            3,
            "retired",
        ),
        (
            "payer",
            OWN_ACCOUNT,
            "us-east-1",
            "rds",
            "db-a",
            5.0,
            "2030-01-06T00:00:00Z",
            0.3,
            2,
            "active",
        ),
        (
            "staging",
            STAGING,
            "us-east-1",
            "rds",
            "db-b",
            5.0,
            "2030-01-06T00:00:00Z",
            0.25,
            1,
            "active",
        ),
        (
            "payer",
            OWN_ACCOUNT,
            "global",
            "savingsplans",
            "sp-1",
            30.0,
            "2030-01-31T00:00:00Z",
            2.5,
            None,
            "active",
        ),
        (
            "payer",
            OWN_ACCOUNT,
            "us-east-1",
            "rds",
            "db-late",
            90.0,
            "2030-04-01T00:00:00Z",
            0.15,
            1,
            "active",
        ),
    ]


def test_lookback_applies_relative_to_at(seeded):
    # ri-old ended 40 days before 2030-01-01: outside the 30d lookback then, inside it
    # as of 20 days earlier.
    _, out, _ = run("--config.file", seeded, "--format", "json", "--at", "2030-01-01")
    assert "ri-old" not in {r["reservation_id"] for r in json.loads(out)["reservations"]}
    _, out, _ = run("--config.file", seeded, "--format", "json", "--at", "2029-12-12")
    rows = {r["reservation_id"]: r for r in json.loads(out)["reservations"]}
    assert rows["ri-old"]["days_left"] == -20.0
    assert rows["db-a"]["days_left"] == 25.0


def test_csv_with_within(seeded):
    code, out, _ = run(
        "--config.file", seeded, "--format", "csv", "--at", "2030-01-01", "--within", "7d"
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["reservation_id"], r["days_left"], r["end"], r["hourly_cost"]) for r in rows] == [
        ("ri-ended", "-10.0", "2029-12-22T00:00:00Z", "0.186"),
        ("db-a", "5.0", "2030-01-06T00:00:00Z", "0.3"),
        ("db-b", "5.0", "2030-01-06T00:00:00Z", "0.25"),
    ]
    assert rows[2]["account"] == "staging" and rows[2]["account_id"] == STAGING


@pytest.fixture
def owned(fake: FakeAws, seeded: str, tmp_path) -> str:
    """``seeded`` with owner labels: db-a tagged Team=payments; staging's account
    tagged Team=search (Organizations, the own account is the management one)."""
    fake.add_org_account(OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT)
    fake.add_org_account(STAGING, "staging", tags={"Team": "search", "CostCenter": "cc-7"})
    fake.tag_reservation(OWN_ACCOUNT, "us-east-1", "rds", "db-a", {"Team": "payments"})
    with open(seeded) as file:
        config = yaml.safe_load(file)
    config["organizations"] = {"enabled": True}
    config["owner_labels"] = {"team": "Team", "cost_center": "CostCenter"}
    path = tmp_path / "owned.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))  # label order = column order
    return str(path)


def test_owner_labels_are_columns_in_every_format(owned):
    code, out, _ = run("--config.file", owned, "--at", "2030-01-01", "--format", "json")
    assert code == 0
    owners = {r["reservation_id"]: r["owners"] for r in json.loads(out)["reservations"]}
    assert owners["db-a"] == {"team": "payments", "cost_center": ""}
    assert owners["db-b"] == {"team": "search", "cost_center": "cc-7"}  # the account's tags
    assert owners["db-late"] == {"team": "", "cost_center": ""}
    code, out, _ = run("--config.file", owned, "--at", "2030-01-01", "--format", "csv")
    rows = {r["reservation_id"]: r for r in csv.DictReader(io.StringIO(out))}
    assert (rows["db-b"]["team"], rows["db-b"]["cost_center"]) == ("search", "cc-7")
    code, out, _ = run("--config.file", owned, "--at", "2030-01-01", "--within", "7d")
    header, *lines = out.splitlines()
    assert header.split()[6:9] == ["TEAM", "COST", "CENTER"]
    assert {line.split()[4]: line.split()[5] for line in lines} == {
        "ri-ended": "-",
        "db-a": "payments",
        "db-b": "search",
    }


def test_team_narrows_the_rows_and_what_fail_within_counts(owned):
    code, out, _ = run(
        "--config.file", owned, "--at", "2030-01-01", "--format", "json", "--team", "search"
    )
    assert code == 0
    assert [r["reservation_id"] for r in json.loads(out)["reservations"]] == ["db-b"]
    # db-a (payments) ends in 5 days; the search team's report does not fail on it
    code, _, err = run(
        "--config.file", owned, "--at", "2030-01-01", "--team", "payments", "--fail-within", "7d"
    )
    assert code == 1 and "db-a" in err and "db-b" not in err
    code, _, _ = run(
        "--config.file", owned, "--at", "2030-01-01", "--team", "nobody", "--fail-within", "7d"
    )
    assert code == 0
    # --team '' is what no team owns
    code, out, _ = run(
        "--config.file", owned, "--at", "2030-01-01", "--format", "json", "--team", ""
    )
    assert {r["reservation_id"] for r in json.loads(out)["reservations"]} == {
        "ri-ended",
        "db-late",
        "sp-1",
    }


def test_team_without_a_team_owner_label_exits_2(seeded):
    code, _, err = run("--config.file", seeded, "--team", "payments")
    assert code == 2
    assert "no owner label named team" in err


def test_table_is_clean_when_piped(seeded):
    code, out, err = run("--config.file", seeded, "--at", "2030-01-01", "--within", "30d")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("ACCOUNT ")
    assert [line.split()[4] for line in lines[1:]] == ["ri-ended", "db-a", "db-b", "sp-1"]
    assert "\r" not in err and "\x1b" not in err  # no progress line off a terminal


@pytest.mark.parametrize(("window", "expected"), [("7d", 1), ("5d", 1), ("4d", 0)])
def test_fail_within_exit_status(seeded, window, expected):
    code, _, err = run("--config.file", seeded, "--at", "2030-01-01", "--fail-within", window)
    assert code == expected
    if expected:
        assert "db-a, db-b" in err


def test_failed_targets_go_to_stderr_and_exit_3(seeded, fake):
    fake.deny(STAGING, "rds:DescribeReservedDBInstances")
    code, out, err = run("--config.file", seeded, "--format", "json", "--at", "2030-01-01")
    assert code == 3
    document = json.loads(out)
    assert document["failed_targets"] == [
        {
            "account": "staging",
            "account_id": STAGING,
            "region": region,
            "service": "rds",
            "reason": "denied",
        }
        for region in ("eu-west-1", "us-east-1")
    ]
    assert "db-b" not in {r["reservation_id"] for r in document["reservations"]}
    assert "2 of 10 targets could not be read" in err
    assert "account=staging account_id=333333333333 region=us-east-1 service=rds: denied" in err


def test_an_expiring_reservation_wins_over_failed_targets(seeded, fake):
    fake.deny(STAGING, "rds:DescribeReservedDBInstances")
    code, _, _ = run("--config.file", seeded, "--at", "2030-01-01", "--fail-within", "7d")
    assert code == 1


def test_unreachable_account_is_reported_not_fatal(seeded, fake):
    fake.reset()  # the role is gone: AssumeRole is refused
    fake.seed(OWN_ACCOUNT, "us-east-1", "rds", [rds("db-a", 5)])
    code, out, _ = run("--config.file", seeded, "--format", "json", "--at", "2030-01-01")
    assert code == 3
    document = json.loads(out)
    assert [r["reservation_id"] for r in document["reservations"]] == ["db-a"]
    failed = {(f["account"], f["service"]) for f in document["failed_targets"]}
    assert failed == {("staging", "ec2"), ("staging", "rds"), ("staging", "savingsplans")}


def test_bad_flags_and_config_exit_2(seeded, tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        run("--config.file", seeded, "--within", "soon")
    assert exited.value.code == 2
    assert "--within" in capsys.readouterr().err
    missing = str(tmp_path / "nope.yaml")
    code, out, _ = run("--config.file", missing)
    assert code == 2 and out == ""


def test_demo_mode_reports_the_demo_data(server, monkeypatch):
    server.reset()
    monkeypatch.setenv("AWS_PROFILE", "must-be-ignored")
    code, out, err = run("--demo", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["reservations"]
    assert {r["account"] for r in rows} == {"payer", "production", "staging", "analytics"}
    assert {r["service"] for r in rows} == {
        "ec2",
        "rds",
        "elasticache",
        "redshift",
        "opensearch",
        "memorydb",
        "savingsplans",
    }
    days = [r["days_left"] for r in rows]
    assert days == sorted(days)
    assert os.environ["AWS_PROFILE"] == "must-be-ignored"  # restored afterwards


def test_the_readme_sample_is_real_demo_output(server):
    """README's report sample: its header and every row, end date aside (the
    demo's dates follow today), are lines the command really prints."""
    server.reset()
    code, out, err = run("--demo", "--within", "16d", "--format", "table")
    assert code == 0, err
    readme = (ROOT / "README.md").read_text()
    sample = readme.split("`report --demo --within 16d`", 1)[1].split("```\n", 2)[1]

    def undated(line: str) -> str:
        return re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "YYYY-MM-DD HH:MM", line.rstrip())

    printed = [undated(line) for line in out.splitlines()]
    lines = [undated(line) for line in sample.splitlines()]
    assert lines[0] == printed[0]  # the same columns, the same widths
    assert len(lines) >= 5
    missing = [line for line in lines[1:] if line not in printed]
    assert missing == [], "README rows the demo does not print:\n" + "\n".join(missing)
