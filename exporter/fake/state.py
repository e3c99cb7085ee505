"""The fake's process-wide state and the operations that change it.

moto keeps its backends in module globals, so the fake does too: one
``STATE`` per process, shared by every server thread and every handler.
These methods are exactly what the control API exposes over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from exporter.fake.catalog import signing_name
from exporter.fake.ceplan import CostExplorerPlan
from exporter.fake.guard import Faults
from exporter.fake.identity import DEFAULT_ACCOUNT_ID
from exporter.fake.recorder import Call, Recorder
from exporter.fake.store import ReservationStore
from exporter.fake.trust import Trust


class FakeState:
    """Seeded data, STS rules, faults, Cost Explorer choices and the call log."""

    def __init__(self) -> None:
        self.store = ReservationStore()
        self.trust = Trust()
        self.faults = Faults()
        self.recorder = Recorder()
        self.ce = CostExplorerPlan()
        self.management_account_id = DEFAULT_ACCOUNT_ID

    def seed(
        self, account_id: str, region: str, service: str, records: Iterable[Mapping[str, Any]]
    ) -> int:
        """Add reservation records (botocore member names) to one target."""
        return self.store.add(account_id, region, service, records)

    def tag_reservation(
        self,
        account_id: str,
        region: str,
        service: str,
        reservation: str,
        tags: Mapping[str, str],
    ) -> None:
        """Replace the tags of a seeded reservation (named by its id or ARN)."""
        self.store.set_tags(account_id, region, service, reservation, tags)

    def set_utilization(
        self, account_id: str, service: str, reservation_id: str, percent: float | None
    ) -> None:
        """Cost Explorer's utilization (0-100) of one reservation or Savings Plan
        (named by its id; a plan also by its ARN); None restores the default."""
        self.ce.set_utilization(account_id, service, reservation_id, percent)

    def ce_rename_attribute(self, old: str, new: str | None) -> None:
        """Send Cost Explorer attribute ``old`` under key ``new`` (None drops it;
        ``new == old`` undoes the change)."""
        self.ce.rename_attribute(old, new)

    def ce_drop_attribute(self, key: str) -> None:
        """Leave attribute ``key`` out of every Cost Explorer answer."""
        self.ce.rename_attribute(key, None)

    def add_role(
        self,
        role_arn: str,
        external_id: str | None = None,
        mfa_serial: str | None = None,
        trusted_account_ids: list[str] | None = None,
        max_session_seconds: int = 3600,
    ) -> None:
        """Make ``role_arn`` assumable, under the given conditions only."""
        self.trust.add_role(
            role_arn, external_id, mfa_serial, trusted_account_ids, max_session_seconds
        )

    def add_mfa_device(self, serial: str, code: str) -> None:
        """Register an MFA device and the one code it accepts."""
        self.trust.add_mfa_device(serial, code)

    def set_session_limits(self, min_seconds: int = 900, cap_seconds: int | None = None) -> None:
        """STS session bounds: ``min_seconds`` is the smallest DurationSeconds accepted
        (AWS: 900); ``cap_seconds`` shortens every issued session to at most that many
        seconds, so tests can watch credentials expire and be renewed."""
        if min_seconds < 1 or (cap_seconds is not None and cap_seconds < 1):
            raise ValueError("session limits must be >= 1 second")
        self.trust.min_session_seconds = int(min_seconds)
        self.trust.cap_seconds = None if cap_seconds is None else int(cap_seconds)

    def deny(self, account_id: str, action: str) -> None:
        """Refuse an IAM action (``es:DescribeReservedInstances``) in one account."""
        self.faults.deny(account_id, action)

    def throttle(
        self, service: str, operation: str, count: int, account_id: str | None = None
    ) -> None:
        """Throttle the next ``count`` calls of ``operation`` (glob) on ``service``."""
        self.faults.throttle(service, operation, count, account_id)

    def delay(self, service: str | None, seconds: float) -> None:
        """Per-request latency for ``service``, or for every request when None."""
        self.faults.delay(service, seconds)

    def malform(self, account_id: str, region: str, service: str, kind: str | None) -> None:
        """Corrupt (or with None, heal) one target's listing."""
        self.faults.malform(account_id, region, service, kind)

    def corrupt(
        self,
        kind: str,
        service: str = "*",
        operation: str = "*",
        account_id: str | None = None,
        count: int | None = None,
    ) -> None:
        """Spoil successful answers on the wire (see ``Faults.corrupt``)."""
        self.faults.corrupt(kind, service, operation, account_id, count)

    def add_org_account(
        self,
        account_id: str,
        name: str,
        state: str | None = "ACTIVE",
        status: str | None = None,
        email: str | None = None,
        management_account_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        ou_path: str | None = None,
    ) -> None:
        """List an account in the organization of the management account, with
        its tags and OU (``"Workloads/Payments"``, relative to the root)."""
        from exporter.fake.organizations import add_org_account

        if management_account_id:
            self.management_account_id = management_account_id
        add_org_account(
            self.management_account_id, account_id, name, state, status, email, tags, ou_path
        )

    def tag_org_account(self, account_id: str, tags: Mapping[str, str]) -> None:
        """Replace an organization account's tags (what ListTagsForResource answers)."""
        from exporter.fake.organizations import tag_account

        tag_account(self.management_account_id, account_id, tags)

    def move_org_account(self, account_id: str, ou_path: str) -> None:
        """Move an organization account to the OU at ``ou_path`` (created as needed)."""
        from exporter.fake.organizations import move_account

        move_account(self.management_account_id, account_id, ou_path)

    def calls(
        self,
        account_id: str | None = None,
        region: str | None = None,
        service: str | None = None,
        operation: str | None = None,
        outcome: str | None = None,
    ) -> list[Call]:
        """Recorded calls matching every given field (``service``: any of its names)."""
        service = signing_name(service) if service else None
        return self.recorder.calls(account_id, region, service, operation, outcome)

    def reset_calls(self) -> None:
        self.recorder.reset()

    def reset(self) -> None:
        """Forget everything: seeds, roles, faults, Cost Explorer choices, calls and
        moto's own state."""
        self.store.clear()
        self.trust.clear()
        self.trust.min_session_seconds = 900
        self.trust.cap_seconds = None
        self.faults.clear()
        self.recorder.reset()
        self.ce.clear()
        self.management_account_id = DEFAULT_ACCOUNT_ID
        _reset_moto()


def _reset_moto() -> None:
    """Drop every moto backend, as moto's own reset does, minus its waste.

    ``BackendDict.reset()`` re-initialises each backend before discarding it,
    which for EC2 means loading ~1300 AMIs (0.7 s) on every test's reset.
    """
    import sys

    from moto.core.base_backend import BackendDict, backend_lock
    from moto.core.model_instances import reset_model_data

    instances = getattr(BackendDict, "_instances", None)
    if instances is None:  # a moto without the registry: take the slow path
        BackendDict.reset()
    else:
        with backend_lock:
            for backend_dict in instances:
                backend_dict.clear()
            instances.clear()
    reset_model_data()
    organizations = sys.modules.get("moto.organizations.models")
    if organizations is not None:
        # Who manages which account outlives BackendDict.reset(); a new
        # organization in a known management account would be refused.
        organizations.organizations_backends.master_accounts.clear()


STATE = FakeState()
