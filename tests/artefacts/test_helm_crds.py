"""The chart's ServiceMonitor and PrometheusRule against prometheus-operator's API.

kubernetes-validate ships schemas for core kinds only. For these two CRDs the
offline source is npm's @kubernetes-models/prometheus-operator (generated from
prometheus-operator's Go types, which its CRDs are generated from too),
installed into helm/schema-check by .ci/install-tools.sh. The checker runs
both the package's JSON-schema validators and a TypeScript excess-property
check, so unknown fields fail as they would under `kubectl apply`.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.support import ROOT
from tests.tooling import require_tool

CHART = ROOT / "helm" / "aws-reservation-exporter"
CHECKER = ROOT / "helm" / "schema-check"
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}


@pytest.fixture(scope="module")
def node() -> str:
    path = require_tool("node")
    if not (CHECKER / "node_modules" / "@kubernetes-models" / "prometheus-operator").is_dir():
        message = "helm/schema-check/node_modules missing (run `make tools`)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def operator_objects(chart: helm.Chart, values: dict[str, Any]) -> list[dict[str, Any]]:
    rendered = chart.render(values, name="are", namespace="monitoring")
    return [
        doc
        for path, text in sorted(rendered.items())
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc and doc["kind"] in OPERATOR_KINDS
    ]


def check(node: str, docs: list[dict[str, Any]], tmp_path: Path) -> subprocess.CompletedProcess:
    manifests = tmp_path / "manifests.json"
    manifests.write_text(json.dumps(docs))
    return subprocess.run(
        [node, CHECKER / "check-crds.mjs", manifests],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_ci_file_renders_operator_objects_the_operator_accepts(
    node: str, chart: helm.Chart, tmp_path: Path
) -> None:
    docs: list[dict[str, Any]] = []
    for path in sorted((CHART / "ci").glob("*-values.yaml")):
        docs += operator_objects(chart, yaml.safe_load(path.read_text()) or {})
    assert {d["kind"] for d in docs} == OPERATOR_KINDS
    result = check(node, docs, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK ")


def test_checker_rejects_broken_operator_objects(
    node: str, chart: helm.Chart, tmp_path: Path
) -> None:
    values = {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}}
    by_kind = {d["kind"]: d for d in operator_objects(chart, values)}

    def broken(kind: str, name: str, mutate: Any) -> dict[str, Any]:
        doc = copy.deepcopy(by_kind[kind])
        doc["metadata"]["name"] = name
        mutate(doc)
        return doc

    docs = [
        # An unknown field: what a misspelt template would produce.
        broken(
            "ServiceMonitor",
            "unknown-field",
            lambda d: d["spec"]["endpoints"][0].update(honorLabel=True),
        ),
        # Wrongly typed fields.
        broken(
            "ServiceMonitor",
            "wrong-type",
            lambda d: d["spec"]["endpoints"][0].update(honorLabels="yes"),
        ),
        broken(
            "PrometheusRule",
            "rules-not-a-list",
            lambda d: d["spec"]["groups"][0].update(rules="none"),
        ),
        by_kind["PrometheusRule"],
    ]
    result = check(node, docs, tmp_path)
    assert result.returncode == 1
    errors = result.stdout.splitlines()
    assert all(line.startswith("ERROR ") for line in errors), errors
    assert any(
        line.startswith("ERROR ServiceMonitor/unknown-field")
        and "'\"honorLabel\"' does not exist" in line
        for line in errors
    ), errors
    assert any(
        line.startswith("ERROR ServiceMonitor/wrong-type") and "boolean" in line for line in errors
    ), errors
    assert any(line.startswith("ERROR PrometheusRule/rules-not-a-list") for line in errors), errors
    # The intact object is not blamed.
    assert not [line for line in errors if "PrometheusRule/are-aws-reservation-exporter" in line]
