"""Everything the exporter knows about reaching AWS: partitions, credentials,
named profiles, clients and what their errors mean."""

from exporter.aws.clients import (
    PARTITION_HOME_REGION,
    AccountSession,
    ClientFactory,
    ProfileError,
    partition_of_arn,
)

__all__ = [
    "PARTITION_HOME_REGION",
    "AccountSession",
    "ClientFactory",
    "ProfileError",
    "partition_of_arn",
]
