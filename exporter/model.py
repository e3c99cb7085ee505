"""The normalised data model shared by every layer (frozen, hashable, cheap)."""

from __future__ import annotations

from dataclasses import dataclass, field

# Label value used for the region of APIs that are not regional (Savings Plans).
GLOBAL_REGION = "global"


@dataclass(frozen=True, slots=True)
class Account:
    """One AWS account the exporter reads, with how to reach it.

    ``account_id`` is ``None`` until it is known (own credentials and profiles
    learn it from ``sts:GetCallerIdentity``). Everything else is resolved by
    the config (``Config.static_accounts``): defaults applied, ``via`` the
    account whose session assumes this role, ``regions`` None for every region
    enabled in the account.
    """

    name: str
    account_id: str | None = None
    role_arn: str | None = None
    external_id: str | None = field(default=None, repr=False)
    session_name: str = "aws-reservation-exporter"
    session_duration: int = 3600
    profile: str | None = None
    via: Account | None = None  # role chaining: assumed from this account's session
    regions: tuple[str, ...] | None = None  # None: every region enabled in the account
    services: tuple[str, ...] = ()
    source: str = "static"  # static | organizations


@dataclass(frozen=True, slots=True)
class Target:
    """The unit of refresh work: one listing call (plus its pages)."""

    account: str
    account_id: str
    region: str
    service: str


@dataclass(frozen=True, slots=True)
class Reservation:
    """One reservation, normalised across services. Times are Unix seconds (UTC)."""

    reservation_id: str
    state: str  # the API's own string, verbatim
    start: float
    end: float
    instance_count: int | None = None  # None for Savings Plans
    instance_type: str = ""
    product: str = ""
    offering_type: str = ""
    scope: str = ""
    availability_zone: str = ""
    multi_az: str = ""  # "true" / "false" / "" where the API has no such field
    plan_type: str = ""
    hourly_cost: float | None = None
    upfront_cost: float | None = None
    currency: str = "USD"
    region: str | None = None  # overrides the target's region (Savings Plans)
    tenancy: str = ""  # EC2 InstanceTenancy: default / dedicated / host
    term: float | None = None  # purchased term in seconds; None: end - start
    arn: str = ""  # where the service reads tags by ARN (RDS, ElastiCache, MemoryDB)
    lease_id: str = ""  # RDS: the lease Cost Explorer names it by (its id is the buyer's name)
    tags: tuple[tuple[str, str], ...] = ()  # the reservation's own tags, sorted pairs
    source: str = "describe"  # describe | cost_explorer | both (exporter.costexplorer)
    utilization: float | None = None  # 0..1 over cost_explorer.lookback, when known


@dataclass(frozen=True, slots=True)
class TargetResult:
    """What the snapshot store keeps per target: the last good data plus status."""

    target: Target
    reservations: tuple[Reservation, ...]
    success: bool
    last_attempt: float
    duration: float
    last_success: float | None = None
    error_reason: str | None = None  # denied | throttled | timeout | malformed | error
    # owner_labels as configured (label, tag key) and the account's tags: with
    # each reservation's own tags they give its owner labels.
    owner_labels: tuple[tuple[str, str], ...] = ()
    account_tags: tuple[tuple[str, str], ...] = ()
