"""The one place that builds AWS clients.

One shared botocore loader for the whole process (a new Session per account
would reload every service model: ~290 ms and ~20 MB each), one auto-refreshing
credential provider per account, and clients built per task from them, so
memory does not grow with accounts × regions × services.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config as BotoConfig
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    Credentials,
    RefreshableCredentials,
)

from exporter import __version__
from exporter.model import Account

if TYPE_CHECKING:
    from exporter.profiles import ProfileResolver

log = logging.getLogger(__name__)

# Where a partition's global APIs (STS default, Savings Plans, Organizations) are called.
PARTITION_HOME_REGION = {
    "aws": "us-east-1",
    "aws-cn": "cn-northwest-1",
    "aws-us-gov": "us-gov-west-1",
}

# AWS caps a session obtained with chained role credentials at one hour.
CHAINED_SESSION_MAX = 3600

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


def partition_of_arn(arn: str) -> str:
    return arn.split(":", 2)[1]


def account_of_arn(arn: str) -> str:
    return arn.split(":")[4]


class ProfileError(Exception):
    """A named profile that cannot be used (missing, or needs an MFA prompt)."""


class _FixedProvider(CredentialProvider):
    """Hands a ready credentials object (static or refreshable) to a session."""

    METHOD = "aws-reservation-exporter"
    CANONICAL_NAME = "aws-reservation-exporter"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


class AccountSession:
    """A botocore session for one account: shared models, its own credentials.

    Building a Session costs ~16 ms and no model loading, because the data
    loader (with its cache of parsed models) is shared.
    """

    def __init__(self, session: botocore.session.Session, partition: str) -> None:
        self.session = session
        self.partition = partition

    def client(self, service: str, region: str, config: BotoConfig | None = None) -> Any:
        return self.session.create_client(service, region_name=region, config=config)

    def credentials(self) -> Credentials | None:
        return self.session.get_credentials()


class ClientFactory:
    """Builds per-account sessions and the clients refresh tasks use.

    ``on_session`` is called with every new botocore session so the caller can
    hook its events (API request counters).
    """

    def __init__(
        self,
        *,
        concurrency: int = 16,
        on_session: Callable[[botocore.session.Session], None] | None = None,
        mfa_prompter: Callable[[str], str] | None = None,
        time_fetcher: Callable[[], datetime] | None = None,
        read_timeout: float = READ_TIMEOUT,
        max_attempts: int = RETRY_MAX_ATTEMPTS,
    ) -> None:
        self._base = botocore.session.Session()
        self._loader = self._base.get_component("data_loader")
        self._config = client_config(
            max_pool_connections=max(10, concurrency),
            read_timeout=read_timeout,
            max_attempts=max_attempts,
        )
        self._on_session = on_session
        self._mfa_prompter = mfa_prompter
        self._time_fetcher = time_fetcher  # decides when credentials need renewing (tests)
        self._profiles: ProfileResolver | None = None
        self._lock = threading.Lock()
        self._sessions: dict[tuple[object, ...], AccountSession] = {}
        self._own: AccountSession | None = None
        self._warmed: set[str] = set()
        if on_session is not None:
            on_session(self._base)

    # -- sessions -----------------------------------------------------------

    def _new_session(self, profile: str | None = None) -> botocore.session.Session:
        session = botocore.session.Session(profile=profile)
        session.register_component("data_loader", self._loader)
        if self._on_session is not None:
            self._on_session(session)
        return session

    def own(self) -> AccountSession:
        """The exporter's own identity: the standard credential chain."""
        with self._lock:
            if self._own is None:
                self._own = AccountSession(self._base, partition="aws")
            return self._own

    def session_for(
        self, account: Account, resolve_via: Callable[[str], Account] | None = None
    ) -> AccountSession:
        """The (cached) session of ``account``; roles are assumed lazily on first use."""
        key = _session_key(account)
        with self._lock:
            cached = self._sessions.get(key)
        if cached is not None:
            return cached
        built = self._build(account, resolve_via)
        with self._lock:
            return self._sessions.setdefault(key, built)

    def forget_except(self, keep: list[Account]) -> None:
        """Drop sessions of accounts no longer configured or discovered."""
        wanted = {_session_key(a) for a in keep}
        with self._lock:
            for key in [k for k in self._sessions if k not in wanted]:
                del self._sessions[key]

    def _build(
        self, account: Account, resolve_via: Callable[[str], Account] | None
    ) -> AccountSession:
        if account.profile:
            return self._profile_session(account.profile)
        if not account.role_arn:
            return self.own()
        if account.via:
            if resolve_via is None:
                raise ValueError(f"account {account.name}: cannot resolve via={account.via}")
            source = self.session_for(resolve_via(account.via), resolve_via)
            duration = min(account.session_duration, CHAINED_SESSION_MAX)
        else:
            source = self.own()
            duration = account.session_duration
        partition = partition_of_arn(account.role_arn)
        credentials = assume_role_credentials(
            source=source,
            role_arn=account.role_arn,
            external_id=account.external_id,
            session_name=account.session_name,
            duration=duration,
            region=PARTITION_HOME_REGION.get(partition, "us-east-1"),
            time_fetcher=self._time_fetcher,
        )
        session = self._new_session()
        session.register_component(
            "credential_provider", CredentialResolver([_FixedProvider(credentials)])
        )
        return AccountSession(session, partition=partition)

    def _profile_session(self, profile: str) -> AccountSession:
        """A named profile from the shared AWS config (exporter.profiles resolves it).

        A daemon cannot answer an MFA prompt: profiles needing one anywhere in
        their source chain fail with a clear ProfileError instead of blocking on
        a terminal that is not there. With ``mfa_prompter`` (report, doctor) the
        code is asked once per source profile and MFA device.
        """
        resolver = self._profile_resolver()
        credentials = resolver.credentials(profile)
        session = self._new_session(profile=profile)
        session.register_component(
            "credential_provider", CredentialResolver([_FixedProvider(credentials)])
        )
        return AccountSession(session, partition=resolver.partition(profile))

    def _profile_resolver(self) -> ProfileResolver:
        from exporter.profiles import ProfileResolver  # imports this module: import late

        with self._lock:
            if self._profiles is None:
                self._profiles = ProfileResolver(self._new_session, self._mfa_prompter)
            return self._profiles

    # -- clients ------------------------------------------------------------

    def warm(self, client_names: Iterable[str]) -> None:
        """Parse each service's model once, up front and one at a time.

        Otherwise the first cycle's worker threads all parse the same large
        JSON models at once: wasted CPU and a peak of memory the allocator keeps.
        """
        for name in client_names:
            if name in self._warmed:
                continue
            self._base.create_client(
                name, region_name="us-east-1", aws_access_key_id="-", aws_secret_access_key="-"
            )
            self._warmed.add(name)

    def client(self, account_session: AccountSession, service: str, region: str) -> Any:
        """A new client; callers keep it for one task only."""
        return account_session.client(service, region, self._config)

    def available_regions(self, client_name: str, partition: str) -> list[str]:
        """Regions where botocore knows an endpoint for this service."""
        return self._base.get_available_regions(client_name, partition_name=partition)


def _session_key(account: Account) -> tuple[object, ...]:
    """What identifies an account's credentials (not its resolved id or regions)."""
    return (
        account.name,
        account.role_arn,
        account.external_id,
        account.session_name,
        account.session_duration,
        account.profile,
        account.via,
    )


def refresh_windows(duration: int) -> tuple[int, int]:
    """(advisory, mandatory) seconds before expiry to renew credentials.

    AWS sessions last at least 15 min, where botocore's defaults (15 and 10 min)
    would renew on every call; scale them down for short sessions.
    """
    advisory = min(15 * 60, duration // 3)
    mandatory = min(10 * 60, duration // 4)
    return advisory, mandatory


def assume_role_credentials(
    *,
    source: AccountSession,
    role_arn: str,
    external_id: str | None,
    session_name: str,
    duration: int,
    region: str,
    time_fetcher: Callable[[], datetime] | None = None,
) -> RefreshableCredentials:
    """Credentials for ``role_arn`` that renew themselves before they expire.

    Nothing is called until first use: a role that cannot be assumed fails the
    first refresh task of its account, not start-up.
    """

    def fetch() -> dict[str, str]:
        sts = source.client("sts", region, client_config())
        params: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": session_name,
            "DurationSeconds": duration,
        }
        if external_id:
            params["ExternalId"] = external_id
        creds = sts.assume_role(**params)["Credentials"]
        expiry = creds["Expiration"]
        if isinstance(expiry, datetime) and expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=timezone.utc)
        log.debug("assumed %s until %s", role_arn, expiry.isoformat())
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": expiry.isoformat(),
        }

    advisory, mandatory = refresh_windows(duration)
    now = time_fetcher or _utc_now
    # Deferred: an already-expired placeholder makes botocore call fetch() on first use.
    return RefreshableCredentials(
        access_key="",
        secret_key="",
        token="",
        expiry_time=now() - timedelta(hours=1),
        refresh_using=fetch,
        method="assume-role",
        time_fetcher=now,
        advisory_timeout=advisory,
        mandatory_timeout=mandatory,
    )


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)
