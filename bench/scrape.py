"""Scrape benchmark (issue 9): /metrics latency and memory with 10k and 50k
reservations in the snapshot store, over HTTP on loopback.

    python -m bench.scrape [--sizes 10000,50000] [--scrapes 100]

A child process fills a SnapshotStore (through record_success, so every
target is pre-rendered as in production) and serves it with the real
ExporterHTTPServer; this process scrapes it one request at a time, as
Prometheus does, with and without ``Accept-Encoding: gzip``, and reads the
child's peak RSS. Latency is request sent -> last byte received.

Targets: p99 < 250 ms at 10k and < 1.5 s at 50k, peak RSS < 200 MB at 50k.
Exit status 1 if a scrape fails or returns the wrong number of series;
missed targets fail the run only with --strict.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import subprocess
import sys
import threading
import time
from typing import Any

from bench.measure import peak_rss_mb, percentile, print_machine, rss_mb, table, verdict

PER_TARGET = 10  # reservations per (account, region, service) target
TARGETS = {10_000: (0.250, None), 50_000: (1.5, 200.0)}  # size -> (p99 s, peak RSS MB)
DAYS_LINE = b"\naws_reservation_days_until_expiry{"


# --- the child: a store of synthetic reservations behind the real server --------------


def fill_store(store: Any, reservations: int, now: float) -> int:
    """Put ``reservations`` into ``store``, PER_TARGET per target; returns the target count."""
    from bench import data
    from exporter.model import Reservation, Target

    made = 0
    targets = 0
    index = 0
    while made < reservations:
        account = data.account_id(index)
        for region, service in data.targets(index):
            count = min(PER_TARGET, reservations - made)
            if count <= 0:
                break
            records = [
                Reservation(
                    reservation_id=f"{service}-{account}-{region}-{i:05d}",
                    state="active",
                    start=now - 100 * 86400 - i * 3600,
                    end=now + (i + index) % 400 * 86400 + 0.5,
                    instance_count=None if service == "savingsplans" else 1 + i % 4,
                    instance_type="" if service == "savingsplans" else "m5.large",
                    product="Linux/UNIX",
                    offering_type="Partial Upfront",
                    scope="Region",
                    multi_az="false",
                    plan_type="Compute" if service == "savingsplans" else "",
                    hourly_cost=0.123 * (1 + i % 4),
                    upfront_cost=1000.0,
                    currency="USD",
                )
                for i in range(count)
            ]
            region_label = "global" if service == "savingsplans" else region
            target = Target(f"bench-{index:05d}", account, region_label, service)
            store.record_success(target, records, attempted_at=now, duration=0.2)
            made += count
            targets += 1
        index += 1
    return targets


def child_serve(reservations: int) -> None:
    """Serve a filled store on 127.0.0.1; answer 'rss' on stdin, exit on EOF."""
    from exporter.server import ExporterHTTPServer
    from exporter.store import SnapshotStore
    from exporter.telemetry import Telemetry

    store = SnapshotStore()
    started = time.perf_counter()
    targets = fill_store(store, reservations, time.time())
    filled = time.perf_counter() - started
    ready = threading.Event()
    ready.set()
    server = ExporterHTTPServer(("127.0.0.1", 0), store=store, telemetry=Telemetry(), ready=ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(
        json.dumps(
            {
                "port": server.server_address[1],
                "targets": targets,
                "fill_seconds": filled,
                "rss_mb": rss_mb(),
            }
        ),
        flush=True,
    )
    for line in sys.stdin:
        if line.strip() == "rss":
            print(json.dumps({"rss_mb": rss_mb(), "peak_rss_mb": peak_rss_mb()}), flush=True)
    server.shutdown()


# --- the parent ---------------------------------------------------------------------


def scrape_once(conn: http.client.HTTPConnection, use_gzip: bool) -> tuple[float, bytes]:
    headers = {"Accept-Encoding": "gzip"} if use_gzip else {}
    t0 = time.perf_counter()
    conn.request("GET", "/metrics", headers=headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - t0
    if response.status != 200:
        raise RuntimeError(f"/metrics answered {response.status}")
    if use_gzip != (response.getheader("Content-Encoding") == "gzip"):
        raise RuntimeError("gzip was requested but not used, or used unasked")
    return elapsed, body


def measure(size: int, scrapes: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.scrape", "--child-serve", str(size)]
    proc = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        info = json.loads(proc.stdout.readline())
        row: dict[str, Any] = {"size": size, **info, "problems": []}
        for use_gzip in (False, True):
            conn = http.client.HTTPConnection("127.0.0.1", info["port"], timeout=60)
            _, body = scrape_once(conn, use_gzip)  # warm-up, and the correctness check
            plain = gzip.decompress(body) if use_gzip else body
            series = plain.count(DAYS_LINE)
            if series != size:
                row["problems"].append(f"{series} days_until_expiry series, expected {size}")
            latencies = [scrape_once(conn, use_gzip)[0] for _ in range(scrapes)]
            conn.close()
            key = "gzip" if use_gzip else "plain"
            row[key] = {
                "p50": percentile(latencies, 50),
                "p99": percentile(latencies, 99),
                "max": max(latencies),
                "bytes": len(body),
            }
        proc.stdin.write("rss\n")
        proc.stdin.flush()
        row.update(json.loads(proc.stdout.readline()))
        row["idle_rss_mb"] = info["rss_mb"]
        return row
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[10_000, 50_000],
        help="reservation counts (default: 10000,50000)",
    )
    parser.add_argument("--scrapes", type=int, default=100, help="timed scrapes per mode")
    parser.add_argument("--strict", action="store_true", help="exit 1 on a missed target too")
    parser.add_argument("--child-serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_serve:
        child_serve(args.child_serve)
        return 0

    print_machine()
    print(
        f"{args.scrapes} sequential scrapes per mode after one warm-up; {PER_TARGET} "
        "reservations per target; latency = request sent -> last byte received\n"
    )
    rows = [measure(size, args.scrapes) for size in args.sizes]
    headers = [
        "reservations",
        "targets",
        "body MB",
        "p50 ms",
        "p99 ms",
        "gzip MB",
        "gzip p50 ms",
        "gzip p99 ms",
        "idle RSS MB",
        "peak RSS MB",
    ]
    print(
        table(
            headers,
            [
                [
                    r["size"],
                    r["targets"],
                    r["plain"]["bytes"] / 1e6,
                    r["plain"]["p50"] * 1000,
                    r["plain"]["p99"] * 1000,
                    r["gzip"]["bytes"] / 1e6,
                    r["gzip"]["p50"] * 1000,
                    r["gzip"]["p99"] * 1000,
                    r["idle_rss_mb"],
                    r["peak_rss_mb"],
                ]
                for r in rows
            ],
        )
    )
    problems = sum(len(r["problems"]) for r in rows)
    for r in rows:
        for problem in r["problems"]:
            print(f"  WRONG at {r['size']}: {problem}")
    print("\nTargets:")
    misses = 0
    for r in rows:
        p99_target, rss_target = TARGETS.get(r["size"], (None, None))
        if p99_target is not None:
            for mode in ("plain", "gzip"):
                ok = r[mode]["p99"] < p99_target
                misses += not ok
                print(
                    f"  {verdict(ok)} {r['size']} reservations, {mode}: p99 "
                    f"{r[mode]['p99'] * 1000:.0f} ms (target < {p99_target * 1000:.0f} ms)"
                )
        if rss_target is not None:
            ok = r["peak_rss_mb"] < rss_target
            misses += not ok
            print(
                f"  {verdict(ok)} {r['size']} reservations: peak RSS {r['peak_rss_mb']:.0f} MB "
                f"(target < {rss_target:.0f} MB)"
            )
    print(f"\n{problems} correctness problem(s); {misses} performance target(s) missed.")
    return 1 if problems or (args.strict and misses) else 0


if __name__ == "__main__":
    sys.exit(main())
