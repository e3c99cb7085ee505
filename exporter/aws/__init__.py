"""Everything the exporter knows about reaching AWS: partitions, credentials,
named profiles, clients and what their errors mean."""

from exporter.aws.clients import AccountSession, ClientFactory
from exporter.aws.errors import ProfileError
from exporter.aws.partitions import account_of_arn, home_region, partition_of_arn

__all__ = [
    "AccountSession",
    "ClientFactory",
    "ProfileError",
    "account_of_arn",
    "home_region",
    "partition_of_arn",
]
