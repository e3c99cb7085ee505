"""The call recorder counts what the fake answered; Organizations lists the
accounts, names and states the tests chose."""

from __future__ import annotations

import pytest

from exporter.fake import Call
from tests.fake.conftest import error_of
from tests.support import OWN_ACCOUNT

PROD = "222222222222"


def test_every_request_is_recorded_with_account_region_service_operation_outcome(fake):
    fake.client("rds", OWN_ACCOUNT, "eu-west-1").describe_reserved_db_instances()
    fake.client("opensearch", PROD, "us-east-1").describe_reserved_instances()
    error_of(
        lambda: fake.client("sts", OWN_ACCOUNT).assume_role(
            RoleArn=f"arn:aws:iam::{PROD}:role/Nobody", RoleSessionName="probe"
        )
    )

    assert fake.calls() == [
        Call(OWN_ACCOUNT, "eu-west-1", "rds", "DescribeReservedDBInstances", "ok"),
        Call(PROD, "us-east-1", "es", "DescribeReservedInstances", "ok"),
        Call(OWN_ACCOUNT, "us-east-1", "sts", "AssumeRole", "denied"),
    ]


def test_calls_filter_on_any_field_and_accept_the_services_own_name(fake):
    for region in ("us-east-1", "eu-west-1"):
        fake.client("opensearch", OWN_ACCOUNT, region).describe_reserved_instances()
    fake.client("memorydb", OWN_ACCOUNT).describe_reserved_nodes()

    assert len(fake.calls(service="opensearch")) == 2  # recorded under its signing name, es
    assert len(fake.calls(service="es", region="eu-west-1")) == 1
    assert len(fake.calls(account_id=OWN_ACCOUNT, outcome="ok")) == 3
    assert fake.calls(outcome="denied") == []


def test_reset_calls_empties_the_log_but_keeps_the_data(fake):
    fake.seed(OWN_ACCOUNT, "us-east-1", "rds", [{"ReservedDBInstanceId": "kept"}])
    fake.client("rds", OWN_ACCOUNT).describe_reserved_db_instances()

    fake.reset_calls()

    assert fake.calls() == []
    found = fake.client("rds", OWN_ACCOUNT).describe_reserved_db_instances()["ReservedDBInstances"]
    assert [r["ReservedDBInstanceId"] for r in found] == ["kept"]
    assert len(fake.calls()) == 1


def test_moto_errors_are_recorded_as_errors(fake):
    sqs = fake.client("sqs", OWN_ACCOUNT)
    error_of(lambda: sqs.get_queue_url(QueueName="missing"))
    assert fake.calls()[-1].outcome == "error"


def accounts(fake, management: str) -> list[tuple[str, str, str | None, str | None]]:
    pages = (
        fake.client("organizations", management)
        .get_paginator("list_accounts")
        .paginate(PaginationConfig={"PageSize": 2})
    )
    return [
        (a["Id"], a["Name"], a.get("State"), a.get("Status"))
        for page in pages
        for a in page["Accounts"]
    ]


def test_org_accounts_come_back_with_their_ids_names_and_both_state_fields(fake):
    fake.add_org_account(OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT)
    fake.add_org_account(PROD, "production")
    fake.add_org_account("333333333333", "old-sandbox", state="SUSPENDED")
    fake.add_org_account("444444444444", "closed", state="CLOSED")
    fake.add_org_account("555555555555", "joining", state="PENDING_ACTIVATION")

    assert accounts(fake, OWN_ACCOUNT) == [
        (OWN_ACCOUNT, "payer", "ACTIVE", "ACTIVE"),
        (PROD, "production", "ACTIVE", "ACTIVE"),
        ("333333333333", "old-sandbox", "SUSPENDED", "SUSPENDED"),
        ("444444444444", "closed", "CLOSED", "SUSPENDED"),
        ("555555555555", "joining", "PENDING_ACTIVATION", "ACTIVE"),
    ]


def test_org_account_can_omit_state_like_the_legacy_api(fake):
    fake.add_org_account(PROD, "old-style", state=None, status="SUSPENDED")
    assert (PROD, "old-style", None, "SUSPENDED") in accounts(fake, "123456789012")


def test_adding_a_known_org_account_updates_it(fake):
    fake.add_org_account(PROD, "production")
    fake.add_org_account(PROD, "production-renamed", state="SUSPENDED")

    listed = [a for a in accounts(fake, "123456789012") if a[0] == PROD]

    assert listed == [(PROD, "production-renamed", "SUSPENDED", "SUSPENDED")]


def test_reset_forgets_the_organization(fake):
    fake.add_org_account(PROD, "production", management_account_id=OWN_ACCOUNT)
    fake.add_org_account("333333333333", "staging")
    fake.reset()
    fake.add_org_account(
        PROD, "production", management_account_id=OWN_ACCOUNT
    )  # no "already in org"

    assert accounts(fake, OWN_ACCOUNT) == [
        (OWN_ACCOUNT, "master", "ACTIVE", "ACTIVE"),  # moto's name for the management account
        (PROD, "production", "ACTIVE", "ACTIVE"),
    ]


def test_unknown_org_state_is_refused(fake):
    with pytest.raises(ValueError, match="state must be one of"):
        fake.add_org_account(PROD, "x", state="GONE")
