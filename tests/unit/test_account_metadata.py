"""Account metadata from Organizations, against a scripted client."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.account_metadata import MAX_OU_DEPTH, OrganizationMetadata
from exporter.aws.errors import MalformedResponse

DAY = 86400.0


class Paginator:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return self.pages


class Organizations:
    """Root r-1 > ou-w (Workloads) > ou-p (Payments) > account 222222222222."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.parents = {
            "222222222222": {"Id": "ou-p", "Type": "ORGANIZATIONAL_UNIT"},
            "333333333333": {"Id": "r-1", "Type": "ROOT"},
            "ou-p": {"Id": "ou-w", "Type": "ORGANIZATIONAL_UNIT"},
            "ou-w": {"Id": "r-1", "Type": "ROOT"},
        }
        self.names = {"ou-p": "Payments", "ou-w": "Workloads"}
        self.tags = {"222222222222": [{"Key": "Team", "Value": "payments"}]}

    def describe_organization(self) -> dict[str, Any]:
        self.calls.append("DescribeOrganization")
        return {"Organization": {"Id": "o-1", "MasterAccountId": "111111111111"}}

    def list_parents(self, ChildId: str) -> dict[str, Any]:
        self.calls.append("ListParents")
        return {"Parents": [self.parents[ChildId]]}

    def describe_organizational_unit(self, OrganizationalUnitId: str) -> dict[str, Any]:
        self.calls.append("DescribeOrganizationalUnit")
        name = self.names[OrganizationalUnitId]
        return {"OrganizationalUnit": {"Id": OrganizationalUnitId, "Name": name}}

    def get_paginator(self, name: str) -> Paginator:
        assert name == "list_tags_for_resource"
        self.calls.append("ListTagsForResource")
        return Paginator([{"Tags": self.tags.get("222222222222", [])}])


def test_an_account_in_nested_units_gets_its_path_tags_and_payer() -> None:
    org, meta = Organizations(), OrganizationMetadata()
    read = meta.read(org, "222222222222", now=0, max_age=DAY)
    assert read.ou_path == "Root/Workloads/Payments"
    assert read.payer_account_id == "111111111111"
    assert read.tags == (("Team", "payments"),)
    assert meta.get("222222222222") == read


def test_an_account_under_the_root_has_the_root_path() -> None:
    org = Organizations()
    org.tags = {}
    read = OrganizationMetadata().read(org, "333333333333", now=0, max_age=DAY)
    assert (read.ou_path, read.tags) == ("Root", ())


def test_unit_names_and_the_payer_are_read_once_per_max_age() -> None:
    org, meta = Organizations(), OrganizationMetadata()
    meta.read(org, "222222222222", now=0, max_age=DAY)
    org.calls.clear()
    meta.read(org, "222222222222", now=60, max_age=DAY)
    assert org.calls.count("DescribeOrganizationalUnit") == 0
    assert org.calls.count("DescribeOrganization") == 0
    org.names["ou-p"] = "Payments-EU"
    org.calls.clear()
    assert meta.read(org, "222222222222", now=DAY, max_age=DAY).ou_path == (
        "Root/Workloads/Payments-EU"
    )
    assert org.calls.count("DescribeOrganizationalUnit") == 2


def test_due_follows_the_time_of_the_last_read() -> None:
    meta = OrganizationMetadata()
    assert meta.due("222222222222", now=0, max_age=DAY)
    meta.read(Organizations(), "222222222222", now=100, max_age=DAY)
    assert not meta.due("222222222222", now=100 + DAY - 1, max_age=DAY)
    assert meta.due("222222222222", now=100 + DAY, max_age=DAY)


def test_a_parent_loop_is_malformed_not_endless() -> None:
    org = Organizations()
    org.parents["ou-w"] = {"Id": "ou-p", "Type": "ORGANIZATIONAL_UNIT"}
    with pytest.raises(MalformedResponse, match=f"no root within {MAX_OU_DEPTH} levels"):
        OrganizationMetadata().read(org, "222222222222", now=0, max_age=DAY)


def test_hostile_unit_names_are_one_printable_path_element() -> None:
    org = Organizations()
    org.names["ou-p"] = "Pay/ments\n\x1b[2J"
    read = OrganizationMetadata().read(org, "222222222222", now=0, max_age=DAY)
    assert read.ou_path == "Root/Workloads/Pay_ments\\n\\x1b[2J"


def test_a_payer_id_that_is_not_an_account_id_is_malformed() -> None:
    org = Organizations()
    org.describe_organization = lambda: {"Organization": {"MasterAccountId": "x"}}  # type: ignore[method-assign]
    with pytest.raises(MalformedResponse, match="MasterAccountId"):
        OrganizationMetadata().read(org, "222222222222", now=0, max_age=DAY)


def test_an_account_outside_the_organization_has_no_metadata_and_no_error() -> None:
    from botocore.exceptions import ClientError

    org, meta = Organizations(), OrganizationMetadata()

    def not_found(ChildId: str) -> dict[str, Any]:
        error = {"Error": {"Code": "ChildNotFoundException", "Message": "no such child"}}
        raise ClientError(error, "ListParents")

    org.list_parents = not_found  # type: ignore[method-assign]
    read = meta.read(org, "444444444444", now=0, max_age=DAY)
    assert (read.payer_account_id, read.ou_path, read.tags) == ("", "", ())
    assert not meta.due("444444444444", now=60, max_age=DAY)


def test_other_errors_are_raised_for_the_caller_to_count() -> None:
    from botocore.exceptions import ClientError

    org = Organizations()

    def denied(ChildId: str) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "ListParents")

    org.list_parents = denied  # type: ignore[method-assign]
    with pytest.raises(ClientError):
        OrganizationMetadata().read(org, "222222222222", now=0, max_age=DAY)
