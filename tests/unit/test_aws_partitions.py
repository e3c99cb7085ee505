"""exporter.aws.partitions: each partition's home region and the parts of an
ARN the exporter reads."""

from __future__ import annotations

import pytest

from exporter.aws.partitions import (
    PARTITION_HOME_REGION,
    account_of_arn,
    home_region,
    partition_of_arn,
)


@pytest.mark.parametrize(
    ("partition", "region"),
    [
        ("aws", "us-east-1"),
        ("aws-cn", "cn-northwest-1"),
        ("aws-us-gov", "us-gov-west-1"),
    ],
)
def test_each_known_partition_has_its_home_region(partition: str, region: str) -> None:
    assert home_region(partition) == region
    assert PARTITION_HOME_REGION[partition] == region


@pytest.mark.parametrize("partition", [None, "", "aws-iso", "aws-eusc"])
def test_an_unknown_or_missing_partition_calls_the_commercial_home_region(
    partition: str | None,
) -> None:
    assert home_region(partition) == "us-east-1"


@pytest.mark.parametrize(
    ("arn", "partition"),
    [
        ("arn:aws:iam::111111111111:role/Reader", "aws"),
        ("arn:aws-cn:iam::111111111111:role/Reader", "aws-cn"),
        ("arn:aws-us-gov:sts::111111111111:assumed-role/Reader/s", "aws-us-gov"),
        ("arn:aws-cn:iam::111111111111:mfa/alice", "aws-cn"),
    ],
)
def test_partition_of_an_arn(arn: str, partition: str) -> None:
    assert partition_of_arn(arn) == partition


@pytest.mark.parametrize("text", ["GAHT12345678", "", "arn", "arn::iam::1:x", "urn:aws:x"])
def test_anything_not_an_arn_is_taken_as_the_commercial_partition(text: str) -> None:
    # An MFA device may be a hardware token's serial number, not an ARN.
    assert partition_of_arn(text) == "aws"


@pytest.mark.parametrize(
    ("arn", "account"),
    [
        ("arn:aws:iam::111111111111:role/Reader", "111111111111"),
        ("arn:aws-cn:iam::222222222222:role/path/to/Reader", "222222222222"),
        ("arn:aws:sts::333333333333:assumed-role/Reader/session:with:colons", "333333333333"),
        ("arn:aws:iam::444444444444:root", "444444444444"),
    ],
)
def test_account_of_an_arn(arn: str, account: str) -> None:
    assert account_of_arn(arn) == account


@pytest.mark.parametrize("text", ["", "111111111111", "arn:aws:iam::111111111111", "x:y:z:w:v:u"])
def test_account_of_something_not_an_arn_is_an_error_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="not an ARN"):
        account_of_arn(text)
