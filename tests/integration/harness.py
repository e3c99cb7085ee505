"""A refresher driven cycle by cycle against the fake, with the exporter's own
rendering parsed into samples, and lookups into them: what the integration
tests of faults, coverage, hostile answers and shared clients share."""

from __future__ import annotations

import time

from exporter.aws import ClientFactory
from exporter.config import parse_config
from exporter.refresher import Refresher
from exporter.store import SnapshotStore
from exporter.telemetry import Telemetry
from tests.support import parse_samples


class Harness:
    """A refresher driven cycle by cycle, with the exporter's rendering."""

    def __init__(self, config: dict | object, time_fetcher=None, **factory_options) -> None:
        self.telemetry = Telemetry()
        self.store = SnapshotStore()
        cfg = parse_config(config) if isinstance(config, dict) else config
        self.factory = ClientFactory(
            concurrency=4,
            on_session=self.telemetry.hook_session,
            time_fetcher=time_fetcher,
            **factory_options,
        )
        self.refresher = Refresher(
            cfg, factory=self.factory, store=self.store, telemetry=self.telemetry
        )

    def cycle(self) -> dict:
        assert self.refresher.run_cycle()
        from prometheus_client import generate_latest

        from exporter.collector import render

        text = render(self.store.snapshot(), time.time())
        return parse_samples(text + generate_latest(self.telemetry.registry).decode())


def by_target(samples: dict, metric: str) -> dict[tuple[str, str, str], float]:
    return {
        (dict(k[1])["account"], dict(k[1])["region"], dict(k[1])["service"]): v
        for k, v in samples.items()
        if k[0] == metric
    }


def reservation_ids(samples: dict) -> set[str]:
    return {dict(k[1])["reservation_id"] for k in samples if k[0] == "aws_reservation_info"}
