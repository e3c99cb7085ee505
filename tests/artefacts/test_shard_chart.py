"""The chart's sharded StatefulSet, taken at its word: each pod's rendered
arguments, in the environment Kubernetes gives that pod (the pod-index label
as $POD_INDEX, or only the hostname <statefulset>-<ordinal> on clusters
without the label), are accepted by the real exporter CLI, and the shards
they select partition the accounts exactly.

Rendered offline with helm-python-sdk, like tests/artefacts/test_helm_chart.py (which
checks the StatefulSet's shape).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import helm_python as helm
import pytest
import yaml

from exporter.commands.daemon import serve_parser
from exporter.refresher import owns
from tests.support import ROOT

CHART = ROOT / "helm" / "aws-reservation-exporter"
ACCOUNTS = [f"{400000000000 + 104729 * i:012d}" for i in range(500)]
POD_INDEX_LABEL = "metadata.labels['apps.kubernetes.io/pod-index']"


class Pods:
    """The rendered StatefulSet's pods: their arguments and environments."""

    def __init__(self, chart: helm.Chart, replicas: int) -> None:
        values = {"sharding": {"enabled": True, "replicas": replicas}}
        rendered = chart.render(values, name="are", namespace="monitoring")
        docs = [
            doc
            for path, text in rendered.items()
            if path.endswith(".yaml")
            for doc in yaml.safe_load_all(text)
            if doc
        ]
        assert not [d for d in docs if d["kind"] == "Deployment"]
        [statefulset] = [d for d in docs if d["kind"] == "StatefulSet"]
        assert statefulset["spec"]["replicas"] == replicas
        [self.container] = statefulset["spec"]["template"]["spec"]["containers"]
        self.name = statefulset["metadata"]["name"]
        self.replicas = replicas

    @property
    def args(self) -> list[str]:
        return list(self.container["args"])

    def env(self, ordinal: int, *, label: bool) -> dict[str, str]:
        """The variables pod ``ordinal`` sees; ``label``: the cluster sets pod-index."""
        env = {"HOSTNAME": f"{self.name}-{ordinal}"}  # a StatefulSet pod's hostname
        for item in self.container["env"]:
            if "value" in item:
                env[item["name"]] = item["value"]
            elif item["valueFrom"]["fieldRef"]["fieldPath"] == POD_INDEX_LABEL:
                if label:
                    env[item["name"]] = str(ordinal)
            else:
                raise AssertionError(f"unexpected env source: {item}")
        return env


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


@pytest.mark.parametrize("label", [True, False], ids=["pod-index-label", "hostname-only"])
@pytest.mark.parametrize("replicas", [2, 3, 5])
def test_the_statefulset_pods_partition_the_accounts_exactly(
    chart: helm.Chart, replicas: int, label: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    pods = Pods(chart, replicas)
    shards = []
    for ordinal in range(replicas):
        monkeypatch.delenv("POD_INDEX", raising=False)
        for key, value in pods.env(ordinal, label=label).items():
            monkeypatch.setenv(key, value)
        opts = serve_parser().parse_args(pods.args)
        assert (opts.shard, opts.total_shards) == (ordinal, replicas)
        shards.append({a for a in ACCOUNTS if owns(a, opts.shard, opts.total_shards)})

    assert set().union(*shards) == set(ACCOUNTS)
    assert sum(len(s) for s in shards) == len(ACCOUNTS)
    assert all(shards)


def test_the_exporter_process_accepts_every_pods_arguments(
    chart: helm.Chart, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"regions": ["us-east-1"], "accounts": [{"name": "own"}]}))
    pods = Pods(chart, 3)
    base = {k: v for k, v in os.environ.items() if k not in ("POD_INDEX", "HOSTNAME")}

    def check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        # The last --config.file wins: the chart's path exists only in the pod.
        command = [sys.executable, "-m", "exporter", *pods.args]
        return subprocess.run(
            [*command, f"--config.file={config}", "--check-config"],
            cwd=ROOT,
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    for ordinal in range(3):
        for label in (True, False):
            done = check(pods.env(ordinal, label=label))
            assert done.returncode == 0, done.stderr
            assert "configuration is valid" in done.stderr
    # A pod beyond the shard count (scaled up without the flag following) is refused.
    refused = check(pods.env(3, label=True))
    assert refused.returncode == 2
    assert "--shard must be in [0, --total-shards)" in refused.stderr
