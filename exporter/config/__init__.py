"""The configuration file: YAML -> a typed, validated, frozen ``Config`` (DESIGN §3).

Every problem in a file is reported at once, each as ``path: message`` in the
user's terms (``accounts[2].role_arn: not a valid IAM role ARN ...``), never in
pydantic's. Use ``load_config`` for files and ``parse_config`` for data already
loaded; both raise ``ConfigError``. Building ``Config`` directly skips the
checks that span several accounts, so other code should not.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
import re
from typing import Annotated, Any, Literal, NoReturn

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from exporter.config.durations import format_duration, parse_duration
from exporter.config.errors import (
    ConfigError,
    Path,
    Problem,
    did_you_mean,
    escaped,
    format_path,
    render,
    unprintable,
)
from exporter.config.reading import (
    MAX_ALIAS_VALUES,
    MAX_DEPTH,
    MAX_VALUES,
    YamlError,
    read_yaml,
)
from exporter.model import Account
from exporter.services import SERVICE_NAMES

log = logging.getLogger(__name__)

__all__ = [
    "ALL_REGIONS",
    "MAX_ALIAS_VALUES",
    "MAX_CONFIG_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "PARTITIONS",
    "AccountConfig",
    "Config",
    "ConfigError",
    "Defaults",
    "Organizations",
    "Renewal",
    "format_duration",
    "format_path",
    "load_config",
    "parse_config",
    "parse_duration",
]

ALL_REGIONS = "all"
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")

# AWS limits for AssumeRole DurationSeconds; a chained role session is capped at 1 h.
MIN_SESSION_SECONDS = 900
MAX_SESSION_SECONDS = 43200
MAX_CHAINED_SESSION_SECONDS = 3600
# Shorter refresh intervals are allowed, but list every target that often.
SHORT_REFRESH_SECONDS = 300
MAX_CONCURRENCY = 512
# A purchase made longer before an end than this is capacity of its own, not a renewal.
MAX_PURCHASE_WINDOW_SECONDS = 365 * 86400
RENEWAL_SCOPES = ("account", "organization")

# Bounds that keep a hostile or mistaken file from hanging or crashing the loader (and a
# reload). A config for thousands of accounts stays far inside every one of them.
MAX_CONFIG_BYTES = 1024 * 1024  # also the most a Kubernetes ConfigMap holds

# AWS's own character classes are ASCII; Python's \w would also accept other letters.
_A = re.ASCII
_ROLE_NAME = r"(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}"
_ROLE_ARN_RE = re.compile(rf"arn:(aws|aws-cn|aws-us-gov):iam::(\d{{12}}):role/({_ROLE_NAME})", _A)
_ROLE_NAME_RE = re.compile(_ROLE_NAME, _A)
_ACCOUNT_ID_RE = re.compile(r"\d{12}", _A)
_SESSION_NAME_RE = re.compile(r"[\w+=,.@-]{2,64}", _A)
_EXTERNAL_ID_RE = re.compile(r"[\w+=,.@:/-]{2,1224}", _A)
_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+", _A)
_ACCESS_KEY_RE = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
_CREDENTIAL_KEY_RE = re.compile(
    r"secret|passw(?:or)?d|token|access_?key|credential|private_?key|api_?key"
)

_CREDENTIALS_ADVICE = (
    "credentials never belong in the config file; use the standard AWS credential chain "
    "(env, shared files, IRSA, instance role)"
)
_REGIONS_HELP = 'list the regions to read, e.g. [us-east-1, eu-west-1], or "all"'
_ROLE_ARN_HELP = (
    "not a valid IAM role ARN: expected arn:<aws|aws-cn|aws-us-gov>:iam::<12-digit account id>"
    ":role/<name>, e.g. arn:aws:iam::111111111111:role/ReservationExporter"
)


def _fail(message: str, items: list[tuple[Path, str]] | None = None) -> NoReturn:
    """Raise from a validator; ``items`` reports per-element problems of a list."""
    raise PydanticCustomError("config", "{message}", {"message": message, "items": items or []})


# ----------------------------------------------------------------- field validators


def _duration(*, allow_zero: bool) -> BeforeValidator:
    def check(value: Any) -> float:
        if value is None:
            _fail("needs a duration such as 30s, 15m, 1h or 30d; or leave the key out")
        try:
            return parse_duration(value, allow_zero=allow_zero)
        except ValueError as exc:
            _fail(str(exc))

    return BeforeValidator(check)


def _check_session_duration(value: Any) -> int:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        _fail(str(exc))
    if seconds != int(seconds):
        _fail(f"must be a whole number of seconds; got {format_duration(seconds)}")
    if not MIN_SESSION_SECONDS <= seconds <= MAX_SESSION_SECONDS:
        _fail(
            f"must be between 15m and 12h (AWS AssumeRole limits); got {format_duration(seconds)}"
        )
    return int(seconds)


def _check_purchase_window(value: Any) -> float:
    if value is None:
        _fail("needs a duration such as 30d; or leave the key out for 30d")
    try:
        seconds = parse_duration(value, allow_zero=True)
    except ValueError as exc:
        _fail(str(exc))
    if seconds > MAX_PURCHASE_WINDOW_SECONDS:
        _fail(
            f"must be 365d or less: a purchase made that long before an end is capacity of "
            f"its own, not a renewal; got {format_duration(seconds)}"
        )
    return seconds


def _check_scope(value: Any) -> str:
    if value not in RENEWAL_SCOPES:
        shown = f" (got {value!r})" if isinstance(value, str) else ""
        _fail(
            "must be account (a renewal counts only in the reservation's own account) or "
            f"organization (in any account this exporter reads){shown}"
        )
    return value


def _check_concurrency(value: Any) -> int:
    if isinstance(value, str):
        _fail(f"must be a number without quotes, from 1 to {MAX_CONCURRENCY}")
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(f"must be a whole number of worker threads from 1 to {MAX_CONCURRENCY}")
    if not 1 <= value <= MAX_CONCURRENCY:
        _fail(f"must be from 1 to {MAX_CONCURRENCY} worker threads; got {value}")
    return value


@functools.lru_cache(maxsize=1)
def _known_regions() -> frozenset[str]:
    """Every region botocore knows in the partitions the exporter supports.

    From botocore's endpoint data: each partition's region list and EC2's endpoints
    (they agree today; the union keeps a region that only one of them lists yet).
    """
    import botocore.session  # botocore loads its endpoint data lazily; only pay when needed

    session = botocore.session.get_session()
    endpoints = session.get_component("data_loader").load_data("endpoints")
    listed = {
        region
        for partition in endpoints.get("partitions", [])
        if partition.get("partition") in PARTITIONS
        for region in partition.get("regions", {})
    }
    return frozenset(listed).union(
        region
        for partition in PARTITIONS
        for region in session.get_available_regions("ec2", partition_name=partition)
    )


def _botocore_version() -> str:
    import botocore

    return botocore.__version__


def _unknown_region(region: str) -> str:
    """Why a region-shaped name botocore does not know is refused, and what to do."""
    hint = did_you_mean(region, _known_regions())
    return (
        f"'{region}' is not a region that botocore {_botocore_version()} knows in "
        f"{', '.join(PARTITIONS[:-1])} or {PARTITIONS[-1]}{hint}; if AWS opened it after "
        "that botocore was released, upgrade botocore (or the exporter image) to read it"
    )


def _check_regions(value: Any) -> tuple[str, ...] | str:
    if value is None:
        _fail(f"needs a value: {_REGIONS_HELP}")
    if value == ALL_REGIONS:
        return ALL_REGIONS
    if isinstance(value, str):
        _fail(f'must be a list, e.g. [{value}], or "all"')
    if not isinstance(value, list):
        _fail(f"must be a list of region names: {_REGIONS_HELP}")
    if not value:
        _fail('must name at least one region, e.g. [us-east-1, eu-west-1], or be "all"')
    regions: list[str] = []
    problems: list[tuple[Path, str]] = []
    for index, region in enumerate(value):
        if region == ALL_REGIONS:
            problems.append(((index,), '"all" cannot be mixed with region names; write: all'))
        elif not isinstance(region, str):
            problems.append(((index,), "must be a region name like us-east-1"))
        elif region not in _known_regions() and not _REGION_RE.fullmatch(region):
            hint = did_you_mean(region, _known_regions())
            problems.append(((index,), f"'{region}' is not an AWS region name{hint}"))
        elif region not in _known_regions():
            problems.append(((index,), _unknown_region(region)))
        elif region not in regions:
            regions.append(region)
    if problems:
        _fail("invalid regions", problems)
    return tuple(regions)


def _check_services(value: Any) -> tuple[str, ...]:
    valid = ", ".join(SERVICE_NAMES)
    if value == "all":
        return SERVICE_NAMES
    if isinstance(value, str):
        _fail(f'must be a list, e.g. [{value}], or "all"; valid services: {valid}')
    if not isinstance(value, list):
        _fail(f'must be a list of services or "all"; valid services: {valid}')
    if not value:
        _fail(f"must name at least one service (leave it out for all); valid services: {valid}")
    services: list[str] = []
    problems: list[tuple[Path, str]] = []
    for index, name in enumerate(value):
        if not isinstance(name, str):
            problems.append(((index,), f"must be a service name; valid services: {valid}"))
        elif name not in SERVICE_NAMES:
            hint = did_you_mean(name, SERVICE_NAMES)
            problems.append(((index,), f"unknown service '{name}'{hint}; valid services: {valid}"))
        elif name not in services:
            services.append(name)
    if problems:
        _fail("invalid services", problems)
    return tuple(services)


def _text(what: str, *, printed: str | None = None) -> BeforeValidator:
    """A non-empty string; numbers and booleans are refused rather than silently converted.

    With ``printed`` (why the text ends up in labels, logs or terminals), control and
    invisible formatting characters are refused too.
    """

    def check(value: Any) -> str:
        if not isinstance(value, str):
            _fail(f"must be text: {what} (quote it if YAML reads it as a number or boolean)")
        if not value.strip():
            _fail(f"must not be empty: {what}")
        found = unprintable(value) if printed else []
        if found:
            shown = repr(value) if len(value) <= 80 else f"{value[:77]!r}..."
            _fail(
                f"{shown} contains control or invisible formatting characters "
                f"({', '.join(map(escaped, found))}): {printed}; use only visible characters"
            )
        return value

    return BeforeValidator(check)


def _matching(pattern: re.Pattern[str], message: str) -> BeforeValidator:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            _fail(message)
        return value

    return BeforeValidator(check)


def _check_account_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        example = f'"{value}"' if len(str(value)) == 12 else '"012345678901"'
        _fail(
            f"write the account id in quotes, e.g. {example}: YAML reads an unquoted "
            "number as an integer, which loses leading zeros"
        )
    if not isinstance(value, str) or not _ACCOUNT_ID_RE.fullmatch(value):
        _fail('must be a 12-digit AWS account id in quotes, e.g. "123456789012"')
    return value


def _check_partition(value: Any) -> str:
    if value not in PARTITIONS:
        _fail(
            "must be aws, aws-cn or aws-us-gov, or null for the partition of the exporter's "
            "own credentials"
        )
    return value


def _check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        _fail("must be true or false")
    return value


def _patterns(*, allow_empty: bool) -> BeforeValidator:
    def check(value: Any) -> tuple[str, ...]:
        example = 'e.g. ["prod-*", "123456789012"]'
        if not isinstance(value, list):
            _fail(f"must be a list of glob patterns on account name or id, {example}")
        if not value and not allow_empty:
            _fail('must hold at least one pattern; use ["*"] for every account')
        problems = [
            ((index,), "must be a non-empty glob pattern (quote it if it is a number)")
            for index, item in enumerate(value)
            if not isinstance(item, str) or not item
        ]
        if problems:
            _fail("invalid patterns", problems)
        return tuple(value)

    return BeforeValidator(check)


Duration = Annotated[float, _duration(allow_zero=False)]
DurationOrZero = Annotated[float, _duration(allow_zero=True)]
SessionDuration = Annotated[int, BeforeValidator(_check_session_duration)]
Regions = Annotated[tuple[str, ...] | Literal["all"], BeforeValidator(_check_regions)]
Services = Annotated[tuple[str, ...], BeforeValidator(_check_services)]
RoleArn = Annotated[str, _matching(_ROLE_ARN_RE, _ROLE_ARN_HELP)]
RoleName = Annotated[
    str,
    _matching(
        _ROLE_NAME_RE,
        "must be an IAM role name (1-64 of letters, digits and +=,.@_-), optionally with a "
        "path, e.g. ReservationExporter or readers/ReservationExporter",
    ),
]
ExternalId = Annotated[
    str,
    _matching(_EXTERNAL_ID_RE, "must be 2 to 1224 characters of letters, digits and +=,.@:/_-"),
]
SessionName = Annotated[
    str,
    _matching(_SESSION_NAME_RE, "must be 2 to 64 characters of letters, digits and +=,.@_-"),
]
AccountId = Annotated[str, BeforeValidator(_check_account_id)]
Partition = Annotated[str, BeforeValidator(_check_partition)]
Flag = Annotated[bool, BeforeValidator(_check_bool)]
RenewalScope = Annotated[Literal["account", "organization"], BeforeValidator(_check_scope)]
Concurrency = Annotated[int, BeforeValidator(_check_concurrency)]


# --------------------------------------------------------------------------- models

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
        _text(
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
            _text(
                "a profile name from ~/.aws/config",
                printed="the profile name is printed in logs and terminals",
            ),
        ]
        | None
    ) = None
    via: Annotated[str, _text("the name of another account")] | None = None
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
            return _ROLE_ARN_RE.fullmatch(self.role_arn).group(2)  # type: ignore[union-attr]
        return None


class Organizations(BaseModel):
    """Discovery of member accounts through AWS Organizations ListAccounts."""

    model_config = _MODEL_CONFIG

    enabled: Flag = False
    role_arn: RoleArn | None = None  # None: call ListAccounts with the own credentials
    include: Annotated[tuple[str, ...], _patterns(allow_empty=False)] = ("*",)
    exclude: Annotated[tuple[str, ...], _patterns(allow_empty=True)] = ()

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
    purchase_window: Annotated[float, BeforeValidator(_check_purchase_window)] = 30 * 86400.0


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

    def to_account(self, account: AccountConfig, partition: str) -> Account:
        """The fully resolved ``model.Account`` for a static account (no None left to inherit)."""
        regions = self.effective_regions(account)
        return Account(
            name=account.name,
            account_id=account.account_id,
            role_arn=self.role_arn_for(account, partition),
            external_id=self.effective_external_id(account),
            session_name=self.effective_session_name(account),
            session_duration=self.effective_session_duration(account),
            profile=account.profile,
            via=account.via,
            regions=(ALL_REGIONS,) if regions == ALL_REGIONS else tuple(regions),
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
            regions=(ALL_REGIONS,) if regions == ALL_REGIONS else tuple(regions),
            services=self.services,
            source="organizations",
        )


# Messages for keys that must be present, by (model, field).
_MISSING: dict[tuple[type[BaseModel], str], str] = {
    (Config, "regions"): f"required: {_REGIONS_HELP} for every region enabled in each account",
    (AccountConfig, "name"): "required: every account needs a name (its `account` label)",
}


# -------------------------------------------------------------------------- loading


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a YAML config file. Raises ``ConfigError`` listing every problem."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)  # never more: the path may be /dev/zero
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError([_too_large(source)], source)
        text = raw.decode("utf-8-sig")  # editors on Windows may add a BOM
    except FileNotFoundError:
        raise ConfigError(
            [
                f"{source}: no such file; start from config.example.yaml, or point "
                "--config.file at your config"
            ],
            source,
        ) from None
    except IsADirectoryError:
        raise ConfigError([f"{source}: is a directory, not a config file"], source) from None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            [f"{source}: not UTF-8 text (line {line}); save the file as UTF-8"], source
        ) from None
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read: {exc.strerror}"], source) from None
    try:
        document = read_yaml(text, many_values_advice=_MANY_VALUES_ADVICE)
    except YamlError as exc:
        where = source if exc.line is None else f"{source}:{exc.line}:{exc.column}"
        raise ConfigError([f"{where}: {exc}"], source) from None
    duplicates = [
        Problem(
            duplicate.path,
            f"duplicate key (first on line {duplicate.first_line}); YAML would silently keep "
            "only the last one, so remove one of them",
            duplicate.line,
        )
        for duplicate in document.duplicates
    ]
    return _parse_bounded(document.data, source, document.lines, duplicates)


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Validate already-loaded data (e.g. ``yaml.safe_load`` output). Raises ``ConfigError``."""
    return _parse_bounded(data, source, {}, [])


_MANY_VALUES_ADVICE = "list thousands of accounts through organizations discovery instead"


def _too_large(source: str) -> str:
    return (
        f"{source}: larger than {MAX_CONFIG_BYTES // 1024 // 1024} MiB, far more than a config "
        "needs (and more than a Kubernetes ConfigMap holds); check that this is the config "
        f"file, and {_MANY_VALUES_ADVICE}"
    )


def _parse_bounded(
    data: Any, source: str, lines: dict[Path, int], problems: list[Problem]
) -> Config:
    """``_parse``, with data nested too deeply to walk reported instead of crashing.

    A file cannot get here that deep (``read_yaml``); data given to ``parse_config``
    can.
    """
    try:
        return _parse(data, source, lines, problems)
    except RecursionError:
        raise ConfigError(
            [
                f"{source}: lists or mappings nested too deeply to check; a config needs "
                f"only a few levels (files are refused past {MAX_DEPTH})"
            ],
            source,
        ) from None


# ----------------------------------------------------------------------- validation

_SECTIONS = ("defaults", "organizations", "renewal", "accounts")


def _parse(data: Any, source: str, lines: dict[Path, int], early: list[Problem]) -> Config:
    if data is None:
        raise ConfigError(
            [
                f"{source}: the file is empty; it needs at least `regions` and `accounts` "
                "(see config.example.yaml)"
            ],
            source,
        )
    if not isinstance(data, dict):
        raise ConfigError(
            [
                f"{source}: the top level must be a mapping of settings (regions: ..., "
                f"accounts: ...), not {_kind(data)}"
            ],
            source,
        )
    secrets: list[Problem] = []
    banned = _scan_for_credentials(data, (), secrets, set())
    problems: list[Problem] = []

    values: dict[str, Any] = {k: v for k, v in data.items() if k not in _SECTIONS}
    sections: dict[str, BaseModel | None] = {}
    for name, model in (
        ("defaults", Defaults),
        ("organizations", Organizations),
        ("renewal", Renewal),
    ):
        raw = data.get(name)
        if raw is None:  # absent, or every sub-key commented out
            sections[name] = model()
        elif not isinstance(raw, dict):
            problems.append(Problem((name,), f"must be a mapping of settings, not {_kind(raw)}"))
            sections[name] = None
        else:
            sections[name] = _validate(model, raw, (name,), problems)
        if sections[name] is not None:
            values[name] = sections[name]

    accounts, accounts_readable = _validate_accounts(data.get("accounts"), problems)
    values["accounts"] = tuple(account for _, account in accounts)
    config = _validate(Config, values, (), problems)

    defaults = sections["defaults"]
    organizations = sections["organizations"]
    _check_accounts(
        accounts,
        (data.get("accounts") or []) if accounts_readable else [],
        defaults if isinstance(defaults, Defaults) else None,
        problems,
    )
    if (
        accounts_readable
        and not data.get("accounts")
        and isinstance(organizations, Organizations)
        and not organizations.enabled
    ):
        problems.append(
            Problem(
                ("accounts",),
                "list at least one account (an entry with only `name` uses the exporter's own "
                "credentials), or turn on organizations.enabled",
            )
        )

    problems = secrets + [p for p in problems + early if not _is_under(p.path, banned)]
    if problems or config is None:
        raise ConfigError(render(problems, lines, list(data)), source)
    _log_warnings(config)
    return config


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


def _validate_accounts(
    raw: Any, problems: list[Problem]
) -> tuple[list[tuple[int, AccountConfig]], bool]:
    """Each account on its own, so one bad account does not hide the others' problems."""
    if raw is None:
        return [], True
    if not isinstance(raw, list):
        problems.append(
            Problem(("accounts",), f"must be a list of accounts (- name: ...), not {_kind(raw)}")
        )
        return [], False
    accounts: list[tuple[int, AccountConfig]] = []
    for index, item in enumerate(raw):
        path: Path = ("accounts", index)
        if not isinstance(item, dict):
            problems.append(
                Problem(
                    path,
                    f"each account must be a mapping like `- name: production` "
                    f"(with role_arn, id or profile), not {_kind(item)}",
                )
            )
            continue
        account = _validate(AccountConfig, item, path, problems)
        if account is not None:
            accounts.append((index, account))
    return accounts, True


def _validate(
    model: type[BaseModel], raw: dict[str, Any], base: Path, problems: list[Problem]
) -> Any:
    """Validate one mapping; translate pydantic's errors into the user's terms."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            loc = (*base, *error["loc"])
            kind = error["type"]
            if kind == "config":
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


def _scan_for_credentials(
    node: Any, path: Path, problems: list[Problem], active: set[int]
) -> list[Path]:
    """Find credential-like keys, access-key-like values and non-text keys anywhere.

    Returns the paths reported, whose other problems are then left out. Never echoes
    a credential."""
    banned: list[Path] = []
    if id(node) in active:
        return banned
    if isinstance(node, dict):
        active.add(id(node))
        for key, value in node.items():
            child = (*path, key)
            if not isinstance(key, str):
                problems.append(Problem(path, _non_text_key(key), line_path=child))
                banned.append(child)
            elif _ACCESS_KEY_RE.search(key):
                problems.append(
                    Problem(
                        path, f"a key here looks like an AWS access key id; {_CREDENTIALS_ADVICE}"
                    )
                )
                banned.append(child)
            elif _CREDENTIAL_KEY_RE.search(key.lower().replace("-", "_")):
                problems.append(Problem(child, _CREDENTIALS_ADVICE))
                banned.append(child)
            else:
                banned += _scan_for_credentials(value, child, problems, active)
        active.discard(id(node))
    elif isinstance(node, list):
        active.add(id(node))
        for index, item in enumerate(node):
            banned += _scan_for_credentials(item, (*path, index), problems, active)
        active.discard(id(node))
    elif isinstance(node, str) and _ACCESS_KEY_RE.search(node):
        problems.append(Problem(path, f"looks like an AWS access key id; {_CREDENTIALS_ADVICE}"))
        banned.append(path)
    return banned


def _non_text_key(key: Any) -> str:
    if isinstance(key, bool):
        shown = "true" if key else "false"
        why = "YAML reads unquoted yes/no/on/off/true/false as booleans"
    else:
        shown, why = f"{key}", "YAML reads it as a value, not a name"
    return f"key {shown} is not text ({why}); quote it or fix its name"


def _is_under(path: Path, roots: list[Path]) -> bool:
    return any(path[: len(root)] == root for root in roots)


def _check_accounts(
    accounts: list[tuple[int, AccountConfig]],
    raw_accounts: list[Any],
    defaults: Defaults | None,
    problems: list[Problem],
) -> None:
    """Rules that span fields or accounts: credentials source, names, role chaining."""
    # Names come from the raw list, so an account with another error still counts.
    first_index: dict[str, int] = {}
    for index, item in enumerate(raw_accounts):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        if name in first_index:
            problems.append(
                Problem(
                    ("accounts", index, "name"),
                    f"duplicate account name '{name}' (also accounts[{first_index[name]}]); "
                    "names must be unique because they become the `account` label",
                )
            )
        else:
            first_index[name] = index
    _check_duplicate_ids(raw_accounts, problems)
    raw_names = set(first_index)
    by_name = {a.name: (i, a) for i, a in accounts if first_index.get(a.name) == i}
    own: tuple[int, AccountConfig] | None = None
    for index, account in accounts:
        path: Path = ("accounts", index)
        _check_one_account(account, path, problems)
        if account.uses_own_credentials and account.via is None:
            if own is None:
                own = (index, account)
            else:
                problems.append(
                    Problem(
                        path,
                        "only one account may use the exporter's own credentials (no role_arn, "
                        f"id or profile); accounts[{own[0]}] ('{own[1].name}') already does: "
                        "add role_arn, id or profile",
                    )
                )

    for index, account in accounts:
        if account.via is None or account.profile is not None:
            continue
        path = ("accounts", index, "via")
        source = by_name.get(account.via)
        if account.via == account.name:
            problems.append(Problem(path, "an account cannot chain through itself"))
        elif account.via not in raw_names:
            hint = did_you_mean(account.via, frozenset(raw_names - {account.name}))
            problems.append(
                Problem(
                    path,
                    f"no account named '{account.via}'{hint}; via must name another account "
                    "in this list",
                )
            )
        elif source is not None and source[1].uses_own_credentials and source[1].via is None:
            problems.append(
                Problem(
                    path,
                    f"'{account.via}' uses the exporter's own credentials, which roles are "
                    "assumed from anyway; remove via",
                )
            )
        _check_chained_duration(account, index, defaults, problems)

    _check_via_cycles(accounts, by_name, problems)


def _raw_account_id(item: Any) -> tuple[str, str] | None:
    """``(key, id)``: the 12-digit id an account entry names, from ``id`` else ``role_arn``."""
    if not isinstance(item, dict):
        return None
    written = item.get("id")
    if isinstance(written, str) and _ACCOUNT_ID_RE.fullmatch(written):
        return "id", written
    arn = item.get("role_arn")
    match = _ROLE_ARN_RE.fullmatch(arn) if isinstance(arn, str) else None
    return ("role_arn", match.group(2)) if match else None


def _check_duplicate_ids(raw_accounts: list[Any], problems: list[Problem]) -> None:
    """One entry per AWS account: a second one would read it and export it twice."""
    first_index: dict[str, int] = {}
    for index, item in enumerate(raw_accounts):
        found = _raw_account_id(item)
        if found is None:
            continue
        key, account_id = found
        if account_id not in first_index:
            first_index[account_id] = index
            continue
        first = first_index[account_id]
        name = raw_accounts[first].get("name")
        named = f" ({name!r})" if isinstance(name, str) else ""
        problems.append(
            Problem(
                ("accounts", index, key),
                f"account {account_id} is already configured as accounts[{first}]{named}; "
                "list each account once (else it is read and exported twice): keep one entry "
                "and give it every region and service it needs",
            )
        )


def _check_one_account(account: AccountConfig, path: Path, problems: list[Problem]) -> None:
    if account.profile is not None:
        for key in ("id", "role_arn", "via"):
            if getattr(account, key) is not None:
                problems.append(
                    Problem(
                        (*path, key),
                        "cannot be combined with profile: the profile already says how to reach "
                        "the account; keep one of them",
                    )
                )
    if not account.assumes_role:
        why = (
            f"profile '{account.profile}' sets its own in ~/.aws/config; remove this key"
            if account.profile is not None
            else "this account uses the exporter's own credentials: add role_arn or id, "
            "or remove this key"
        )
        for key in ("external_id", "session_name", "session_duration"):
            if getattr(account, key) is not None:
                problems.append(
                    Problem((*path, key), f"only applies when assuming a role, and {why}")
                )
        if account.via is not None and account.profile is None:
            problems.append(
                Problem(
                    (*path, "via"),
                    "needs role_arn or id on this account: via names the account whose session "
                    "assumes this account's role",
                )
            )
    if account.id is not None and account.role_arn is not None:
        arn_id = _ROLE_ARN_RE.fullmatch(account.role_arn).group(2)  # type: ignore[union-attr]
        if arn_id != account.id:
            problems.append(
                Problem(
                    (*path, "id"),
                    f"does not match the account id in role_arn ({arn_id}); make them agree or "
                    "keep only role_arn",
                )
            )


def _check_chained_duration(
    account: AccountConfig, index: int, defaults: Defaults | None, problems: list[Problem]
) -> None:
    if not account.assumes_role:
        return
    if account.session_duration is not None:
        if account.session_duration > MAX_CHAINED_SESSION_SECONDS:
            problems.append(
                Problem(
                    ("accounts", index, "session_duration"),
                    "must be 1h or less: this account is reached by role chaining (via) and AWS "
                    f"caps chained sessions at 1h; got {format_duration(account.session_duration)}",
                )
            )
    elif defaults is not None and defaults.session_duration > MAX_CHAINED_SESSION_SECONDS:
        problems.append(
            Problem(
                ("accounts", index, "via"),
                "role chaining caps sessions at 1h but defaults.session_duration is "
                f"{format_duration(defaults.session_duration)}; set session_duration: 1h "
                "on this account",
            )
        )


def _check_via_cycles(
    accounts: list[tuple[int, AccountConfig]],
    by_name: dict[str, tuple[int, AccountConfig]],
    problems: list[Problem],
) -> None:
    # Each account is followed once (linear even for a chain of thousands): "open" while
    # on the chain being followed, "done" once its chain is known to end or loop.
    state: dict[str, str] = {}
    for _, start in accounts:
        chain: list[str] = []
        current = start
        while current.name not in state:
            state[current.name] = "open"
            chain.append(current.name)
            if current.via is None or current.via not in by_name or current.via == current.name:
                break
            current = by_name[current.via][1]
        else:
            if state[current.name] == "open":
                loop = chain[chain.index(current.name) :]
                # Report once, at the member listed first, starting the ring there.
                pivot = min(range(len(loop)), key=lambda i: by_name[loop[i]][0])
                ring = loop[pivot:] + loop[:pivot]
                problems.append(
                    Problem(
                        ("accounts", by_name[ring[0]][0], "via"),
                        f"role chain loops: {' -> '.join([*ring, ring[0]])}; a chain must "
                        "start at an account without via",
                    )
                )
        for name in chain:
            state[name] = "done"


def _log_warnings(config: Config) -> None:
    if config.refresh_interval < SHORT_REFRESH_SECONDS:
        log.warning(
            "refresh_interval is %s: under 5m every account, region and service is listed "
            "that often, which costs API calls and invites throttling",
            format_duration(config.refresh_interval),
        )
