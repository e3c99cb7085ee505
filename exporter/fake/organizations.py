"""Member accounts in moto's Organizations backend, with chosen ids, names
and states (moto's CreateAccount picks random ids)."""

from __future__ import annotations

import datetime
import itertools

# New-style State -> legacy Status (Status has no CLOSED/PENDING_ACTIVATION).
_LEGACY_STATUS = {
    "ACTIVE": "ACTIVE",
    "SUSPENDED": "SUSPENDED",
    "PENDING_CLOSURE": "PENDING_CLOSURE",
    "CLOSED": "SUSPENDED",
    "PENDING_ACTIVATION": "ACTIVE",
}
_joined = itertools.count()


def add_org_account(
    management_account_id: str,
    account_id: str,
    name: str,
    state: str | None = "ACTIVE",
    status: str | None = None,
    email: str | None = None,
) -> None:
    """Make ``ListAccounts`` (called from ``management_account_id``) list this account.

    Creates the organization on first use. ``state`` is the new ``State`` field
    (``None`` leaves it out, as older APIs did); ``status`` is the legacy
    ``Status``, derived from ``state`` unless given. An existing id is updated.
    """
    from moto.organizations.models import FakeAccount, organizations_backends

    if state is not None and state not in _LEGACY_STATUS:
        raise ValueError(f"state must be one of {', '.join(_LEGACY_STATUS)}, got {state!r}")
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
