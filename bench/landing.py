"""Landing page benchmark (issue 17): how long one view of `/` and of
`/calendar.ics` takes at 1k, 10k and 50k reservations, next to rendering
`/metrics` from the same snapshot.

    python -m bench.landing [--sizes 1000,10000,50000] [--repeat 5]

The page is built from the held snapshot on every request: the view (one
row per reservation, tiers, the 12-month timeline), the filter and sort, and
the HTML of one page of each section (100 rows). `/metrics` of the same data
is the baseline: the exporter's other full walk over the snapshot.

Target: a page view under 1 s at 10,000 reservations on this machine, and
the same order as `/metrics` (ratio printed). Missed targets fail only with
--strict.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable

from bench.measure import print_machine, table, verdict
from exporter.collector import chunks
from exporter.config.fields import DEFAULT_THRESHOLDS
from exporter.model import Reservation, Target
from exporter.renewal import RenewalPolicy
from exporter.store import SnapshotStore
from exporter.web import calendar, page
from exporter.web.view import build

DAY = 86400.0
NOW = 1_800_000_000.0
LIMIT_SECONDS = 1.0
OWNERS = (("team", "Team"), ("cost_center", "CostCenter"))


def snapshot(size: int) -> SnapshotStore:
    """``size`` reservations over 500 accounts x 2 regions x 4 services, ends
    spread over two years, a fifth queued renewals, tags on half."""
    rng = random.Random(size)
    store = SnapshotStore(RenewalPolicy("account"))
    per_target: dict[Target, list[Reservation]] = {}
    for index in range(size):
        account = index % 500
        target = Target(
            f"account-{account}",
            f"{account:012d}",
            rng.choice(("us-east-1", "eu-west-1")),
            rng.choice(("ec2", "rds", "elasticache", "savingsplans")),
        )
        end = NOW + rng.uniform(-30, 700) * DAY
        state, start = ("retired" if end < NOW else "active"), end - 365 * DAY
        if rng.random() < 0.2:
            start = NOW + rng.uniform(0, 400) * DAY
            end, state = start + 365 * DAY, "queued"
        tags = (("Team", f"team-{index % 17}"),) if index % 2 else ()
        per_target.setdefault(target, []).append(
            Reservation(
                f"r-{index:07d}",
                state,
                start=start,
                end=end,
                instance_count=rng.randint(1, 8),
                instance_type=rng.choice(("m5.large", "c6i.xlarge", "db.r6g.large")),
                product="Linux/UNIX",
                scope="Region",
                tenancy="default",
                hourly_cost=rng.uniform(0.05, 3.0),
                upfront_cost=0.0,
                term=365 * DAY,
                tags=tags,
            )
        )
    for target, reservations in per_target.items():
        store.record_success(
            target,
            reservations,
            attempted_at=NOW - 60,
            duration=1.0,
            owner_labels=OWNERS,
            account_tags=(("CostCenter", "cc-1"), ("Team", "platform")),
        )
    return store


def timed(fn: Callable[[], object], repeat: int) -> float:
    """The median of ``repeat`` runs, in seconds."""
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - began)
    return statistics.median(runs)


def measure(size: int, repeat: int) -> tuple[float, float, float, float, float]:
    """(/metrics, page, filtered and sorted page, calendar) seconds and the page's KiB."""
    store = snapshot(size)
    snap = store.snapshot()
    labels = tuple(label for label, _ in OWNERS)

    def landing(query: page.Query) -> str:
        view = build(snap, NOW, DEFAULT_THRESHOLDS, labels)
        return page.render(view, query, version="bench", ready=True)

    everything = page.Query()
    narrowed = page.Query(text="team-3", sort="cost", descending=True)
    metrics = timed(lambda: b"".join(chunks(snap, NOW, store.account_lines())), repeat)
    plain = timed(lambda: landing(everything), repeat)
    filtered = timed(lambda: landing(narrowed), repeat)
    feed = timed(
        lambda: calendar.feed(build(snap, NOW, DEFAULT_THRESHOLDS, labels), labels), repeat
    )
    return metrics, plain, filtered, feed, len(landing(everything).encode()) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.landing")
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    opts = parser.parse_args(argv)
    print_machine()
    rows, ok = [], True
    for size in (int(s) for s in opts.sizes.split(",")):
        metrics, plain, filtered, feed, html_kib = measure(size, opts.repeat)
        passed = size > 10_000 or plain < LIMIT_SECONDS
        ok = ok and passed
        rows.append(
            (size, metrics, plain, filtered, feed, plain / metrics, html_kib, verdict(passed))
        )
    print(
        table(
            (
                "reservations",
                "/metrics s",
                "page s",
                "page filtered+sorted s",
                "calendar s (built once a refresh)",
                "page / metrics",
                "page KiB",
                "< 1 s at <= 10k",
            ),
            rows,
        )
    )
    return 1 if opts.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
