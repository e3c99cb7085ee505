"""The typed, frozen configuration: ``Config`` and its sections, as pydantic models.

Each field's type (from ``fields``) validates it; ``validate`` checks one mapping
against a model and words pydantic's errors as ``Problem``s in the user's terms. Rules
that span several accounts are in ``checks``: build a ``Config`` through
``load_config`` or ``parse_config``, not directly.
"""

from __future__ import annotations

import fnmatch
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from exporter.config.errors import Path, Problem, did_you_mean
from exporter.config.fields import (
    ALL_REGIONS,
    DEFAULT_THRESHOLDS,
    FIELD_ERROR,
    REGIONS_HELP,
    ROLE_ARN_RE,
    AccountId,
    Concurrency,
    CostExplorerInterval,
    CostExplorerLookback,
    Duration,
    DurationOrZero,
    ExternalId,
    Flag,
    OwnerLabels,
    Partition,
    PurchaseWindow,
    Ratio,
    Regions,
    RenewalScope,
    RoleArn,
    RoleName,
    Services,
    SessionDuration,
    SessionName,
    Thresholds,
    fail,
    patterns,
    text,
)
from exporter.model import Account
from exporter.services import SERVICE_NAMES

__all__ = [
    "AccountConfig",
    "Config",
    "CostExplorer",
    "Defaults",
    "Organizations",
    "Renewal",
    "validate",
]

_MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True)


class Defaults(BaseModel):
    """Settings every account uses unless it sets its own."""

    model_config = _MODEL_CONFIG

    role_name: RoleName = "ReservationExporter"
    partition: Partition | None = None
    external_id: ExternalId | None = Field(default=None, repr=False)
    session_name: SessionName = "aws-reservation-exporter"
    session_duration: SessionDuration = 3600


class AccountConfig(BaseModel):
    """One static account as written in the file (unset fields inherit from defaults)."""

    model_config = _MODEL_CONFIG

    name: Annotated[
        str,
        text(
            "the account's label, e.g. production",
            printed="the name becomes the `account` label and is printed in logs and terminals",
        ),
    ]
    id: AccountId | None = None
    role_arn: RoleArn | None = None
    external_id: ExternalId | None = Field(default=None, repr=False)
    session_name: SessionName | None = None
    session_duration: SessionDuration | None = None
    profile: (
        Annotated[
            str,
            text(
                "a profile name from ~/.aws/config",
                printed="the profile name is printed in logs and terminals",
            ),
        ]
        | None
    ) = None
    via: Annotated[str, text("the name of another account")] | None = None
    regions: Regions | None = None
    services: Services | None = None

    @property
    def assumes_role(self) -> bool:
        """True when the exporter assumes a role for this account (role_arn or id)."""
        return self.role_arn is not None or self.id is not None

    @property
    def uses_own_credentials(self) -> bool:
        """True for the account reached with the exporter's own credentials."""
        return not self.assumes_role and self.profile is None

    @property
    def account_id(self) -> str | None:
        """The 12-digit id when the file says it (id or role_arn); None for own/profile."""
        if self.id is not None:
            return self.id
        if self.role_arn is not None:
            return ROLE_ARN_RE.fullmatch(self.role_arn).group(2)  # type: ignore[union-attr]
        return None


class Organizations(BaseModel):
    """Discovery of member accounts through AWS Organizations ListAccounts."""

    model_config = _MODEL_CONFIG

    enabled: Flag = False
    role_arn: RoleArn | None = None  # None: call ListAccounts with the own credentials
    include: Annotated[tuple[str, ...], patterns(allow_empty=False)] = ("*",)
    exclude: Annotated[tuple[str, ...], patterns(allow_empty=True)] = ()

    def selects(self, name: str, account_id: str) -> bool:
        """Whether a discovered account passes include/exclude (globs on name or id)."""

        def matches(patterns: tuple[str, ...]) -> bool:
            return any(
                fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(account_id, p) for p in patterns
            )

        return matches(self.include) and not matches(self.exclude)


class Renewal(BaseModel):
    """How renewal coverage is decided (DESIGN §10)."""

    model_config = _MODEL_CONFIG

    scope: RenewalScope = "account"
    purchase_window: PurchaseWindow = 30 * 86400.0


class CostExplorer(BaseModel):
    """Every RI and Savings Plan of the organization, and their utilization, from
    Cost Explorer in the management (payer) account."""

    model_config = _MODEL_CONFIG

    enabled: Flag = False
    role_arn: RoleArn | None = None  # None: the exporter's own credentials
    refresh_interval: CostExplorerInterval = 8 * 3600.0
    lookback: CostExplorerLookback = 7 * 86400.0
    # report's advice from utilization: renew at or above, let lapse below.
    renew_above: Ratio = 0.8
    let_lapse_below: Ratio = 0.3

    @model_validator(mode="after")
    def _advice_in_order(self) -> CostExplorer:
        if self.let_lapse_below > self.renew_above:
            fail(
                f"let_lapse_below ({self.let_lapse_below:g}) must not be above renew_above "
                f"({self.renew_above:g}): between them the advice is resize"
            )
        return self


class Config(BaseModel):
    """The whole validated configuration. Durations are seconds."""

    model_config = _MODEL_CONFIG

    refresh_interval: Duration = 3600.0
    expired_lookback: DurationOrZero = 30 * 86400.0
    regions: Regions
    services: Services = SERVICE_NAMES
    concurrency: Concurrency = 16
    defaults: Defaults = Field(default_factory=Defaults)
    accounts: tuple[AccountConfig, ...] = ()
    organizations: Organizations = Field(default_factory=Organizations)
    renewal: Renewal = Field(default_factory=Renewal)
    cost_explorer: CostExplorer = Field(default_factory=CostExplorer)
    # label name -> tag key; the reservation's own tag wins, else its account's.
    owner_labels: OwnerLabels = ()
    owner_labels_refresh: Duration = 86400.0
    # The alert tiers' thresholds (as in monitoring/alerts.yaml), for the landing page.
    expiry_thresholds: Thresholds = DEFAULT_THRESHOLDS

    @property
    def owner_label_names(self) -> tuple[str, ...]:
        return tuple(label for label, _ in self.owner_labels)

    def account(self, name: str) -> AccountConfig | None:
        """The static account with this name, if any (e.g. to follow ``via``)."""
        return next((a for a in self.accounts if a.name == name), None)

    def effective_regions(self, account: AccountConfig | None = None) -> tuple[str, ...] | str:
        """The account's regions, else the top-level ones; ``"all"`` means discover."""
        if account is not None and account.regions is not None:
            return account.regions
        return self.regions

    def effective_services(self, account: AccountConfig | None = None) -> tuple[str, ...]:
        """The account's services, else the top-level ones."""
        if account is not None and account.services is not None:
            return account.services
        return self.services

    def effective_external_id(self, account: AccountConfig) -> str | None:
        """ExternalId for AssumeRole; None when the account assumes no role."""
        if not account.assumes_role:
            return None
        return account.external_id or self.defaults.external_id

    def effective_session_name(self, account: AccountConfig) -> str:
        """RoleSessionName for AssumeRole."""
        return account.session_name or self.defaults.session_name

    def effective_session_duration(self, account: AccountConfig) -> int:
        """DurationSeconds for AssumeRole."""
        return account.session_duration or self.defaults.session_duration

    def partition_for(self, own_partition: str) -> str:
        """``defaults.partition`` when set, else the partition of the own identity."""
        return self.defaults.partition or own_partition

    def role_arn_for(self, account: AccountConfig, partition: str) -> str | None:
        """The role to assume: role_arn as written, else built from id and defaults.role_name.

        ``partition`` is the exporter's own partition; ``defaults.partition`` wins
        when set. None for the own-credentials account and profile accounts.
        """
        if account.role_arn is not None:
            return account.role_arn
        if account.id is not None:
            return self._built_role_arn(account.id, partition)
        return None

    def _built_role_arn(self, account_id: str, partition: str) -> str:
        return (
            f"arn:{self.partition_for(partition)}:iam::{account_id}:role/{self.defaults.role_name}"
        )

    def static_accounts(self, partition: str) -> list[Account]:
        """Every static account, resolved, in file order; ``via`` names become
        the accounts themselves (the checks refused unknown names and loops)."""
        by_name = {entry.name: entry for entry in self.accounts}
        resolved: dict[str, Account] = {}

        def resolve(entry: AccountConfig) -> Account:
            if entry.name not in resolved:
                via = resolve(by_name[entry.via]) if entry.via in by_name else None
                resolved[entry.name] = self.to_account(entry, partition, via)
            return resolved[entry.name]

        return [resolve(entry) for entry in self.accounts]

    def to_account(
        self, account: AccountConfig, partition: str, via: Account | None = None
    ) -> Account:
        """The fully resolved ``model.Account`` for a static account (no None left to
        inherit but ``regions``, None for every enabled region); ``via`` is the
        resolved account its ``via`` names."""
        regions = self.effective_regions(account)
        return Account(
            name=account.name,
            account_id=account.account_id,
            role_arn=self.role_arn_for(account, partition),
            external_id=self.effective_external_id(account),
            session_name=self.effective_session_name(account),
            session_duration=self.effective_session_duration(account),
            profile=account.profile,
            via=via,
            regions=None if regions == ALL_REGIONS else tuple(regions),
            services=self.effective_services(account),
            source="static",
        )

    def discovered_account(self, name: str, account_id: str, partition: str) -> Account:
        """The ``model.Account`` for an Organizations member: defaults for everything."""
        regions = self.regions
        return Account(
            name=name,
            account_id=account_id,
            role_arn=self._built_role_arn(account_id, partition),
            external_id=self.defaults.external_id,
            session_name=self.defaults.session_name,
            session_duration=self.defaults.session_duration,
            regions=None if regions == ALL_REGIONS else tuple(regions),
            services=self.services,
            source="organizations",
        )


# ------------------------------------------------- pydantic's errors in the user's terms

# Messages for keys that must be present, by (model, field).
_MISSING: dict[tuple[type[BaseModel], str], str] = {
    (Config, "regions"): f"required: {REGIONS_HELP} for every region enabled in each account",
    (AccountConfig, "name"): "required: every account needs a name (its `account` label)",
}


def validate(
    model: type[BaseModel], raw: dict[str, Any], base: Path, problems: list[Problem]
) -> Any:
    """Validate one mapping; translate pydantic's errors into the user's terms."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            loc = (*base, *error["loc"])
            kind = error["type"]
            if kind == FIELD_ERROR:
                items = error["ctx"]["items"]
                if items:
                    problems.extend(Problem((*loc, *sub), message) for sub, message in items)
                else:
                    problems.append(Problem(loc, error["ctx"]["message"]))
            elif kind == "extra_forbidden":
                problems.append(Problem(loc, _unknown_key(str(error["loc"][-1]), model)))
            elif kind == "invalid_key":  # a key that is not text: reported by the tree scan
                continue
            elif kind == "missing":
                field = str(error["loc"][-1])
                problems.append(Problem(loc, _MISSING.get((model, field), "required")))
            else:  # not expected: every field has its own validator
                problems.append(Problem(loc, f"invalid value: {error['msg']}"))
        return None


def _unknown_key(key: str, model: type[BaseModel]) -> str:
    valid = tuple(model.model_fields)
    return f"unknown key{did_you_mean(key, valid)}; valid keys here: {', '.join(valid)}"
