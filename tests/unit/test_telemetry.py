"""The exporter's own metrics: fresh per instance, discovery state, API outcomes."""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client import generate_latest

from exporter.telemetry import Telemetry
from tests.support import Series, parse_samples


def samples(telemetry: Telemetry) -> dict[Series, float]:
    return parse_samples(generate_latest(telemetry.registry).decode())


def operation(service: str, name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, service_model=SimpleNamespace(service_name=service))


def test_each_instance_has_its_own_registry() -> None:
    one, two = Telemetry(), Telemetry()
    one.cycles.inc()
    assert samples(one)[("aws_reservation_refresh_cycles_total", frozenset())] == 1
    assert samples(two)[("aws_reservation_refresh_cycles_total", frozenset())] == 0


def test_build_info_names_the_version() -> None:
    from exporter import __version__

    (labels,) = [
        k[1] for k in samples(Telemetry()) if k[0] == "aws_reservation_exporter_build_info"
    ]
    assert dict(labels)["version"] == __version__


def test_discovery_metrics_follow_the_memory_and_vanish_when_off() -> None:
    telemetry = Telemetry()
    key_ok = ("aws_reservation_discovery_success", frozenset({("source", "organizations")}))
    key_at = ("aws_reservation_discovery_last_success_timestamp_seconds", key_ok[1])
    telemetry.set_discovery(SimpleNamespace(ok=True, last_success=1000.0))
    assert (samples(telemetry)[key_ok], samples(telemetry)[key_at]) == (1, 1000.0)
    telemetry.set_discovery(SimpleNamespace(ok=False, last_success=1000.0))
    assert (samples(telemetry)[key_ok], samples(telemetry)[key_at]) == (0, 1000.0)
    telemetry.set_discovery(SimpleNamespace(ok=None, last_success=None))
    assert key_ok not in samples(telemetry) and key_at not in samples(telemetry)


def test_every_api_attempt_is_counted_by_outcome() -> None:
    telemetry = Telemetry()
    ok = (SimpleNamespace(status_code=200), {})
    throttled = (SimpleNamespace(status_code=400), {"Error": {"Code": "ThrottlingException"}})
    denied = (SimpleNamespace(status_code=403), {"Error": {"Code": "AccessDenied"}})
    op = operation("rds", "DescribeReservedDBInstances")
    for response in (ok, throttled, throttled, denied):
        telemetry._on_attempt(response=response, operation=op)
    telemetry._on_attempt(caught_exception=OSError("reset"), operation=op)
    telemetry._on_attempt(response=ok, operation=None)  # not an API call: ignored
    counted = {
        dict(labels)["outcome"]: value
        for (name, labels), value in samples(telemetry).items()
        if name == "aws_reservation_api_requests_total"
    }
    assert counted == {"ok": 1, "throttled": 2, "denied": 1, "error": 1}
