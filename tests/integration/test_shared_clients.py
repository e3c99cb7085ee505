"""Refresh tasks share one client per (service, region) across accounts; each
request is still signed as its own task's account, checked at the fake AWS."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import NoCredentialsError

from exporter.aws import ClientFactory
from exporter.model import Account
from tests.core_slice import ec2, rds
from tests.integration.harness import Harness, by_target, reservation_ids
from tests.support import OWN_ACCOUNT

ACCOUNTS = [f"{200000000000 + i}" for i in range(6)]
ROLE = "arn:aws:iam::{}:role/ReservationExporter"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def account(account_id: str) -> Account:
    return Account(name=f"a{account_id}", role_arn=ROLE.format(account_id))


@pytest.fixture
def seeded(fake_env):
    for account_id in ACCOUNTS:
        fake_env.add_role(ROLE.format(account_id))
        fake_env.seed(
            account_id, "us-east-1", "ec2", [ec2(f"ri-{account_id}", "active", NOW + timedelta(30))]
        )
    return fake_env


def test_concurrent_tasks_on_one_client_each_act_as_their_own_account(seeded):
    factory = ClientFactory(concurrency=len(ACCOUNTS))
    sessions = {a: factory.session_for(account(a)) for a in ACCOUNTS}
    expected_keys = {
        a: s.credentials().get_frozen_credentials().access_key for a, s in sessions.items()
    }
    # Every task holds its request until all have signed theirs: all six are
    # inside the same shared client at once.
    together = threading.Barrier(len(ACCOUNTS), timeout=30)
    seen_keys: dict[str, list[str]] = {a: [] for a in ACCOUNTS}

    def task(account_id: str) -> set[str]:
        def before_send(request, **_):
            auth = request.headers["Authorization"].decode()
            seen_keys[account_id].append(auth.split("Credential=")[1].split("/")[0])
            together.wait()

        with factory.task_client(
            sessions[account_id], "ec2", "us-east-1", before_send=before_send
        ) as client:
            listed = client.describe_reserved_instances()["ReservedInstances"]
            return {r["ReservedInstancesId"] for r in listed}

    with ThreadPoolExecutor(len(ACCOUNTS)) as pool:
        listed = dict(zip(ACCOUNTS, pool.map(task, ACCOUNTS), strict=True))

    assert listed == {a: {f"ri-{a}"} for a in ACCOUNTS}
    # Each task's hook saw only its own request, signed with its own key.
    assert seen_keys == {a: [expected_keys[a]] for a in ACCOUNTS}
    assert factory.shared_clients() == 2  # EC2 in us-east-1, and STS for the six AssumeRole
    calls = seeded.calls(operation="DescribeReservedInstances")
    assert sorted(c.account_id for c in calls) == sorted(ACCOUNTS)


def test_a_shared_client_has_no_credentials_outside_a_task(seeded):
    factory = ClientFactory()
    session = factory.session_for(account(ACCOUNTS[0]))
    with factory.task_client(session, "ec2", "us-east-1") as client:
        client.describe_reserved_instances()
    with pytest.raises(NoCredentialsError):
        client.describe_reserved_instances()
    assert len(seeded.calls(operation="DescribeReservedInstances")) == 1


def test_clients_grow_with_services_and_regions_not_accounts(fake_env):
    regions = ["us-east-1", "eu-west-1"]
    for account_id in [OWN_ACCOUNT, *ACCOUNTS]:
        if account_id != OWN_ACCOUNT:
            fake_env.add_role(ROLE.format(account_id))
        for region in regions:
            fake_env.seed(
                account_id, region, "ec2", [ec2(f"ri-{account_id}-{region}", "active", NOW)]
            )
            fake_env.seed(
                account_id, region, "rds", [rds(f"db-{account_id}-{region}", "active", NOW)]
            )
    config = {
        "refresh_interval": "1h",
        "regions": regions,
        "services": ["ec2", "rds", "savingsplans"],
        "concurrency": 4,
        "accounts": [{"name": "payer"}]
        + [{"name": f"a{a}", "role_arn": ROLE.format(a)} for a in ACCOUNTS],
    }
    h = Harness(config)
    samples = h.cycle()
    assert set(by_target(samples, "aws_reservation_refresh_success").values()) == {1.0}
    assert reservation_ids(samples) == {
        f"{kind}-{a}-{region}"
        for kind in ("ri", "db")
        for a in [OWN_ACCOUNT, *ACCOUNTS]
        for region in regions
    }
    # 7 accounts x (2 regions x 2 services + Savings Plans): 35 targets, and
    # 6 clients: ec2 and rds in each region, savingsplans once, STS for the roles.
    assert len(by_target(samples, "aws_reservation_refresh_success")) == 35
    assert h.factory.shared_clients() == 6
    h.cycle()
    assert h.factory.shared_clients() == 6
