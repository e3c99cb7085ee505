"""Refresh benchmark (issue 9): the exporter's refresh cycle against a fake AWS
with injected per-request latency, next to what the machine allows.

    python -m bench.refresh [--accounts 50,100,200,500] [--latency 0.1] [--concurrency 16]

For each account count (× 2 regions × 7 services) it measures, in separate
processes against one out-of-process fake AWS:

(a) exporter     Refresher.run_cycle, twice: cycle 1 assumes every role, cycle 2
                 runs on fresh credentials (and must make no STS call);
(b) ideal        calls × latency ÷ concurrency;
(c) calibration  the simplest concurrent botocore loop making exactly the
                 minimum calls (same threads, same AssumeRole flow);
(d) sequential   the seed's Lambda style, one target after another, run on a
                 subset of accounts and extrapolated linearly.

API calls are counted at the fake and compared with the minimum: one listing
per target plus its extra pages, Savings Plans once per account, one
AssumeRole per account in cycle 1 and none in cycle 2.

Exit status: 1 if a correctness check fails (wrong call count, failed
targets); performance targets are reported, and only fail the run with --strict.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import data
from bench.measure import (
    cpu_seconds,
    peak_rss_mb,
    print_machine,
    profile_summary,
    rss_mb,
    table,
    verdict,
)

CallKey = tuple[str, str, str, str]  # account_id, region, signing name, operation
OWN_ACCOUNT = "123456789012"  # the fake's default account: the exporter's own identity
STS_REGION = "us-east-1"

# Targets (issue 9).
MAX_VS_CALIBRATION = 1.2
MIN_VS_SEQUENTIAL = 10.0
MAX_MB_PER_ACCOUNT_REGION = 0.5
MAX_LINEARITY_DRIFT = 1.25  # per-account cost at the largest size vs the smallest
MAX_RSS_SLOPE_RISE = 1.5  # RSS slope of the last step vs the one before


# --- what the fake should see ----------------------------------------------------


def listing_calls(accounts: int, per_target: int) -> Counter[CallKey]:
    """The minimum listing calls of one cycle over ``accounts`` accounts."""
    from exporter.fake.catalog import SPECS

    expected: Counter[CallKey] = Counter()
    for index in range(accounts):
        account = data.account_id(index)
        for region, service in data.targets(index):
            spec = SPECS[service]
            count = data.record_count(index, region, service, per_target)
            key = (account, region, spec.signing_name, spec.operation)
            expected[key] += data.pages(service, count)
    return expected


def assume_role_calls(accounts: int) -> Counter[CallKey]:
    return Counter({(OWN_ACCOUNT, STS_REGION, "sts", "AssumeRole"): accounts})


def compare_calls(seen: Iterable[Any], expected: Counter[CallKey]) -> dict[str, Any]:
    """How the calls the fake answered differ from ``expected`` (all must be ok)."""
    actual: Counter[CallKey] = Counter()
    not_ok = 0
    for call in seen:
        actual[(call.account_id, call.region, call.service, call.operation)] += 1
        not_ok += call.outcome != "ok"
    extra = actual - expected
    missing = expected - actual
    sts = sum(n for key, n in actual.items() if key[2] == "sts")
    return {
        "calls": sum(actual.values()),
        "minimum": sum(expected.values()),
        "extra": sum(extra.values()),
        "missing": sum(missing.values()),
        "not_ok": not_ok,
        "sts": sts,
        "exact": not extra and not missing and not not_ok,
        "examples": [list(k) for k in list(extra)[:3] + list(missing)[:3]],
    }


# --- seeding ------------------------------------------------------------------------


def seed(fake: Any, accounts: int, per_target: int) -> None:
    """Roles and reservations of accounts 0..accounts-1 (8 control calls at a time)."""

    def one(index: int) -> None:
        account = data.account_id(index)
        fake.add_role(data.role_arn(index))
        for region, service in data.targets(index):
            count = data.record_count(index, region, service, per_target)
            fake.seed(account, region, service, data.records_for(service, account, region, count))

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(one, i) for i in range(accounts)]:
            future.result()


# --- children: each measured in a process of its own ------------------------------------


def exporter_config(accounts: int, concurrency: int) -> Any:
    from exporter.config import parse_config

    return parse_config(
        {
            "refresh_interval": "1h",
            "regions": list(data.REGIONS),
            "services": list(data.SERVICES),
            "concurrency": concurrency,
            "accounts": [
                {"name": f"bench-{i:04d}", "role_arn": data.role_arn(i)} for i in range(accounts)
            ],
        },
        source="bench",
    )


def built_refresher(config: Any) -> tuple[Any, Any]:
    """(Refresher, its SnapshotStore), built the way exporter.app builds them."""
    from exporter.aws import ClientFactory
    from exporter.refresher import Refresher
    from exporter.store import SnapshotStore
    from exporter.telemetry import Telemetry

    telemetry = Telemetry()
    store = SnapshotStore()
    factory = ClientFactory(concurrency=config.concurrency, on_session=telemetry.hook_session)
    return Refresher(config, factory=factory, store=store, telemetry=telemetry), store


def child_exporter(args: argparse.Namespace) -> None:
    """(a) Two Refresher.run_cycle calls."""
    refresher, store = built_refresher(exporter_config(args.accounts, args.concurrency))
    idle = rss_mb()
    for cycle in (1, 2):
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        refresher.run_cycle()
        seconds = time.perf_counter() - t0
        results = store.results()
        _phase(
            phase=f"cycle{cycle}",
            seconds=seconds,
            cpu=cpu_seconds() - cpu0,
            targets=len(results),
            failed=sum(not r.success for r in results),
            reservations=sum(len(r.reservations) for r in results),
            idle_rss_mb=idle,
            peak_rss_mb=peak_rss_mb(),
        )


def _signed_as(make: Callable[..., Any], name: str, region: str, creds: dict[str, Any]) -> Any:
    """A client from ``make`` (boto3.client or Session.create_client) that signs
    with an AssumeRole response's temporary credentials."""
    return make(
        name,
        region_name=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def child_calibration(args: argparse.Namespace) -> None:
    """(c) The simplest concurrent loop making the minimum calls: one botocore
    session, a thread pool of the same size, AssumeRole per account, then one
    client and one listing (plus pages) per target."""
    import botocore.session

    from exporter.fake.catalog import SPECS

    session = botocore.session.get_session()
    credentials: dict[int, dict[str, str]] = {}
    pool = ThreadPoolExecutor(args.concurrency)

    def assume(index: int) -> list[Future[int]]:
        sts = session.create_client("sts", region_name=STS_REGION)
        creds = sts.assume_role(RoleArn=data.role_arn(index), RoleSessionName="calibration")
        credentials[index] = creds["Credentials"]
        return [pool.submit(listing, index, r, s) for r, s in data.targets(index)]

    def listing(index: int, region: str, service: str) -> int:
        spec = SPECS[service]
        client = _signed_as(session.create_client, spec.client_name, region, credentials[index])
        return sum(len(page) for page in _pages(client, spec))

    idle = rss_mb()
    for phase in (1, 2):
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        if phase == 1:
            nested = [f.result() for f in [pool.submit(assume, i) for i in range(args.accounts)]]
            records = sum(f.result() for futures in nested for f in futures)
        else:  # fresh credentials: listings only
            futures = [
                pool.submit(listing, i, r, s)
                for i in range(args.accounts)
                for r, s in data.targets(i)
            ]
            records = sum(f.result() for f in futures)
        _phase(
            phase=f"cycle{phase}",
            seconds=time.perf_counter() - t0,
            cpu=cpu_seconds() - cpu0,
            reservations=records,
            idle_rss_mb=idle,
            peak_rss_mb=peak_rss_mb(),
        )
    pool.shutdown()


def _pages(client: Any, spec: Any) -> Iterable[list[Any]]:
    """Every page's records: the botocore paginator where there is one, else the token."""
    from botocore import xform_name

    method = xform_name(spec.operation)
    if client.can_paginate(method):
        for page in client.get_paginator(method).paginate():
            yield page.get(spec.result_key, [])
        return
    kwargs: dict[str, str] = {}
    while True:
        page = getattr(client, method)(**kwargs)
        yield page.get(spec.result_key, [])
        token = page.get(spec.token_key) if spec.token_key else None
        if not token:
            return
        kwargs[spec.token_key] = token


def child_sequential(args: argparse.Namespace) -> None:
    """(d) The seed's style: boto3's default session, one target after another."""
    import boto3

    from exporter.fake.catalog import SPECS

    cpu0, t0 = cpu_seconds(), time.perf_counter()
    records = 0
    for index in range(args.accounts):
        creds = boto3.client("sts").assume_role(
            RoleArn=data.role_arn(index), RoleSessionName="sequential"
        )["Credentials"]
        for region, service in data.targets(index):
            spec = SPECS[service]
            client = _signed_as(boto3.client, spec.client_name, region, creds)
            records += sum(len(page) for page in _pages(client, spec))
    _phase(
        phase="cycle1",
        seconds=time.perf_counter() - t0,
        cpu=cpu_seconds() - cpu0,
        reservations=records,
        peak_rss_mb=peak_rss_mb(),
    )


def _phase(**fields: Any) -> None:
    """Report a finished phase to the parent and wait for its go-ahead."""
    print(json.dumps(fields), flush=True)
    sys.stdin.readline()


def _py_spy() -> str:
    found = shutil.which(
        "py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if not found:
        raise SystemExit("--profile needs py-spy (pip install py-spy; it is in the dev extra)")
    return found


CHILDREN = {
    "exporter": child_exporter,
    "calibration": child_calibration,
    "sequential": child_sequential,
}


# --- the parent -------------------------------------------------------------------------


def run_phases(
    kind: str, accounts: int, fake: Any, env: dict[str, str], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Run one child; after each of its phases, collect and reset the fake's calls."""
    command_args = [
        "--child",
        kind,
        "--accounts",
        str(accounts),
        "--concurrency",
        str(args.concurrency),
    ]
    command = [sys.executable, "-m", "bench.refresh", *command_args]
    if kind == "exporter" and args.profile and accounts == max(args.accounts):
        # py-spy samples every thread (cProfile would see only the main one).
        # --gil: only samples of the thread running Python, i.e. where the CPU goes.
        command = [_py_spy(), "record", "--gil", "--format", "raw", "--output", args.profile]
        command += ["--"]
        command += [sys.executable, "-m", "bench.refresh", *command_args]
    fake.reset_calls()
    proc = subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    phases = []
    fake_cpu = cpu_seconds(args.fake_pid)
    for line in proc.stdout:
        if not line.startswith("{"):  # py-spy's own messages share the pipe
            continue
        phase = json.loads(line)
        phase["fake_cpu"] = cpu_seconds(args.fake_pid) - fake_cpu
        phase["seen"] = fake.calls()
        fake.reset_calls()
        phases.append(phase)
        proc.stdin.write("\n")
        proc.stdin.flush()
        fake_cpu = cpu_seconds(args.fake_pid)
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"the {kind} child failed with status {proc.returncode}")
    return phases


def measure_size(
    accounts: int, fake: Any, env: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    listings = listing_calls(accounts, args.per_target)
    first = listings + assume_role_calls(accounts)
    row: dict[str, Any] = {"accounts": accounts, "targets": sum(1 for _ in _all_targets(accounts))}
    row["reservations"] = sum(
        data.record_count(i, r, s, args.per_target)
        for i in range(accounts)
        for r, s in data.targets(i)
    )
    exporter = run_phases("exporter", accounts, fake, env, args)
    calibration = run_phases("calibration", accounts, fake, env, args)
    for name, phases in (("exporter", exporter), ("calibration", calibration)):
        for phase, expected in zip(phases, (first, listings), strict=True):
            phase["check"] = compare_calls(phase.pop("seen"), expected)
        row[name] = phases
    row["ideal"] = [
        sum(first.values()) * args.latency / args.concurrency,
        sum(listings.values()) * args.latency / args.concurrency,
    ]
    return row


def _all_targets(accounts: int) -> Iterable[tuple[int, str, str]]:
    for index in range(accounts):
        for region, service in data.targets(index):
            yield index, region, service


def measure_sequential(fake: Any, env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    subset = args.sequential_accounts
    phase = run_phases("sequential", subset, fake, env, args)[0]
    expected = listing_calls(subset, args.per_target) + assume_role_calls(subset)
    phase["check"] = compare_calls(phase.pop("seen"), expected)
    phase["per_account"] = phase["seconds"] / subset
    phase["accounts"] = subset
    return phase


def report(rows: list[dict[str, Any]], sequential: dict[str, Any], args: argparse.Namespace) -> int:
    """Print the tables and verdicts; returns the number of failed correctness checks."""
    regions = len(data.REGIONS)
    print(
        f"\nlatency {args.latency * 1000:.0f} ms per request, concurrency {args.concurrency}, "
        f"{regions} regions x {len(data.SERVICES)} services, {args.per_target} reservations "
        "per target (every 10th account: 150 in one RDS target = 2 pages)\n"
    )
    headers = [
        "accounts",
        "targets",
        "calls c1/c2",
        "ideal c1 s",
        "calib c1 s",
        "exporter c1 s",
        "ideal c2 s",
        "calib c2 s",
        "exporter c2 s",
        "exp/calib c1",
        "exp/calib c2",
        "sequential s*",
        "speed-up c2",
        "peak RSS MB",
        "MB/acct-region",
    ]
    lines = []
    problems = 0
    for row in rows:
        e1, e2 = row["exporter"]
        c1, c2 = row["calibration"]
        seq = sequential["per_account"] * row["accounts"]
        lines.append(
            [
                row["accounts"],
                row["targets"],
                f"{e1['check']['calls']}/{e2['check']['calls']}",
                row["ideal"][0],
                c1["seconds"],
                e1["seconds"],
                row["ideal"][1],
                c2["seconds"],
                e2["seconds"],
                e1["seconds"] / c1["seconds"],
                e2["seconds"] / c2["seconds"],
                seq,
                seq / e2["seconds"],
                e2["peak_rss_mb"],
                e2["peak_rss_mb"] / (row["accounts"] * regions),
            ]
        )
    print(table(headers, lines))
    print(
        f"* sequential: measured on {sequential['accounts']} accounts "
        f"({sequential['seconds']:.1f} s, {sequential['per_account']:.2f} s/account), "
        "extrapolated linearly to each size."
    )

    print("\nAPI calls counted at the fake (not by the exporter):")
    for row in rows:
        for name in ("exporter", "calibration"):
            for n, phase in enumerate(row[name], 1):
                check = phase["check"]
                problems += not check["exact"] and name == "exporter"
                print(
                    f"  {row['accounts']:>4} accounts {name:<11} cycle {n}: "
                    f"{check['calls']} calls, minimum {check['minimum']}, "
                    f"extra {check['extra']}, missing {check['missing']}, not ok "
                    f"{check['not_ok']}, STS {check['sts']} -> "
                    f"{'exact' if check['exact'] else 'WRONG ' + str(check['examples'])}"
                )
        for n, phase in enumerate(row["exporter"], 1):
            if phase["failed"] or phase["reservations"] != row["reservations"]:
                problems += 1
                print(
                    f"  {row['accounts']} accounts cycle {n}: {phase['failed']} failed targets, "
                    f"{phase['reservations']} of {row['reservations']} reservations: WRONG"
                )
    check = sequential["check"]
    problems += not check["exact"]
    print(
        f"  sequential ({sequential['accounts']} accounts): {check['calls']} calls, minimum "
        f"{check['minimum']} -> {'exact' if check['exact'] else 'WRONG'}"
    )

    print("\nCPU seconds (exporter / calibration / fake during the exporter's cycle 2):")
    for row in rows:
        e2, c2 = row["exporter"][1], row["calibration"][1]
        calls = e2["check"]["calls"]
        print(
            f"  {row['accounts']:>4} accounts: exporter {e2['cpu']:.1f} s "
            f"({e2['cpu'] / calls * 1000:.1f} ms/call), calibration {c2['cpu']:.1f} s "
            f"({c2['cpu'] / calls * 1000:.1f} ms/call), fake {e2['fake_cpu']:.1f} s "
            f"({e2['fake_cpu'] / calls * 1000:.1f} ms/call)"
        )

    print("\nTargets:")
    misses = 0
    for row in rows:
        for n in (0, 1):
            ratio = row["exporter"][n]["seconds"] / row["calibration"][n]["seconds"]
            ok = ratio <= MAX_VS_CALIBRATION
            misses += not ok
            print(
                f"  {verdict(ok)} {row['accounts']:>4} accounts cycle {n + 1}: "
                f"exporter/calibration = {ratio:.2f} (target <= {MAX_VS_CALIBRATION})"
            )
    for row in rows:
        speedup = sequential["per_account"] * row["accounts"] / row["exporter"][1]["seconds"]
        ok = speedup >= MIN_VS_SEQUENTIAL
        misses += not ok
        print(
            f"  {verdict(ok)} {row['accounts']:>4} accounts: {speedup:.1f}x faster than "
            f"sequential (target >= {MIN_VS_SEQUENTIAL:.0f}x)"
        )
    for row in rows:
        sts = row["exporter"][1]["check"]["sts"]
        print(f"  {verdict(sts == 0)} {row['accounts']:>4} accounts: {sts} STS calls in cycle 2")
        problems += sts != 0
    largest = max(rows, key=lambda r: r["accounts"])
    per = largest["exporter"][1]["peak_rss_mb"] / (largest["accounts"] * regions)
    ok = per <= MAX_MB_PER_ACCOUNT_REGION
    misses += not ok
    print(
        f"  {verdict(ok)} peak RSS at {largest['accounts']} accounts: {per:.3f} MB per "
        f"account-region (target <= {MAX_MB_PER_ACCOUNT_REGION})"
    )
    if len(rows) > 1:
        misses += linearity(rows, regions)
    print(
        f"\n{problems} correctness problem(s); {misses} performance target(s) missed.",
        flush=True,
    )
    return problems + (misses if args.strict else 0)


def _peak(row: dict[str, Any]) -> float:
    return float(row["exporter"][1]["peak_rss_mb"])


def linearity(rows: list[dict[str, Any]], regions: int) -> int:
    """Per-account cycle time and RSS growth per account-region, smallest vs largest."""
    rows = sorted(rows, key=lambda r: r["accounts"])
    small, large = rows[0], rows[-1]
    t_small = small["exporter"][1]["seconds"] / small["accounts"]
    t_large = large["exporter"][1]["seconds"] / large["accounts"]
    drift = t_large / t_small
    ok_time = drift <= MAX_LINEARITY_DRIFT
    # Peak RSS is max(start-up floor, base + k x account-regions): parsing the
    # service models once peaks ~10 MB above what the process keeps, which hides
    # the per-account growth at small sizes. Linear means the growth does not
    # speed up at the top: the last step's slope is at most MAX_RSS_SLOPE_RISE x
    # the step's before it (with two sizes there is one step: bounded only).
    slopes = [
        (_peak(b) - _peak(a)) / ((b["accounts"] - a["accounts"]) * regions)
        for a, b in itertools.pairwise(rows)
    ]
    overall = (_peak(large) - _peak(small)) / ((large["accounts"] - small["accounts"]) * regions)
    rise = slopes[-1] / max(slopes[-2], 0.01) if len(slopes) > 1 else 1.0
    ok_rss = slopes[-1] <= MAX_MB_PER_ACCOUNT_REGION and rise <= MAX_RSS_SLOPE_RISE
    print(
        f"  {verdict(ok_time)} cycle time per account: {t_small * 1000:.1f} ms at "
        f"{small['accounts']} accounts, {t_large * 1000:.1f} ms at {large['accounts']} "
        f"(ratio {drift:.2f}, target <= {MAX_LINEARITY_DRIFT}: linear)"
    )
    print(
        f"  {verdict(ok_rss)} peak RSS growth per added account-region: {overall:.3f} MB "
        f"over {small['accounts']}-{large['accounts']} accounts; steps "
        + ", ".join(f"{s:.3f}" for s in slopes)
        + f" (last / previous {rise:.2f}, target <= {MAX_RSS_SLOPE_RISE}: not rising)"
    )
    return (not ok_time) + (not ok_rss)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--accounts",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[50, 100, 200, 500],
        help="comma-separated account counts (default: 50,100,200,500)",
    )
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--per-target", type=int, default=2, help="reservations per target")
    parser.add_argument(
        "--sequential-accounts",
        type=int,
        default=10,
        help="accounts the sequential baseline really runs on (then extrapolated)",
    )
    parser.add_argument(
        "--profile",
        help="record the exporter at the largest size with py-spy (folded stacks) into this file",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 on a missed target too")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.accounts = args.accounts[0]
        CHILDREN[args.child](args)
        return 0

    from bench.fakeproc import FakeProcess

    print_machine()
    largest = max(args.accounts)
    process = FakeProcess(latency=args.latency)
    fake = process.start()
    try:
        args.fake_pid = process.pid
        started = time.perf_counter()
        seed(fake, max(largest, args.sequential_accounts), args.per_target)
        print(f"seeded {largest} accounts in {time.perf_counter() - started:.1f} s", flush=True)
        env = fake.env(OWN_ACCOUNT)
        env["PYTHONUNBUFFERED"] = "1"
        sequential = measure_sequential(fake, env, args)
        rows = []
        for accounts in args.accounts:
            rows.append(measure_size(accounts, fake, env, args))
            e = rows[-1]["exporter"]
            print(
                f"{accounts} accounts: exporter {e[0]['seconds']:.2f} s / {e[1]['seconds']:.2f} s",
                flush=True,
            )
    finally:
        process.stop()
    status = report(rows, sequential, args)
    if args.profile:
        print(f"\npy-spy profile of the exporter at {largest} accounts ({args.profile}):")
        print(profile_summary(args.profile))
    return 1 if status else 0


if __name__ == "__main__":
    sys.exit(main())
