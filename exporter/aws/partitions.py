"""AWS partitions and ARNs: where a partition's global APIs live, and the
parts of an ARN the exporter reads.

The bottom of ``exporter.aws``: no imports from the rest of the package.
"""

from __future__ import annotations

DEFAULT_PARTITION = "aws"

# Where a partition's global APIs (STS default, Savings Plans, Organizations) are called.
PARTITION_HOME_REGION = {
    "aws": "us-east-1",
    "aws-cn": "cn-northwest-1",
    "aws-us-gov": "us-gov-west-1",
}


def home_region(partition: str | None) -> str:
    """The region where ``partition``'s global APIs are called (``us-east-1``
    for the commercial partition, and for one this table does not know)."""
    return PARTITION_HOME_REGION.get(partition or DEFAULT_PARTITION, "us-east-1")


def partition_of_arn(arn: str) -> str:
    """``aws-cn`` of ``arn:aws-cn:iam::...``; ``aws`` for anything not an ARN
    (an MFA device may be a hardware serial number, not an ARN)."""
    parts = arn.split(":", 2)
    return parts[1] if len(parts) > 1 and parts[0] == "arn" and parts[1] else DEFAULT_PARTITION


def account_of_arn(arn: str) -> str:
    """The account id of ``arn:<partition>:<service>:<region>:<account>:...``.

    Raises ValueError for text that is not an ARN with an account field.
    """
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN with an account: {arn!r}")
    return parts[4]
