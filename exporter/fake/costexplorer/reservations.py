"""``GetReservationUtilization`` grouped by ``SUBSCRIPTION_ID``: one group per
RI of every account the caller sees, with Cost Explorer's attribute map and
its utilization over the period."""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult, BaseResponse

from exporter.fake.catalog import CE_SERVICE_NAMES, SPECS, ce_service
from exporter.fake.costexplorer.common import (
    LISTED_STATES,
    TIMESTAMP,
    amount,
    answering_errors,
    fields_of,
    filter_conditions,
    hours_between,
    invalid,
    midnight,
    page,
    page_size,
    params_of,
    percentage,
    ratio,
    sort_items,
    time_period,
    visible_accounts,
)
from exporter.fake.state import STATE

RI_DISCOUNT = 0.4  # an RI's effective rate is this much below on-demand
_SIZES = {"nano": 0.25, "micro": 0.5, "small": 1.0, "medium": 2.0, "large": 4.0, "xlarge": 8.0}
# OpenSearch spells its payment options as an enum; Cost Explorer as the others do.
_PAYMENT = {
    "ALL_UPFRONT": "All Upfront",
    "PARTIAL_UPFRONT": "Partial Upfront",
    "NO_UPFRONT": "No Upfront",
}
_TENANCY = {"default": "Shared", "dedicated": "Dedicated", "host": "Host"}
AGGREGATES = (
    "UtilizationPercentage",
    "UtilizationPercentageInUnits",
    "PurchasedHours",
    "PurchasedUnits",
    "TotalActualHours",
    "TotalActualUnits",
    "UnusedHours",
    "UnusedUnits",
    "OnDemandCostOfRIHoursUsed",
    "NetRISavings",
    "TotalPotentialRISavings",
    "AmortizedUpfrontFee",
    "AmortizedRecurringFee",
    "TotalAmortizedFee",
    "RICostForUnusedHours",
    "RealizedSavings",
    "UnrealizedSavings",
)


# --- what Cost Explorer knows about one reservation -------------------------------


@dataclass(frozen=True)
class Subscription:
    """One RI as Cost Explorer reports it."""

    service: str
    account_id: str
    account_name: str
    region: str
    reservation_id: str
    lease_id: str
    subscription_id: str
    start: datetime
    end: datetime
    status: str  # Active | Retired
    count: int
    instance_type: str
    availability_zone: str
    platform: str
    tenancy: str
    scope: str
    offering_type: str  # the offering class: Standard | Convertible (EC2)
    subscription_type: str  # the payment option: No Upfront | Partial Upfront | All Upfront
    fixed_price: float  # upfront, per unit
    hourly_price: float  # recurring, per unit-hour

    @property
    def family(self) -> str:
        parts = self.instance_type.split(".")
        return parts[1] if parts[0] in ("db", "cache") and len(parts) > 1 else parts[0]

    def attributes(self) -> dict[str, str]:
        """The group's ``Attributes`` map, keys as seen in Cost Explorer's answers."""
        return {
            "accountId": self.account_id,
            "accountName": self.account_name,
            "availabilityZone": self.availability_zone,
            "endDateTime": self.end.strftime(TIMESTAMP),
            "instanceType": self.instance_type,
            "leaseId": self.lease_id,
            "numberOfInstances": str(self.count),
            "offeringType": self.offering_type,
            "platform": self.platform,
            "region": self.region,
            "scope": self.scope,
            "startDateTime": self.start.strftime(TIMESTAMP),
            "subscriptionId": self.subscription_id,
            "subscriptionStatus": self.status,
            "subscriptionType": self.subscription_type,
            "tenancy": self.tenancy,
        }


def subscription_id(service: str, account_id: str, reservation_id: str) -> str:
    """The fake's stable numeric ``subscriptionId`` of a reservation (10 digits)."""
    digest = hashlib.sha256(f"{service}/{account_id}/{reservation_id}".encode()).digest()
    return str(10**9 + int.from_bytes(digest[:8], "big") % (9 * 10**9))


def subscriptions(
    service: str,
    account_id: str,
    account_name: str,
    records: Iterable[tuple[str, Mapping[str, Any]]],
) -> list[Subscription]:
    """The RIs among ``records`` (``(region, record)``) that Cost Explorer lists:
    active and retired ones with a start and an end."""
    found = []
    for region, record in records:
        subscription = _subscription(service, account_id, account_name, region, record)
        if subscription is not None:
            found.append(subscription)
    return found


def _subscription(
    service: str, account_id: str, account_name: str, region: str, record: Mapping[str, Any]
) -> Subscription | None:
    spec = SPECS[service]
    status = LISTED_STATES.get(str(record.get("State", "")))
    reservation_id = record.get(spec.id_key)
    start = record.get("Start" if service == "ec2" else "StartTime")
    if status is None or not reservation_id or not isinstance(start, datetime):
        return None
    if service == "ec2":
        end = record.get("End")
    else:
        duration = record.get("Duration")
        end = start + timedelta(seconds=duration) if isinstance(duration, int) else None
    if not isinstance(end, datetime):
        return None
    count_key, type_key = {
        "ec2": ("InstanceCount", "InstanceType"),
        "rds": ("DBInstanceCount", "DBInstanceClass"),
        "elasticache": ("CacheNodeCount", "CacheNodeType"),
        "redshift": ("NodeCount", "NodeType"),
        "opensearch": ("InstanceCount", "InstanceType"),
        "memorydb": ("NodeCount", "NodeType"),
    }[service]
    hourly = float(record.get("UsagePrice") or 0.0)
    for charge in record.get("RecurringCharges") or ():
        hourly += float(charge.get("Amount", charge.get("RecurringChargeAmount")) or 0.0)
    payment = str(record.get("PaymentOption" if service == "opensearch" else "OfferingType", ""))
    lease_id = str(record.get("LeaseId") or reservation_id) if service == "rds" else reservation_id
    billing_id = record.get("BillingSubscriptionId")  # OpenSearch names it itself
    return Subscription(
        service=service,
        account_id=account_id,
        account_name=account_name,
        region=region,
        reservation_id=str(reservation_id),
        lease_id=str(lease_id),
        subscription_id=str(billing_id)
        if billing_id
        else subscription_id(service, account_id, reservation_id),
        start=start,
        end=end,
        status=status,
        count=int(record.get(count_key) or 1),
        instance_type=str(record.get(type_key, "")),
        availability_zone=str(record.get("AvailabilityZone", "")),
        platform=str(record.get("ProductDescription", "")),
        tenancy=_TENANCY.get(str(record.get("InstanceTenancy")), "")
        if service == "ec2"
        else "Shared",
        scope=str(record.get("Scope", "Region")),
        offering_type=str(record.get("OfferingClass", "")).capitalize(),
        subscription_type=_PAYMENT.get(payment, payment),
        fixed_price=float(record.get("FixedPrice") or 0.0),
        hourly_price=hourly,
    )


def _units_per_hour(instance_type: str) -> float:
    """Normalized units of one instance-hour (EC2's size table: large = 4)."""
    for part in instance_type.split("."):
        if part in _SIZES:
            return _SIZES[part]
        match = re.fullmatch(r"(\d+)xlarge", part)
        if match:
            return 8.0 * int(match.group(1))
        if part == "metal":
            return 192.0
    return 1.0


# --- aggregates ----------------------------------------------------------------------


@dataclass(frozen=True)
class RiUse:
    """One RI's use over a period, in numbers (summable)."""

    purchased_hours: float = 0.0
    actual_hours: float = 0.0
    purchased_units: float = 0.0
    actual_units: float = 0.0
    on_demand_used: float = 0.0
    on_demand_all: float = 0.0
    upfront: float = 0.0
    recurring: float = 0.0
    unused_cost: float = 0.0

    def __add__(self, other: RiUse) -> RiUse:
        return RiUse(*(a + b for a, b in zip(fields_of(self), fields_of(other), strict=True)))

    def aggregates(self) -> dict[str, str]:
        """``ReservationAggregates`` as Cost Explorer sends it (strings)."""
        total = self.upfront + self.recurring
        unused_hours = self.purchased_hours - self.actual_hours
        percent = ratio(self.actual_hours, self.purchased_hours)
        return {
            "UtilizationPercentage": percentage(percent),
            "UtilizationPercentageInUnits": percentage(
                ratio(self.actual_units, self.purchased_units)
            ),
            "PurchasedHours": amount(self.purchased_hours),
            "PurchasedUnits": amount(self.purchased_units),
            "TotalActualHours": amount(self.actual_hours),
            "TotalActualUnits": amount(self.actual_units),
            "UnusedHours": amount(unused_hours),
            "UnusedUnits": amount(self.purchased_units - self.actual_units),
            "OnDemandCostOfRIHoursUsed": amount(self.on_demand_used),
            "NetRISavings": amount(self.on_demand_used - total),
            "TotalPotentialRISavings": amount(self.on_demand_all - total),
            "AmortizedUpfrontFee": amount(self.upfront),
            "AmortizedRecurringFee": amount(self.recurring),
            "TotalAmortizedFee": amount(total),
            "RICostForUnusedHours": amount(self.unused_cost),
            "RealizedSavings": amount(self.on_demand_used - (total - self.unused_cost)),
            "UnrealizedSavings": amount(self.on_demand_all - self.on_demand_used),
        }


def ri_use(subscription: Subscription, lo: datetime, hi: datetime, percent: float) -> RiUse:
    """What ``subscription`` did in [lo, hi) at ``percent`` utilization."""
    hours = hours_between(subscription.start, subscription.end, lo, hi)
    term_hours = max((subscription.end - subscription.start).total_seconds() / 3600, 1.0)
    purchased = hours * subscription.count
    actual = purchased * percent / 100
    units = _units_per_hour(subscription.instance_type)
    effective = subscription.fixed_price / term_hours + subscription.hourly_price
    on_demand_rate = effective / (1 - RI_DISCOUNT)
    return RiUse(
        purchased_hours=purchased,
        actual_hours=actual,
        purchased_units=purchased * units,
        actual_units=actual * units,
        on_demand_used=actual * on_demand_rate,
        on_demand_all=purchased * on_demand_rate,
        upfront=subscription.fixed_price * purchased / term_hours,
        recurring=subscription.hourly_price * purchased,
        unused_cost=(purchased - actual) * effective,
    )


# --- GetReservationUtilization ---------------------------------------------------------

_RI_DIMENSIONS: Mapping[str, Callable[[Subscription], str]] = {
    "AZ": lambda s: s.availability_zone,
    "INSTANCE_TYPE": lambda s: s.instance_type,
    "INSTANCE_TYPE_FAMILY": lambda s: s.family,
    "LINKED_ACCOUNT": lambda s: s.account_id,
    "PLATFORM": lambda s: s.platform,
    "REGION": lambda s: s.region,
    "SCOPE": lambda s: s.scope,
    "SUBSCRIPTION_ID": lambda s: s.subscription_id,
    "TENANCY": lambda s: s.tenancy,
}


def _ri_service(conditions: dict[str, set[str]]) -> str:
    names = conditions.pop("SERVICE", {CE_SERVICE_NAMES["ec2"]})
    if len(names) != 1:
        raise invalid(
            "Values are invalid. The number of values for Service Filter should not exceed 1"
        )
    (name,) = names
    service = ce_service(name)
    if service is None:
        raise invalid(
            f"Values are invalid. Service {name!r} has no reservations; supported: "
            f"{', '.join(CE_SERVICE_NAMES.values())}"
        )
    return service


def _grouped(params: Mapping[str, Any]) -> bool:
    group_by = params.get("GroupBy")
    if not group_by:
        return False
    if group_by != [{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}]:
        raise invalid("GroupBy is invalid. Currently, you can group only by SUBSCRIPTION_ID")
    if params.get("Granularity") is not None:
        raise invalid("Granularity is not supported when specifying groupBy")
    return True


def _windows(start: date, end: date, granularity: str) -> list[tuple[date, date]]:
    if granularity == "DAILY":
        return [
            (start + timedelta(days=i), start + timedelta(days=i + 1))
            for i in range((end - start).days)
        ]
    windows, lo = [], start
    while lo < end:
        last = calendar.monthrange(lo.year, lo.month)[1]
        hi = min(end, date(lo.year, lo.month, last) + timedelta(days=1))
        windows.append((lo, hi))
        lo = hi
    return windows


@answering_errors
def get_reservation_utilization(response: BaseResponse) -> ActionResult:
    params = params_of(response)
    accounts = visible_accounts(response.current_account)
    start, end = time_period(params)
    grouped = _grouped(params)
    granularity = params.get("Granularity") or "DAILY"
    if granularity not in ("DAILY", "MONTHLY"):
        raise invalid(
            "The GetReservationUtilization operation supports only DAILY and MONTHLY granularities"
        )
    conditions = filter_conditions(params.get("Filter"), [*_RI_DIMENSIONS, "SERVICE"])
    service = _ri_service(conditions)
    for value in conditions.get("SUBSCRIPTION_ID", ()):
        if not value.isdigit():
            raise invalid("Values for SUBSCRIPTION_ID must contain only digits")
    lo, hi = midnight(start), midnight(end)
    chosen = [
        subscription
        for account_id, name in accounts
        for subscription in subscriptions(
            service, account_id, name, STATE.store.of_account(account_id, service)
        )
        if subscription.start < hi
        and subscription.end > lo
        and all(_RI_DIMENSIONS[key](subscription) in values for key, values in conditions.items())
    ]

    def use(subscription: Subscription, a: datetime, b: datetime) -> RiUse:
        percent = STATE.ce.utilization(
            subscription.account_id, service, subscription.reservation_id
        )
        return ri_use(subscription, a, b, percent)

    total = sum((use(s, lo, hi) for s in chosen), RiUse()).aggregates()
    period = {"Start": start.isoformat(), "End": end.isoformat()}
    if not grouped:
        page_size(params)
        by_time = []
        for a, b in _windows(start, end, granularity):
            window = sum((use(s, midnight(a), midnight(b)) for s in chosen), RiUse())
            by_time.append(
                {
                    "TimePeriod": {"Start": a.isoformat(), "End": b.isoformat()},
                    "Total": window.aggregates(),
                }
            )
        return ActionResult({"UtilizationsByTime": by_time, "Total": total})
    groups = [
        {
            "Key": "SUBSCRIPTION_ID",
            "Value": s.subscription_id,
            "Attributes": STATE.ce.apply(s.attributes()),
            "Utilization": use(s, lo, hi).aggregates(),
        }
        for s in chosen
    ]
    groups = sort_items(
        groups,
        params.get("SortBy"),
        {key: (lambda g, key=key: g["Utilization"][key]) for key in AGGREGATES},
    )
    items, token = page(groups, params.get("NextPageToken"), page_size(params))
    result: dict[str, Any] = {
        "UtilizationsByTime": [{"TimePeriod": period, "Groups": items, "Total": total}],
        "Total": total,
    }
    if token:
        result["NextPageToken"] = token
    return ActionResult(result)
