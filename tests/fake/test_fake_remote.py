"""The fake out of process (``python -m exporter.fake``), driven through its
control API by ``FakeAwsClient`` exactly like the in-process harness; and
``env()`` giving a subprocess everything it needs to reach only the fake."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.config import Config

from exporter.fake import Call, FakeAwsClient, FakeError
from tests.fake.conftest import error_of
from tests.support import OWN_ACCOUNT

PROD = "222222222222"
ROLE = f"arn:aws:iam::{PROD}:role/ReservationExporter"
T0 = datetime(2025, 6, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def remote() -> Iterator[FakeAwsClient]:
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter.fake", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()  # type: ignore[union-attr]
        assert line.startswith("FAKE_AWS_ENDPOINT=http://127.0.0.1:"), line
        client = FakeAwsClient(line.split("=", 1)[1])
        assert client.ping()
        yield client
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


@pytest.fixture
def fake(remote: FakeAwsClient) -> FakeAwsClient:
    remote.reset()
    return remote


def test_seeded_records_round_trip_through_json_with_real_timestamps(fake):
    fake.seed(OWN_ACCOUNT, "us-east-1", "rds", [{"ReservedDBInstanceId": "db-1", "StartTime": T0}])

    (record,) = fake.client("rds", OWN_ACCOUNT).describe_reserved_db_instances()[
        "ReservedDBInstances"
    ]

    assert record == {"ReservedDBInstanceId": "db-1", "StartTime": T0}


def test_roles_and_external_ids_are_enforced_remotely(fake):
    fake.add_role(ROLE, external_id="ext-9", trusted_account_ids=[OWN_ACCOUNT])
    sts = fake.client("sts", OWN_ACCOUNT)

    assert error_of(lambda: sts.assume_role(RoleArn=ROLE, RoleSessionName="s1"))[0] == (
        "AccessDenied"
    )
    assumed = sts.assume_role(RoleArn=ROLE, RoleSessionName="s1", ExternalId="ext-9")
    assert assumed["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{PROD}:")


def test_faults_and_the_recorder_work_remotely(fake):
    fake.deny(OWN_ACCOUNT, "memorydb:DescribeReservedNodes")
    fake.throttle("savingsplans", "DescribeSavingsPlans", 1)
    fake.malform(OWN_ACCOUNT, "us-east-1", "rds", "missing_id")
    fake.seed(
        OWN_ACCOUNT, "us-east-1", "rds", [{"ReservedDBInstanceId": "db-1", "State": "active"}]
    )

    error_of(fake.client("memorydb", OWN_ACCOUNT).describe_reserved_nodes)
    retrying = Config(retries={"mode": "standard", "total_max_attempts": 2})
    fake.client("savingsplans", OWN_ACCOUNT, config=retrying).describe_savings_plans()
    rds = fake.client("rds", OWN_ACCOUNT).describe_reserved_db_instances()

    assert rds["ReservedDBInstances"] == [{"State": "active"}]
    assert fake.calls() == [
        Call(OWN_ACCOUNT, "us-east-1", "memorydb", "DescribeReservedNodes", "denied"),
        Call(OWN_ACCOUNT, "us-east-1", "savingsplans", "DescribeSavingsPlans", "throttled"),
        Call(OWN_ACCOUNT, "us-east-1", "savingsplans", "DescribeSavingsPlans", "ok"),
        Call(OWN_ACCOUNT, "us-east-1", "rds", "DescribeReservedDBInstances", "ok"),
    ]
    fake.reset_calls()
    assert fake.calls() == []


def test_delay_is_applied_by_the_remote_server(fake):
    fake.delay("ec2", 0.3)
    started = time.monotonic()
    fake.client("ec2", OWN_ACCOUNT).describe_reserved_instances()
    assert time.monotonic() - started >= 0.3


def test_org_accounts_can_be_added_remotely(fake):
    fake.add_org_account(PROD, "production", management_account_id=OWN_ACCOUNT)
    listed = fake.client("organizations", OWN_ACCOUNT).list_accounts()["Accounts"]
    assert [(a["Id"], a["Name"]) for a in listed] == [(OWN_ACCOUNT, "master"), (PROD, "production")]


def test_reservation_and_account_tags_can_be_set_remotely(fake):
    fake.seed(OWN_ACCOUNT, "us-east-1", "rds", [{"ReservedDBInstanceId": "db-1"}])
    fake.tag_reservation(OWN_ACCOUNT, "us-east-1", "rds", "db-1", {"Team": "payments"})
    fake.add_org_account(OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT)
    fake.add_org_account(PROD, "production", tags={"Team": "search"}, ou_path="Workloads")
    fake.tag_org_account(PROD, {"Team": "checkout"})
    fake.move_org_account(PROD, "Platform")

    rds = fake.client("rds", OWN_ACCOUNT)
    arn = f"arn:aws:rds:us-east-1:{OWN_ACCOUNT}:ri:db-1"
    org = fake.client("organizations", OWN_ACCOUNT)
    (parent,) = org.list_parents(ChildId=PROD)["Parents"]

    assert rds.list_tags_for_resource(ResourceName=arn)["TagList"] == [
        {"Key": "Team", "Value": "payments"}
    ]
    assert org.list_tags_for_resource(ResourceId=PROD)["Tags"] == [
        {"Key": "Team", "Value": "checkout"}
    ]
    unit = org.describe_organizational_unit(OrganizationalUnitId=parent["Id"])
    assert unit["OrganizationalUnit"]["Name"] == "Platform"
    with pytest.raises(FakeError, match="redshift reservations have no tags in AWS"):
        fake.tag_reservation(OWN_ACCOUNT, "us-east-1", "redshift", "r-1", {"Team": "x"})


def test_cost_explorer_choices_are_made_remotely(fake):
    started = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=30)
    fake.add_org_account(OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT)
    fake.seed(
        OWN_ACCOUNT,
        "us-east-1",
        "ec2",
        [
            {
                "ReservedInstancesId": "ri-1",
                "State": "active",
                "Start": started,
                "End": started + timedelta(days=365),
                "InstanceCount": 1,
            }
        ],
    )
    fake.set_utilization(OWN_ACCOUNT, "ec2", "ri-1", 42.5)
    fake.ce_drop_attribute("accountName")
    fake.ce_rename_attribute("endDateTime", "endDate")
    today = datetime.now(timezone.utc).date()

    answer = fake.client("ce", OWN_ACCOUNT).get_reservation_utilization(
        TimePeriod={"Start": str(today - timedelta(days=7)), "End": str(today)},
        GroupBy=[{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}],
    )

    (group,) = answer["UtilizationsByTime"][0]["Groups"]
    assert group["Utilization"]["UtilizationPercentage"] == "42.5"
    assert "accountName" not in group["Attributes"] and "endDateTime" not in group["Attributes"]
    assert group["Attributes"]["endDate"] == (started + timedelta(days=365)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    with pytest.raises(FakeError, match="percent must be from 0 to 100"):
        fake.set_utilization(OWN_ACCOUNT, "ec2", "ri-1", 101)


def test_control_errors_name_the_problem(fake):
    with pytest.raises(FakeError, match="seed: rds: Bogus not in botocore's ReservedDBInstance"):
        fake.seed(OWN_ACCOUNT, "us-east-1", "rds", [{"Bogus": 1}])
    with pytest.raises(FakeError, match="account_id must be 12 digits"):
        fake.seed("prod", "us-east-1", "rds", [])
    with pytest.raises(FakeError, match="no control operation 'explode'"):
        fake._invoke("explode")
    with pytest.raises(FakeError, match="unexpected keyword argument"):
        fake._invoke("deny", account=OWN_ACCOUNT)


def test_reset_clears_the_remote_state(fake):
    fake.seed(OWN_ACCOUNT, "us-east-1", "ec2", [{"ReservedInstancesId": "ri-1"}])
    fake.deny(OWN_ACCOUNT, "ec2:*")
    fake.reset()
    assert fake.client("ec2", OWN_ACCOUNT).describe_reserved_instances()["ReservedInstances"] == []


_PROBE = """
import json, boto3
rds = boto3.client("rds")
found = rds.describe_reserved_db_instances()["ReservedDBInstances"]
ids = [r["ReservedDBInstanceId"] for r in found]
who = boto3.client("sts").get_caller_identity()["Account"]
print(json.dumps({"ids": ids, "account": who, "region": rds.meta.region_name}))
"""


def test_env_gives_a_subprocess_the_fake_and_nothing_else(fake):
    fake.seed(PROD, "eu-west-1", "rds", [{"ReservedDBInstanceId": "prod-db"}])
    # Each of these would send boto3 elsewhere or change its identity.
    hostile = dict(
        os.environ,
        AWS_PROFILE="real-production",
        AWS_ENDPOINT_URL_RDS="https://rds.eu-west-1.amazonaws.com",
        AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="true",
        AWS_SESSION_TOKEN="token-of-someone-else",
    )

    env = fake.env(PROD, "eu-west-1", base=hostile)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=60
    )

    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"ids": ["prod-db"], "account": PROD, "region": "eu-west-1"}
    for cleared in ("AWS_PROFILE", "AWS_ENDPOINT_URL_RDS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        assert cleared not in env
    assert env["AWS_ENDPOINT_URL"] == fake.endpoint_url
    assert env["PATH"] == os.environ["PATH"]


def test_apply_env_rewrites_a_mapping_in_place(fake):
    environ = {"AWS_PROFILE": "x", "AWS_ENDPOINT_URL_EC2": "https://example", "HOME": "/home/u"}

    fake.apply_env(environ, account_id=OWN_ACCOUNT, region="us-west-2")

    assert "AWS_PROFILE" not in environ and "AWS_ENDPOINT_URL_EC2" not in environ
    assert environ["HOME"] == "/home/u"
    assert (environ["AWS_ACCESS_KEY_ID"], environ["AWS_SECRET_ACCESS_KEY"]) == fake.credentials(
        OWN_ACCOUNT
    )
    assert environ["AWS_DEFAULT_REGION"] == "us-west-2"


def test_keys_from_env_act_as_their_account_for_plain_boto3(fake):
    key, secret = fake.credentials(PROD)
    sts = boto3.session.Session().client(
        "sts",
        endpoint_url=fake.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )
    assert sts.get_caller_identity()["Account"] == PROD
