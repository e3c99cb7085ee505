"""What one value in the config may be: validators and the annotated types built on them.

Each validator refuses with a message for people (``fail``), never pydantic's own; a
list's validator names the items at fault. The types (``Duration``, ``Regions``,
``RoleArn``...) are what ``model`` declares its fields with.
"""

from __future__ import annotations

import functools
import itertools
import re
from typing import Annotated, Any, Literal, NoReturn

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from exporter.config.durations import format_duration, parse_duration
from exporter.config.errors import Path, did_you_mean, escaped, unprintable
from exporter.labels import LABEL_NAME_RE, RESERVED_LABELS
from exporter.services import SERVICE_NAMES

__all__ = [
    "ACCOUNT_ID_RE",
    "ALL_REGIONS",
    "FIELD_ERROR",
    "PARTITIONS",
    "REGIONS_HELP",
    "ROLE_ARN_RE",
    "AccountId",
    "Concurrency",
    "CostExplorerInterval",
    "CostExplorerLookback",
    "Duration",
    "DurationOrZero",
    "ExternalId",
    "Flag",
    "OwnerLabels",
    "Partition",
    "PurchaseWindow",
    "Ratio",
    "Regions",
    "RenewalScope",
    "RoleArn",
    "RoleName",
    "Services",
    "SessionDuration",
    "SessionName",
    "Thresholds",
    "fail",
    "patterns",
    "text",
]

ALL_REGIONS = "all"
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")

# AWS limits for AssumeRole DurationSeconds; checks caps a chained role session at 1 h.
MIN_SESSION_SECONDS = 900
MAX_SESSION_SECONDS = 43200
MAX_CONCURRENCY = 512
# A purchase made longer before an end than this is capacity of its own, not a renewal.
MAX_PURCHASE_WINDOW_SECONDS = 365 * 86400
RENEWAL_SCOPES = ("account", "organization")

# AWS's own character classes are ASCII; Python's \w would also accept other letters.
_A = re.ASCII
_ROLE_NAME = r"(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}"
ROLE_ARN_RE = re.compile(rf"arn:(aws|aws-cn|aws-us-gov):iam::(\d{{12}}):role/({_ROLE_NAME})", _A)
ACCOUNT_ID_RE = re.compile(r"\d{12}", _A)
_ROLE_NAME_RE = re.compile(_ROLE_NAME, _A)
_SESSION_NAME_RE = re.compile(r"[\w+=,.@-]{2,64}", _A)
_EXTERNAL_ID_RE = re.compile(r"[\w+=,.@:/-]{2,1224}", _A)
_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+", _A)

REGIONS_HELP = 'list the regions to read, e.g. [us-east-1, eu-west-1], or "all"'
_ROLE_ARN_HELP = (
    "not a valid IAM role ARN: expected arn:<aws|aws-cn|aws-us-gov>:iam::<12-digit account id>"
    ":role/<name>, e.g. arn:aws:iam::111111111111:role/ReservationExporter"
)

#: The pydantic error type of every refusal here; ``model.validate`` reads it back.
FIELD_ERROR = "config"


def fail(message: str, items: list[tuple[Path, str]] | None = None) -> NoReturn:
    """Refuse a value; ``items`` reports per-element problems of a list, by index path."""
    raise PydanticCustomError(FIELD_ERROR, "{message}", {"message": message, "items": items or []})


# ------------------------------------------------------------------------ validators


def _duration(*, allow_zero: bool) -> BeforeValidator:
    def check(value: Any) -> float:
        if value is None:
            fail("needs a duration such as 30s, 15m, 1h or 30d; or leave the key out")
        try:
            return parse_duration(value, allow_zero=allow_zero)
        except ValueError as exc:
            fail(str(exc))

    return BeforeValidator(check)


def _check_session_duration(value: Any) -> int:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        fail(str(exc))
    if seconds != int(seconds):
        fail(f"must be a whole number of seconds; got {format_duration(seconds)}")
    if not MIN_SESSION_SECONDS <= seconds <= MAX_SESSION_SECONDS:
        fail(f"must be between 15m and 12h (AWS AssumeRole limits); got {format_duration(seconds)}")
    return int(seconds)


def _check_purchase_window(value: Any) -> float:
    if value is None:
        fail("needs a duration such as 30d; or leave the key out for 30d")
    try:
        seconds = parse_duration(value, allow_zero=True)
    except ValueError as exc:
        fail(str(exc))
    if seconds > MAX_PURCHASE_WINDOW_SECONDS:
        fail(
            f"must be 365d or less: a purchase made that long before an end is capacity of "
            f"its own, not a renewal; got {format_duration(seconds)}"
        )
    return seconds


def _check_scope(value: Any) -> str:
    if value not in RENEWAL_SCOPES:
        shown = f" (got {value!r})" if isinstance(value, str) else ""
        fail(
            "must be account (a renewal counts only in the reservation's own account) or "
            f"organization (in any account this exporter reads){shown}"
        )
    return value


def _check_concurrency(value: Any) -> int:
    if isinstance(value, str):
        fail(f"must be a number without quotes, from 1 to {MAX_CONCURRENCY}")
    if isinstance(value, bool) or not isinstance(value, int):
        fail(f"must be a whole number of worker threads from 1 to {MAX_CONCURRENCY}")
    if not 1 <= value <= MAX_CONCURRENCY:
        fail(f"must be from 1 to {MAX_CONCURRENCY} worker threads; got {value}")
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
        fail(f"needs a value: {REGIONS_HELP}")
    if value == ALL_REGIONS:
        return ALL_REGIONS
    if isinstance(value, str):
        fail(f'must be a list, e.g. [{value}], or "all"')
    if not isinstance(value, list):
        fail(f"must be a list of region names: {REGIONS_HELP}")
    if not value:
        fail('must name at least one region, e.g. [us-east-1, eu-west-1], or be "all"')
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
        fail("invalid regions", problems)
    return tuple(regions)


def _check_services(value: Any) -> tuple[str, ...]:
    valid = ", ".join(SERVICE_NAMES)
    if value == "all":
        return SERVICE_NAMES
    if isinstance(value, str):
        fail(f'must be a list, e.g. [{value}], or "all"; valid services: {valid}')
    if not isinstance(value, list):
        fail(f'must be a list of services or "all"; valid services: {valid}')
    if not value:
        fail(f"must name at least one service (leave it out for all); valid services: {valid}")
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
        fail("invalid services", problems)
    return tuple(services)


def text(what: str, *, printed: str | None = None) -> BeforeValidator:
    """A non-empty string; numbers and booleans are refused rather than silently converted.

    With ``printed`` (why the text ends up in labels, logs or terminals), control and
    invisible formatting characters are refused too.
    """

    def check(value: Any) -> str:
        if not isinstance(value, str):
            fail(f"must be text: {what} (quote it if YAML reads it as a number or boolean)")
        if not value.strip():
            fail(f"must not be empty: {what}")
        found = unprintable(value) if printed else []
        if found:
            shown = repr(value) if len(value) <= 80 else f"{value[:77]!r}..."
            fail(
                f"{shown} contains control or invisible formatting characters "
                f"({', '.join(map(escaped, found))}): {printed}; use only visible characters"
            )
        return value

    return BeforeValidator(check)


def _matching(pattern: re.Pattern[str], message: str) -> BeforeValidator:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            fail(message)
        return value

    return BeforeValidator(check)


def _check_account_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        example = f'"{value}"' if len(str(value)) == 12 else '"012345678901"'
        fail(
            f"write the account id in quotes, e.g. {example}: YAML reads an unquoted "
            "number as an integer, which loses leading zeros"
        )
    if not isinstance(value, str) or not ACCOUNT_ID_RE.fullmatch(value):
        fail('must be a 12-digit AWS account id in quotes, e.g. "123456789012"')
    return value


def _check_partition(value: Any) -> str:
    if value not in PARTITIONS:
        fail(
            "must be aws, aws-cn or aws-us-gov, or null for the partition of the exporter's "
            "own credentials"
        )
    return value


def _check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        fail("must be true or false")
    return value


def patterns(*, allow_empty: bool) -> BeforeValidator:
    def check(value: Any) -> tuple[str, ...]:
        example = 'e.g. ["prod-*", "123456789012"]'
        if not isinstance(value, list):
            fail(f"must be a list of glob patterns on account name or id, {example}")
        if not value and not allow_empty:
            fail('must hold at least one pattern; use ["*"] for every account')
        problems = [
            ((index,), "must be a non-empty glob pattern (quote it if it is a number)")
            for index, item in enumerate(value)
            if not isinstance(item, str) or not item
        ]
        if problems:
            fail("invalid patterns", problems)
        return tuple(value)

    return BeforeValidator(check)


MAX_OWNER_LABELS = 10
MAX_TAG_KEY = 128  # AWS's limit on tag keys


def _check_owner_labels(value: Any) -> tuple[tuple[str, str], ...]:
    example = "e.g. {team: Team, cost_center: CostCenter}"
    if value is None:
        return ()
    if not isinstance(value, dict):
        fail(f"must map label names to tag keys, {example}")
    if len(value) > MAX_OWNER_LABELS:
        fail(f"at most {MAX_OWNER_LABELS} owner labels: each is a label on every alert")
    problems: list[tuple[Path, str]] = []
    for label, tag in value.items():
        where: Path = (str(label),)
        if not isinstance(label, str) or not LABEL_NAME_RE.fullmatch(label):
            problems.append(
                (
                    where,
                    "not a Prometheus label name: letters, digits and _, not starting "
                    "with a digit, e.g. team or cost_center",
                )
            )
        elif label.startswith("__"):
            problems.append((where, "label names starting with __ are reserved by Prometheus"))
        elif label in RESERVED_LABELS:
            problems.append(
                (
                    where,
                    f"{label!r} is already a label of the exporter's series or alerts; "
                    f"choose another name, e.g. owner_{label}",
                )
            )
        elif not isinstance(tag, str) or not tag.strip():
            problems.append(
                (
                    where,
                    "must be a tag key as text, e.g. Team (quote it if YAML reads it as a number)",
                )
            )
        elif len(tag) > MAX_TAG_KEY or unprintable(tag):
            problems.append(
                (where, f"must be a tag key of at most {MAX_TAG_KEY} visible characters")
            )
    if problems:
        fail("invalid owner labels", problems)
    return tuple(value.items())


TIERS = ("notice", "warning", "urgent", "critical")
DEFAULT_THRESHOLDS = (
    ("notice", 60 * 86400.0),
    ("warning", 30 * 86400.0),
    ("urgent", 7 * 86400.0),
    ("critical", 86400.0),
)


def _check_thresholds(value: Any) -> tuple[tuple[str, float], ...]:
    example = "e.g. {notice: 60d, warning: 30d, urgent: 7d, critical: 1d}"
    if not isinstance(value, dict):
        fail(f"must map each alert tier to a duration, {example}")
    problems: list[tuple[Path, str]] = []
    for tier in value:
        if tier not in TIERS:
            hint = did_you_mean(str(tier), frozenset(TIERS))
            problems.append(((str(tier),), f"unknown tier{hint}; the tiers are {', '.join(TIERS)}"))
    for tier in TIERS:
        if tier not in value:
            problems.append(((tier,), f"missing: every tier needs a threshold, {example}"))
    if problems:
        fail("invalid thresholds", problems)
    parsed: list[tuple[str, float]] = []
    for tier in TIERS:
        try:
            parsed.append((tier, parse_duration(value[tier])))
        except ValueError as exc:
            problems.append(((tier,), str(exc)))
    if problems:
        fail("invalid thresholds", problems)
    for (upper, longer), (lower, shorter) in itertools.pairwise(parsed):
        if shorter >= longer:
            problems.append(
                (
                    (lower,),
                    f"must be shorter than {upper} ({format_duration(longer)}); "
                    f"got {format_duration(shorter)}",
                )
            )
    if problems:
        fail("invalid thresholds", problems)
    return tuple(parsed)


MIN_CE_INTERVAL = 3600.0  # each Cost Explorer request costs $0.01
MAX_CE_LOOKBACK = 365 * 86400.0


def _check_ce_interval(value: Any) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        fail(str(exc))
    if seconds < MIN_CE_INTERVAL:
        fail(
            "must be 1h or more: every Cost Explorer request costs $0.01 and its data "
            f"changes about once a day; got {format_duration(seconds)}"
        )
    return seconds


def _check_ce_lookback(value: Any) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        fail(str(exc))
    if seconds < 86400 or seconds % 86400 or seconds > MAX_CE_LOOKBACK:
        fail(
            "must be whole days from 1d to 365d: utilization is read over the last "
            f"complete days; got {format_duration(seconds)}"
        )
    return seconds


def _check_ratio(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail("must be a number from 0 to 1, e.g. 0.8 for 80 %")
    if not 0 <= value <= 1:
        fail(f"must be from 0 to 1 (a share of the reservation used), e.g. 0.8; got {value}")
    return float(value)


# ------------------------------------------------------------------ annotated types

Duration = Annotated[float, _duration(allow_zero=False)]
DurationOrZero = Annotated[float, _duration(allow_zero=True)]
SessionDuration = Annotated[int, BeforeValidator(_check_session_duration)]
Regions = Annotated[tuple[str, ...] | Literal["all"], BeforeValidator(_check_regions)]
Services = Annotated[tuple[str, ...], BeforeValidator(_check_services)]
RoleArn = Annotated[str, _matching(ROLE_ARN_RE, _ROLE_ARN_HELP)]
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
PurchaseWindow = Annotated[float, BeforeValidator(_check_purchase_window)]
CostExplorerInterval = Annotated[float, BeforeValidator(_check_ce_interval)]
CostExplorerLookback = Annotated[float, BeforeValidator(_check_ce_lookback)]
Ratio = Annotated[float, BeforeValidator(_check_ratio)]
Thresholds = Annotated[tuple[tuple[str, float], ...], BeforeValidator(_check_thresholds)]
OwnerLabels = Annotated[tuple[tuple[str, str], ...], BeforeValidator(_check_owner_labels)]
