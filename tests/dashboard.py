"""Reading monitoring/dashboard.json: its panels, variables and every PromQL
query with Grafana's variables replaced by values Prometheus accepts. Used by
the dashboard's own tests and by the end-to-end test, which runs each query."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from tests.support import ROOT

DASHBOARD = ROOT / "monitoring" / "dashboard.json"
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
}


def load() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def panel_titled(dashboard: dict[str, Any], title: str) -> dict[str, Any]:
    return next(p for p in all_panels(dashboard) if p.get("title") == title)


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and query variable, with the
    template variables replaced by values Prometheus accepts."""
    found = []
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            match = re.fullmatch(r"label_values\((.*),\s*\w+\)", var["query"]["query"], re.S)
            assert match, var["query"]
            found.append((f"variable {var['name']}", match.group(1)))
    names = [v for v in variables(dashboard) if v != "datasource"]
    substituted = []
    for where, expr in found:
        for name in names:
            expr = expr.replace(f"${name}", ".*")
        for name, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(name, value)
        assert "$" not in expr, (where, expr)
        substituted.append((where, expr))
    return substituted
