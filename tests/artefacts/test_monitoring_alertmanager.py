"""monitoring/alertmanager.example.yaml: amtool validation, routing cases, and
grouping plus inhibition in a real Alertmanager delivering to a webhook."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.alerting_support import (
    WebhookSink,
    http_json,
    running_alertmanager,
    wait_until,
    webhook_receivers,
)
from tests.support import ROOT
from tests.tooling import require_tool

MONITORING = ROOT / "monitoring"
EXAMPLE = MONITORING / "alertmanager.example.yaml"
ROUTE_CASES = yaml.safe_load((MONITORING / "alertmanager_routes_test.yaml").read_text())


def amtool_routes(receivers: list[str], labels: dict[str, str]) -> subprocess.CompletedProcess[str]:
    amtool = require_tool("amtool")
    return subprocess.run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={EXAMPLE}",
            f"--verify.receivers={','.join(receivers)}",
            *(f"{k}={v}" for k, v in labels.items()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_amtool_check_config_passes() -> None:
    amtool = require_tool("amtool")
    result = subprocess.run(
        [amtool, "check-config", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    for integration in ("email_configs", "sns_configs", "webhook_configs"):
        assert integration in EXAMPLE.read_text()


@pytest.mark.parametrize(
    "case", ROUTE_CASES, ids=[f"{c['labels']['alertname']}-{i}" for i, c in enumerate(ROUTE_CASES)]
)
def test_amtool_routes_alert_to_the_expected_receivers(case: dict[str, Any]) -> None:
    result = amtool_routes(case["receivers"], case["labels"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ",".join(case["receivers"])


def test_amtool_route_verification_fails_on_a_wrong_receiver() -> None:
    # The cases above prove something only if amtool rejects a wrong answer.
    critical = {"alertname": "ReservationExpiringSoon", "severity": "critical", "tier": "critical"}
    assert amtool_routes(["finops-sns"], critical).returncode != 0


def test_every_alert_of_the_rules_has_a_routing_case() -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    pairs = {
        (r["alert"], r["labels"]["severity"])
        for g in rules["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    covered = {(c["labels"]["alertname"], c["labels"].get("severity")) for c in ROUTE_CASES}
    assert pairs - covered == set()


def test_sns_receivers_use_a_topic_arn_and_a_sigv4_region() -> None:
    config = yaml.safe_load(EXAMPLE.read_text())
    sns = [c for r in config["receivers"] for c in r.get("sns_configs", [])]
    assert sns
    for entry in sns:
        assert entry["topic_arn"].startswith("arn:aws:sns:")
        assert entry["sigv4"]["region"] == entry["topic_arn"].split(":")[3]


def alert(
    tier: str,
    severity: str,
    account: str,
    reservation: str,
    alertname: str = "ReservationExpiringSoon",
) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    return {
        "labels": {
            "alertname": alertname,
            "severity": severity,
            "tier": tier,
            "account": account,
            "account_id": "111111111111" if account == "production" else "222222222222",
            "region": "us-east-1",
            "service": "ec2",
            "reservation_id": reservation,
        },
        "annotations": {"summary": f"{reservation} expires"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
    }


@contextlib.contextmanager
def example_alertmanager(workdir: Path) -> Iterator[tuple[str, WebhookSink]]:
    """A real Alertmanager with the example's routes and inhibitions; only the
    receivers are swapped for webhooks and the grouping delays shortened."""
    config = yaml.safe_load(EXAMPLE.read_text())
    with WebhookSink() as sink:
        config_file = workdir / "alertmanager.yaml"
        config_file.write_text(yaml.safe_dump(webhook_receivers(config, sink)))
        with running_alertmanager(config_file, workdir) as base:
            yield base, sink


def reservations(message: dict[str, Any]) -> set[tuple[str, str]]:
    """(reservation id, tier) of every alert in a webhook message."""
    return {(a["labels"]["reservation_id"], a["labels"]["tier"]) for a in message["alerts"]}


def test_alertmanager_groups_by_account_and_a_higher_tier_mutes_lower_ones(
    tmp_path: Path,
) -> None:
    """The example's routes and inhibitions in a real Alertmanager; only the
    receivers are swapped for webhooks and the grouping delays shortened."""
    with example_alertmanager(tmp_path) as (base, sink):
        http_json(
            f"{base}/api/v2/alerts",
            [
                alert("critical", "critical", "production", "ri-1"),
                alert("urgent", "warning", "production", "ri-1"),  # muted by critical
                alert("warning", "warning", "production", "ri-2"),
                alert("warning", "warning", "production", "ri-3"),
                alert("warning", "warning", "staging", "ri-4"),
                alert("notice", "info", "staging", "ri-5"),
            ],
        )

        def finops_groups() -> dict[str, set[tuple[str, str]]] | None:
            groups = {
                m["groupLabels"]["account"]: reservations(m) for m in sink.messages("finops-sns")
            }
            return groups if len(groups) == 2 else None

        groups = wait_until(finops_groups, 30, "two finops-sns notifications")
        oncall = wait_until(lambda: sink.messages("oncall-sns"), 30, "the on-call page")
        digest = wait_until(lambda: sink.messages("finops-digest"), 30, "the digest")

        inhibited = {
            a["labels"]["tier"]: a["status"]["inhibitedBy"]
            for a in http_json(f"{base}/api/v2/alerts")
            if a["labels"]["reservation_id"] == "ri-1"
        }

    # One message per account; the muted urgent alert of ri-1 is in none.
    assert groups == {
        "production": {("ri-1", "critical"), ("ri-2", "warning"), ("ri-3", "warning")},
        "staging": {("ri-4", "warning")},
    }
    assert [reservations(m) for m in oncall] == [{("ri-1", "critical")}]
    assert [reservations(m) for m in digest] == [{("ri-5", "notice")}]
    assert inhibited["critical"] == []
    assert len(inhibited["urgent"]) == 1
    assert sink.messages("platform-webhook") == []
    assert sink.messages("finops-email") == []


def test_an_ended_reservation_mutes_its_tier_alert_that_keeps_firing(tmp_path: Path) -> None:
    """The critical tier keeps firing for a while after the end (keep_firing_for
    in alerts.yaml) so that the hand-over to ReservationExpired has no gap; the
    example's inhibition keeps that from paging again for the same reservation."""
    with example_alertmanager(tmp_path) as (base, sink):
        http_json(
            f"{base}/api/v2/alerts",
            [
                alert("expired", "warning", "production", "ri-6", "ReservationExpired"),
                alert("critical", "critical", "production", "ri-6"),  # muted by the above
                alert("critical", "critical", "production", "ri-7"),
            ],
        )

        def expired() -> list[dict[str, Any]]:
            return [
                m
                for m in sink.messages("finops-sns")
                if m["groupLabels"]["alertname"] == "ReservationExpired"
            ]

        oncall = wait_until(lambda: sink.messages("oncall-sns"), 30, "the on-call page")
        ended = wait_until(expired, 30, "the ReservationExpired notification")
        held = http_json(f"{base}/api/v2/alerts")

    inhibited = {
        (a["labels"]["alertname"], a["labels"]["reservation_id"]): a["status"]["inhibitedBy"]
        for a in held
    }
    assert [reservations(m) for m in oncall] == [{("ri-7", "critical")}]
    assert [reservations(m) for m in ended] == [{("ri-6", "expired")}]
    assert len(inhibited[("ReservationExpiringSoon", "ri-6")]) == 1
    assert inhibited[("ReservationExpiringSoon", "ri-7")] == []
    assert inhibited[("ReservationExpired", "ri-6")] == []
