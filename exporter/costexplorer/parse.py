"""One Cost Explorer row to the exporter's model.

The attribute keys are not documented by AWS and may drift: every key the
mapping needs is looked up by name, and a missing one (or a value that is not
what it should be) raises ``MalformedRecord`` naming the key and the call,
so the read fails loudly and the last good data stays; no date is guessed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from exporter.aws.errors import MalformedRecord
from exporter.model import GLOBAL_REGION, Reservation
from exporter.terminal import printable

RI_CALL = "GetReservationUtilization"
SP_CALL = "GetSavingsPlansUtilizationDetails"
# Cost Explorer's subscription status -> the describe APIs' state spelling.
_STATES = {"active": "active", "retired": "retired"}


@dataclass(frozen=True, slots=True)
class Row:
    """One reservation as Cost Explorer lists it, placed in its account."""

    account_id: str
    account_name: str
    region: str
    service: str
    reservation: Reservation


def _attr(attributes: Mapping[str, Any], key: str, call: str, row: str) -> str:
    value = attributes.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedRecord(
            f"{call}: attribute {key!r} is missing or empty ({row}); Cost Explorer's "
            "attribute keys may have changed: the last good data is kept"
        )
    return value.strip()


def _time(value: str, key: str, call: str, row: str) -> float:
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedRecord(f"{call}: attribute {key!r} is not a date ({row})") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _number(value: Any, key: str, call: str, row: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MalformedRecord(f"{call}: {key!r} is not a number ({row})") from None
    if not math.isfinite(number):
        raise MalformedRecord(f"{call}: {key!r} is not a finite number ({row})")
    return number


def _share(value: Any, key: str, call: str, row: str) -> float | None:
    if value in (None, ""):
        return None
    return min(1.0, max(0.0, _number(value, key, call, row) / 100.0))


def reservation_row(group: Mapping[str, Any], service: str, hours: float) -> Row:
    """A ``GetReservationUtilization`` group (by SUBSCRIPTION_ID) of ``service``.

    ``hours`` is the length of the period, for the effective hourly cost.
    """
    subscription = str(group.get("Value") or "?")
    row = f"subscription {printable(subscription)[:40]}"
    attributes = group.get("Attributes")
    if not isinstance(attributes, Mapping):
        raise MalformedRecord(f"{RI_CALL}: no Attributes ({row})")
    a = lambda key: _attr(attributes, key, RI_CALL, row)  # noqa: E731
    lease = a("leaseId")
    status = a("subscriptionStatus").lower()
    utilization = group.get("Utilization") or {}
    fee = utilization.get("TotalAmortizedFee")
    reservation = Reservation(
        reservation_id=lease,
        state=_STATES.get(status, status),
        start=_time(a("startDateTime"), "startDateTime", RI_CALL, row),
        end=_time(a("endDateTime"), "endDateTime", RI_CALL, row),
        instance_count=int(_number(a("numberOfInstances"), "numberOfInstances", RI_CALL, row)),
        instance_type=attributes.get("instanceType") or "",
        product=attributes.get("platform") or "",
        offering_type=attributes.get("offeringType") or "",
        scope=attributes.get("scope") or "",
        availability_zone=attributes.get("availabilityZone") or "",
        tenancy=(attributes.get("tenancy") or "").lower(),
        # Cost Explorer gives the amortized fee of the period, not prices.
        hourly_cost=_number(fee, "TotalAmortizedFee", RI_CALL, row) / hours
        if fee not in (None, "") and hours > 0
        else None,
        lease_id=lease,
        source="cost_explorer",
        utilization=_share(
            utilization.get("UtilizationPercentage"), "UtilizationPercentage", RI_CALL, row
        ),
    )
    return Row(
        account_id=_account_id(a("accountId"), RI_CALL, row),
        account_name=printable(attributes.get("accountName") or ""),
        region=a("region"),
        service=service,
        reservation=reservation,
    )


def savings_plan_row(detail: Mapping[str, Any], now: float) -> Row:
    """A ``GetSavingsPlansUtilizationDetails`` entry."""
    arn = detail.get("SavingsPlanArn")
    if not isinstance(arn, str) or "/" not in arn:
        raise MalformedRecord(f"{SP_CALL}: 'SavingsPlanArn' is missing")
    row = f"plan {printable(arn.rsplit('/', 1)[1])[:40]}"
    attributes = detail.get("Attributes")
    if not isinstance(attributes, Mapping):
        raise MalformedRecord(f"{SP_CALL}: no Attributes ({row})")
    a = lambda key: _attr(attributes, key, SP_CALL, row)  # noqa: E731
    end = _time(a("EndDateTime"), "EndDateTime", SP_CALL, row)
    utilization = detail.get("Utilization") or {}
    reservation = Reservation(
        reservation_id=arn.rsplit("/", 1)[1],
        state="active" if end > now else "retired",
        start=_time(a("StartDateTime"), "StartDateTime", SP_CALL, row),
        end=end,
        instance_count=None,
        instance_type=attributes.get("InstanceFamily") or "",
        offering_type=attributes.get("PaymentOption") or "",
        plan_type=_plan_type(a("SavingsPlansType")),
        hourly_cost=_number(a("HourlyCommitment"), "HourlyCommitment", SP_CALL, row),
        region=region_code(attributes.get("Region")),
        source="cost_explorer",
        utilization=_share(
            utilization.get("UtilizationPercentage"), "UtilizationPercentage", SP_CALL, row
        ),
    )
    return Row(
        account_id=_account_id(a("AccountId"), SP_CALL, row),
        account_name=printable(attributes.get("AccountName") or ""),
        region=GLOBAL_REGION,
        service="savingsplans",
        reservation=reservation,
    )


@functools.cache
def _region_names() -> dict[str, str]:
    """botocore's region descriptions ("US East (N. Virginia)") -> region codes."""
    import botocore.loaders

    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    return {
        info["description"]: code
        for partition in endpoints["partitions"]
        for code, info in partition["regions"].items()
        if info.get("description")
    }


def region_code(value: Any) -> str:
    """A plan's region as the exporter labels it: the code (Cost Explorer may
    write the name), or ``global`` for ``Any`` or none."""
    if not isinstance(value, str) or not value or value.lower() == "any":
        return GLOBAL_REGION
    return _region_names().get(value, value)


def _account_id(value: str, call: str, row: str) -> str:
    if not (len(value) == 12 and value.isdigit()):
        raise MalformedRecord(f"{call}: accountId is not a 12-digit account id ({row})")
    return value


# Cost Explorer spells the plan types as DescribeSavingsPlans does, with
# spaces in some answers ("Compute Savings Plans"): keep the describe spelling.
_PLAN_TYPES = {"compute": "Compute", "ec2instance": "EC2Instance", "sagemaker": "SageMaker"}


def _plan_type(value: str) -> str:
    key = value.lower().replace(" ", "").replace("savingsplans", "").replace("_", "")
    return _PLAN_TYPES.get(key, value)
