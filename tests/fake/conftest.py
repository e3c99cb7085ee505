"""The fake AWS server of each test module (tests/conftest.py), reset before every test."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from exporter.fake import FakeAws


@pytest.fixture
def fake(server: FakeAws) -> FakeAws:
    server.reset()
    return server


_SESSION = boto3.session.Session()  # one session: service models load once


def session_client(fake: FakeAws, credentials: dict[str, Any], service: str, **kwargs: Any) -> Any:
    """A client signed with temporary credentials from an STS response."""
    return _SESSION.client(
        service,
        endpoint_url=fake.endpoint_url,
        region_name=kwargs.pop("region_name", "us-east-1"),
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        **kwargs,
    )


def error_of(call: Any) -> tuple[str, str, int]:
    """(code, message, HTTP status) of the ClientError ``call()`` raises."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return (
        error["Error"]["Code"],
        error["Error"]["Message"],
        error["ResponseMetadata"]["HTTPStatusCode"],
    )


def tag_map(tags: list[dict[str, str]]) -> dict[str, str]:
    """``[{"Key": k, "Value": v}]`` as ``{k: v}``."""
    return {tag["Key"]: tag["Value"] for tag in tags}


def ou_path(org: Any, account_id: str) -> str:
    """``Root/Workloads/Payments``: an account's OU path as the exporter builds it,
    from ListParents and DescribeOrganizationalUnit."""
    names: list[str] = []
    child = account_id
    while True:
        (parent,) = org.list_parents(ChildId=child)["Parents"]
        if parent["Type"] == "ROOT":
            return "/".join(["Root", *reversed(names)])
        unit = org.describe_organizational_unit(OrganizationalUnitId=parent["Id"])
        names.append(unit["OrganizationalUnit"]["Name"])
        child = parent["Id"]
