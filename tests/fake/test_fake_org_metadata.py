"""Organizations metadata over HTTP with boto3: account tags, the OU path
(ListParents + DescribeOrganizationalUnit), the management account, and the
refusals AWS gives (unknown ids, member accounts, denied actions)."""

from __future__ import annotations

import re

import pytest

from tests.fake.conftest import error_of, ou_path, tag_map
from tests.support import OWN_ACCOUNT

PROD = "222222222222"
STAGING = "333333333333"
OUTSIDER = "777777777777"


def tags_of(org, resource_id: str) -> dict[str, str]:
    return tag_map(org.list_tags_for_resource(ResourceId=resource_id)["Tags"])


@pytest.fixture
def org(fake):
    """An organization managed by OWN_ACCOUNT with accounts in nested OUs; its client."""
    fake.add_org_account(
        OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT, tags={"Team": "finops"}
    )
    fake.add_org_account(
        PROD,
        "production",
        tags={"Team": "payments", "CostCenter": "CC-2100"},
        ou_path="Workloads/Payments",
    )
    fake.add_org_account(STAGING, "staging", ou_path="Root/Workloads/Search")
    return fake.client("organizations", OWN_ACCOUNT)


def test_ou_paths_come_from_list_parents_and_describe_organizational_unit(org):
    assert ou_path(org, PROD) == "Root/Workloads/Payments"
    assert ou_path(org, STAGING) == "Root/Workloads/Search"  # a leading "Root/" is the root
    assert ou_path(org, OWN_ACCOUNT) == "Root"


def test_existing_ous_are_reused(fake, org):
    fake.add_org_account("444444444444", "payments-dev", ou_path="Workloads/Payments")

    (prod_parent,) = org.list_parents(ChildId=PROD)["Parents"]
    (dev_parent,) = org.list_parents(ChildId="444444444444")["Parents"]
    (payments_parent,) = org.list_parents(ChildId=prod_parent["Id"])["Parents"]
    (search_parent,) = org.list_parents(
        ChildId=org.list_parents(ChildId=STAGING)["Parents"][0]["Id"]
    )["Parents"]

    assert prod_parent == dev_parent
    assert prod_parent["Type"] == "ORGANIZATIONAL_UNIT"
    assert payments_parent == search_parent  # one Workloads OU for both
    root = org.list_roots()["Roots"][0]["Id"]
    workloads = org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]
    assert [ou["Name"] for ou in workloads] == ["Workloads"]


def test_describe_organizational_unit_gives_id_arn_name_and_path(org):
    (parent,) = org.list_parents(ChildId=PROD)["Parents"]
    (grandparent,) = org.list_parents(ChildId=parent["Id"])["Parents"]
    organization = org.describe_organization()["Organization"]
    root = org.list_roots()["Roots"][0]["Id"]

    ou = org.describe_organizational_unit(OrganizationalUnitId=parent["Id"])["OrganizationalUnit"]

    assert set(ou) == {"Id", "Arn", "Name", "Path"}
    assert ou["Id"] == parent["Id"]
    assert re.fullmatch(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}", ou["Id"])
    assert ou["Name"] == "Payments"
    assert ou["Arn"] == f"arn:aws:organizations::{OWN_ACCOUNT}:ou/{organization['Id']}/{ou['Id']}"
    assert ou["Path"] == f"{organization['Id']}/{root}/{grandparent['Id']}/{ou['Id']}/"


def test_account_tags_come_from_list_tags_for_resource(org):
    assert tags_of(org, PROD) == {"Team": "payments", "CostCenter": "CC-2100"}
    assert tags_of(org, OWN_ACCOUNT) == {"Team": "finops"}
    assert tags_of(org, STAGING) == {}


def test_account_tags_change_between_two_reads(fake, org):
    assert tags_of(org, PROD)["Team"] == "payments"

    fake.tag_org_account(PROD, {"Team": "checkout"})  # replaces every tag

    assert tags_of(org, PROD) == {"Team": "checkout"}
    fake.add_org_account(PROD, "production", tags={"Team": "orders"})
    assert tags_of(org, PROD) == {"Team": "orders"}
    fake.add_org_account(PROD, "production")  # tags=None leaves them
    assert tags_of(org, PROD) == {"Team": "orders"}
    assert ou_path(org, PROD) == "Root/Workloads/Payments"  # ou_path=None leaves it too


def test_accounts_move_between_ous(fake, org):
    fake.move_org_account(PROD, "Platform/Shared")
    assert ou_path(org, PROD) == "Root/Platform/Shared"
    fake.move_org_account(PROD, "")
    assert ou_path(org, PROD) == "Root"


def test_describe_organization_names_the_management_account_to_every_member(fake, org):
    assert org.describe_organization()["Organization"]["MasterAccountId"] == OWN_ACCOUNT
    member = fake.client("organizations", PROD).describe_organization()["Organization"]
    assert member["MasterAccountId"] == OWN_ACCOUNT
    assert member["MasterAccountArn"].endswith(f"/{OWN_ACCOUNT}")


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda org: org.list_parents(ChildId="999999999999"), "ChildNotFoundException"),
        (
            lambda org: org.describe_organizational_unit(OrganizationalUnitId="ou-abcd-12345678"),
            "OrganizationalUnitNotFoundException",
        ),
        (
            lambda org: org.describe_organizational_unit(
                OrganizationalUnitId=org.list_roots()["Roots"][0]["Id"]
            ),
            "InvalidInputException",  # a root is no OU
        ),
        (
            lambda org: org.list_tags_for_resource(ResourceId="999999999999"),
            "TargetNotFoundException",
        ),
    ],
)
def test_unknown_ids_answer_the_errors_the_operation_declares(org, call, code):
    got, _, status = error_of(lambda: call(org))
    assert (got, status) == (code, 400)


@pytest.mark.parametrize(
    "call",
    [
        lambda org: org.list_parents(ChildId=PROD),
        lambda org: org.list_tags_for_resource(ResourceId=PROD),
        lambda org: org.describe_organizational_unit(OrganizationalUnitId="ou-abcd-12345678"),
    ],
)
def test_only_the_management_account_reads_the_organization(fake, org, call):
    member = fake.client("organizations", PROD)
    outsider = fake.client("organizations", OUTSIDER)

    assert error_of(lambda: call(member))[::2] == ("AccessDeniedException", 400)
    assert error_of(lambda: call(outsider))[0] == "AWSOrganizationsNotInUseException"
    assert [c.outcome for c in fake.calls(service="organizations")] == ["denied", "error"]


@pytest.mark.parametrize(
    ("action", "call"),
    [
        ("organizations:ListParents", lambda org: org.list_parents(ChildId=PROD)),
        (
            "organizations:ListTagsForResource",
            lambda org: org.list_tags_for_resource(ResourceId=PROD),
        ),
        ("organizations:DescribeOrganization", lambda org: org.describe_organization()),
        (
            "organizations:DescribeOrganizationalUnit",
            lambda org: org.describe_organizational_unit(
                OrganizationalUnitId=org.list_parents(ChildId=PROD)["Parents"][0]["Id"]
            ),
        ),
    ],
)
def test_deny_refuses_each_metadata_read(fake, org, action, call):
    fake.deny(OWN_ACCOUNT, action)

    code, message, status = error_of(lambda: call(org))

    assert (code, status) == ("AccessDeniedException", 400)
    assert f"is not authorized to perform: {action}" in message
    operation = action.split(":", 1)[1]
    assert [c.outcome for c in fake.calls(operation=operation)] == ["denied"]


def test_metadata_reads_are_counted(org, fake):
    for _ in range(2):
        ou_path(org, PROD)
        tags_of(org, PROD)
    org.describe_organization()

    assert len(fake.calls(service="organizations", operation="ListParents")) == 6
    assert len(fake.calls(service="organizations", operation="DescribeOrganizationalUnit")) == 4
    assert len(fake.calls(service="organizations", operation="ListTagsForResource")) == 2
    assert len(fake.calls(service="organizations", operation="DescribeOrganization")) == 1
    assert {c.outcome for c in fake.calls()} == {"ok"}


def test_metadata_reads_are_throttled_with_organizations_own_error(fake, org):
    from botocore.config import Config

    fake.throttle("organizations", "ListTagsForResource", 5)
    once = Config(retries={"mode": "standard", "total_max_attempts": 1})
    client = fake.client("organizations", OWN_ACCOUNT, config=once)

    assert error_of(lambda: client.list_tags_for_resource(ResourceId=PROD))[0] == (
        "ThrottlingException"
    )
    assert fake.calls(operation="ListTagsForResource")[-1].outcome == "throttled"


def test_control_errors_for_unknown_accounts_and_bad_paths(fake, org):
    with pytest.raises(ValueError, match="not in the organization"):
        fake.tag_org_account("999999999999", {"Team": "x"})
    with pytest.raises(ValueError, match="OU names"):
        fake.move_org_account(PROD, "Workloads//Payments")
    with pytest.raises(ValueError, match="tag key"):
        fake.tag_org_account(PROD, {"": "x"})


def test_reset_forgets_ous_and_tags(fake, org):
    fake.reset()
    fake.add_org_account(OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT)
    fake.add_org_account(PROD, "production")
    org = fake.client("organizations", OWN_ACCOUNT)

    assert ou_path(org, PROD) == "Root"
    assert tags_of(org, PROD) == {}
    root = org.list_roots()["Roots"][0]["Id"]
    assert org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"] == []
