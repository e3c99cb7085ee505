"""Load test (issue 7): concurrent scrapers against the real exporter process
while its refresh cycles run against the fake AWS. Loopback only; bounded in
time and in requests; stops by itself.

    python -m bench.load [--scrapers 8] [--duration 60] [--accounts 50]

The exporter runs as ``python -m exporter`` with a short refresh_interval, so
several cycles overlap the scrapes. Every response must be 200 and every
tenth is decompressed and must hold every reservation (a scrape during a
refresh must never see a partial snapshot). Reports p50/p99/max latency,
requests per second, errors (must be 0), cycles completed under load and
the exporter's peak RSS. Exit status 1 on any error.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import yaml

from bench import data
from bench.exporterproc import ExporterProcess
from bench.fakeproc import FakeProcess
from bench.measure import hwm_mb, percentile, print_machine, table
from bench.refresh import OWN_ACCOUNT, seed

DAYS_LINE = b"\naws_reservation_days_until_expiry{"
CYCLES = re.compile(rb"^aws_reservation_refresh_cycles_total (\S+)$", re.M)
CYCLE_SECONDS = re.compile(rb"^aws_reservation_refresh_cycle_duration_seconds (\S+)$", re.M)
FAILED = re.compile(rb"^aws_reservation_refresh_success\{[^}]*\} 0$", re.M)
READY_TIMEOUT = 600.0


def get(port: int, path: str, use_gzip: bool = False) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"} if use_gzip else {})
        response = conn.getresponse()
        body = response.read()
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return response.status, body
    finally:
        conn.close()


def cycles_done(port: int) -> float:
    match = CYCLES.search(get(port, "/metrics")[1])
    return float(match.group(1)) if match else float("nan")


class Scrapers:
    """``count`` threads, each scraping /metrics back to back over its own connection."""

    def __init__(self, port: int, count: int, use_gzip: bool, expected_series: int) -> None:
        self.port = port
        self.count = count
        self.use_gzip = use_gzip
        self.expected = expected_series
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._issued = 0

    def run(self, duration: float, max_requests: int) -> float:
        """Scrape for ``duration`` seconds or ``max_requests`` requests; returns the wall time."""
        deadline = time.monotonic() + duration
        threads = [
            threading.Thread(target=self._loop, args=(deadline, max_requests), daemon=True)
            for _ in range(self.count)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(duration + 60)
        return time.monotonic() - started

    def _take(self, max_requests: int) -> int | None:
        with self._lock:
            if self._issued >= max_requests:
                return None
            self._issued += 1
            return self._issued

    def _loop(self, deadline: float, max_requests: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Accept-Encoding": "gzip"} if self.use_gzip else {}
        while time.monotonic() < deadline:
            number = self._take(max_requests)
            if number is None:
                break
            t0 = time.perf_counter()
            try:
                conn.request("GET", "/metrics", headers=headers)
                response = conn.getresponse()
                body = response.read()
                elapsed = time.perf_counter() - t0
            except (OSError, http.client.HTTPException) as exc:
                self._error(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            if response.status != 200:
                self._error(f"HTTP {response.status}")
                continue
            if number % 10 == 0:
                plain = gzip.decompress(body) if self.use_gzip else body
                if plain.count(DAYS_LINE) != self.expected:
                    self._error("partial snapshot")
                    continue
            with self._lock:
                self.latencies.append(elapsed)
        conn.close()

    def _error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] += 1


def write_config(directory: Path, accounts: int, interval: str, concurrency: int) -> Path:
    config = {
        "refresh_interval": interval,
        "regions": list(data.REGIONS),
        "services": list(data.SERVICES),
        "concurrency": concurrency,
        "accounts": [
            {"name": f"bench-{i:04d}", "role_arn": data.role_arn(i)} for i in range(accounts)
        ],
    }
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scrapers", type=int, default=8, help="concurrent scrapers")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--max-requests", type=int, default=100_000, help="hard request cap")
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--per-target", type=int, default=10, help="reservations per target")
    parser.add_argument("--latency", type=float, default=0.05, help="fake AWS seconds/request")
    parser.add_argument("--refresh-interval", default="10s", help="exporter refresh_interval")
    parser.add_argument("--concurrency", type=int, default=16, help="exporter concurrency")
    parser.add_argument("--no-gzip", action="store_true", help="scrape without gzip")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.duration > 3600 or args.scrapers < 1:
        parser.error("--duration must be in (0, 3600] and --scrapers at least 1")

    print_machine()
    process = FakeProcess(latency=args.latency)
    fake = process.start()
    exporter: ExporterProcess | None = None
    try:
        seed(fake, args.accounts, args.per_target)
        expected = sum(
            data.record_count(i, r, s, args.per_target)
            for i in range(args.accounts)
            for r, s in data.targets(i)
        )
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            config = write_config(Path(tmp), args.accounts, args.refresh_interval, args.concurrency)
            env = {**fake.env(OWN_ACCOUNT), "PYTHONUNBUFFERED": "1"}
            exporter = ExporterProcess(config, env)
            started = time.monotonic()
            exporter.wait_ready(READY_TIMEOUT)
            assert exporter.port is not None
            print(
                f"exporter ready after {time.monotonic() - started:.1f} s "
                f"({args.accounts} accounts, {expected} reservations)",
                flush=True,
            )
            before = cycles_done(exporter.port)
            scrapers = Scrapers(exporter.port, args.scrapers, not args.no_gzip, expected)
            wall = scrapers.run(args.duration, args.max_requests)
            after = cycles_done(exporter.port)
            status, final = get(exporter.port, "/metrics")
            peak = hwm_mb(exporter.pid)
            failed_targets = len(FAILED.findall(final))
            last_cycle = CYCLE_SECONDS.search(final)
            final_series = final.count(DAYS_LINE)
            exit_status = exporter.stop()
            exporter_failures = sum("refresh failed" in line for line in exporter.log)
    finally:
        if exporter is not None:
            exporter.stop()
        process.stop()

    lat = scrapers.latencies
    errors = sum(scrapers.errors.values())
    print(
        f"\n{args.scrapers} scrapers x {args.duration:.0f} s "
        f"({'gzip' if not args.no_gzip else 'plain'}), refresh every {args.refresh_interval} "
        f"against a fake AWS with {args.latency * 1000:.0f} ms per request\n"
    )
    print(
        table(
            [
                "requests",
                "req/s",
                "p50 ms",
                "p99 ms",
                "max ms",
                "errors",
                "cycles under load",
                "last cycle s",
                "exporter peak RSS MB",
            ],
            [
                [
                    len(lat) + errors,
                    len(lat) / wall,
                    percentile(lat, 50) * 1000,
                    percentile(lat, 99) * 1000,
                    max(lat, default=float("nan")) * 1000,
                    errors,
                    int(after - before),
                    float(last_cycle.group(1)) if last_cycle else float("nan"),
                    peak,
                ]
            ],
        )
    )
    problems = []
    if errors:
        problems.append(f"scrape errors: {dict(scrapers.errors)}")
    if not lat:
        problems.append("no successful scrape")
    if status != 200 or final_series != expected:
        problems.append(f"final scrape: HTTP {status}, {final_series} of {expected} series")
    if failed_targets or exporter_failures:
        problems.append(f"{failed_targets} failing targets, {exporter_failures} refresh failures")
    if not after - before >= 1:
        problems.append("no refresh cycle completed during the load")
    if exit_status != 0:
        problems.append(f"exporter exit status {exit_status} after SIGTERM")
    for problem in problems:
        print(f"  WRONG: {problem}")
    print(f"\n{len(problems)} problem(s).")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
