"""monitoring/alerts.yaml: promtool checks, the chart contract and alert hygiene."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support import ROOT
from tests.tooling import require_tool

MONITORING = ROOT / "monitoring"
RULES = MONITORING / "alerts.yaml"
RULE_TESTS = MONITORING / "alerts_test.yaml"
RUNBOOK = MONITORING / "RUNBOOK.md"
IDENTITY = "account, account_id, region, service, reservation_id"
# The PromQL coverage helpers the exporter's covered ratio replaced.
REMOVED_HELPERS = (
    "aws_reservation:renewal_candidate_start_timestamp_seconds",
    "aws_reservation:renewal_earliest_start_timestamp_seconds",
    "aws_reservation:renewal_covered",
    "aws_reservation:start_timestamp_seconds",
)
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


def expiry_alerts() -> list[dict[str, Any]]:
    return [
        r
        for r in alerting_rules()
        if r["alert"] in {"ReservationExpiringSoon", "ReservationExpired"}
    ]


def flat(expr: str) -> str:
    """``expr`` with its whitespace collapsed to single spaces."""
    return " ".join(expr.split())


def seconds(duration: str) -> int:
    """A Prometheus duration made of h, m and s parts, in seconds."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, duration
    hours, minutes, secs = (int(p or 0) for p in parts.groups())
    return hours * 3600 + minutes * 60 + secs


def recording_rule(name: str) -> dict[str, Any]:
    [rule] = [r for g in load_rules()["groups"] for r in g["rules"] if r.get("record") == name]
    return rule


OWNER_ORDER = ["team", "cost_center", "ou_path", "payer_account_id"]
OWNER_LABELS = set(OWNER_ORDER)


def test_no_rule_joins_on_info_labels_or_uses_the_old_coverage_helpers() -> None:
    for group in load_rules()["groups"]:
        for rule in group["rules"]:
            text = yaml.safe_dump(rule)
            name = rule.get("record") or rule["alert"]
            assert "aws_reservation_info" not in text, name
            # group_left copies only the thresholds' tier or the owner labels
            # of aws_reservation:owner, never info labels
            for copied in re.findall(r"group_left\s*\(([^)]*)\)", rule["expr"]):
                labels = set(copied.replace(",", " ").split())
                assert labels <= {"tier"} or labels <= OWNER_LABELS, (name, copied)
            for helper in REMOVED_HELPERS:
                assert not re.search(re.escape(helper) + r"(?![\w:])", text), (name, helper)


def test_the_uncovered_share_reads_the_exporters_ratio_merged_over_replicas() -> None:
    expr = flat(recording_rule("aws_reservation:renewal_uncovered_ratio")["expr"])
    merged = f"max by ({IDENTITY}) ( last_over_time(aws_reservation_renewal_covered_ratio[1h]) )"
    assert f"1 - {merged}" in expr
    # a reservation without the series counts as not covered ...
    assert f"or on ({IDENTITY}) 0 * (" in expr
    # ... unless it was retired early, which never has a share
    retired = f"max by ({IDENTITY}) ( last_over_time(aws_reservation_retired_early[1h]) ) == 1"
    assert expr.endswith(f"unless on ({IDENTITY}) {retired}")
    cost = flat(recording_rule("aws_reservation:renewal_uncovered_hourly_cost")["expr"])
    assert f"max by ({IDENTITY}, currency) ( last_over_time(" in cost
    assert "aws_reservation_renewal_uncovered_hourly_cost[1h]" in cost
    assert cost.endswith(f"and on ({IDENTITY}) aws_reservation:renewal_uncovered_ratio")
    end = flat(recording_rule("aws_reservation:expiry_timestamp_seconds")["expr"])
    assert end == (
        f"max by ({IDENTITY}) ( last_over_time(aws_reservation_expiry_timestamp_seconds[1h]) )"
    )


def test_every_expiry_alert_fires_only_on_an_uncovered_share_of_its_own_band() -> None:
    alerts = expiry_alerts()
    assert len(alerts) == 5
    for rule in alerts:
        tier = rule["labels"].get("tier", "expired")
        expr = flat(rule["expr"])
        assert f'aws_reservation:days_until_expiry:tier{{tier="{tier}"}}' in expr, expr
        assert f"and on ({IDENTITY}) aws_reservation:renewal_uncovered_ratio > 0 )" in expr
        # ... and carries its owner, from the one-series-per-reservation rule
        owners = ", ".join(sorted(OWNER_LABELS, key=OWNER_ORDER.index))
        assert expr.endswith(f"* on ({IDENTITY}) group_left ({owners}) aws_reservation:owner")


def test_the_owner_rule_keeps_one_series_per_reservation_and_never_drops_one() -> None:
    expr = flat(recording_rule("aws_reservation:owner")["expr"])
    # one series per reservation and per account, even while two disagree
    assert f"topk by ({IDENTITY}) ( 1, aws_reservation_owner_info )" in expr
    assert "topk by (account, account_id) (1, aws_reservation_account_info)" in expr
    # a reservation (account) without owner series still gets one, empty
    assert f"or on ({IDENTITY}) 0 * aws_reservation:expiry_timestamp_seconds + 1" in expr
    assert (
        "or on (account, account_id) 0 * group by (account, account_id) "
        "(aws_reservation:expiry_timestamp_seconds) + 1" in expr
    )
    # the rule comes before the alerts that read it (same group, in order)
    [group] = [g for g in load_rules()["groups"] if g["name"] == "aws-reservation-expiry"]
    names = [r.get("record") or r.get("alert") for r in group["rules"]]
    assert names.index("aws_reservation:owner") < names.index("ReservationExpiringSoon")


def test_tier_alerts_keep_firing_until_the_next_tier_has_fired() -> None:
    """keep_firing_for must outlast the next tier's `for` by more than an
    evaluation interval (5m in alerts_test.yaml, more than Prometheus' 1m)."""
    interval = seconds(yaml.safe_load(RULE_TESTS.read_text())["evaluation_interval"])
    tiers = [r for r in alerting_rules() if r["alert"] == "ReservationExpiringSoon"]
    expired = next(r for r in alerting_rules() if r["alert"] == "ReservationExpired")
    following = [*tiers[1:], expired]  # critical hands over to ReservationExpired
    for rule, successor in zip(tiers, following, strict=True):
        assert seconds(rule["keep_firing_for"]) - seconds(successor["for"]) > interval, rule
    assert "keep_firing_for" not in expired


def annotation_query_formats(text: str) -> list[str]:
    """The format strings of every printf in an annotation template."""
    return re.findall(r'printf "((?:[^"\\]|\\.)*)"', text)


def test_annotation_queries_quote_label_values_and_merge_replicas() -> None:
    for rule in expiry_alerts():
        for name in ("summary", "description"):
            text = rule["annotations"][name]
            assert "| query" in text, (rule["alert"], name)
            formats = annotation_query_formats(text)
            selectors = [f for f in formats if "{" in f]
            assert selectors, (rule["alert"], name)
            # The one selector is built from the alert's labels with %q,
            # which escapes quotes and backslashes as PromQL expects ...
            assert formats[0] == ",".join(f"{label}=%q" for label in IDENTITY.split(", "))
            assert text.count("$labels.reservation_id") >= 2  # in the selector and the text
            for fmt in selectors:
                # ... and every query uses it, never a hand-quoted label value.
                assert re.findall(r"\{[^}]*\}", fmt) == ["{%s}"] * fmt.count("{"), fmt
                assert "max(" in fmt or "max by (" in fmt, fmt
                assert "=" not in fmt.replace("{%s}", ""), fmt


def test_expiry_descriptions_say_the_covered_share_what_is_not_covered_and_its_cost() -> None:
    for rule in expiry_alerts():
        text = rule["annotations"]["description"]
        assert "humanizePercentage" in text
        assert "aws_reservation_instances" in text  # reserved instances or nodes
        assert "aws_reservation:hourly_cost" in text  # a Savings Plan's commitment
        assert "aws_reservation:renewal_uncovered_hourly_cost" in text
        assert "humanizePercentage" in rule["annotations"]["summary"]


def test_the_hand_over_test_fails_without_keep_firing_for(tmp_path: Path) -> None:
    """alerts_test.yaml's gap checks prove something only if they catch a gap."""
    promtool = require_tool("promtool")
    rules = load_rules()
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("keep_firing_for", None)
    (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    (tmp_path / "alerts_test.yaml").write_text(RULE_TESTS.read_text())
    result = run(promtool, "test", "rules", str(tmp_path / "alerts_test.yaml"))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    # The no-gap count of the hand-over case (alerts_test.yaml) is what fails.
    gap_check = re.search(r"\[2h45m:5m\]\)\", time: 3h,\n\s+exp: (.*)\n\s+got: (.*)\n", output)
    assert gap_check, output
    assert gap_check.group(1) != gap_check.group(2)


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
    """Series of one EC2 reservation with ``days_left`` at 1h, not renewed at all."""
    labels = (
        'account="p",account_id="111111111111",region="us-east-1",'
        f'service="ec2",reservation_id="{rid}"'
    )
    end = int(3600 + days_left * 86400)
    return [
        {"series": f"aws_reservation_expiry_timestamp_seconds{{{labels}}}", "values": f"{end}x20"},
        {"series": f"aws_reservation_renewal_covered_ratio{{{labels}}}", "values": "0x20"},
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
