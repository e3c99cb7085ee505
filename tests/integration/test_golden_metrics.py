"""The whole per-reservation /metrics output, rendered from the demo data at a
fixed clock through the real refresh path, equals tests/golden/metrics.txt:
any change to what the exporter exports shows up as a reviewed diff.

To accept an intended change: UPDATE_GOLDEN=1 pytest tests/integration/test_golden_metrics.py
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone

from exporter.collector import render
from exporter.config import parse_config
from exporter.fake import FakeAws
from exporter.fake.demo_data import demo_config, seed_demo
from tests.support import GOLDEN as GOLDEN_DIR

GOLDEN = GOLDEN_DIR / "metrics.txt"
# Read at import: the fake's fixture empties the environment for the test.
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
# The one value that depends on the machine: how long each listing took.
DURATION = re.compile(r"^(aws_reservation_refresh_duration_seconds\{[^}]*\}) \S+$", re.M)


def rendered(fake: FakeAws) -> str:
    from exporter.aws import ClientFactory
    from exporter.refresher import Refresher
    from exporter.store import SnapshotStore
    from exporter.telemetry import Telemetry

    layout = seed_demo(fake, NOW)
    config = parse_config(demo_config(layout))
    telemetry = Telemetry()
    store = SnapshotStore()
    at = NOW.timestamp()
    refresher = Refresher(
        config,
        factory=ClientFactory(on_session=telemetry.hook_session),
        store=store,
        telemetry=telemetry,
        clock=lambda: at,
    )
    try:
        assert refresher.run_cycle()
    finally:
        refresher.close()
    return DURATION.sub(r"\1 <duration>", render(store.snapshot(), at, store.account_lines()))


def test_metrics_output_matches_the_golden_file(isolated_fake: FakeAws) -> None:
    text = rendered(isolated_fake)
    if UPDATE:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8")
    assert text == expected, (
        "the /metrics output changed; review the diff and, if intended, run "
        "UPDATE_GOLDEN=1 pytest tests/integration/test_golden_metrics.py"
    )


def test_the_golden_file_covers_every_service_and_the_renewal_series() -> None:
    text = GOLDEN.read_text(encoding="utf-8")
    services = set(re.findall(r'service="([a-z0-9]+)"', text))
    assert services == {
        "ec2",
        "rds",
        "elasticache",
        "redshift",
        "opensearch",
        "memorydb",
        "savingsplans",
    }
    for family in (
        "aws_reservation_days_until_expiry",
        "aws_reservation_renewal_covered_ratio",
        "aws_reservation_renewal_uncovered_hourly_cost",
        "aws_reservation_info",
        "aws_reservation_refresh_success",
    ):
        assert f"\n{family}{{" in text
    assert 'aws_reservation_renewal_covered_ratio{account="analytics"' in text
