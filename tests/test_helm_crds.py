"""The chart's ServiceMonitor and PrometheusRule against prometheus-operator's API.

kubernetes-validate ships schemas for core kinds only. For these two CRDs the
offline source is npm's @kubernetes-models/prometheus-operator (generated from
prometheus-operator's Go types, which its CRDs are generated from too),
installed into helm/schema-check by .ci/install-tools.sh. The checker runs
both the package's JSON-schema validators and a TypeScript excess-property
check, so unknown fields fail as they would under `kubectl apply`.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.tooling import require_tool

ROOT = Path(__file__).resolve().parent.parent
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


@pytest.mark.parametrize(
    ("kind", "mutate", "complaint"),
    [
        # An unknown field: what a misspelt template would produce.
        (
            "ServiceMonitor",
            lambda d: d["spec"]["endpoints"][0].update(honorLabel=True),
            "honorLabel",
        ),
        # A wrongly typed field.
        (
            "ServiceMonitor",
            lambda d: d["spec"]["endpoints"][0].update(honorLabels="yes"),
            "boolean",
        ),
        ("PrometheusRule", lambda d: d["spec"]["groups"][0].update(rules="none"), "rules"),
    ],
)
def test_checker_rejects_broken_operator_objects(
    node: str, chart: helm.Chart, tmp_path: Path, kind: str, mutate: Any, complaint: str
) -> None:
    values = {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}}
    [doc] = [d for d in operator_objects(chart, values) if d["kind"] == kind]
    mutate(doc)
    result = check(node, [doc], tmp_path)
    assert result.returncode == 1
    assert f"ERROR {kind}/are-aws-reservation-exporter" in result.stdout
    assert complaint in result.stdout
