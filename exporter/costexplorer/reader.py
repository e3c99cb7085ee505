"""When and how the refresher reads Cost Explorer, and what it keeps.

A read happens in a refresh cycle when ``cost_explorer.refresh_interval`` has
passed since the last good one (or the settings changed); in between, and
when a read fails, the last good rows stay in use. Its health is a target of
its own, ``{service="cost_explorer", region="global"}``, so the usual refresh
alerts cover it.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timezone
from typing import Any

from exporter.accounts import role_account
from exporter.aws import home_region, partition_of_arn
from exporter.aws.errors import deadline, describe_error, failure_reason
from exporter.costexplorer.catalog import PRICE_PER_REQUEST, RI_SERVICES
from exporter.costexplorer.merge import Overlay
from exporter.costexplorer.source import read
from exporter.model import GLOBAL_REGION, Target

log = logging.getLogger(__name__)

READ_DEADLINE = 300.0  # seconds of requests one read may take
SERVICE = "cost_explorer"  # the target label of its health series
MONTH = 30 * 86400.0


class CostExplorerReader:
    def __init__(self, factory: Any, telemetry: Any) -> None:
        self.factory = factory
        self.telemetry = telemetry
        self.overlay: Overlay | None = None
        self.read_at: float | None = None
        self._settings: tuple[object, ...] | None = None
        self._healthy = False  # the last read succeeded

    def status_target(self, config: Any, directory: Any) -> Target:
        ce = config.cost_explorer
        if ce.role_arn:
            account_id = ce.role_arn.split(":")[4]
        else:
            try:
                account_id = directory.own_arn().split(":")[4]
            except Exception:  # no own identity: the read fails and says why
                account_id = ""
        return Target("cost-explorer", account_id, GLOBAL_REGION, SERVICE)

    def current(self, config: Any, directory: Any, store: Any, now: float) -> Overlay | None:
        """The rows to use this cycle: read now when due, else the last good ones."""
        ce = config.cost_explorer
        if not ce.enabled:
            self.overlay, self.read_at, self._settings = None, None, None
            return None
        settings = (ce.role_arn, ce.lookback, tuple(config.services))
        due = (
            self.read_at is None
            or not self._healthy  # a failed read is tried again next cycle
            or settings != self._settings
            or now - self.read_at >= ce.refresh_interval
        )
        if not due:
            if self.overlay is not None and self._healthy:
                # The rows in use are as fresh as scheduled: the health target
                # says so each cycle, so staleness alerts watch the read, not
                # the (deliberately long) interval between reads.
                target = self.status_target(config, directory)
                store.record_success(target, [], attempted_at=now, duration=0.0)
            return self.overlay
        target = self.status_target(config, directory)
        started = datetime.now(timezone.utc)
        try:
            with deadline(READ_DEADLINE):
                reading = self._read(config, directory, now)
        except Exception as exc:
            reason = failure_reason(exc)
            self.telemetry.refresh_errors.labels(
                target.account, target.account_id, target.region, target.service, reason
            ).inc()
            log.warning(
                "cost explorer: read failed, the last good data is kept: reason=%s: %s",
                reason,
                describe_error(exc),
            )
            store.record_failure(target, attempted_at=now, duration=_since(started), reason=reason)
            self._healthy = False
            return self.overlay
        self.overlay = Overlay(reading.rows)
        self.read_at, self._settings, self._healthy = now, settings, True
        store.record_success(target, [], attempted_at=now, duration=_since(started))
        monthly = reading.pages * MONTH / ce.refresh_interval
        log.info(
            "cost explorer: %d reservations and plans in %d requests; at this size about "
            "%.0f requests a month (%.2f USD) every %s",
            len(reading.rows),
            reading.pages,
            monthly,
            monthly * PRICE_PER_REQUEST,
            _hours(ce.refresh_interval),
        )
        return self.overlay

    def _read(self, config: Any, directory: Any, now: float) -> Any:
        ce = config.cost_explorer
        if ce.role_arn:
            session = self.factory.session_for(role_account(config, "cost-explorer", ce.role_arn))
            region = home_region(partition_of_arn(ce.role_arn))
        else:
            session = self.factory.own()
            region = home_region(directory.partition())
        client = self.factory.client(session, "ce", region)
        today = datetime.fromtimestamp(now, tz=timezone.utc).date()
        return read(
            client,
            config.services,
            int(ce.lookback // 86400),
            today,
            now,
            on_page=lambda operation: self.telemetry.cost_explorer_requests.labels(operation).inc(),
        )


def estimate(config: Any) -> str:
    """What the configured schedule costs at the least (one page per call)."""
    ce = config.cost_explorer
    calls = sum(1 for s in config.services if s in RI_SERVICES) + (
        1 if "savingsplans" in config.services else 0
    )
    reads = MONTH / ce.refresh_interval
    return (
        f"cost explorer: reading every {_hours(ce.refresh_interval)}: at least {calls} "
        f"requests a read (one per service, more with many reservations), "
        f"about {math.ceil(calls * reads)} a month, {calls * reads * PRICE_PER_REQUEST:.2f} USD "
        f"at {PRICE_PER_REQUEST} USD a request"
    )


def _since(started: datetime) -> float:
    return (datetime.now(timezone.utc) - started).total_seconds()


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g}h"
