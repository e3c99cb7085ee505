"""The landing page in a real browser (headless Debian chromium) against the
demo data: no console message (a CSP violation would be one), the summary
equals what /metrics says, a filter leaves only its account's rows, and a
screenshot is kept as a test artefact."""

from __future__ import annotations

import os
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from exporter.app import Exporter, ServeOptions
from exporter.config import load_config
from exporter.demo import demo_environment
from tests.support import parse_samples
from tests.tooling import require_tool

pytestmark = pytest.mark.tools

ARTEFACTS = Path(os.environ.get("TEST_ARTEFACTS_DIR", "build/test-artefacts"))
DAY = 86400.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The exporter on the demo data; yields its base URL."""
    with demo_environment(tmp_path_factory.mktemp("demo")) as env:
        exporter = Exporter(
            ServeOptions(config_file=str(env.config_file), listen_address="127.0.0.1:0"),
            load_config(env.config_file),
        )
        exporter.start()
        try:
            assert exporter.refresher.ready.wait(120)
            yield f"http://127.0.0.1:{exporter.port}"
        finally:
            exporter.shutdown()


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    """Headless chromium; its stderr carries the page's console messages."""
    binary = require_tool("chromium")
    return subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",  # root in CI containers
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class Summary(HTMLParser):
    """The data-* attributes of the summary cards and the account of each row."""

    def __init__(self) -> None:
        super().__init__()
        self.tiers: dict[str, dict[str, str]] = {}
        self.accounts: list[str] = []
        self._tier: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if "data-tier" in found:
            self._tier = found["data-tier"]
            self.tiers[self._tier] = {}
        elif self._tier is not None:
            for key in ("data-uncovered", "data-ending", "data-cost"):
                if key in found:
                    self.tiers[self._tier][key] = found[key]
        if tag == "tr" and "data-account" in found:
            self.accounts.append(found["data-account"])


def dom(url: str) -> tuple[Summary, list[str]]:
    done = chromium("--dump-dom", url)
    parsed = Summary()
    parsed.feed(done.stdout)
    return parsed, console(done.stderr)


def expected_tiers(base: str) -> dict[str, tuple[int, int, dict[str, float]]]:
    """(ending, not fully renewed, uncovered $/h) per tier, from /metrics."""
    with urllib.request.urlopen(base + "/metrics", timeout=30) as answer:
        text = answer.read().decode()
    days: dict[tuple, float] = {}
    ratio: dict[tuple, float] = {}
    cost: dict[tuple, tuple[str, float]] = {}
    for (name, series), value in parse_samples(text).items():
        labels = dict(series)
        key = tuple(labels.get(k) for k in ("account_id", "region", "service", "reservation_id"))
        if name == "aws_reservation_days_until_expiry":
            days[key] = value
        elif name == "aws_reservation_renewal_covered_ratio":
            ratio[key] = value
        elif name == "aws_reservation_renewal_uncovered_hourly_cost":
            cost[key] = (labels["currency"], value)
    thresholds = {"notice": 60, "warning": 30, "urgent": 7, "critical": 1}
    out = {}
    for tier, limit in thresholds.items():
        ending = [k for k in ratio if 0 < days[k] <= limit]  # in demand: has a ratio
        uncovered = [k for k in ending if ratio[k] < 1]
        money: dict[str, float] = {}
        for k in uncovered:
            if k in cost:
                currency, value = cost[k]
                money[currency] = money.get(currency, 0.0) + value
        out[tier] = (len(ending), len(uncovered), money)
    return out


def test_the_summary_equals_metrics_and_the_console_stays_empty(demo: str) -> None:
    page, messages = dom(demo + "/")
    assert messages == []
    expected = expected_tiers(demo)
    assert set(page.tiers) == set(expected)
    for tier, (ending, uncovered, money) in expected.items():
        shown = page.tiers[tier]
        assert int(shown["data-ending"]) == ending, tier
        assert int(shown["data-uncovered"]) == uncovered, tier
        costs = dict(part.split("=") for part in shown["data-cost"].split())
        assert costs.keys() == money.keys(), tier
        for currency, value in money.items():
            assert abs(float(costs[currency]) - value) < 1e-3, (tier, currency)
    assert expected["notice"][1] > expected["critical"][1] >= 0  # the demo has something in each
    assert len(set(page.accounts)) > 1


def test_filtering_by_one_account_leaves_only_its_rows(demo: str) -> None:
    page, messages = dom(demo + "/?account=production")
    assert messages == []
    assert page.accounts and set(page.accounts) == {"production"}
    everything, _ = dom(demo + "/")
    assert len(page.accounts) < len(everything.accounts)


def test_a_screenshot_is_kept(demo: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTEFACTS / "landing-page.png"
    target.unlink(missing_ok=True)
    done = chromium(f"--screenshot={target}", "--window-size=1400,1800", demo + "/")
    assert console(done.stderr) == []
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 1800)
    assert re.match(rb".*IEND", data[-12:], re.S)
