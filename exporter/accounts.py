"""Account sources: static entries, named profiles and Organizations discovery.

Turns the configuration into ``Account`` objects whose ``account_id`` is
known: from the role ARN, or ``sts:GetCallerIdentity`` for the exporter's own
credentials and for profiles. Discovery failures keep the last good list.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from exporter.aws import (
    AccountSession,
    ClientFactory,
    account_of_arn,
    home_region,
    partition_of_arn,
)
from exporter.aws.errors import MalformedResponse, check_deadline, describe_error
from exporter.aws.partitions import DEFAULT_PARTITION
from exporter.model import Account
from exporter.terminal import printable

log = logging.getLogger(__name__)


REGIONS_TTL = 24 * 3600  # enabled regions change rarely; re-read daily
_ACCOUNT_ID = re.compile(r"\d{12}")


# ListAccounts gives at most 20 accounts a page: 2000 pages is 40,000 accounts.
MAX_ORGANIZATION_PAGES = 2000


def safe_name(name: str) -> str:
    """An account name set by a member-account admin, with control characters
    written out (``\\x1b``, ``\\n``) so it stays one printable line everywhere:
    labels, alerts, logs and terminals."""
    return printable(name)


def role_account(config: Any, name: str, role_arn: str) -> Account:
    """An account reached only to read something (Organizations, Cost Explorer)
    through ``role_arn``, with the configured ExternalId and session name."""
    return Account(
        name=name,
        account_id=account_of_arn(role_arn),
        role_arn=role_arn,
        external_id=config.defaults.external_id,
        session_name=config.defaults.session_name,
    )


class DiscoveryMemory:
    """The last good Organizations listing, kept across config reloads.

    A reload builds a new ``AccountDirectory``; without this, a reload while
    ListAccounts fails would drop every discovered account. The listing is
    kept raw and filtered again by each config (include/exclude may change).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._source: str | None = None
        self._items: list[dict[str, Any]] | None = None
        self.ok: bool | None = None  # None: discovery is off
        self.last_success: float | None = None

    def remember(self, source: str, items: list[dict[str, Any]], when: float) -> None:
        with self._lock:
            self._source, self._items = source, items
            self.ok, self.last_success = True, when

    def failed(self) -> None:
        with self._lock:
            self.ok = False

    def off(self) -> None:
        with self._lock:
            self.ok = None

    def last_good(self, source: str) -> list[dict[str, Any]] | None:
        """The last listing read from ``source`` (the same management role)."""
        with self._lock:
            return list(self._items) if self._items is not None and self._source == source else None


@dataclass(frozen=True)
class AccountProblem:
    """An account that could not be resolved this cycle, and why."""

    account: Account
    error: BaseException


class AccountDirectory:
    """Resolves the accounts of one configuration; cached across cycles."""

    def __init__(
        self,
        config: Any,
        factory: ClientFactory,
        clock: Callable[[], float] = time.time,
        discovery: DiscoveryMemory | None = None,
    ) -> None:
        self.config = config
        self.factory = factory
        self.clock = clock
        self._lock = threading.Lock()
        self._own_arn: str | None = None
        self._ids: dict[str, str] = {}  # profile/own account name -> id
        self.discovery = discovery or DiscoveryMemory()
        self._regions: dict[str, tuple[float, tuple[str, ...]]] = {}
        self._static: list[Account] | None = None
        # Ids ListAccounts listed this cycle (None: not listed): the accounts
        # whose Organizations metadata can be read.
        self.member_ids: frozenset[str] | None = None

    # -- identity -------------------------------------------------------------

    def own_arn(self) -> str:
        """The ARN of the exporter's own identity (cached)."""
        with self._lock:
            if self._own_arn is not None:
                return self._own_arn
        own = self.factory.own()
        region = home_region(self._configured_partition())
        sts = self.factory.client(own, "sts", region)
        arn = sts.get_caller_identity()["Arn"]
        with self._lock:
            self._own_arn = arn
        return arn

    def _configured_partition(self) -> str | None:
        return self.config.defaults.partition

    def partition(self) -> str:
        """defaults.partition, else the partition of the exporter's own identity."""
        configured = self._configured_partition()
        if configured:
            return configured
        try:
            return partition_of_arn(self.own_arn())
        except Exception as exc:  # no own credentials: fall back, say so once
            log.warning("cannot read own identity (%s); assuming partition aws", _short(exc))
            return DEFAULT_PARTITION

    def resolve_id(self, account: Account) -> Account:
        """``account`` with ``account_id`` filled in (may call STS once)."""
        if account.account_id:
            return account
        with self._lock:
            known = self._ids.get(account.name)
        if known is None and not account.role_arn and not account.profile:
            known = account_of_arn(self.own_arn())  # the own identity, already read
        if known is None:
            session = self.factory.session_for(account)
            sts = self.factory.client(session, "sts", home_region(session.partition))
            known = sts.get_caller_identity()["Account"]
            with self._lock:
                self._ids[account.name] = known
        return replace(account, account_id=known)

    # -- static accounts ------------------------------------------------------

    def static_accounts(self) -> list[Account]:
        # Only ARNs built from an `id` need our own partition (one STS call, cached).
        needs_partition = any(e.role_arn is None and e.id is not None for e in self.config.accounts)
        partition = self.partition() if needs_partition else DEFAULT_PARTITION
        return self.config.static_accounts(partition)

    # -- Organizations --------------------------------------------------------

    def discovered_accounts(self) -> list[Account]:
        """Active member accounts of the organization; the last good listing
        (this process's, across reloads) when ListAccounts fails."""
        org = self.config.organizations
        if not org.enabled:
            self.discovery.off()
            return []
        source = org.role_arn or "own credentials"
        try:
            listed = self._list_organization()
        except Exception as exc:
            self.discovery.failed()
            kept = self.discovery.last_good(source)
            log.warning(
                "organizations discovery failed (%s); %s",
                _short(exc),
                f"keeping the last good list of {len(kept)} accounts"
                if kept is not None
                else "no earlier list to keep: discovered accounts are not read",
            )
            listed = kept or []
        else:
            self.discovery.remember(source, listed, self.clock())
        self.member_ids = frozenset(str(item.get("Id")) for item in listed)
        partition = self.partition()
        accounts = []
        for item in listed:
            account_id = item.get("Id")
            if not isinstance(account_id, str) or not _ACCOUNT_ID.fullmatch(account_id):
                log.warning("organizations listed an account without a valid id; skipped")
                continue
            name = safe_name(str(item.get("Name") or "")) or account_id
            # `State` replaced the retired `Status`; read either.
            state = str(item.get("State") or item.get("Status") or "")
            if state.upper() != "ACTIVE" or not org.selects(name, account_id):
                continue
            accounts.append(self.config.discovered_account(name, account_id, partition))
        return accounts

    @property
    def reads_organization(self) -> bool:
        """Whether Organizations may be read: discovery on, or a management role set."""
        org = self.config.organizations
        return org.enabled or org.role_arn is not None

    def organization_access(self) -> tuple[AccountSession, str]:
        """The session that reads Organizations and the region to call it in."""
        org = self.config.organizations
        if org.role_arn:
            reader = role_account(self.config, "organizations-reader", org.role_arn)
            return self.factory.session_for(reader), home_region(partition_of_arn(org.role_arn))
        return self.factory.own(), home_region(self.partition())

    def _list_organization(self) -> list[dict[str, Any]]:
        session, region = self.organization_access()
        client = self.factory.client(session, "organizations", region)
        items: list[dict[str, Any]] = []
        max_pages = MAX_ORGANIZATION_PAGES  # read at call time: tests lower it
        pages = client.get_paginator("list_accounts").paginate()
        for number, page in enumerate(pages, start=1):
            if number > max_pages:
                raise MalformedResponse(
                    f"ListAccounts returned more than {max_pages} pages; stopped"
                )
            check_deadline()
            items.extend(page.get("Accounts") or ())
        return items

    # -- everything -----------------------------------------------------------

    def accounts(self) -> tuple[list[Account], list[AccountProblem]]:
        """All accounts with known ids; static entries win over discovered ones."""
        resolved: list[Account] = []
        problems: list[AccountProblem] = []
        self._static = self.static_accounts()
        for account in self._static:
            try:
                resolved.append(self.resolve_id(account))
            except Exception as exc:
                problems.append(AccountProblem(account, exc))
        static_ids = {a.account_id for a in resolved}
        static_ids.update(p.account.account_id for p in problems if p.account.account_id)
        names = {a.name for a in resolved} | {p.account.name for p in problems}
        for account in self.discovered_accounts():
            if account.account_id in static_ids:
                continue
            if account.name in names:  # organization names may repeat
                account = replace(account, name=f"{account.name}-{account.account_id}")
            names.add(account.name)
            resolved.append(account)
        return resolved, problems

    # -- regions --------------------------------------------------------------

    def regions_for(self, account: Account) -> tuple[str, ...]:
        """The account's regions: explicit, or every region enabled in it ("all")."""
        if account.regions is not None:
            return account.regions
        now = self.clock()
        with self._lock:
            cached = self._regions.get(account.name)
        if cached is not None and now - cached[0] < REGIONS_TTL:
            return cached[1]
        try:
            session = self.factory.session_for(account)
            ec2 = self.factory.client(session, "ec2", home_region(session.partition))
            listed = tuple(sorted(r["RegionName"] for r in ec2.describe_regions()["Regions"]))
        except Exception:
            if cached is not None:
                log.warning("account %s: cannot list regions; using the last list", account.name)
                return cached[1]
            raise
        with self._lock:
            self._regions[account.name] = (now, listed)
        return listed


def _short(exc: BaseException) -> str:
    return describe_error(exc)[:300]
