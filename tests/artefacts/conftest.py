"""Tests of what the project ships besides the package: the Dockerfile, the
Helm chart and its CRD objects, the IAM policy and templates, the monitoring
rules, Alertmanager example and dashboard. Every test collected here is
marked ``tools`` (pyproject.toml): many run promtool, amtool, node or helm."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Called with every collected item of the session, not only this directory's.
    for item in items:
        if item.path.resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.tools)
