"""`report` against hostile AWS data over HTTP: account names from Organizations
(set by member-account admins) and reservation ids that try spreadsheet formula
injection, log-line forgery and terminal escape sequences."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from exporter.commands import report
from exporter.fake import FakeAws
from tests.support import OWN_ACCOUNT

MEMBER, EVIL = "444444444444", "555555555555"
ROLE = "arn:aws:iam::{}:role/ReservationExporter"
AT = datetime(2030, 1, 1, tzinfo=timezone.utc)
YEAR = 365 * 86400

FORMULA_NAME = "=cmd|' /C calc'!A0"
FORGING_NAME = "evil\n2026-01-01 ERROR forged\x1b[2J"
FORGING_SHOWN = "evil\\n2026-01-01 ERROR forged\\x1b[2J"
FORMULA_ID = "@SUM(1+1)*cmd|' /C calc'!A0"
SPACED_ID = " =1+2"
FORGING_ID = "sp-\x1b[2J\x07\r\n2026-01-01 ERROR forged\u202e\x85"
FORGING_ID_SHOWN = "sp-\\x1b[2J\\x07\\r\\n2026-01-01 ERROR forged\\u202e\\x85"
# Nothing of these may reach a terminal or a log raw.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202e]")


def rds(rid: str, end_days: float, state: str = "active") -> dict:
    end = AT + timedelta(days=end_days)
    return {
        "ReservedDBInstanceId": rid,
        "DBInstanceClass": "db.r6g.large",
        "StartTime": end - timedelta(seconds=YEAR),
        "Duration": YEAR,
        "FixedPrice": 100.0,
        "UsagePrice": 0.1,
        "CurrencyCode": "USD",
        "DBInstanceCount": 1,
        "ProductDescription": "postgresql",
        "OfferingType": "Partial Upfront",
        "MultiAZ": False,
        "State": state,
        "RecurringCharges": [{"RecurringChargeAmount": 0.05, "RecurringChargeFrequency": "Hourly"}],
    }


def savings_plan(pid: str, end_days: float) -> dict:
    # Savings Plans speak rest-json: any character survives the wire (RDS's XML would not).
    end = AT + timedelta(days=end_days)
    return {
        "savingsPlanId": pid,
        "start": (end - timedelta(seconds=YEAR)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "end": end.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "state": "active",
        "savingsPlanType": "Compute",
        "paymentOption": "No Upfront",
        "currency": "USD",
        "commitment": "1.000",
        "upfrontPaymentAmount": "0.00",
    }


@pytest.fixture
def hostile(isolated_fake: FakeAws, tmp_path) -> str:
    """Discovery on; two members with hostile names and hostile reservation ids."""
    fake = isolated_fake
    fake.add_org_account(OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT)
    fake.add_org_account(MEMBER, FORMULA_NAME)
    fake.add_org_account(EVIL, FORGING_NAME)
    for account in (MEMBER, EVIL):
        fake.add_role(ROLE.format(account), trusted_account_ids=[OWN_ACCOUNT])
    fake.seed(
        MEMBER,
        "us-east-1",
        "rds",
        [rds(FORMULA_ID, 3), rds(SPACED_ID, 20), rds("db-ended", -10, state="retired")],
    )
    fake.seed(EVIL, "us-east-1", "savingsplans", [savings_plan(FORGING_ID, 4)])
    config = {
        "regions": ["us-east-1"],
        "services": ["rds", "savingsplans"],
        "expired_lookback": "30d",
        "accounts": [{"name": "payer"}],
        "organizations": {"enabled": True, "exclude": [OWN_ACCOUNT]},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = report.main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_csv_neutralises_formulas_in_text_cells_and_keeps_numbers(hostile):
    code, out, err = run("--config.file", hostile, "--format", "csv", "--at", "2030-01-01")
    assert code == 0, err
    rows = {r["reservation_id"]: r for r in csv.DictReader(io.StringIO(out))}
    assert set(rows) == {"'" + FORMULA_ID, "'" + SPACED_ID, "db-ended", FORGING_ID}
    formula = rows["'" + FORMULA_ID]
    assert formula["account"] == "'" + FORMULA_NAME
    assert formula["account_id"] == MEMBER
    assert formula["days_left"] == "3.0"
    assert rows["'" + SPACED_ID]["days_left"] == "20.0"
    ended = rows["db-ended"]
    # A negative number is a number, not a formula: no quote.
    assert (ended["account"], ended["days_left"], ended["state"]) == (
        "'" + FORMULA_NAME,
        "-10.0",
        "retired",
    )
    # Seen by a spreadsheet: no cell starts with a formula character, after spaces either.
    for row in csv.reader(io.StringIO(out)):
        for cell in row:
            if cell.lstrip()[:1] in ("=", "+", "@") or cell[:1] in ("\t", "\r"):
                raise AssertionError(f"formula cell {cell!r}")
            if cell.startswith("-"):
                float(cell)  # only numbers may start with a minus


def test_json_keeps_the_values_as_aws_gave_them(hostile):
    code, out, _ = run("--config.file", hostile, "--format", "json", "--at", "2030-01-01")
    assert code == 0
    rows = json.loads(out)["reservations"]
    assert FORMULA_ID in {r["reservation_id"] for r in rows}
    assert FORGING_ID in {r["reservation_id"] for r in rows}
    assert FORMULA_NAME in {r["account"] for r in rows}
    assert not RAW.search(out) and "\n2026" not in out


def test_table_shows_control_characters_as_visible_escapes(hostile):
    code, out, err = run("--config.file", hostile, "--at", "2030-01-01")
    assert code == 0, err
    assert not RAW.search(out)
    lines = out.splitlines()
    assert len(lines) == 1 + 4  # the header and one line per reservation, none forged
    (row,) = [line for line in lines if line.startswith(FORGING_SHOWN)]
    assert f"  {EVIL}  global     savingsplans  {FORGING_ID_SHOWN}  Compute" in row
    assert not any(line.startswith("2026-01-01") for line in lines)


def test_stderr_lists_failed_targets_and_matches_escaped(hostile, isolated_fake):
    isolated_fake.deny(EVIL, "savingsplans:DescribeSavingsPlans")
    isolated_fake.seed(EVIL, "us-east-1", "rds", [rds("db-fine", 2)])
    for log_format in ("text", "json"):
        code, out, err = run(
            "--config.file",
            hostile,
            "--at",
            "2030-01-01",
            "--fail-within",
            "7d",
            "--log.format",
            log_format,
        )
        assert code == 1
        assert not RAW.search(out) and not RAW.search(err), err
        lines = err.splitlines()
        assert (
            f"  account={FORGING_SHOWN} account_id={EVIL} region=global "
            "service=savingsplans: denied"
        ) in lines
        assert (
            "2 reservation(s) not fully renewed end within the --fail-within window: "
            f"db-fine, {FORMULA_ID}"
        ) in lines
        assert not any(line.startswith("2026-01-01") for line in lines)
        # The refresher's own warning about that target is one line too.
        (warning,) = [line for line in lines if "refresh failed" in line]
        if log_format == "json":
            # Discovery may already have escaped the name; either way the line is JSON.
            assert json.loads(warning)["msg"].startswith(
                f"refresh failed: account={FORGING_NAME} account_id={EVIL}"
            ) or json.loads(warning)["msg"].startswith(
                f"refresh failed: account={FORGING_SHOWN} account_id={EVIL}"
            )
        else:
            assert f"refresh failed: account={FORGING_SHOWN} account_id={EVIL}" in warning


def test_a_forged_reservation_id_in_the_fail_within_list_is_escaped(hostile):
    code, _, err = run("--config.file", hostile, "--at", "2030-01-01", "--fail-within", "4d")
    assert code == 1
    assert not RAW.search(err)
    assert (
        "2 reservation(s) not fully renewed end within the --fail-within window: "
        f"{FORMULA_ID}, {FORGING_ID_SHOWN}"
    ) in err.splitlines()


def test_one_very_long_value_does_not_pad_every_row(isolated_fake, tmp_path):
    long_id = "sp-" + "x" * 5000
    exact = "sp-" + "y" * 57  # 60 characters: the cap, shown whole
    isolated_fake.seed(
        OWN_ACCOUNT,
        "us-east-1",
        "savingsplans",
        [savings_plan(long_id, 5), savings_plan(exact, 6), savings_plan("sp-short", 7)],
    )
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {"regions": ["us-east-1"], "services": ["savingsplans"], "accounts": [{"name": "p"}]}
        )
    )
    code, out, _ = run("--config.file", str(path), "--at", "2030-01-01")
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) < 200
    shown = [line.split()[4] for line in lines[1:]]
    assert shown == ["sp-" + "x" * 54 + "...", exact, "sp-short"]
    assert len(shown[0]) == 60
    # JSON and CSV keep the whole value.
    _, out, _ = run("--config.file", str(path), "--at", "2030-01-01", "--format", "json")
    assert long_id in {r["reservation_id"] for r in json.loads(out)["reservations"]}
    _, out, _ = run("--config.file", str(path), "--at", "2030-01-01", "--format", "csv")
    assert long_id in {r["reservation_id"] for r in csv.DictReader(io.StringIO(out))}


@pytest.mark.parametrize(
    ("reason", "hint", "not_said"),
    [
        ("denied", "run `aws-reservation-exporter doctor`", "run again later"),
        ("throttled", "run again later, or lower `concurrency`", "doctor"),
        ("malformed", "AWS, or a proxy in between, returned an answer that could not", "doctor"),
    ],
)
def test_failure_hints_match_the_reason(hostile, isolated_fake, reason, hint, not_said):
    if reason == "denied":
        isolated_fake.deny(EVIL, "savingsplans:DescribeSavingsPlans")
    elif reason == "throttled":  # more throttling than botocore's retries absorb
        isolated_fake.throttle("savingsplans", "DescribeSavingsPlans", 100, account_id=EVIL)
    else:
        isolated_fake.malform(EVIL, "us-east-1", "savingsplans", "bad_timestamp")
    code, _, err = run("--config.file", hostile, "--at", "2030-01-01")
    assert code == 3
    assert "1 of 6 targets could not be read; the report is incomplete:" in err
    assert f"service=savingsplans: {reason}" in err
    hints = [line for line in err.splitlines() if line.startswith(f"  {reason}: ")]
    assert hints == [f"  {report.FAILURE_HINTS[reason]}"]
    assert hint in hints[0]
    assert not_said not in err.split("the report is incomplete:")[1]


def config_warnings(path: str) -> list[str]:
    """What loading ``path`` as the daemon does warns on the exporter.config logger."""
    from exporter.config import load_config

    seen: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("exporter.config")
    logger.addHandler(handler)
    try:
        load_config(path)
    finally:
        logger.removeHandler(handler)
    return seen


def test_a_short_refresh_interval_is_not_warned_about_by_report(hostile):
    with open(hostile) as f:
        config = yaml.safe_load(f)
    config["refresh_interval"] = "1m"
    with open(hostile, "w") as f:
        yaml.safe_dump(config, f)
    # The daemon's loading warns (exporter/config.py) ...
    assert any("refresh_interval is 1m" in m for m in config_warnings(hostile))
    # ... the one-shot report, which runs one cycle, does not.
    code, _, err = run("--config.file", hostile, "--at", "2030-01-01", "--format", "json")
    assert code == 0
    assert "refresh_interval" not in err and "exporter.config" not in err
    # The filter is gone afterwards: a daemon loading in the same process still warns.
    assert any("refresh_interval is 1m" in m for m in config_warnings(hostile))
