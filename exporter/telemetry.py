"""The exporter's own operational metrics (counters and settings).

These live in a prometheus_client registry owned by the running exporter, not
in module globals, so tests and reloads get fresh ones. Reservation data is
not here: collector.py renders it from the snapshot.
"""

from __future__ import annotations

import platform
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Info
from prometheus_client.process_collector import ProcessCollector

from exporter import __version__
from exporter.aws.errors import outcome_of_code


class Telemetry:
    """Counters and gauges about the exporter itself."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.api_requests = Counter(
            "aws_reservation_api_requests",
            "AWS API requests made by the exporter (each retry attempt counts), by outcome.",
            ["service", "operation", "outcome"],
            registry=r,
        )
        self.refresh_errors = Counter(
            "aws_reservation_refresh_errors",
            "Failed refresh attempts per target, by reason "
            "(denied, throttled, timeout, malformed, error).",
            ["account", "account_id", "region", "service", "reason"],
            registry=r,
        )
        self.tag_read_errors = Counter(
            "aws_reservation_tag_read_errors",
            "Failed reads of owner tags (reservation tags; account tags and OU path: "
            "service=organizations), by reason. The owner labels keep what was read before.",
            ["account", "account_id", "region", "service", "reason"],
            registry=r,
        )
        self.cost_explorer_requests = Counter(
            "aws_reservation_cost_explorer_requests",
            "Cost Explorer requests made (each page counts; AWS charges 0.01 USD each).",
            ["operation"],
            registry=r,
        )
        self.unknown_states = Counter(
            "aws_reservation_unknown_states",
            "Reservations seen in a state the exporter does not know (exported as active).",
            ["service", "state"],
            registry=r,
        )
        self.refresh_interval = Gauge(
            "aws_reservation_refresh_interval_seconds",
            "Configured interval between refresh cycles; data is at most this old when healthy.",
            registry=r,
        )
        self.cycle_duration = Gauge(
            "aws_reservation_refresh_cycle_duration_seconds",
            "Wall time of the last complete refresh cycle over all targets.",
            registry=r,
        )
        self.cycles = Counter(
            "aws_reservation_refresh_cycles",
            "Refresh cycles completed since start.",
            registry=r,
        )
        self.reload_ok = Gauge(
            "aws_reservation_config_last_reload_successful",
            "Whether the last configuration (re)load succeeded.",
            registry=r,
        )
        self.reload_time = Gauge(
            "aws_reservation_config_last_reload_success_timestamp_seconds",
            "Time of the last successful configuration (re)load.",
            registry=r,
        )
        self.accounts = Gauge(
            "aws_reservation_accounts",
            "Accounts this exporter reads: configured plus discovered (this shard only).",
            registry=r,
        )
        self.targets = Gauge(
            "aws_reservation_targets",
            "Account x region x service targets refreshed each cycle (this shard only).",
            registry=r,
        )
        self.discovery_success = Gauge(
            "aws_reservation_discovery_success",
            "1 if the last Organizations ListAccounts succeeded, 0 if it failed (the last "
            "good list is kept). Absent when discovery is off.",
            ["source"],
            registry=r,
        )
        self.discovery_last_success = Gauge(
            "aws_reservation_discovery_last_success_timestamp_seconds",
            "When Organizations ListAccounts last succeeded in this process.",
            ["source"],
            registry=r,
        )
        build = Info(
            "aws_reservation_exporter_build",
            "Build information of the exporter.",
            registry=r,
        )
        build.info({"version": __version__, "python_version": platform.python_version()})
        ProcessCollector(registry=r)

    def set_discovery(self, memory: Any) -> None:
        """Export the state of Organizations discovery (nothing when it is off)."""
        if memory.ok is None:
            self.discovery_success.clear()
            self.discovery_last_success.clear()
            return
        self.discovery_success.labels("organizations").set(1 if memory.ok else 0)
        if memory.last_success is not None:
            self.discovery_last_success.labels("organizations").set(memory.last_success)

    def hook_session(self, session: Any) -> None:
        """Count every API attempt of a botocore session, retries included."""
        session.register("needs-retry", self._on_attempt, unique_id="are-api-counter")

    def _on_attempt(
        self, response: Any = None, caught_exception: Any = None, operation: Any = None, **_: Any
    ) -> None:
        if operation is None:
            return
        service = operation.service_model.service_name
        if caught_exception is not None:
            outcome = "error"
        elif response is not None:
            http, parsed = response
            code = (parsed or {}).get("Error", {}).get("Code")
            outcome = outcome_of_code(code, getattr(http, "status_code", None))
        else:
            return
        self.api_requests.labels(service, operation.name, outcome).inc()
