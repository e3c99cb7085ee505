"""Organizations as the exporter reads it: member accounts with chosen ids,
names, states, tags and OUs in moto's backend (moto's CreateAccount picks
random ids), and the reads around moto that AWS answers differently.

moto serves ListAccounts, DescribeOrganization and ListTagsForResource
itself. The fake puts in front of it: ListParents and
DescribeOrganizationalUnit as AWS answers them (unknown child ->
``ChildNotFoundException``; a root id is no OU; ``Path``), and AWS's rule
that ListParents, DescribeOrganizationalUnit and ListTagsForResource are
for the management account (``AccessDeniedException`` for a member,
``AWSOrganizationsNotInUseException`` outside any organization).
"""

from __future__ import annotations

import datetime
import itertools
import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from moto.core.responses import ActionResult, BaseResponse

from exporter.fake.service_error import FakeServiceError
from exporter.fake.store import check_tags

if TYPE_CHECKING:
    from moto.organizations.models import FakeAccount, FakeOrganizationalUnit, OrganizationsBackend

# New-style State -> legacy Status (Status has no CLOSED/PENDING_ACTIVATION).
_LEGACY_STATUS = {
    "ACTIVE": "ACTIVE",
    "SUSPENDED": "SUSPENDED",
    "PENDING_CLOSURE": "PENDING_CLOSURE",
    "CLOSED": "SUSPENDED",
    "PENDING_ACTIVATION": "ACTIVE",
}
_joined = itertools.count()
_OU_ID = re.compile(r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")
_ROOT_NAME = "Root"
_WRAPPED = "_fake_organizations"


def add_org_account(
    management_account_id: str,
    account_id: str,
    name: str,
    state: str | None = "ACTIVE",
    status: str | None = None,
    email: str | None = None,
    tags: Mapping[str, str] | None = None,
    ou_path: str | None = None,
) -> None:
    """Make ``ListAccounts`` (called from ``management_account_id``) list this account.

    Creates the organization on first use. ``state`` is the new ``State`` field
    (``None`` leaves it out, as older APIs did); ``status`` is the legacy
    ``Status``, derived from ``state`` unless given. ``tags`` replace the
    account's tags; ``ou_path`` (see ``move_account``) places it. An existing
    id is updated; ``None`` leaves its tags and place as they are.
    """
    from moto.organizations.models import FakeAccount, organizations_backends

    if state is not None and state not in _LEGACY_STATUS:
        raise ValueError(f"state must be one of {', '.join(_LEGACY_STATUS)}, got {state!r}")
    checked = None if tags is None else check_tags(tags)
    backend = organizations_backends[management_account_id]["aws"]
    base = datetime.datetime(2020, 1, 1)
    if backend.org is None:
        backend.create_organization(region="us-east-1", FeatureSet="ALL")
        backend.accounts[0].create_time = base  # the management account joined first
    account = next((a for a in backend.accounts if a.id == account_id), None)
    if account is None:
        account = FakeAccount(
            backend.org, AccountName=name, Email=email or f"{account_id}@example.com"
        )
        account.id = account_id
        backend.accounts.append(account)
        organizations_backends.master_accounts[account_id] = (management_account_id, "aws")
    # moto pages ListAccounts by join time: keep it unique and in call order.
    account.create_time = base + datetime.timedelta(seconds=1 + next(_joined))
    account.name = name
    if email:
        account.email = email
    account.state = state
    account.status = status or _LEGACY_STATUS.get(state or "ACTIVE", "ACTIVE")
    if checked is not None:
        account.tags = checked
    if ou_path is not None:
        account.parent_id = _ensure_path(backend, ou_path).id


def tag_account(management_account_id: str, account_id: str, tags: Mapping[str, str]) -> None:
    """Replace the tags of an account of the organization (``ListTagsForResource``)."""
    _account(management_account_id, account_id).tags = check_tags(tags)


def move_account(management_account_id: str, account_id: str, ou_path: str) -> None:
    """Put an account of the organization in the OU at ``ou_path``.

    The path is relative to the root: ``"Workloads/Payments"`` (a leading
    ``"Root/"``, the root's name, may be given too); ``""`` is the root
    itself. Missing OUs are created, existing ones (same name, same parent)
    reused.
    """
    backend = _backend(management_account_id)
    _account(management_account_id, account_id).parent_id = _ensure_path(backend, ou_path).id


def _backend(management_account_id: str) -> OrganizationsBackend:
    from moto.organizations.models import organizations_backends

    backend = organizations_backends[management_account_id]["aws"]
    if backend.org is None:
        raise ValueError(
            f"no organization managed by {management_account_id}: add_org_account first"
        )
    return backend


def _account(management_account_id: str, account_id: str) -> FakeAccount:
    backend = _backend(management_account_id)
    account = next((a for a in backend.accounts if a.id == account_id), None)
    if account is None:
        raise ValueError(
            f"account {account_id} is not in the organization of {management_account_id}"
        )
    return account


def _ensure_path(backend: OrganizationsBackend, ou_path: str) -> FakeOrganizationalUnit:
    """The OU at ``ou_path`` under the root, created as needed (the root for "")."""
    if not isinstance(ou_path, str):
        raise ValueError(f"ou_path must be a string like 'Workloads/Payments', got {ou_path!r}")
    names = ou_path.strip().strip("/").split("/") if ou_path.strip().strip("/") else []
    if names and names[0] == _ROOT_NAME:
        names = names[1:]
    assert backend.org is not None
    node = next(o for o in backend.ou if o.id == backend.org.root_id)
    for name in names:
        if not 1 <= len(name.strip()) <= 128 or name != name.strip():
            raise ValueError(f"ou_path {ou_path!r}: OU names are 1-128 characters, no padding")
        child = next(
            (
                ou
                for ou in backend.ou
                if ou.type == "ORGANIZATIONAL_UNIT" and ou.parent_id == node.id and ou.name == name
            ),
            None,
        )
        if child is None:
            backend.create_organizational_unit(Name=name, ParentId=node.id)
            child = backend.ou[-1]
        node = child
    return node


def _ou_path_ids(backend: OrganizationsBackend, ou: FakeOrganizationalUnit) -> str:
    """``o-.../r-.../ou-.../`` of an OU: the IDs from the organization down to it."""
    chain = [ou.id]
    parent_id = ou.parent_id
    while parent_id:
        parent = next((o for o in backend.ou if o.id == parent_id), None)
        if parent is None:
            break
        chain.append(parent.id)
        parent_id = getattr(parent, "parent_id", None)
    assert backend.org is not None
    return "/".join([backend.org.id, *reversed(chain)]) + "/"


# --- the reads, answered as AWS answers them ------------------------------------------


def _management_backend(response: BaseResponse) -> OrganizationsBackend:
    """The caller's organization backend, if the caller manages one; else AWS's refusal."""
    from moto.organizations.models import organizations_backends

    backend = organizations_backends[response.current_account][response.partition]
    if backend.org is not None:
        return backend
    if response.current_account in organizations_backends.master_accounts:
        raise FakeServiceError(
            "AccessDeniedException", "You don't have permissions to access this resource."
        )
    raise FakeServiceError(
        "AWSOrganizationsNotInUseException", "Your account is not a member of an organization."
    )


def _params(response: BaseResponse) -> dict[str, Any]:
    try:
        body = json.loads(response.body or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _list_parents(response: BaseResponse) -> ActionResult:
    backend = _management_backend(response)
    child_id = str(_params(response).get("ChildId", ""))
    child: Any = next((a for a in backend.accounts if a.id == child_id), None)
    if child is None:
        child = next(
            (o for o in backend.ou if o.id == child_id and o.type == "ORGANIZATIONAL_UNIT"), None
        )
    if child is None:
        raise FakeServiceError(
            "ChildNotFoundException",
            "We can't find an organizational unit (OU) or AWS account with the ChildId "
            "that you specified.",
        )
    parents = [{"Id": o.id, "Type": o.type} for o in backend.ou if o.id == child.parent_id]
    return ActionResult({"Parents": parents})


def _describe_organizational_unit(response: BaseResponse) -> ActionResult:
    backend = _management_backend(response)
    ou_id = str(_params(response).get("OrganizationalUnitId", ""))
    if not _OU_ID.match(ou_id):
        raise FakeServiceError(
            "InvalidInputException",
            "You provided a value that does not match the required pattern.",
        )
    ou = next((o for o in backend.ou if o.id == ou_id and o.type == "ORGANIZATIONAL_UNIT"), None)
    if ou is None:
        raise FakeServiceError(
            "OrganizationalUnitNotFoundException",
            "We can't find an organizational unit (OU) with the OrganizationalUnitId "
            "that you specified.",
        )
    return ActionResult(
        {
            "OrganizationalUnit": {
                "Id": ou.id,
                "Arn": ou.arn,
                "Name": ou.name,
                "Path": _ou_path_ids(backend, ou),
            }
        }
    )


def _management_only(original: Callable[[BaseResponse], Any]) -> Callable[[BaseResponse], Any]:
    def handler(self: BaseResponse) -> Any:
        _management_backend(self)
        return original(self)

    return handler


def install() -> None:
    """Answer the Organizations reads the exporter uses as AWS does (idempotent)."""
    from moto.organizations.responses import OrganizationsResponse

    if getattr(OrganizationsResponse, _WRAPPED, False):
        return
    OrganizationsResponse.list_parents = _list_parents  # type: ignore[assignment,method-assign]
    OrganizationsResponse.describe_organizational_unit = _describe_organizational_unit  # type: ignore[assignment,method-assign]
    OrganizationsResponse.list_tags_for_resource = _management_only(  # type: ignore[method-assign]
        OrganizationsResponse.list_tags_for_resource
    )
    setattr(OrganizationsResponse, _WRAPPED, True)
