"""Cost Explorer benchmark (issue 18): one organization of 1,000 accounts × 17
regions read two ways against the same fake AWS and the same per-request
latency.

    python -m bench.costexplorer [--accounts 1000] [--sweep-accounts 25] [--latency 0.1]

(a) cost explorer  the exporter configured with the management account only
                   (its own credentials) and ``cost_explorer.enabled``: its own
                   per-region listings plus the paged Cost Explorer calls that
                   list every member account's RIs and Savings Plans;
(b) sweep          the exporter reaching every account by role and listing
                   every (region, service): measured on ``--sweep-accounts``
                   accounts and extrapolated linearly to ``--accounts``
                   (bench.refresh measured the sweep linear: 124 ms per account
                   at 50 accounts, 127 ms at 500), next to its latency-bound
                   ideal at full size, which needs no extrapolation.

Both run in a child process of their own, one refresh cycle each. API calls
are counted at the fake per operation and compared with the minimum; every
seeded reservation must come out with its account and end date.

Exit status: 1 if a correctness check fails; the targets are reported and
fail the run only with --strict.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench import data
from bench.measure import cpu_seconds, peak_rss_mb, print_machine, table, verdict

OWN_ACCOUNT = "123456789012"  # the fake's default account: the management account here
# The 17 regions every AWS account has without opting in.
REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-south-1",
    "sa-east-1",
)
CE_PAGE = 20  # the fake's (and, for Savings Plans, AWS's documented) default page
CE_PRICE = 0.01  # USD per Cost Explorer request
RI_OPERATION = "GetReservationUtilization"
SP_OPERATION = "GetSavingsPlansUtilizationDetails"

# Targets (issue 18 asks for the comparison; these say what "better" means).
MAX_CALL_SHARE = 0.01  # Cost Explorer path: at most 1 % of the sweep's calls
MIN_SPEED_UP = 10.0  # and at least 10 × faster than the sweep


# --- the organization ------------------------------------------------------------------


def holdings(index: int, regions: tuple[str, ...] = REGIONS) -> list[tuple[str, str]]:
    """(region, service) of each reservation account ``index`` holds: an EC2, an
    RDS and an ElastiCache RI in different regions and a Savings Plan; every
    tenth account also a Redshift, an OpenSearch and a MemoryDB one."""
    n = len(regions)
    held = [
        (regions[index % n], "ec2"),
        (regions[(index + 5) % n], "rds"),
        (regions[(index + 11) % n], "elasticache"),
        ("us-east-1", "savingsplans"),
    ]
    if index % 10 == 0:
        held += [
            (regions[(index + 3) % n], "redshift"),
            (regions[(index + 7) % n], "opensearch"),
            ("eu-west-1", "memorydb"),  # MemoryDB is not in every one of the 17
        ]
    return held


def records(index: int) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(region, service, record) of every reservation of account ``index``."""
    account = data.account_id(index)
    for region, service in holdings(index):
        for record in data.records_for(service, account, region, 1):
            yield region, service, record


def expected_identity(service: str, record: dict[str, Any], via_cost_explorer: bool) -> str:
    """The id the exporter exports: an RDS reservation known only to Cost
    Explorer is named by its lease id (all Cost Explorer gives)."""
    from exporter.fake.catalog import SPECS

    if service == "rds" and via_cost_explorer:
        return str(record["LeaseId"])
    return str(record[SPECS[service].id_key])


def seed(fake: Any, accounts: int, roles: int) -> None:
    """The organization (the management account and ``accounts`` members), their
    reservations, and a role in the first ``roles`` members for the sweep."""
    fake.add_org_account(OWN_ACCOUNT, "management", management_account_id=OWN_ACCOUNT)

    def one(index: int) -> None:
        account = data.account_id(index)
        fake.add_org_account(account, f"member-{index:04d}")
        if index < roles:
            fake.add_role(data.role_arn(index))
        by_target: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for region, service, record in records(index):
            by_target.setdefault((region, service), []).append(record)
        for (region, service), found in by_target.items():
            fake.seed(account, region, service, found)

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(one, i) for i in range(accounts)]:
            future.result()


def warm(fake: Any, accounts: Iterable[str], concurrency: int) -> None:
    """One unmeasured listing per (account, region, service) the exporter will
    list. The fake builds moto's backend on the first request per account and
    region (~0.1 s of its CPU for EC2); AWS has no such cost, so neither
    measured path should pay it."""
    import botocore.session
    from botocore import xform_name

    from exporter.services import REGISTRY

    session = botocore.session.get_session()

    def one(account: str, service: str, region: str) -> None:
        key, secret = fake.credentials(account)
        client = session.create_client(
            REGISTRY[service].client_name,
            region_name=region,
            endpoint_url=fake.endpoint_url,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )
        getattr(client, xform_name(REGISTRY[service].operation))()

    where = {s: available(s) for s in data.REGIONAL_SERVICES}
    jobs = [(a, "savingsplans", "us-east-1") for a in accounts]
    jobs += [(a, s, r) for a, _, _ in jobs for s in where for r in REGIONS if r in where[s]]
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(one, *job) for job in jobs]:
            future.result()


def digest(rows: Iterable[tuple[str, str, int]]) -> str:
    """One hash of (account id, reservation id, end second) over every reservation."""
    text = "\n".join(f"{a}|{r}|{e}" for a, r, e in sorted(rows))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def expected_rows(accounts: int, via_cost_explorer: bool) -> list[tuple[str, str, int]]:
    """(account id, reservation id, end) of every seeded reservation: each is the
    first of its target, so each ends a year after ``data.start_of(0)``."""
    end = int(data.start_of(0).timestamp()) + data.YEAR
    return [
        (data.account_id(index), expected_identity(service, record, via_cost_explorer), end)
        for index in range(accounts)
        for _, service, record in records(index)
    ]


# --- what the fake should see ----------------------------------------------------------


def available(service: str) -> set[str]:
    from exporter.aws import ClientFactory
    from exporter.services import REGISTRY

    return set(ClientFactory().available_regions(REGISTRY[service].client_name, "aws"))


def sweep_calls(accounts: int) -> Counter[str]:
    """The minimum calls of a sweep, per operation: one listing per (region,
    service) with an endpoint (one page each here), Savings Plans once per
    account, one AssumeRole per account."""
    from exporter.services import REGISTRY

    expected: Counter[str] = Counter({"AssumeRole": accounts})
    for service in data.SERVICES:
        spec = REGISTRY[service]
        if service == "savingsplans":
            expected[spec.operation] += accounts
            continue
        where = available(service)
        expected[spec.operation] += accounts * sum(1 for r in REGIONS if r in where)
    return expected


def cost_explorer_calls(accounts: int) -> Counter[str]:
    """The minimum calls of the Cost Explorer path: the management account's own
    identity and listings (no AssumeRole: its own credentials) plus every page
    of each Cost Explorer call."""
    expected = sweep_calls(1)
    del expected["AssumeRole"]
    expected["GetCallerIdentity"] = 1  # its own identity, read once
    held: Counter[str] = Counter(s for i in range(accounts) for _, s in holdings(i))
    for service in data.SERVICES:
        operation = SP_OPERATION if service == "savingsplans" else RI_OPERATION
        expected[operation] += max(1, math.ceil(held[service] / CE_PAGE))
    return expected


def compare(seen: Iterable[Any], expected: Counter[str]) -> dict[str, Any]:
    actual: Counter[str] = Counter()
    not_ok = 0
    for call in seen:
        actual[call.operation] += 1
        not_ok += call.outcome != "ok"
    return {
        "calls": sum(actual.values()),
        "minimum": sum(expected.values()),
        "by_operation": dict(actual),
        "not_ok": not_ok,
        "exact": actual == expected and not not_ok,
        "diff": {k: actual[k] - expected[k] for k in actual | expected if actual[k] != expected[k]},
    }


# --- the children: one refresh cycle each ----------------------------------------------


def exporter_config(kind: str, accounts: int, concurrency: int) -> Any:
    from exporter.config import parse_config

    base: dict[str, Any] = {
        "refresh_interval": "1h",
        "regions": list(REGIONS),
        "services": list(data.SERVICES),
        "concurrency": concurrency,
    }
    if kind == "cost-explorer":
        base["accounts"] = [{"name": "management"}]
        base["cost_explorer"] = {"enabled": True, "refresh_interval": "8h", "lookback": "7d"}
    else:
        base["accounts"] = [
            {"name": f"member-{i:04d}", "role_arn": data.role_arn(i)} for i in range(accounts)
        ]
    return parse_config(base, source="bench")


def child(args: argparse.Namespace) -> None:
    from bench.refresh import built_refresher

    refresher, store = built_refresher(exporter_config(args.child, args.accounts, args.concurrency))
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    refresher.run_cycle()
    seconds = time.perf_counter() - t0
    results = store.results()
    rows = [
        (r.target.account_id, reservation.reservation_id, int(reservation.end))
        for r in results
        for reservation in r.reservations
    ]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu_seconds() - cpu0,
                "targets": len(results),
                "failed": sum(not r.success for r in results),
                "reservations": len(rows),
                "digest": digest(rows),
                "peak_rss_mb": peak_rss_mb(),
            }
        ),
        flush=True,
    )


def run(kind: str, accounts: int, fake: Any, env: dict[str, str], args: argparse.Namespace) -> Any:
    """One child's cycle and the calls the fake answered meanwhile."""
    fake.reset_calls()
    command = [sys.executable, "-m", "bench.costexplorer", "--child", kind]
    command += ["--accounts", str(accounts), "--concurrency", str(args.concurrency)]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the {kind} child failed with status {done.returncode}")
    phase = json.loads(lines[-1])
    phase["seen"] = fake.calls()
    return phase


# --- the parent ------------------------------------------------------------------------


def report(ce: dict[str, Any], sweep: dict[str, Any], args: argparse.Namespace) -> int:
    n, m = args.accounts, args.sweep_accounts
    scale = n / m
    sweep_minimum = sum(sweep_calls(n).values())
    sweep_seconds = sweep["seconds"] * scale
    sweep_ideal = sweep_minimum * args.latency / args.concurrency
    ce_pages = sum(ce["check"]["by_operation"].get(k, 0) for k in (RI_OPERATION, SP_OPERATION))
    print(
        f"\n{n} accounts x {len(REGIONS)} regions x {len(data.SERVICES)} services, "
        f"{args.latency * 1000:.0f} ms per request, concurrency {args.concurrency}; "
        f"{sum(len(holdings(i)) for i in range(n))} reservations and plans\n"
    )
    headers = ["path", "accounts", "API calls", "wall s", "calls vs sweep", "speed-up", "RSS MB"]
    lines = [
        [
            "cost explorer (measured)",
            n,
            ce["check"]["calls"],
            ce["seconds"],
            ce["check"]["calls"] / sweep_minimum,
            sweep_seconds / ce["seconds"],
            ce["peak_rss_mb"],
        ],
        [
            f"sweep (measured on {m})",
            m,
            sweep["check"]["calls"],
            sweep["seconds"],
            "-",
            "-",
            sweep["peak_rss_mb"],
        ],
        [f"sweep (x {scale:g})", n, sweep_minimum, sweep_seconds, 1.0, 1.0, "-"],
        ["sweep (ideal)", n, sweep_minimum, sweep_ideal, 1.0, sweep_ideal / ce["seconds"], "-"],
    ]
    print(table(headers, lines))
    print(
        f"\nCost Explorer: {ce_pages} paged requests ({ce_pages * CE_PRICE:.2f} USD a read; "
        f"{ce_pages * CE_PRICE * 90:.2f} USD a month read every 8h), the rest the management "
        "account's own listings."
    )

    problems = 0
    print("\nAPI calls counted at the fake, per operation:")
    for name, phase in (("cost explorer", ce), (f"sweep ({m} accounts)", sweep)):
        check = phase["check"]
        problems += not check["exact"]
        print(
            f"  {name}: {check['calls']} calls, minimum {check['minimum']}, not ok "
            f"{check['not_ok']} -> {'exact' if check['exact'] else 'WRONG ' + str(check['diff'])}"
        )
        print("    " + ", ".join(f"{k} {v}" for k, v in sorted(check["by_operation"].items())))
    for name, phase, accounts, via_ce in (
        ("cost explorer", ce, n, True),
        ("sweep", sweep, m, False),
    ):
        expected = expected_rows(accounts, via_ce)
        ok = (
            not phase["failed"]
            and phase["reservations"] == len(expected)
            and phase["digest"] == digest(expected)
        )
        problems += not ok
        print(
            f"  {name}: {phase['reservations']} of {len(expected)} reservations with their "
            f"account and end date, {phase['failed']} failed targets -> "
            f"{'exact' if ok else 'WRONG'}"
        )

    print("\nTargets:")
    share = ce["check"]["calls"] / sweep_minimum
    speed_up = sweep_seconds / ce["seconds"]
    misses = (share > MAX_CALL_SHARE) + (speed_up < MIN_SPEED_UP)
    print(
        f"  {verdict(share <= MAX_CALL_SHARE)} Cost Explorer makes {share:.2%} of the sweep's "
        f"calls (target <= {MAX_CALL_SHARE:.0%})"
    )
    print(
        f"  {verdict(speed_up >= MIN_SPEED_UP)} Cost Explorer is {speed_up:.1f}x faster than "
        f"the sweep, {sweep_ideal / ce['seconds']:.1f}x faster than the sweep's ideal "
        f"(target >= {MIN_SPEED_UP:.0f}x)"
    )
    print(
        f"\n{problems} correctness problem(s); {misses} performance target(s) missed.", flush=True
    )
    return problems + (misses if args.strict else 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000, help="member accounts")
    parser.add_argument(
        "--sweep-accounts",
        type=int,
        default=25,
        help="accounts the sweep really runs on (then extrapolated); --accounts for all",
    )
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--strict", action="store_true", help="exit 1 on a missed target too")
    parser.add_argument("--child", choices=("cost-explorer", "sweep"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    args.sweep_accounts = min(args.sweep_accounts, args.accounts)

    from bench.fakeproc import FakeProcess

    print_machine()
    process = FakeProcess(latency=args.latency)
    fake = process.start()
    try:
        started = time.perf_counter()
        seed(fake, args.accounts, args.sweep_accounts)
        warm(fake, [OWN_ACCOUNT, *map(data.account_id, range(args.sweep_accounts))], 16)
        print(
            f"seeded {args.accounts} accounts and warmed the fake in "
            f"{time.perf_counter() - started:.1f} s"
        )
        env = {**fake.env(OWN_ACCOUNT), "PYTHONUNBUFFERED": "1"}
        ce = run("cost-explorer", args.accounts, fake, env, args)
        ce["check"] = compare(ce.pop("seen"), cost_explorer_calls(args.accounts))
        print(f"cost explorer: {ce['seconds']:.1f} s", flush=True)
        sweep = run("sweep", args.sweep_accounts, fake, env, args)
        sweep["check"] = compare(sweep.pop("seen"), sweep_calls(args.sweep_accounts))
        print(f"sweep of {args.sweep_accounts} accounts: {sweep['seconds']:.1f} s", flush=True)
    finally:
        process.stop()
    return 1 if report(ce, sweep, args) else 0


if __name__ == "__main__":
    sys.exit(main())
