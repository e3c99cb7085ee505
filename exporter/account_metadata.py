"""What Organizations knows about an account: its tags, its OU path and the
management (payer) account. Read only with Organizations access (discovery on,
or ``organizations.role_arn`` set) and cached: a new account is read at once,
a known one again at most every ``owner_labels_refresh``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from exporter.aws.errors import MalformedResponse, check_deadline
from exporter.ownership import NO_TAGS, Tags, tags_from_list
from exporter.terminal import printable

ROOT_NAME = "Root"
# Organizations nests OUs at most five deep under the root; a longer walk is a
# broken (or hostile) answer, not an organization.
MAX_OU_DEPTH = 8
MAX_TAG_PAGES = 10
_ACCOUNT_ID = re.compile(r"\d{12}")


@dataclass(frozen=True, slots=True)
class AccountMeta:
    payer_account_id: str = ""
    ou_path: str = ""  # Root/Workloads/Payments
    tags: Tags = NO_TAGS


NO_META = AccountMeta()
# What Organizations answers for an account that is not in the organization.
NOT_A_MEMBER = frozenset(
    {"AccountNotFoundException", "ChildNotFoundException", "TargetNotFoundException"}
)


class OrganizationMetadata:
    """Caches of account metadata, OU names and the management account id,
    filled through whatever Organizations client the caller hands in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, tuple[AccountMeta, float]] = {}
        self._ou_names: dict[str, str] = {}
        self._payer: str | None = None
        self._shared_read_at = 0.0  # when the OU names and the payer were first read

    def due(self, account_id: str, now: float, max_age: float) -> bool:
        with self._lock:
            entry = self._accounts.get(account_id)
        return entry is None or now - entry[1] >= max_age

    def get(self, account_id: str) -> AccountMeta | None:
        """What was last read for the account; None when never read."""
        with self._lock:
            entry = self._accounts.get(account_id)
        return entry[0] if entry is not None else None

    def read(self, client: Any, account_id: str, now: float, max_age: float) -> AccountMeta:
        """Read the account's metadata with ``client`` (Organizations) and keep it.

        OU names and the payer id are shared by all accounts and read again
        once they are ``max_age`` old. Raises what the calls raise
        (AccessDenied, MalformedResponse...): the caller counts it and keeps
        the last good metadata.
        """
        with self._lock:
            if now - self._shared_read_at >= max_age:
                self._ou_names.clear()
                self._payer = None
                self._shared_read_at = now
        try:
            meta = AccountMeta(
                payer_account_id=self._payer_id(client),
                ou_path=self._ou_path(client, account_id),
                tags=self._tags(client, account_id),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in NOT_A_MEMBER:
                raise
            # A configured account of another organization (or none): nothing
            # to know here, and nothing wrong.
            meta = NO_META
        with self._lock:
            self._accounts[account_id] = (meta, now)
        return meta

    def retain(self, account_ids: set[str]) -> None:
        with self._lock:
            for key in [k for k in self._accounts if k not in account_ids]:
                del self._accounts[key]

    # -- the calls ------------------------------------------------------------

    def _payer_id(self, client: Any) -> str:
        with self._lock:
            if self._payer is not None:
                return self._payer
        organization = client.describe_organization().get("Organization") or {}
        payer = organization.get("MasterAccountId")
        if not isinstance(payer, str) or not _ACCOUNT_ID.fullmatch(payer):
            raise MalformedResponse("DescribeOrganization: no valid MasterAccountId")
        with self._lock:
            self._payer = payer
        return payer

    def _tags(self, client: Any, account_id: str) -> Tags:
        items: list[Any] = []
        pages = client.get_paginator("list_tags_for_resource").paginate(ResourceId=account_id)
        for number, page in enumerate(pages, start=1):
            if number > MAX_TAG_PAGES:
                raise MalformedResponse(f"ListTagsForResource: more than {MAX_TAG_PAGES} pages")
            check_deadline()
            items.extend(page.get("Tags") or ())
        return tags_from_list(items)

    def _ou_path(self, client: Any, account_id: str) -> str:
        names: list[str] = []
        child = account_id
        for _ in range(MAX_OU_DEPTH):
            check_deadline()
            parents = client.list_parents(ChildId=child).get("Parents") or []
            if not parents or not isinstance(parents[0], dict):
                raise MalformedResponse(f"ListParents: no parent for {child}")
            parent = parents[0]
            kind, parent_id = parent.get("Type"), parent.get("Id")
            if kind == "ROOT":
                return "/".join([ROOT_NAME, *reversed(names)])
            if kind != "ORGANIZATIONAL_UNIT" or not isinstance(parent_id, str):
                raise MalformedResponse(f"ListParents: unknown parent type {printable(str(kind))}")
            names.append(self._ou_name(client, parent_id))
            child = parent_id
        raise MalformedResponse(f"ListParents: no root within {MAX_OU_DEPTH} levels")

    def _ou_name(self, client: Any, ou_id: str) -> str:
        with self._lock:
            known = self._ou_names.get(ou_id)
        if known is not None:
            return known
        unit = client.describe_organizational_unit(OrganizationalUnitId=ou_id)
        name = (unit.get("OrganizationalUnit") or {}).get("Name")
        if not isinstance(name, str) or not name:
            raise MalformedResponse(f"DescribeOrganizationalUnit: no name for {ou_id}")
        # One printable line, and no "/" inside a name (it separates the path).
        name = printable(name).replace("/", "_")
        with self._lock:
            self._ou_names[ou_id] = name
        return name
