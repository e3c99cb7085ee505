"""Real exporter processes, one per shard, against one fake AWS: together they
refresh every account exactly once and export each account from one shard only
(what a sharded StatefulSet does, with Prometheus merging the replicas)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from exporter.fake import FakeAws
from exporter.refresher import owns
from tests.support import ROOT, samples_named

OWN = "123456789012"
ACCOUNTS = [f"{300000000000 + 7919 * i:012d}" for i in range(12)]
SHARDS = 3
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
LISTENING = re.compile(r"listening on [^:\s]*:(\d+)")


def role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/ReservationExporter"


class ExporterProcess:
    """``python -m exporter --shard=i``; learns its port from the start-up log."""

    def __init__(self, config: Path, shard: int, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                f"--config.file={config}",
                "--web.listen-address=127.0.0.1:0",
                f"--shard={shard}",
                f"--total-shards={SHARDS}",
            ],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log: list[str] = []
        self.port: int | None = None
        self._started = threading.Event()
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)
            match = LISTENING.search(line)
            if match and self.port is None:
                self.port = int(match.group(1))
                self._started.set()
        self._started.set()

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""

    def wait_ready(self, timeout: float = 120) -> None:
        assert self._started.wait(timeout) and self.port, "".join(self.log)
        deadline = time.monotonic() + timeout
        while self.get("/readyz")[0] != 200:
            assert self.proc.poll() is None, "".join(self.log)
            assert time.monotonic() < deadline, "first refresh did not finish"
            time.sleep(0.1)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeAws, list[str]]]:
    """The fake (with its call log) and each shard's /metrics after its first cycle."""
    with FakeAws() as fake:
        fake.reset()
        for account in ACCOUNTS:
            fake.add_role(role(account))
            fake.seed(
                account,
                "us-east-1",
                "ec2",
                [
                    {
                        "ReservedInstancesId": f"ri-{account}",
                        "InstanceType": "m5.large",
                        "InstanceCount": 1,
                        "State": "active",
                        "Start": START,
                        "End": START.replace(year=2027),
                    }
                ],
            )
        config = tmp_path_factory.mktemp("shards") / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "regions": ["us-east-1"],
                    "services": ["ec2"],
                    "accounts": [
                        {"name": f"acct-{i:02d}", "role_arn": role(a)}
                        for i, a in enumerate(ACCOUNTS)
                    ],
                }
            )
        )
        env = fake.env(OWN)
        processes = [ExporterProcess(config, shard, env) for shard in range(SHARDS)]
        try:
            for process in processes:
                process.wait_ready()
            pages = [process.get("/metrics")[1] for process in processes]
        finally:
            statuses = [process.stop() for process in processes]
        assert statuses == [0] * SHARDS
        yield fake, pages


def test_each_shard_exports_exactly_the_accounts_it_owns(shards) -> None:
    _, pages = shards
    exported = [
        {
            labels["account_id"]
            for labels, _ in samples_named(page, "aws_reservation_refresh_success")
        }
        for page in pages
    ]

    for shard, accounts in enumerate(exported):
        assert accounts == {a for a in ACCOUNTS if owns(a, shard, SHARDS)}
    assert set().union(*exported) == set(ACCOUNTS)
    assert sum(len(a) for a in exported) == len(ACCOUNTS)  # no account in two shards


def test_every_shard_refreshed_its_targets_successfully(shards) -> None:
    _, pages = shards
    for shard, page in enumerate(pages):
        mine = sum(owns(a, shard, SHARDS) for a in ACCOUNTS)
        successes = samples_named(page, "aws_reservation_refresh_success")
        assert [v for _, v in successes] == [1.0] * mine
        assert samples_named(page, "aws_reservation_accounts") == [({}, float(mine))]
        reservations = {
            labels["reservation_id"]
            for labels, _ in samples_named(page, "aws_reservation_expiry_timestamp_seconds")
        }
        assert reservations == {f"ri-{a}" for a in ACCOUNTS if owns(a, shard, SHARDS)}


def test_the_shards_together_call_aws_once_per_account(shards) -> None:
    fake, _ = shards
    listings = Counter(
        call.account_id for call in fake.calls(operation="DescribeReservedInstances")
    )
    assume = fake.calls(service="sts", operation="AssumeRole")

    assert listings == Counter(ACCOUNTS)  # each account listed once, by one shard only
    assert len(assume) == len(ACCOUNTS)
    assert {c.outcome for c in fake.calls()} == {"ok"}
