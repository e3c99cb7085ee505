"""Credentials that renew themselves, and the one AssumeRole builder.

Every role the exporter reaches goes through ``assume_role_credentials``: a
configured account's ``role_arn`` (assumed from the exporter's own identity,
or from another account's session with ``via``) and a named profile's
``role_arn`` (assumed from its source profile, its ``credential_source`` or an
MFA session; see ``exporter.aws.profiles``). Nothing calls STS before the
credentials are first used: a role that cannot be assumed fails the first
task that needs it, not start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.credentials import RefreshableCredentials

from exporter.aws.errors import MalformedResponse
from exporter.aws.partitions import home_region, partition_of_arn

log = logging.getLogger(__name__)

# AWS caps a session obtained with role credentials (role chaining) at one hour.
CHAINED_SESSION_MAX = 3600

TimeFetcher = Callable[[], datetime]
# An STS client acting as the source identity, for one ``with`` block, in a region.
StsClient = Callable[[str], AbstractContextManager[Any]]


def refresh_windows(duration: int) -> tuple[int, int]:
    """(advisory, mandatory) seconds before expiry to renew credentials.

    AWS sessions last at least 15 min, where botocore's defaults (15 and 10 min)
    would renew on every call; scale them down for short sessions.
    """
    advisory = min(15 * 60, duration // 3)
    mandatory = min(10 * 60, duration // 4)
    return advisory, mandatory


def deferred_credentials(
    fetch: Callable[[], dict[str, str]],
    *,
    method: str,
    duration: int,
    time_fetcher: TimeFetcher | None = None,
) -> RefreshableCredentials:
    """Credentials that ``fetch`` (botocore's metadata dict) gives on first use
    and again before they expire, with windows fit for a ``duration`` session.

    botocore calls ``fetch`` under its refresh lock: one STS call (and one MFA
    prompt) at a time per credentials object.
    """
    advisory, mandatory = refresh_windows(duration)
    now = time_fetcher or _utc_now
    # An already-expired placeholder makes botocore call fetch() on first use.
    return RefreshableCredentials(
        access_key="",
        secret_key="",
        token="",
        expiry_time=now() - timedelta(hours=1),
        refresh_using=fetch,
        method=method,
        time_fetcher=now,
        advisory_timeout=advisory,
        mandatory_timeout=mandatory,
    )


def sts_metadata(operation: str, response: Any) -> dict[str, str]:
    """botocore's credential metadata from an STS answer's ``Credentials``.

    A naive expiry is taken as UTC. An answer without complete credentials is
    a ``MalformedResponse`` (whose text never quotes the answer).
    """
    creds = response.get("Credentials") if isinstance(response, Mapping) else None
    try:
        access_key = creds["AccessKeyId"]  # type: ignore[index]
        secret_key = creds["SecretAccessKey"]  # type: ignore[index]
        token = creds["SessionToken"]  # type: ignore[index]
        expiry = creds["Expiration"]  # type: ignore[index]
    except (KeyError, TypeError):
        raise MalformedResponse(f"{operation}: the answer holds no complete credentials") from None
    if isinstance(expiry, datetime):
        if expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=timezone.utc)
        expiry = expiry.isoformat()
    return {
        "access_key": access_key,
        "secret_key": secret_key,
        "token": token,
        "expiry_time": str(expiry),
    }


def assume_role_credentials(
    *,
    sts: StsClient,
    role_arn: str,
    session_name: str,
    duration: int,
    external_id: str | None = None,
    chained: bool = False,
    mfa_serial: str | None = None,
    token_code: Callable[[], str] | None = None,
    label: str | None = None,
    time_fetcher: TimeFetcher | None = None,
) -> RefreshableCredentials:
    """Credentials for ``role_arn`` that renew themselves before they expire.

    - ``sts(region)``: an STS client acting as the source identity, as a
      context manager; called with the role's partition's home region.
    - ``duration``: AssumeRole's DurationSeconds; capped at one hour when the
      source is itself a role session (``chained``), as AWS requires.
    - ``mfa_serial`` with ``token_code``: AssumeRole with an MFA code, asked
      for each time the role is assumed (a code is single-use).
    - ``label`` names whose role this is in the debug log line.
    """
    if mfa_serial and token_code is None:
        raise ValueError(f"{role_arn}: an MFA serial needs a way to ask for its code")
    seconds = min(duration, CHAINED_SESSION_MAX) if chained else duration
    region = home_region(partition_of_arn(role_arn))
    who = f"{label}: " if label else ""

    def fetch() -> dict[str, str]:
        params: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": session_name,
            "DurationSeconds": seconds,
        }
        if external_id:
            params["ExternalId"] = external_id
        if mfa_serial and token_code is not None:
            params["SerialNumber"] = mfa_serial
            params["TokenCode"] = token_code()
        with sts(region) as client:
            metadata = sts_metadata("AssumeRole", client.assume_role(**params))
        log.debug("%sassumed %s until %s", who, role_arn, metadata["expiry_time"])
        return metadata

    return deferred_credentials(
        fetch, method="assume-role", duration=seconds, time_fetcher=time_fetcher
    )


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)
