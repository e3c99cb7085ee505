"""The botocore settings every AWS client of the exporter shares."""

from __future__ import annotations

from botocore.config import Config as BotoConfig

from exporter import __version__

RETRY_MAX_ATTEMPTS = 5  # in all, first try included
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 20


def client_config(
    max_pool_connections: int = 10,
    read_timeout: float = READ_TIMEOUT,
    max_attempts: int = RETRY_MAX_ATTEMPTS,
) -> BotoConfig:
    """botocore settings every client shares: bounded retries, bounded waits."""
    return BotoConfig(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
        user_agent_extra=f"aws-reservation-exporter/{__version__}",
    )
