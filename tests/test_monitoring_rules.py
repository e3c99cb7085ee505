"""monitoring/alerts.yaml: promtool checks, the chart contract and alert hygiene."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tooling import require_tool

MONITORING = Path(__file__).resolve().parents[1] / "monitoring"
RULES = MONITORING / "alerts.yaml"
RULE_TESTS = MONITORING / "alerts_test.yaml"
RUNBOOK = MONITORING / "RUNBOOK.md"
RUNBOOK_URL = (
    "https://github.com/aws-reservation-exporter/aws-reservation-exporter"
    "/blob/main/monitoring/RUNBOOK.md#"
)
DEFAULT_THRESHOLDS = {"notice": 60, "warning": 30, "urgent": 7, "critical": 1}
TIER_SEVERITY = {
    "notice": "info",
    "warning": "warning",
    "urgent": "warning",
    "critical": "critical",
}

pytestmark = pytest.mark.tools


def load_rules() -> dict[str, Any]:
    return yaml.safe_load(RULES.read_text())


def alerting_rules() -> list[dict[str, Any]]:
    return [r for g in load_rules()["groups"] for r in g["rules"] if "alert" in r]


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def test_promtool_check_rules_is_clean() -> None:
    promtool = require_tool("promtool")
    result = run(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_rule_unit_tests_pass() -> None:
    promtool = require_tool("promtool")
    result = run(promtool, "test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_first_group_is_the_thresholds_contract_with_the_helm_chart() -> None:
    first = load_rules()["groups"][0]
    assert first["name"] == "aws-reservation-thresholds"
    found = {}
    for rule in first["rules"]:
        assert set(rule) == {"record", "expr", "labels"}, rule
        assert rule["record"] == "aws_reservation:expiry_threshold_days"
        assert set(rule["labels"]) == {"tier"}
        match = re.fullmatch(r"vector\((\d+)\)", rule["expr"].strip())
        assert match, rule["expr"]
        found[rule["labels"]["tier"]] = int(match.group(1))
    assert found == DEFAULT_THRESHOLDS
    assert len(first["rules"]) == len(DEFAULT_THRESHOLDS)


def test_only_the_thresholds_group_mentions_the_day_counts() -> None:
    # A cheap guard on top of the behavioural test below: no rule outside
    # the first group compares with a literal 60/30/7 days.
    for group in load_rules()["groups"][1:]:
        for rule in group["rules"]:
            assert not re.search(r"[<>=]=?\s*(60|30|7)\b", rule["expr"]), rule["expr"]


def test_expiry_tiers_have_the_documented_severities() -> None:
    tiers = {
        r["labels"]["tier"]: r["labels"]["severity"]
        for r in alerting_rules()
        if r["alert"] == "ReservationExpiringSoon"
    }
    assert tiers == TIER_SEVERITY


def test_every_alert_has_severity_summary_description_and_a_runbook_section() -> None:
    anchors = {
        github_anchor(line.lstrip("#"))
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("#")
    }
    for rule in alerting_rules():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, rule["alert"]
        url = annotations["runbook_url"]
        assert url.startswith(RUNBOOK_URL), url
        anchor = url.removeprefix(RUNBOOK_URL)
        assert anchor == rule["alert"].lower()
        assert anchor in anchors, f"RUNBOOK.md has no section for {rule['alert']}"


def test_reservation_alerts_name_the_account_service_reservation_and_days() -> None:
    for rule in alerting_rules():
        if rule["alert"] not in {"ReservationExpiringSoon", "ReservationExpired"}:
            continue
        text = rule["annotations"]["description"]
        for needle in ("$labels.account", "$labels.service", "$labels.reservation_id", "humanize"):
            assert needle in text, (rule["alert"], needle)


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for group in tests:
        for case in group.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {r["alert"] for r in alerting_rules()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet"


def thresholds_group(values: dict[str, int]) -> dict[str, Any]:
    """The first group as the Helm chart generates it from its values."""
    rules = [
        {
            "record": "aws_reservation:expiry_threshold_days",
            "expr": f"vector({days})",
            "labels": {"tier": tier},
        }
        for tier, days in values.items()
    ]
    return {"name": "aws-reservation-thresholds", "rules": rules}


def reservation_series(rid: str, days_left: float) -> list[dict[str, str]]:
    """Series of one EC2 reservation with ``days_left`` at 1h (its instance type is its id)."""
    labels = (
        'account="p",account_id="111111111111",region="us-east-1",'
        f'service="ec2",reservation_id="{rid}"'
    )
    end = int(3600 + days_left * 86400)
    return [
        {"series": f"aws_reservation_expiry_timestamp_seconds{{{labels}}}", "values": f"{end}x20"},
        {
            "series": f'aws_reservation_info{{{labels},state="active",instance_type="{rid}"}}',
            "values": "1x20",
        },
    ]


def custom_threshold_test(rules_file: str) -> dict[str, Any]:
    """A promtool test expecting one firing alert per tier under thresholds 90/45/14/3."""
    cases = {"d100": 100, "d80": 80, "d40": 40, "d10": 10, "d2": 2}
    expected = {"d80": "notice", "d40": "warning", "d10": "urgent", "d2": "critical"}
    samples = [
        {
            "labels": f'{{reservation_id="{rid}",severity="{TIER_SEVERITY[tier]}",tier="{tier}"}}',
            "value": 1,
        }
        for rid, tier in expected.items()
    ]
    # Annotations are checked by alerts_test.yaml; here only which tier fires.
    return {
        "rule_files": [rules_file],
        "evaluation_interval": "5m",
        "group_eval_order": ["aws-reservation-thresholds", "aws-reservation-expiry"],
        "tests": [
            {
                "interval": "5m",
                "input_series": [s for rid, d in cases.items() for s in reservation_series(rid, d)],
                "promql_expr_test": [
                    {
                        "expr": "count by (reservation_id, severity, tier) (ALERTS{"
                        'alertname="ReservationExpiringSoon",alertstate="firing"})',
                        "eval_time": "1h",
                        "exp_samples": samples,
                    }
                ],
            }
        ],
    }


def test_alerts_follow_thresholds_regenerated_in_the_first_group(tmp_path: Path) -> None:
    """What the Helm chart does: replace only the first group, keep the rest verbatim."""
    promtool = require_tool("promtool")
    custom = {"notice": 90, "warning": 45, "urgent": 14, "critical": 3}
    groups = load_rules()["groups"]
    merged = {"groups": [thresholds_group(custom), *groups[1:]]}
    (tmp_path / "custom.yaml").write_text(yaml.safe_dump(merged, sort_keys=False))
    (tmp_path / "default.yaml").write_text(RULES.read_text())

    for name in ("custom", "default"):
        test = custom_threshold_test(f"{name}.yaml")
        (tmp_path / f"{name}_test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = run(promtool, "test", "rules", str(tmp_path / "custom_test.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr

    # The same expectations fail with the default thresholds (80 days out is
    # no alert there, 40 days is notice...): the alerts really read them.
    result = run(promtool, "test", "rules", str(tmp_path / "default_test.yaml"))
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr
