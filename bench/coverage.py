"""Renewal-coverage benchmark (issue 13): how long deciding coverage takes at
10k and 50k reservations, per scope, next to the least it could cost.

    python -m bench.coverage [--sizes 10000,50000] [--repeat 3]

Two shapes of data: "spread" (500 accounts, four services, a dozen instance
families: many small pools) and "one pool" (every reservation a regional
Linux m5 RI in one region: with ``scope: organization`` one giant pool, the
worst case for the matching). The baseline is the unavoidable part: putting
each reservation in its pool (``capacity_of``) and sorting each pool once;
the ratio says what the matching itself adds on top.

Targets: under 1 s at 50k reservations in every shape and scope (coverage is
decided once per refresh cycle, never per scrape), and the ratio to the
baseline at most twice as high at 50k as at 10k: the matching grows like
the sorting it needs (a quadratic matching would grow ~4x more than that in
the one-pool shape).
Exit status 1 if a reservation in demand gets no answer; missed targets fail
only with --strict.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable

from bench.measure import print_machine, table, verdict
from exporter.capacity import capacity_of
from exporter.model import GLOBAL_REGION, Reservation, Target
from exporter.renewal import Holding, RenewalPolicy, decide, in_demand, region_of

DAY = 86400.0
NOW = 1_800_000_000.0
LIMIT_SECONDS = 1.0
MAX_RATIO_GROWTH = 2.0
FAMILIES = ("m5", "m6i", "c5", "c6i", "r5", "r6g", "t3", "m7g", "c7g", "r7i", "x2idn", "i4i")
SIZES = ("large", "xlarge", "2xlarge", "medium")


def holdings(size: int, shape: str, seed: int = 0) -> list[Holding]:
    """``size`` plausible reservations: ends spread over two years, a fifth queued."""
    rng = random.Random(f"{seed}-{shape}-{size}")
    out = []
    for index in range(size):
        account = f"{index % 500:012d}"
        service = (
            "ec2" if shape == "one pool" else rng.choice(("ec2", "ec2", "rds", "savingsplans"))
        )
        end = NOW + rng.uniform(-30, 700) * DAY
        start = end - 365 * DAY
        state = "retired" if end < NOW else "active"
        if rng.random() < 0.2:
            start = NOW + rng.uniform(0, 400) * DAY
            end, state = start + 365 * DAY, "queued"
        family = "m5" if shape == "one pool" else rng.choice(FAMILIES)
        region = GLOBAL_REGION if service == "savingsplans" else "us-east-1"
        reservation = Reservation(
            reservation_id=f"r-{index:06d}",
            state=state,
            start=start,
            end=end,
            instance_count=None if service == "savingsplans" else rng.randint(1, 8),
            instance_type=f"{'db.' if service == 'rds' else ''}{family}.{rng.choice(SIZES)}",
            product={"ec2": "Linux/UNIX", "rds": "postgresql"}.get(service, ""),
            scope="Region" if service == "ec2" else "",
            tenancy="default" if service == "ec2" else "",
            multi_az="false" if service == "rds" else "",
            plan_type="Compute" if service == "savingsplans" else "",
            hourly_cost=round(rng.uniform(0.05, 5), 3),
            upfront_cost=0.0,
            region=GLOBAL_REGION if service == "savingsplans" else None,
        )
        out.append(Holding(Target(f"acct-{account}", account, region, service), reservation))
    return out


def baseline(items: list[Holding], scope: str) -> None:
    """Pool every reservation and sort each pool: what any exact matching must do."""
    pools: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for h in items:
        pool = capacity_of(h.target.service, region_of(h), h.reservation).pool
        key = (h.target.account_id, *pool) if scope == "account" else pool
        pools[key].append(h.reservation.end)
    for ends in pools.values():
        ends.sort()


def timed(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print_machine()

    rows, missed, wrong = [], False, False
    ratios: dict[tuple[str, str, int], float] = {}
    for shape in ("spread", "one pool"):
        for scope in ("account", "organization"):
            policy = RenewalPolicy(scope)  # type: ignore[arg-type]
            for size in sizes:
                items = holdings(size, shape)
                decided = decide(items, policy, NOW)
                expected = sum(1 for h in items if in_demand(h.reservation))
                wrong |= len(decided) != expected
                covered = statistics.fmean(r.ratio for r in decided.values()) if decided else 0
                took = timed(lambda i=items, p=policy: decide(i, p, NOW), args.repeat)
                base = timed(lambda i=items, s=scope: baseline(i, s), args.repeat)
                ratio = took / base
                ratios[(shape, scope, size)] = ratio
                growth = ""
                ok = took < LIMIT_SECONDS if size >= 50_000 else True
                if size != sizes[0]:
                    grew = ratio / ratios[(shape, scope, sizes[0])]
                    growth = f"{grew:.1f}x"
                    ok = ok and grew <= MAX_RATIO_GROWTH
                missed |= not ok
                rows.append(
                    (
                        shape,
                        scope,
                        size,
                        f"{took * 1000:.0f}",
                        f"{base * 1000:.0f}",
                        f"{ratio:.1f}",
                        growth,
                        f"{covered:.2f}",
                        verdict(ok),
                    )
                )
    print(
        table(
            (
                "shape",
                "scope",
                "reservations",
                "decide ms",
                "baseline ms",
                "ratio",
                "ratio growth",
                "mean covered",
                "target",
            ),
            rows,
        )
    )
    print(
        f"targets: < {LIMIT_SECONDS:.0f} s at 50k; ratio to the baseline grows "
        f"<= {MAX_RATIO_GROWTH:.0f}x from the first size to the others"
    )
    if wrong:
        print("ERROR: a reservation in demand got no answer", file=sys.stderr)
        return 1
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
