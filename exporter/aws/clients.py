"""The one place that builds AWS clients.

One shared botocore loader for the whole process (a new Session per account
would reload every service model: ~290 ms and ~20 MB each) and one
auto-refreshing credential provider per account.

Refresh tasks share one client per (service, region) across all accounts: a
task states whose credentials it acts with (``task_client``) and the shared
client reads them from a context variable each time it signs a request.
Building a client per task cost ~20 ms of CPU, two thirds of the exporter's
CPU at scale; a shared client also keeps its pooled connections alive. Memory
is bounded by services × regions, not accounts × regions × services.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import botocore.session
from botocore.config import Config as BotoConfig
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    Credentials,
    ReadOnlyCredentials,
)
from botocore.exceptions import NoCredentialsError

from exporter.aws.botoconfig import READ_TIMEOUT, RETRY_MAX_ATTEMPTS, client_config
from exporter.aws.credentials import assume_role_credentials
from exporter.aws.errors import watch
from exporter.aws.partitions import partition_of_arn
from exporter.aws.profiles import ProfileResolver
from exporter.model import Account

log = logging.getLogger(__name__)


class _FixedProvider(CredentialProvider):
    """Hands a ready credentials object (static or refreshable) to a session."""

    METHOD = "aws-reservation-exporter"
    CANONICAL_NAME = "aws-reservation-exporter"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


@dataclass(frozen=True)
class _Task:
    """Who the running refresh task acts as, and its per-request hook."""

    credentials: Credentials | None
    before_send: Callable[..., None] | None


_TASK: contextvars.ContextVar[_Task | None] = contextvars.ContextVar(
    "aws_reservation_task", default=None
)


class _TaskCredentials(Credentials):
    """Stands in for the running task's credentials in shared clients.

    botocore asks a client's credentials for a frozen copy each time it signs
    a request (retries included), so a refreshing account renews itself here.
    Outside a task there are none: better an error than another account's.
    """

    def __init__(self) -> None:  # no keys of its own: nothing to store
        self.method = "aws-reservation-exporter-task"

    def _current(self) -> Credentials:
        task = _TASK.get()
        if task is None or task.credentials is None:
            raise NoCredentialsError()
        return task.credentials

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        return self._current().get_frozen_credentials()

    @property  # type: ignore[override]
    def access_key(self) -> str:
        return self.get_frozen_credentials().access_key

    @property  # type: ignore[override]
    def secret_key(self) -> str:
        return self.get_frozen_credentials().secret_key

    @property  # type: ignore[override]
    def token(self) -> str | None:
        return self.get_frozen_credentials().token

    @property
    def account_id(self) -> str | None:
        return getattr(self._current(), "account_id", None)


def _before_send(**kwargs: Any) -> None:
    """The running task's before-send hook, registered once per client."""
    task = _TASK.get()
    if task is not None and task.before_send is not None:
        task.before_send(**kwargs)
    # Returns None: a value from before-send would be taken as the response.


class AccountSession:
    """One account as the factory reaches it: its credentials and partition.

    Role accounts own only their refreshable credentials (no botocore Session
    each: that cost ~17 ms of CPU and ~0.13 MB per account); ``session`` is
    then the factory's shared one, used for one-off clients. A named profile
    has a session of its own, and ``shares_clients`` False: its config section
    may set client options (endpoint, CA bundle) the shared clients lack.
    """

    def __init__(
        self,
        session: botocore.session.Session,
        partition: str,
        credentials: Credentials | None = None,
        shares_clients: bool = True,
    ) -> None:
        self.session = session
        self.partition = partition
        self.shares_clients = shares_clients
        self._credentials = credentials  # None: the session's own chain

    def client(self, service: str, region: str, config: BotoConfig | None = None) -> Any:
        """A one-off client, for calls made right away (not kept: keys are frozen)."""
        if self._credentials is None:
            return self.session.create_client(service, region_name=region, config=config)
        frozen = self._credentials.get_frozen_credentials()
        return self.session.create_client(
            service,
            region_name=region,
            config=config,
            aws_access_key_id=frozen.access_key,
            aws_secret_access_key=frozen.secret_key,
            aws_session_token=frozen.token,
        )

    def credentials(self) -> Credentials | None:
        if self._credentials is not None:
            return self._credentials
        return self.session.get_credentials()


class ClientFactory:
    """Reaches accounts (``session_for``) and gives out clients: shared ones to
    refresh tasks (``task_client``), one-off ones for other calls (``client``).

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
        watch(self._base)
        if on_session is not None:
            on_session(self._base)
        # Clients shared by all refresh tasks; they sign with the task's credentials.
        self._task_session = self._new_session()
        self._task_session.register_component(
            "credential_provider", CredentialResolver([_FixedProvider(_TaskCredentials())])
        )
        self._shared_lock = threading.Lock()
        self._shared: dict[tuple[str, str], Any] = {}

    # -- sessions -----------------------------------------------------------

    def _new_session(self, profile: str | None = None) -> botocore.session.Session:
        session = botocore.session.Session(profile=profile)
        session.register_component("data_loader", self._loader)
        watch(session)
        if self._on_session is not None:
            self._on_session(session)
        return session

    def own(self) -> AccountSession:
        """The exporter's own identity: the standard credential chain."""
        with self._lock:
            if self._own is None:
                self._own = AccountSession(self._base, partition="aws")
            return self._own

    def session_for(self, account: Account) -> AccountSession:
        """The (cached) session of ``account``; roles are assumed lazily on first use,
        from ``account.via``'s session when it has one (role chaining)."""
        key = _session_key(account)
        with self._lock:
            cached = self._sessions.get(key)
        if cached is not None:
            return cached
        built = self._build(account)
        with self._lock:
            return self._sessions.setdefault(key, built)

    def forget_except(self, keep: list[Account]) -> None:
        """Drop sessions of accounts no longer configured or discovered."""
        wanted = {_session_key(a) for a in keep}
        with self._lock:
            for key in [k for k in self._sessions if k not in wanted]:
                del self._sessions[key]

    def _build(self, account: Account) -> AccountSession:
        if account.profile:
            return self._profile_session(account.profile)
        if not account.role_arn:
            return self.own()
        source = self.session_for(account.via) if account.via is not None else self.own()
        credentials = assume_role_credentials(
            # The shared STS client: a new one per account cost CPU and, with
            # many accounts assumed at once, tens of MB of transient memory.
            sts=lambda region: self.task_client(source, "sts", region),
            role_arn=account.role_arn,
            session_name=account.session_name,
            duration=account.session_duration,
            external_id=account.external_id,
            chained=account.via is not None,
            time_fetcher=self._time_fetcher,
        )
        partition = partition_of_arn(account.role_arn)
        return AccountSession(self._base, partition=partition, credentials=credentials)

    def _profile_session(self, profile: str) -> AccountSession:
        """A named profile from the shared AWS config (exporter.aws.profiles resolves it).

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
        return AccountSession(session, partition=resolver.partition(profile), shares_clients=False)

    def _profile_resolver(self) -> ProfileResolver:
        with self._lock:
            if self._profiles is None:
                self._profiles = ProfileResolver(
                    self._new_session, self._mfa_prompter, time_fetcher=self._time_fetcher
                )
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
        """A new client of its own, for one-off calls outside refresh tasks."""
        return account_session.client(service, region, self._config)

    @contextmanager
    def task_client(
        self,
        account_session: AccountSession,
        service: str,
        region: str,
        before_send: Callable[..., None] | None = None,
    ) -> Iterator[Any]:
        """A client acting as ``account_session`` for the duration of the block.

        ``before_send`` runs before every HTTP attempt the block makes (pages
        and retries too). The client must not be used after the block.
        """
        token = _TASK.set(_Task(account_session.credentials(), before_send))
        try:
            if account_session.shares_clients:
                yield self._shared_client(service, region)
            else:
                client = self.client(account_session, service, region)
                client.meta.events.register("before-send", _before_send)
                yield client
        finally:
            _TASK.reset(token)

    def _shared_client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._shared_lock:
            client = self._shared.get(key)
            if client is None:
                client = self._task_session.create_client(
                    service, region_name=region, config=self._config
                )
                client.meta.events.register("before-send", _before_send)
                self._shared[key] = client
            return client

    def shared_clients(self) -> int:
        """How many shared clients exist (one per service and region used)."""
        with self._shared_lock:
            return len(self._shared)

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
        _session_key(account.via) if account.via is not None else None,
    )
