"""The report's pure parts: rows, ordering, windows, renderers, --at parsing."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone

import pytest

from exporter.commands import report
from exporter.commands.exits import EXIT_INCOMPLETE
from exporter.commands.report import FAILURE_HINTS, failure_hints, parse_at
from exporter.commands.report_rows import (
    CSV_COLUMNS,
    FailedTarget,
    advise,
    csv_text_cell,
    expiring_within,
    failed_targets,
    iso,
    render_csv,
    render_json,
    render_table,
    report_rows,
)
from exporter.model import Reservation, Target, TargetResult
from exporter.renewal import RenewalPolicy, renewed_text
from exporter.store import SnapshotStore

DAY = 86400
AT = datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp()


def result(account, account_id, region, service, *reservations, success=True, reason=None):
    return TargetResult(
        target=Target(account, account_id, region, service),
        reservations=tuple(reservations),
        success=success,
        last_attempt=AT,
        duration=0.1,
        error_reason=reason,
    )


def rds(rid, end_days, **kw):
    return Reservation(
        reservation_id=rid,
        state=kw.pop("state", "active"),
        start=AT - 300 * DAY,
        end=AT + end_days * DAY,
        instance_count=kw.pop("count", 1),
        instance_type=kw.pop("instance_type", "db.r6g.large"),
        hourly_cost=kw.pop("hourly_cost", 0.25),
        **kw,
    )


def plan(pid, end_days, **kw):
    return Reservation(
        reservation_id=pid,
        state="active",
        start=AT - 100 * DAY,
        end=AT + end_days * DAY,
        instance_count=None,
        plan_type=kw.pop("plan_type", "Compute"),
        hourly_cost=2.5,
        region=kw.pop("region", "global"),
        **kw,
    )


RESULTS = [
    result("staging", "333333333333", "us-east-1", "rds", rds("db-b", 5), rds("db-late", 90)),
    result("payer", "111111111111", "us-east-1", "rds", rds("db-a", 5, count=2, hourly_cost=0.5)),
    result("payer", "111111111111", "eu-west-1", "rds", rds("db-gone", -10, state="retired")),
    result("payer", "111111111111", "global", "savingsplans", plan("sp-1", 30)),
    result(
        "payer",
        "111111111111",
        "global",
        "savingsplans",
        plan("sp-ec2", 31, plan_type="EC2Instance", instance_type="m5", region="eu-west-1"),
    ),
    result("prod", "222222222222", "us-east-1", "ec2", success=False, reason="denied"),
]


def test_rows_are_sorted_by_days_left_then_account():
    rows = report_rows(RESULTS, AT)
    assert [r.reservation_id for r in rows] == [
        "db-gone",
        "db-a",
        "db-b",
        "sp-1",
        "sp-ec2",
        "db-late",
    ]
    assert [r.days_left for r in rows] == [-10.0, 5.0, 5.0, 30.0, 31.0, 90.0]


def test_savings_plan_rows_use_the_plan_region_and_type():
    rows = {r.reservation_id: r for r in report_rows(RESULTS, AT)}
    assert (rows["sp-1"].region, rows["sp-1"].type, rows["sp-1"].count) == (
        "global",
        "Compute",
        None,
    )
    assert (rows["sp-ec2"].region, rows["sp-ec2"].type) == ("eu-west-1", "EC2Instance m5")


def test_within_keeps_ended_and_soon_ending_reservations_only():
    rows = report_rows(RESULTS, AT, within=30 * DAY)
    assert [r.reservation_id for r in rows] == ["db-gone", "db-a", "db-b", "sp-1"]


def test_days_left_move_with_the_evaluation_time():
    rows = report_rows(RESULTS, AT + 2 * DAY)
    assert {r.reservation_id: r.days_left for r in rows}["db-a"] == 3.0


def test_fail_within_ignores_reservations_that_already_ended():
    rows = report_rows(RESULTS, AT)
    assert [r.reservation_id for r in expiring_within(rows, 5 * DAY)] == ["db-a", "db-b"]
    assert expiring_within(rows, 4 * DAY) == []


def test_failed_targets_are_listed_with_their_reason():
    failed = failed_targets(RESULTS)
    assert [(f.account, f.region, f.service, f.reason) for f in failed] == [
        ("prod", "us-east-1", "ec2", "denied")
    ]


def test_json_has_exact_values():
    rows = report_rows(RESULTS, AT, within=30 * DAY)
    document = json.loads(render_json(rows, failed_targets(RESULTS), AT, 30 * DAY))
    assert document["as_of"] == "2030-01-01T00:00:00Z"
    assert document["within_days"] == 30
    first = document["reservations"][1]
    assert first == {
        "account": "payer",
        "account_id": "111111111111",
        "region": "us-east-1",
        "service": "rds",
        "reservation_id": "db-a",
        "type": "db.r6g.large",
        "count": 2,
        "state": "active",
        "start": "2029-03-07T00:00:00Z",
        "end": "2030-01-06T00:00:00Z",
        "days_left": 5.0,
        "hourly_cost": 0.5,
        "currency": "USD",
        "renewal_covered_ratio": 0.0,
        "renewed_by": [],
        "utilization": None,
        "advice": "unknown",
        "owners": {},
    }
    assert document["failed_targets"] == [
        {
            "account": "prod",
            "account_id": "222222222222",
            "region": "us-east-1",
            "service": "ec2",
            "reason": "denied",
        }
    ]


def test_csv_has_a_header_and_empty_cells_for_missing_values():
    text = render_csv(report_rows(RESULTS, AT))
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert tuple(parsed[0]) == CSV_COLUMNS
    sp = next(r for r in parsed if r["reservation_id"] == "sp-1")
    assert sp["count"] == ""
    assert sp["days_left"] == "30.0"
    assert sp["end"] == "2030-01-31T00:00:00Z"
    assert sp["hourly_cost"] == "2.5"


def test_table_aligns_columns_and_marks_missing_values():
    lines = render_table(report_rows(RESULTS, AT, within=5 * DAY)).splitlines()
    assert lines[0].split()[:4] == ["ACCOUNT", "ACCOUNT", "ID", "REGION"]
    assert len(lines) == 4
    assert lines[1].split() == [
        "payer",
        "111111111111",
        "eu-west-1",
        "rds",
        "db-gone",
        "db.r6g.large",
        "1",
        "retired",
        "2029-12-22",
        "00:00",
        "-10.0",
        "0%",
        "0.2500",
        "USD",
    ]
    # Right-aligned numbers end in the same column.
    ends = {line.index("USD") for line in lines[1:]}
    assert len(ends) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-01", AT),
        ("2030-01-01T00:00:00Z", AT),
        ("2030-01-01T02:00:00+02:00", AT),
        ("2030-01-01T12:00:00", AT + DAY / 2),
    ],
)
def test_at_accepts_dates_and_times_in_utc(text, expected):
    assert parse_at(text) == expected


def test_at_rejects_garbage_with_an_example():
    with pytest.raises(ValueError, match="use 2025-06-01"):
        parse_at("next tuesday")


YEAR_1 = datetime(1, 1, 1, tzinfo=timezone.utc).timestamp()


def test_years_before_1000_have_four_digits_in_json_csv_and_table():
    assert iso(YEAR_1) == "0001-01-01T00:00:00Z"
    assert iso(datetime(999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp()) == (
        "0999-12-31T23:59:59Z"
    )
    assert iso(AT + 0.9) == "2030-01-01T00:00:00Z"  # to the second, never rounded up
    rows = report_rows(RESULTS, YEAR_1)
    document = json.loads(render_json(rows, [], YEAR_1, None))
    assert document["as_of"] == "0001-01-01T00:00:00Z"
    ancient = [
        Reservation(
            reservation_id="r-old",
            state="retired",
            start=YEAR_1,
            end=YEAR_1 + DAY + 90,
            instance_count=1,
            instance_type="t3.micro",
        )
    ]
    rows = report_rows([result("a", "1", "us-east-1", "ec2", *ancient)], YEAR_1)
    assert render_table(rows).splitlines()[1].split()[8:10] == ["0001-01-02", "00:01"]
    assert next(csv.DictReader(io.StringIO(render_csv(rows))))["end"] == "0001-01-02T00:01:30Z"


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("0001-01-01", "0001-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59", "9999-12-31T23:59:59Z"),
        ("9999-12-31T23:59:59-00:00", "9999-12-31T23:59:59Z"),
    ],
)
def test_at_accepts_the_first_and_last_representable_times(text, at):
    assert iso(parse_at(text)) == at


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:59:59+01:00"]
)
def test_at_outside_the_utc_calendar_is_a_usage_error(text, capsys):
    with pytest.raises(ValueError, match="out of range: in UTC it must fall between 0001-01-01"):
        parse_at(text)
    with pytest.raises(SystemExit) as exited:
        report.main(["--at", text], stdout=io.StringIO(), stderr=io.StringIO())
    assert exited.value.code == 2
    assert "--at: " in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["--within", "-3d"],
        ["--within=-3d"],
        ["--within", " -3d"],
        ["--format", "json", "--within", "-3d", "--at", "2030-01-01"],
    ],
)
def test_a_negative_window_says_so_with_an_example(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        report.main(argv, stdout=io.StringIO(), stderr=io.StringIO())
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert (
        "error: --within: the window must not be negative (got -3d); it is how far ahead to "
        "look from now (or --at), e.g. --within 60d, or --within 0d for only what has "
        "already ended"
    ) in err
    assert "expected one argument" not in err


def test_a_negative_fail_within_says_so_too(capsys):
    with pytest.raises(SystemExit) as exited:
        report.main(["--fail-within", "-1d"], stdout=io.StringIO(), stderr=io.StringIO())
    assert exited.value.code == 2
    assert "--fail-within: the window must not be negative (got -1d)" in capsys.readouterr().err


def test_a_window_too_large_for_a_number_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        report.main(["--within", "9" * 400 + "d"], stdout=io.StringIO(), stderr=io.StringIO())
    assert exited.value.code == 2
    assert "--within: too large" in capsys.readouterr().err


def test_a_missing_window_value_is_still_argparses_error(capsys):
    with pytest.raises(SystemExit):
        report.main(["--within", "--format", "json"], stdout=io.StringIO(), stderr=io.StringIO())
    assert "argument --within: expected one argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("  =1+2", "'  =1+2"),
        ("\n@x", "'\n@x"),
        ("db-a", "db-a"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_csv_text_cells_never_start_a_formula(value, cell):
    assert csv_text_cell(value) == cell


def test_csv_quotes_hostile_text_but_not_negative_numbers():
    rows = report_rows(
        [
            result(
                '=HYPERLINK("http://x")',
                "111111111111",
                "us-east-1",
                "rds",
                rds("+evil", -10, state="retired", instance_type="@t"),
                rds("-dash", 3),
            )
        ],
        AT,
    )
    got = [
        (r["account"], r["reservation_id"], r["type"], r["days_left"])
        for r in csv.DictReader(io.StringIO(render_csv(rows)))
    ]
    assert got == [
        ('\'=HYPERLINK("http://x")', "'+evil", "'@t", "-10.0"),
        ('\'=HYPERLINK("http://x")', "'-dash", "db.r6g.large", "3.0"),
    ]


def test_the_table_escapes_control_characters_and_caps_long_cells():
    rows = report_rows(
        [
            result(
                "evil\n2026-01-01 ERROR forged\x1b[2J",
                "111111111111",
                "us-east-1",
                "rds",
                rds("db-\u202e\x9b31m", 3),
                rds("r" * 5000, 4),
                rds("i" * 60, 5),
            )
        ],
        AT,
    )
    lines = render_table(rows).splitlines()
    assert len(lines) == 4
    name = "evil\\n2026-01-01 ERROR forged\\x1b[2J"
    assert [re.split(r"\s{2,}", line)[:5:4] for line in lines[1:]] == [
        [name, "db-\\u202e\\x9b31m"],
        [name, "r" * 57 + "..."],
        [name, "i" * 60],  # at the cap: whole
    ]
    assert lines[1].startswith("evil\\n2026-01-01 ERROR forged\\x1b[2J  111111111111")
    assert max(map(len, lines)) < 250


@pytest.mark.parametrize(
    ("reasons", "expected"),
    [
        (["denied", "denied"], ["denied"]),
        (["error", "timeout", "throttled"], ["throttled", "timeout", "error"]),
        (["malformed"], ["malformed"]),
    ],
)
def test_failure_hints_are_one_per_reason(reasons, expected):
    assert failure_hints(reasons) == [f"  {FAILURE_HINTS[r]}" for r in expected]


def test_only_denied_suggests_the_doctor():
    assert [r for r, hint in FAILURE_HINTS.items() if "doctor" in hint] == ["denied"]
    assert "network" in FAILURE_HINTS["timeout"]
    assert "proxy" in FAILURE_HINTS["malformed"]
    assert "concurrency" in FAILURE_HINTS["throttled"]
    assert failure_hints(["new\x1b[2J"]) == ["  new\\x1b[2J: see the warnings above"]


# Two RDS reservations of 2 ending in 5 days; a new purchase of 3 covers one fully
# and the other by half (earliest end first, then id).
RENEWING = [
    result(
        "payer",
        "111111111111",
        "us-east-1",
        "rds",
        rds("db-a", 5, count=2, product="postgresql", multi_az="false"),
        rds("db-b", 5, count=2, product="postgresql", multi_az="false"),
        Reservation(
            reservation_id="db-new",
            state="active",
            start=AT - 2 * DAY,
            end=AT + 363 * DAY,
            instance_count=3,
            instance_type="db.r6g.large",
            product="postgresql",
            multi_az="false",
            hourly_cost=0.75,
        ),
    )
]


def renewing_rows():
    store = SnapshotStore(RenewalPolicy())
    for res in RENEWING:
        store.record_success(res.target, res.reservations, attempted_at=AT, duration=0.1)
    return report_rows(store.results(), AT, renewals=store.renewals())


def test_rows_carry_the_covered_share_and_the_renewing_ids():
    rows = {r.reservation_id: r for r in renewing_rows()}
    assert (rows["db-a"].renewal_covered_ratio, rows["db-a"].renewed_by) == (1.0, ("db-new",))
    assert (rows["db-b"].renewal_covered_ratio, rows["db-b"].renewed_by) == (0.5, ("db-new",))
    assert rows["db-new"].renewal_covered_ratio == 0.0


def test_fail_within_counts_only_what_renewals_do_not_fully_cover():
    assert [r.reservation_id for r in expiring_within(renewing_rows(), 5 * DAY)] == ["db-b"]


def test_renewal_columns_in_json_csv_and_table():
    rows = renewing_rows()
    document = json.loads(render_json(rows, [], AT, None))
    by_id = {r["reservation_id"]: r for r in document["reservations"]}
    assert by_id["db-b"]["renewal_covered_ratio"] == 0.5
    assert by_id["db-b"]["renewed_by"] == ["db-new"]
    parsed = {r["reservation_id"]: r for r in csv.DictReader(io.StringIO(render_csv(rows)))}
    assert (parsed["db-a"]["renewal_covered_ratio"], parsed["db-a"]["renewed_by"]) == (
        "1.0",
        "db-new",
    )
    table = render_table(rows).splitlines()
    assert "RENEWED" in table[0].split()
    # Columns: account, account id, region, service, id (4), ... renewed (11).
    assert {line.split()[4]: line.split()[11] for line in table[1:]} == {
        "db-a": "100%",
        "db-b": "50%",
        "db-new": "0%",
    }


def test_queued_rows_need_no_renewal_and_never_fail_the_window():
    q = rds("db-q", 3, state="queued")
    rows = report_rows([result("payer", "111111111111", "us-east-1", "rds", q)], AT)
    assert rows[0].renewal_covered_ratio is None
    assert expiring_within(rows, 5 * DAY) == []


@pytest.mark.parametrize(
    ("ratio", "text"), [(None, "-"), (0.0, "0%"), (0.75, "75%"), (0.9999, "99%"), (1.0, "100%")]
)
def test_renewed_text_never_rounds_a_gap_up_to_full(ratio, text):
    assert renewed_text(ratio) == text


def test_the_stderr_list_of_failed_targets_escapes_every_value():
    # Discovery may escape account names itself; the list must not rely on it.
    failed = [
        FailedTarget("evil\n2026-01-01 ERROR forged\x1b[2J", "1\r2", "us\x85", "rds", "denied"),
    ]
    err = io.StringIO()
    assert report._exit_status([], failed, None, err, 4) == EXIT_INCOMPLETE
    assert err.getvalue().splitlines() == [
        "1 of 4 targets could not be read; the report is incomplete:",
        "  account=evil\\n2026-01-01 ERROR forged\\x1b[2J account_id=1\\r2 region=us\\x85 "
        "service=rds: denied",
        f"  {FAILURE_HINTS['denied']}",
    ]


@pytest.mark.parametrize(
    ("utilization", "advice"),
    [
        (None, "unknown"),
        (0.95, "renew"),
        (0.8, "renew"),
        (0.79, "resize"),
        (0.3, "resize"),
        (0.29, "let-lapse"),
        (0.0, "let-lapse"),
    ],
)
def test_advice_follows_the_utilization_thresholds(utilization, advice):
    assert advise(utilization, renew_above=0.8, let_lapse_below=0.3) == advice
