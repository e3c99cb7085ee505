"""The report's pure parts: rows, ordering, windows, renderers, --at parsing."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest

from exporter.model import Reservation, Target, TargetResult
from exporter.renewal import RenewalPolicy, renewed_text
from exporter.report import (
    CSV_COLUMNS,
    expiring_within,
    failed_targets,
    parse_at,
    render_csv,
    render_json,
    render_table,
    report_rows,
)
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
