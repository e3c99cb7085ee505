"""The benchmarks still run: each one end to end at toy size, exactly as
bench/README.md runs them (no timing is asserted: performance belongs to
bench/), plus the pure helpers their verdicts rest on."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

from bench import data
from bench.measure import percentile
from bench.refresh import (
    OWN_ACCOUNT,
    assume_role_calls,
    compare_calls,
    linearity,
    listing_calls,
)
from exporter.fake import Call
from tests.support import ROOT


def run_bench(*args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


# --- end to end at toy size ----------------------------------------------------------


def test_refresh_benchmark_counts_exactly_the_minimum_calls() -> None:
    out = run_bench(
        "bench.refresh",
        "--accounts",
        "1,2",
        "--latency",
        "0.005",
        "--per-target",
        "1",
        "--sequential-accounts",
        "1",
    )

    # Account 0 holds 150 RDS reservations in one region: one extra page.
    assert "| accounts | targets | calls c1/c2 |" in out
    assert re.search(r"\|\s+1 \|\s+13 \|\s+15/14 \|", out), out
    assert re.search(r"\|\s+2 \|\s+26 \|\s+29/27 \|", out), out
    exact = re.findall(r"cycle (\d): (\d+) calls, minimum (\d+).*STS (\d+) -> exact", out)
    assert len(exact) == 8  # 2 sizes x (exporter, calibration) x 2 cycles
    assert {(cycle, sts) for cycle, _, _, sts in exact} == {("1", "1"), ("1", "2"), ("2", "0")}
    assert "sequential (1 accounts): 15 calls, minimum 15 -> exact" in out
    assert "0 correctness problem(s)" in out


def test_scrape_benchmark_serves_every_series() -> None:
    out = run_bench("bench.scrape", "--sizes", "200,450", "--scrapes", "3")

    assert re.search(r"\|\s+200 \|\s+20 \|", out), out
    assert re.search(r"\|\s+450 \|\s+45 \|", out), out
    assert "0 correctness problem(s)" in out


def test_coverage_benchmark_answers_every_reservation_in_demand() -> None:
    out = run_bench("bench.coverage", "--sizes", "300,900", "--repeat", "1")
    rows = [line for line in out.splitlines() if line.startswith("|") and "ms" not in line]
    shapes = {tuple(cell.strip() for cell in row.strip("|").split("|")[:3]) for row in rows[1:]}
    assert shapes == {
        (shape, scope, size)
        for shape in ("spread", "one pool")
        for scope in ("account", "organization")
        for size in ("300", "900")
    }


def test_coverage_benchmark_data_is_what_it_says() -> None:
    from bench.coverage import holdings

    one_pool = holdings(500, "one pool")
    assert len(one_pool) == 500
    assert {h.reservation.instance_type.split(".")[0] for h in one_pool} == {"m5"}
    states = {h.reservation.state for h in one_pool}
    assert states == {"active", "queued", "retired"}
    spread = holdings(500, "spread")
    assert {h.target.service for h in spread} == {"ec2", "rds", "savingsplans"}


def test_landing_benchmark_measures_page_and_calendar_at_each_size() -> None:
    out = run_bench("bench.landing", "--sizes", "200,600", "--repeat", "1")
    rows = [line for line in out.splitlines() if line.startswith("|")][2:]
    assert [row.strip("|").split("|")[0].strip() for row in rows] == ["200", "600"]
    assert all(row.rstrip().endswith("PASS |") for row in rows)


def test_landing_benchmark_data_is_what_it_says() -> None:
    from bench.landing import snapshot

    results = snapshot(400).results()
    reservations = [r for result in results for r in result.reservations]
    assert len(reservations) == 400
    assert {r.state for r in reservations} == {"active", "queued", "retired"}
    assert sum(1 for r in reservations if r.tags) == 200
    assert {result.target.service for result in results} == {
        "ec2",
        "rds",
        "elasticache",
        "savingsplans",
    }


def test_load_benchmark_scrapes_during_refresh_without_errors() -> None:
    out = run_bench(
        "bench.load",
        "--accounts",
        "2",
        "--per-target",
        "2",
        "--scrapers",
        "2",
        "--duration",
        "4",
        "--refresh-interval",
        "1s",
        "--latency",
        "0.005",
    )

    assert "exporter ready after" in out
    row = re.search(r"\|\s+(\d+) \|[^|]+\|[^|]+\|[^|]+\|[^|]+\|\s+(\d+) \|\s+(\d+) \|", out)
    assert row, out
    requests, errors, cycles = (int(g) for g in row.groups())
    assert requests > 0 and errors == 0 and cycles >= 1
    assert "0 problem(s)." in out


def test_slowclients_benchmark_counts_no_answer_to_abandoned_requests() -> None:
    out = run_bench("bench.slowclients", "--clients", "50", "--hold", "0.5", "--scrapes", "2")

    counted = {
        phase: (int(answers), int(renders))
        for phase, answers, renders in re.findall(
            r"^\|\s+(1 s after they closed|50 silent for \d+ s) \|(?:[^|]+\|){5}"
            r"\s+(\d+) \|\s+(\d+) \|",
            out,
            re.M,
        )
    }
    assert counted == {"1 s after they closed": (0, 0), "50 silent for 13 s": (0, 0)}, out
    assert re.search(r"\|\s+/healthz \|\s+2 \|\s+0 \|", out), out
    assert re.search(r"\|\s+/metrics \|\s+2 \|\s+0 \|", out), out
    assert "SIGTERM exit status 0" in out
    assert "0 problem(s)" in out


def test_costexplorer_benchmark_reads_the_organization_both_ways_exactly() -> None:
    out = run_bench(
        "bench.costexplorer", "--accounts", "25", "--sweep-accounts", "2", "--latency", "0.005"
    )

    # 25 accounts: 25 EC2, RDS, ElastiCache RIs and plans (2 pages of 20 each),
    # 3 Redshift, OpenSearch, MemoryDB RIs (1 page each): 11 Cost Explorer
    # requests, beside the management account's 102 listings and its identity.
    assert "cost explorer: 114 calls, minimum 114, not ok 0 -> exact" in out
    assert "GetReservationUtilization 9, GetSavingsPlansUtilizationDetails 2" in out
    assert "sweep (2 accounts): 206 calls, minimum 206, not ok 0 -> exact" in out
    assert "cost explorer: 109 of 109 reservations with their account and end date" in out
    assert "sweep: 11 of 11 reservations" in out
    assert re.search(r"\|\s+sweep \(x 12.5\) \|\s+25 \|\s+2575 \|", out), out
    assert "0 correctness problem(s)" in out


# --- the helpers behind the verdicts --------------------------------------------------


def test_minimum_calls_follow_pages_and_list_savings_plans_once() -> None:
    expected = listing_calls(10, per_target=2)

    # 10 accounts x (6 regional services x 2 regions + 1 Savings Plans listing),
    # plus one RDS page for account 0 (150 reservations).
    assert sum(expected.values()) == 10 * 13 + 1
    rds = (data.account_id(0), "us-east-1", "rds", "DescribeReservedDBInstances")
    assert expected[rds] == 2
    plans = [k for k in expected if k[3] == "DescribeSavingsPlans"]
    assert len(plans) == 10 and {k[1] for k in plans} == {"us-east-1"}
    opensearch = [k for k in expected if k[3] == "DescribeReservedInstances" and k[2] == "es"]
    assert len(opensearch) == 20  # OpenSearch is signed as "es", as the fake records it


def test_compare_calls_reports_extra_missing_and_failed_calls() -> None:
    expected = listing_calls(1, per_target=2) + assume_role_calls(1)
    calls = [Call(*key, "ok") for key, n in expected.items() for _ in range(n)]
    assert compare_calls(calls, expected)["exact"]

    retried = [*calls, Call(OWN_ACCOUNT, "us-east-1", "sts", "AssumeRole", "ok")]
    check = compare_calls(retried, expected)
    assert (check["exact"], check["extra"], check["missing"], check["sts"]) == (False, 1, 0, 2)

    check = compare_calls(calls[1:], expected)
    assert (check["exact"], check["extra"], check["missing"]) == (False, 0, 1)

    throttled = [calls[0]._replace(outcome="throttled"), *calls[1:]]
    check = compare_calls(throttled, expected)
    assert (check["exact"], check["not_ok"]) == (False, 1)


def test_percentile_is_nearest_rank_and_always_an_observed_value() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values[:10], 99) == 10.0
    assert percentile([3.0], 50) == 3.0


def test_pages_and_record_counts_match_the_fakes_page_size() -> None:
    assert data.pages("ec2", 1000) == 1  # EC2 is one unpaginated call
    assert [data.pages("rds", n) for n in (0, 1, 100, 101, 250)] == [1, 1, 1, 2, 3]
    assert data.record_count(0, "us-east-1", "rds", 2) == 150
    assert data.record_count(0, "eu-west-1", "rds", 2) == 2
    assert data.record_count(3, "us-east-1", "rds", 2) == 2
    assert Counter(s for _, s in data.targets(0))["savingsplans"] == 1


def _rows(points: list[tuple[int, float, float]]) -> list[dict]:
    """(accounts, cycle-2 seconds, peak RSS MB) -> rows as bench.refresh builds them."""
    return [
        {"accounts": n, "exporter": [{}, {"seconds": seconds, "peak_rss_mb": rss}]}
        for n, seconds, rss in points
    ]


def test_linearity_accepts_a_start_up_floor_and_rejects_growth_that_speeds_up(capsys) -> None:
    # Flat at the floor, then linear: the 2026-11-29 measurement.
    floor = _rows([(50, 7.0, 111.9), (100, 13.2, 110.7), (200, 25.7, 136.1), (500, 64.4, 183.0)])
    assert linearity(floor, regions=2) == 0
    assert "0.079 MB over 50-500 accounts; steps -0.012, 0.127, 0.078 (last / previous 0.62" in (
        capsys.readouterr().out
    )
    # Memory per account doubling at the last step is not linear.
    rising = _rows([(50, 7.0, 100.0), (100, 13.0, 110.0), (200, 26.0, 130.0), (500, 65.0, 250.0)])
    assert linearity(rising, regions=2) == 1
    # Nor is time per account growing by half.
    slower = _rows([(50, 7.0, 100.0), (500, 105.0, 190.0)])
    assert linearity(slower, regions=2) == 1


def test_costexplorer_benchmark_call_check_names_what_differs() -> None:
    from bench.costexplorer import compare, cost_explorer_calls

    expected = cost_explorer_calls(45)  # 45 EC2 RIs: 3 pages of 20
    assert expected["GetReservationUtilization"] == 3 + 3 + 3 + 1 + 1 + 1
    assert expected["GetSavingsPlansUtilizationDetails"] == 3
    calls = [
        Call(OWN_ACCOUNT, "us-east-1", "ce", operation, "ok")
        for operation, n in expected.items()
        for _ in range(n)
    ]
    assert compare(calls, expected)["exact"]
    check = compare(calls[:-1], expected)
    assert (check["exact"], check["calls"], check["minimum"]) == (False, 117, 118)
    assert sum(check["diff"].values()) == -1
