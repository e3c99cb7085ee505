"""monitoring/dashboard.json: Grafana's schema (tsc), layout and content, and
every PromQL query parsed by promtool."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dashboard import all_panels, load, panel_titled, queries, variables
from tests.support import ROOT
from tests.tooling import require_tool

MONITORING = ROOT / "monitoring"
SCHEMA_CHECK = MONITORING / "schema-check"

# DESIGN §4: the metrics the exporter exposes (plus Prometheus's own `up`).
EXPORTED = {
    "aws_reservation_days_until_expiry",
    "aws_reservation_expiry_timestamp_seconds",
    "aws_reservation_start_timestamp_seconds",
    "aws_reservation_instances",
    "aws_reservation_hourly_cost",
    "aws_reservation_upfront_cost",
    "aws_reservation_info",
    "aws_reservation_refresh_success",
    "aws_reservation_refresh_last_success_timestamp_seconds",
    "aws_reservation_refresh_duration_seconds",
    "aws_reservation_api_requests_total",
    "aws_reservation_refresh_errors_total",
    "aws_reservation_refresh_interval_seconds",
    "aws_reservation_config_last_reload_successful",
    "aws_reservation_config_last_reload_success_timestamp_seconds",
    "aws_reservation_accounts",
    "aws_reservation_exporter_build_info",
    # DESIGN §10: renewal coverage, decided by the exporter
    "aws_reservation_renewal_covered_ratio",
    "aws_reservation_renewal_uncovered_hourly_cost",
    "aws_reservation_retired_early",
    # issues 16 and 18: owners and Cost Explorer
    "aws_reservation_owner_info",
    "aws_reservation_account_info",
    "aws_reservation_utilization_ratio",
    "up",
}
IDENTITY = "account, account_id, region, service, reservation_id"
FILTER = 'account=~"$account",region=~"$region",service=~"$service"'
COVERED_STEPS = [(None, "red"), (0.01, "orange"), (1, "green")]
# --- layout and content -------------------------------------------------


def test_dashboard_uses_a_current_schema_and_a_datasource_variable() -> None:
    dashboard = load()
    assert dashboard["schemaVersion"] >= 39
    assert dashboard["uid"] and dashboard["title"]
    datasource = variables(dashboard)["datasource"]
    assert datasource["type"] == "datasource" and datasource["query"] == "prometheus"
    for panel in all_panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]


def test_account_region_and_service_variables_come_from_label_values() -> None:
    found = variables(load())
    for name in ("account", "region", "service"):
        var = found[name]
        assert var["type"] == "query"
        assert var["query"]["query"].startswith("label_values(aws_reservation_info")
        assert var["query"]["query"].endswith(f", {name})")
        assert var["multi"] and var["includeAll"] and var["allValue"] == ".*"
        assert var["datasource"]["uid"] == "${datasource}"


def test_reservation_queries_filter_on_the_template_variables() -> None:
    # Per-exporter series have no account/region/service labels to filter on.
    per_exporter = ("aws_reservation_api_requests_total", "config_last_reload_successful")
    for panel in all_panels(load()):
        for target in panel.get("targets", []):
            expr = target["expr"]
            if "aws_reservation" not in expr or any(m in expr for m in per_exporter):
                continue
            for name in ("account", "region", "service"):
                assert f'{name}=~"${name}"' in expr, (panel["title"], expr)


def test_panels_have_unique_ids_and_fit_the_grid_without_overlap() -> None:
    panels = list(all_panels(load()))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_reservation_table_is_sorted_by_days_left_with_colour_thresholds() -> None:
    table = panel_titled(load(), "Reservations by days left")
    assert table["type"] == "table"
    assert table["options"]["sortBy"] == [{"displayName": "Days left", "desc": False}]
    sort = next(t for t in table["transformations"] if t["id"] == "sortBy")
    assert sort["options"]["sort"] == [{"field": "Days left", "desc": False}]
    days = next(
        o for o in table["fieldConfig"]["overrides"] if o["matcher"]["options"] == "Days left"
    )
    props = {p["id"]: p["value"] for p in days["properties"]}
    steps = [(s["value"], s["color"]) for s in props["thresholds"]["steps"]]
    assert steps == [(None, "red"), (7, "orange"), (30, "yellow"), (60, "green")]
    assert props["custom.cellOptions"]["type"] == "color-background"
    exprs = [t["expr"] for t in table["targets"]]
    assert any(e.startswith("(aws_reservation:days_until_expiry{") for e in exprs)


TEAM_FILTER = f' and on ({IDENTITY}) aws_reservation:owner{{team=~"$team",{FILTER}}}'


def owned(expr: str) -> str:
    """``expr`` narrowed to the reservations of the chosen team(s), flattened."""
    return f"({expr}){TEAM_FILTER}"


def test_the_team_variable_narrows_every_per_reservation_panel() -> None:
    dashboard = load()
    team = variables(dashboard)["team"]
    assert team["query"]["query"] == f"label_values(aws_reservation:owner{{{FILTER}}}, team)"
    assert team["multi"] and team["includeAll"] and team["allValue"] == ".*"
    for title in (
        "Reservations by days left",
        "Expiring reservations and their covered share",
        "Expiry timeline: days left",
        "Ended, not replaced",
        "Hourly cost at stake, by team",
    ):
        for target in panel_titled(dashboard, title)["targets"]:
            assert 'aws_reservation:owner{team=~"$team",' in target["expr"], (title, target)
    table = panel_titled(dashboard, "Reservations by days left")
    assert renamed(table)["team"] == "Team"


def test_reservation_table_shows_utilization_beside_days_left() -> None:
    table = panel_titled(load(), "Reservations by days left")
    by_ref = {t["refId"]: " ".join(t["expr"].split()) for t in table["targets"]}
    assert by_ref["G"] == owned(
        f"max by ({IDENTITY}) (aws_reservation_utilization_ratio{{{FILTER}}})"
    )
    assert renamed(table)["Value #G"] == "Used"
    assert override(table, "Used")["unit"] == "percentunit"


def override(panel: dict[str, Any], field: str) -> dict[str, Any]:
    """The properties a table sets on one column, by id."""
    [found] = [o for o in panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == field]
    return {p["id"]: p["value"] for p in found["properties"]}


def renamed(panel: dict[str, Any]) -> dict[str, str]:
    organize = next(t for t in panel["transformations"] if t["id"] == "organize")
    return organize["options"]["renameByName"]


def test_reservation_table_shows_the_covered_share_as_a_percentage() -> None:
    table = panel_titled(load(), "Reservations by days left")
    by_ref = {t["refId"]: " ".join(t["expr"].split()) for t in table["targets"]}
    # replicas merged by the recording rule and again by max; 1 - uncovered
    assert by_ref["B"] == owned(
        f"1 - max by ({IDENTITY}) (aws_reservation:renewal_uncovered_ratio{{{FILTER}}})"
    )
    assert renamed(table)["Value #B"] == "Covered"
    props = override(table, "Covered")
    assert props["unit"] == "percentunit"
    steps = [(s["value"], s["color"]) for s in props["thresholds"]["steps"]]
    assert steps == COVERED_STEPS


def test_expiring_table_lists_days_left_covered_share_and_uncovered_cost() -> None:
    table = panel_titled(load(), "Expiring reservations and their covered share")
    assert table["type"] == "table"
    assert table["options"]["sortBy"] == [{"displayName": "Days left", "desc": False}]
    sort = next(t for t in table["transformations"] if t["id"] == "sortBy")
    assert sort["options"]["sort"] == [{"field": "Days left", "desc": False}]
    in_band = f'aws_reservation:days_until_expiry:tier{{tier!="expired",{FILTER}}}'
    by_ref = {t["refId"]: " ".join(t["expr"].split()) for t in table["targets"]}
    assert by_ref["A"] == owned(in_band)
    assert by_ref["B"] == owned(
        f"1 - aws_reservation:renewal_uncovered_ratio{{{FILTER}}} and on ({IDENTITY}) {in_band}"
    )
    assert by_ref["C"] == owned(
        f"max by ({IDENTITY}, currency) (aws_reservation:renewal_uncovered_hourly_cost{{{FILTER}}})"
        f" and on ({IDENTITY}) {in_band}"
    )
    assert all(t["format"] == "table" and t["instant"] for t in table["targets"])
    assert {k: renamed(table)[k] for k in ("Value #A", "Value #B", "Value #C")} == {
        "Value #A": "Days left",
        "Value #B": "Covered",
        "Value #C": "Uncovered per hour",
    }
    assert override(table, "Covered")["unit"] == "percentunit"
    days = override(table, "Days left")["thresholds"]["steps"]
    assert [(s["value"], s["color"]) for s in days] == [
        (None, "red"),
        (7, "orange"),
        (30, "yellow"),
        (60, "green"),
    ]


def test_only_the_reservation_table_reads_info_labels_and_joins_nothing_on_them() -> None:
    for panel in all_panels(load()):
        for target in panel.get("targets", []):
            expr = target["expr"]
            if "aws_reservation_info" not in expr:
                continue
            assert panel["title"] == "Reservations by days left", panel["title"]
            # a display column merged by Grafana, not a PromQL join; only
            # narrowed to the chosen team
            flat = " ".join(expr.split())
            assert flat.startswith("(max by (") and flat.endswith(TEAM_FILTER), expr
            assert " on (" not in flat.removesuffix(TEAM_FILTER), expr


def test_money_panels_read_the_uncovered_cost_series() -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    records = {r["record"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    for name in ("aws_reservation:hourly_cost_at_stake", "aws_reservation:hourly_cost_lapsed"):
        assert "aws_reservation:renewal_uncovered_hourly_cost > 0" in records[name], name
    exprs = {
        p["title"]: " ".join(t["expr"] for t in p.get("targets", [])) for p in all_panels(load())
    }
    for title in ("Hourly cost at stake", "Money at stake over time"):
        assert "aws_reservation:hourly_cost_at_stake{" in exprs[title], title
    assert "aws_reservation:hourly_cost_lapsed{" in exprs["Hourly cost lapsed"]
    ended = " ".join(exprs["Ended, not replaced"].split())
    assert f"and on ({IDENTITY}) aws_reservation:renewal_uncovered_ratio{{{FILTER}}} > 0" in ended


def test_dashboard_shows_counts_cost_timeline_and_exporter_health() -> None:
    dashboard = load()
    exprs = {
        p["title"]: " ".join(t["expr"] for t in p.get("targets", [])) for p in all_panels(dashboard)
    }
    counts = exprs["Ending within each threshold, by account and service"]
    for tier in ("urgent", "warning", "notice"):
        assert f'aws_reservation:expiring_unrenewed:count{{tier="{tier}"' in counts
    assert "sum by (account, service)" in counts
    assert "aws_reservation:hourly_cost_at_stake" in exprs["Hourly cost at stake"]
    assert panel_titled(dashboard, "Expiry timeline: days left")["type"] == "timeseries"
    assert "aws_reservation:days_until_expiry:tier" in exprs["Expiry timeline: days left"]
    health = exprs["Targets"]
    for metric in (
        "refresh_success",
        "refresh_last_success_timestamp_seconds",
        "refresh_errors_total",
    ):
        assert f"aws_reservation_{metric}" in health


# --- PromQL -------------------------------------------------------------


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    found = queries(load())
    rules = {
        "groups": [
            {
                "name": "dashboard-queries",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": expr}
                    for i, (_, expr) in enumerate(found)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(found)} rules found" in result.stdout


def sample_series(rid: str, days_left: float, **extra: float) -> list[dict[str, str]]:
    """One EC2 reservation ``days_left`` from its end at 1h, plus ``extra``
    exporter series (metric name without the prefix: value)."""
    labels = (
        'instance="a:9725",account="production",account_id="111111111111",'
        f'region="us-east-1",service="ec2",reservation_id="{rid}"'
    )
    series = [
        {
            "series": f"aws_reservation_expiry_timestamp_seconds{{{labels}}}",
            "values": f"{int(3600 + days_left * 86400)}x20",
        }
    ]
    for name, value in extra.items():
        currency = ',currency="USD"' if name.endswith("cost") else ""
        series.append(
            {"series": f"aws_reservation_{name}{{{labels}{currency}}}", "values": f"{value}x20"}
        )
    return series


def test_coverage_panels_return_the_covered_share_and_uncovered_cost(tmp_path: Path) -> None:
    """The expiring table and the reservations table's Covered column, run by
    promtool on the shipped rules with a few reservations."""
    promtool = require_tool("promtool")
    dashboard = load()
    expiring = {
        t["refId"]: t["expr"]
        for t in panel_titled(dashboard, "Expiring reservations and their covered share")["targets"]
    }
    covered_column = next(
        t["expr"]
        for t in panel_titled(dashboard, "Reservations by days left")["targets"]
        if t["refId"] == "B"
    )
    in_band = "aws_reservation:days_until_expiry:tier"
    inputs = [
        *sample_series(
            "ri-partial", 20, renewal_covered_ratio=0.75, renewal_uncovered_hourly_cost=0.25
        ),
        *sample_series("ri-unknown", 5, hourly_cost=0.5),  # no covered ratio: not covered
        *sample_series("ri-far", 90, renewal_covered_ratio=1, renewal_uncovered_hourly_cost=0),
        *sample_series("ri-ended", -2, renewal_covered_ratio=0, renewal_uncovered_hourly_cost=1),
        *sample_series("ri-exchanged", -2, retired_early=1, hourly_cost=2),
    ]

    def sample(rid: str, value: float, **labels: str) -> dict[str, Any]:
        identity = {
            "account": "production",
            "account_id": "111111111111",
            "region": "us-east-1",
            "service": "ec2",
            "reservation_id": rid,
            **labels,
        }
        text = ",".join(f'{k}="{v}"' for k, v in identity.items())
        return {"labels": f"{{{text}}}", "value": value}

    expected = {
        expiring["A"]: [
            sample("ri-partial", 20, tier="warning", __name__=in_band),
            sample("ri-unknown", 5, tier="urgent", __name__=in_band),
        ],
        expiring["B"]: [sample("ri-partial", 0.75), sample("ri-unknown", 0)],
        expiring["C"]: [
            sample("ri-partial", 0.25, currency="USD"),
            sample("ri-unknown", 0.5, currency="USD"),
        ],
        covered_column: [
            sample("ri-partial", 0.75),
            sample("ri-unknown", 0),
            sample("ri-far", 1),
            sample("ri-ended", 0),
        ],
    }
    names = [v for v in variables(dashboard) if v != "datasource"]

    def substituted(expr: str) -> str:
        for name in names:
            expr = expr.replace(f"${name}", ".*")
        return expr

    test = {
        "rule_files": [str(MONITORING / "alerts.yaml")],
        "evaluation_interval": "5m",
        "group_eval_order": [
            "aws-reservation-thresholds",
            "aws-reservation-expiry",
            "aws-reservation-dashboard",
        ],
        "tests": [
            {
                "interval": "5m",
                "input_series": inputs,
                "promql_expr_test": [
                    {"expr": substituted(expr), "eval_time": "1h", "exp_samples": samples}
                    for expr, samples in expected.items()
                ],
            }
        ],
    }
    path = tmp_path / "coverage_test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_query_that_does_not_parse_is_caught(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    path = tmp_path / "bad.yaml"
    bad = {"record": "x", "expr": "sum by (account (aws_reservation_info)"}
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [bad]}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0


def test_every_dashboard_metric_is_exported_or_recorded() -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    for where, expr in queries(load()):
        for name in re.findall(r"\b(aws_reservation[\w:]*|up)\b", expr):
            assert name in EXPORTED | recorded, (where, name)


# --- Grafana's schema (tsc) ---------------------------------------------


def schema_check_ready() -> Path:
    """node plus the npm project's dependencies (`make tools` runs npm ci)."""
    require_tool("node")
    if not (SCHEMA_CHECK / "node_modules" / "@grafana" / "schema").is_dir():
        message = f"{SCHEMA_CHECK}/node_modules missing (run `make tools`)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SCHEMA_CHECK


def type_check(dashboards: dict[str, dict[str, Any]], workdir: Path) -> tuple[dict[str, str], str]:
    """Generate a typed .ts per dashboard in ``workdir`` and run tsc --strict
    once over all of them. Returns the generator's error per dashboard it
    refused, and tsc's output (errors start with ``generated/<name>.ts``)."""
    node = require_tool("node")
    project = schema_check_ready()
    (workdir / "node_modules").symlink_to(project / "node_modules")
    (workdir / "tsconfig.json").write_text((project / "tsconfig.json").read_text())
    refused = {}
    for name, dashboard in dashboards.items():
        source = workdir / f"{name}.json"
        source.write_text(json.dumps(dashboard))
        generate = subprocess.run(
            [
                node,
                str(project / "generate.mjs"),
                str(source),
                str(workdir / "generated" / f"{name}.ts"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if generate.returncode != 0:
            refused[name] = generate.stdout + generate.stderr
    tsc = project / "node_modules" / "typescript" / "bin" / "tsc"
    result = subprocess.run(
        [node, str(tsc), "--noEmit", "--strict", "-p", "tsconfig.json"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return refused, result.stdout + result.stderr


def test_dashboard_type_checks_against_grafanas_schema(tmp_path: Path) -> None:
    refused, output = type_check({"dashboard": load()}, tmp_path)
    assert refused == {}
    assert output.strip() == ""
    generated = (tmp_path / "generated" / "dashboard.ts").read_text()
    assert "export const dashboard: Json<Dashboard> = " in generated
    assert "Json<panel_table.Options>" in generated


def mutation(
    path: str, change: Callable[[dict[str, Any]], None]
) -> Callable[[dict[str, Any]], None]:
    def apply(dashboard: dict[str, Any]) -> None:
        change(next(p for p in all_panels(dashboard) if p.get("title") == path))

    return apply


BROKEN: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "grid height as text": (
        mutation("Reservations by days left", lambda p: p["gridPos"].update(h="12")),
        "not assignable to type 'number'",
    ),
    "misspelt panel key": (
        mutation("Reservations by days left", lambda p: p.update(titel=p.pop("title"))),
        "'\"titel\"' does not exist",
    ),
    "table without showHeader": (
        mutation("Reservations by days left", lambda p: p["options"].pop("showHeader")),
        "'showHeader' is missing",
    ),
    "unknown thresholds mode": (
        mutation(
            "Hourly cost at stake",
            lambda p: p["fieldConfig"]["defaults"]["thresholds"].update(mode="absolut"),
        ),
        "'\"absolut\"' is not assignable",
    ),
    "stat colour mode that does not exist": (
        mutation("Targets failing", lambda p: p["options"].update(colorMode="rainbow")),
        "'\"rainbow\"' is not assignable",
    ),
    "query without refId": (
        mutation("Targets failing", lambda p: p["targets"][0].pop("refId")),
        "'refId' is missing",
    ),
    "unknown panel type": (
        mutation("Targets failing", lambda p: p.update(type="stats")),
        'panel type "stats"',
    ),
}


def test_schema_check_rejects_each_broken_panel(tmp_path: Path) -> None:
    """Each mutation alone must fail the check, with the expected message; the
    untouched dashboard, checked in the same tsc run, must not."""
    dashboards = {"valid": load()}
    for index, (change, _) in enumerate(BROKEN.values()):
        broken = copy.deepcopy(load())
        change(broken)
        dashboards[f"broken{index}"] = broken
    refused, output = type_check(dashboards, tmp_path)
    errors: dict[str, list[str]] = {}
    for line in output.splitlines():
        match = re.match(r"generated/(\w+)\.ts\(\d+,\d+\): error (.*)", line)
        if match:
            errors.setdefault(match.group(1), []).append(match.group(2))
    assert "valid" not in refused and "valid" not in errors, output
    for index, (name, (_, message)) in enumerate(BROKEN.items()):
        found = refused.get(f"broken{index}", "") + "\n".join(errors.get(f"broken{index}", []))
        assert message in found, f"{name}: expected {message!r} in {found!r}"
