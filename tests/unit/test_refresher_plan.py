"""The refresher's planning, without AWS: reach an account, expand its targets,
and name the targets of an account that cannot be reached."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import NoCredentialsError

from exporter.aws import ClientFactory
from exporter.config import parse_config
from exporter.model import Account, Target
from exporter.refresher import Refresher, WorkerPool
from exporter.store import SnapshotStore
from exporter.telemetry import Telemetry

CONFIG = {
    "regions": ["us-east-1", "eu-west-1"],
    "services": ["ec2", "savingsplans"],
    "accounts": [{"name": "payer"}],
}


class Credentials:
    def __init__(self) -> None:
        self.frozen = 0

    def get_frozen_credentials(self) -> object:
        self.frozen += 1
        return object()


class Factory(ClientFactory):
    """A real factory (botocore's endpoint data) whose sessions are stubs."""

    def __init__(self, credentials: Credentials | None, partition: str = "aws") -> None:
        super().__init__(concurrency=2)
        self.stub = SimpleNamespace(partition=partition, credentials=lambda: credentials)

    def session_for(self, account: Account, resolve_via: Any = None) -> Any:
        return self.stub


class Directory:
    def regions_for(self, account: Account) -> tuple[str, ...]:
        if account.regions is None:
            raise RuntimeError("DescribeRegions denied")
        return account.regions


def account(regions: tuple[str, ...] | None, services: tuple[str, ...]) -> Account:
    return Account(name="prod", account_id="222222222222", regions=regions, services=services)


ACCOUNT = account(("us-east-1",), ("ec2",))


def refresher(factory: ClientFactory) -> tuple[Refresher, SnapshotStore]:
    store = SnapshotStore()
    r = Refresher(parse_config(CONFIG), factory=factory, store=store, telemetry=Telemetry())
    return r, store


def test_reach_assumes_the_role_once_and_lists_the_regions() -> None:
    credentials = Credentials()
    r, _ = refresher(Factory(credentials))
    session, regions = r._reach(ACCOUNT, Directory())  # type: ignore[arg-type]
    assert regions == ("us-east-1",)
    assert session.partition == "aws"
    assert credentials.frozen == 1


def test_reach_without_credentials_fails() -> None:
    r, _ = refresher(Factory(None))
    with pytest.raises(NoCredentialsError):
        r._reach(ACCOUNT, Directory())  # type: ignore[arg-type]


def test_expand_gives_regional_services_per_region_and_global_ones_once() -> None:
    r, _ = refresher(Factory(Credentials()))
    both = ("us-east-1", "eu-west-1")
    planned = r._expand(account(both, ("ec2", "savingsplans")), "aws", both)
    assert [(t.region, t.service, client_region) for t, _, client_region in planned] == [
        ("us-east-1", "ec2", "us-east-1"),
        ("eu-west-1", "ec2", "eu-west-1"),
        ("global", "savingsplans", "us-east-1"),
    ]
    assert {t.account for t, _, _ in planned} == {"prod"}


def test_a_global_service_is_read_in_its_partitions_home_region() -> None:
    r, _ = refresher(Factory(Credentials(), partition="aws-cn"))
    planned = r._expand(account(None, ("savingsplans",)), "aws-cn", ())
    assert [(t.region, region) for t, _, region in planned] == [("global", "cn-northwest-1")]


def test_expand_skips_regions_without_the_service() -> None:
    factory = Factory(Credentials())
    ec2 = set(factory.available_regions("ec2", "aws"))
    memorydb = set(factory.available_regions("memorydb", "aws"))
    without = sorted(ec2 - memorydb)
    assert without, "botocore lists memorydb in every ec2 region: pick another service"
    r, _ = refresher(factory)
    regions = ("us-east-1", without[0])
    planned = r._expand(account(regions, ("ec2", "memorydb")), "aws", regions)
    assert [(t.region, t.service) for t, _, _ in planned] == [
        ("us-east-1", "ec2"),
        (without[0], "ec2"),
        ("us-east-1", "memorydb"),
    ]


@pytest.mark.parametrize(
    ("regions", "expected"),
    [
        (("eu-west-1", "us-east-1"), ["eu-west-1", "us-east-1", "global"]),
        (None, ["us-east-1", "global"]),
    ],
)
def test_an_unreachable_account_fails_every_target_it_can_be_named_with(regions, expected) -> None:
    r, store = refresher(Factory(Credentials()))
    planned: list[Target] = []
    error = RuntimeError("AssumeRole refused")
    r._unreachable(account(regions, ("ec2", "savingsplans")), error, planned.extend)
    assert [t.region for t in planned] == expected
    results = store.results()
    assert {res.target for res in results} == set(planned)
    assert {(res.success, res.error_reason) for res in results} == {(False, "error")}


def test_a_crashing_task_does_not_kill_its_worker() -> None:
    pool = WorkerPool(1, name="test")
    done = threading.Event()
    pool.submit(lambda: 1 / 0)
    pool.submit(done.set)
    assert pool.wait(threading.Event())
    assert done.is_set()
    pool.close()


def test_waiting_on_the_pool_gives_up_when_stopped() -> None:
    pool = WorkerPool(1, name="test")
    release = threading.Event()
    pool.submit(lambda: release.wait(5))
    stop = threading.Event()
    stop.set()
    assert pool.wait(stop) is False
    release.set()
    assert pool.wait(threading.Event())
    pool.close()


def test_worker_pool_abandons_an_overrunning_task_and_keeps_its_capacity() -> None:
    import threading
    import time

    from exporter.refresher import WorkerPool

    pool = WorkerPool(1)
    release, abandoned, ran = threading.Event(), [], []
    pool.submit(lambda: release.wait(30), limit=0.3, on_abandon=lambda: abandoned.append(1))
    pool.submit(lambda: ran.append("next"), limit=5)
    started = time.monotonic()
    assert pool.wait(threading.Event())
    assert time.monotonic() - started < 3
    assert abandoned == [1]
    # The one worker was stuck: a thread took its place and ran the next task.
    assert ran == ["next"]
    release.set()
    pool.submit(lambda: ran.append("after"))
    assert pool.wait(threading.Event()) and ran == ["next", "after"]
    pool.close()
