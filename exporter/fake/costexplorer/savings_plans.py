"""``GetSavingsPlansUtilizationDetails``: one entry per Savings Plan of every
account the caller sees, with Cost Explorer's attributes, utilization,
savings and amortized commitment over the period."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from moto.core.responses import ActionResult, BaseResponse

from exporter.fake.catalog import SPECS
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

SP_DISCOUNT = 0.28  # a Savings Plan's rates are this much below on-demand
_SP_TYPES = {
    "Compute": "ComputeSavingsPlans",
    "EC2Instance": "EC2InstanceSavingsPlans",
    "SageMaker": "SageMakerSavingsPlans",
    "Database": "DatabaseSavingsPlans",
}
SORT_KEYS = {
    "UtilizationPercentage": ("Utilization", "UtilizationPercentage"),
    "TotalCommitment": ("Utilization", "TotalCommitment"),
    "UsedCommitment": ("Utilization", "UsedCommitment"),
    "UnusedCommitment": ("Utilization", "UnusedCommitment"),
    "NetSavings": ("Savings", "NetSavings"),
    "AmortizedRecurringCommitment": ("AmortizedCommitment", "AmortizedRecurringCommitment"),
    "AmortizedUpfrontCommitment": ("AmortizedCommitment", "AmortizedUpfrontCommitment"),
}
DATA_TYPES = {
    "ATTRIBUTES": "Attributes",
    "UTILIZATION": "Utilization",
    "AMORTIZED_COMMITMENT": "AmortizedCommitment",
    "SAVINGS": "Savings",
}


@dataclass(frozen=True)
class Plan:
    """One Savings Plan as Cost Explorer reports it."""

    account_id: str
    account_name: str
    plan_id: str
    arn: str
    start: datetime
    end: datetime
    status: str
    plan_type: str
    payment: str
    region: str  # "" for plans of any region
    family: str
    commitment: float  # per hour
    upfront: float  # the whole term's upfront payment
    recurring: float  # per hour
    term_seconds: int

    def attributes(self) -> dict[str, str]:
        years = round(self.term_seconds / (365 * 86400))
        return {
            "AccountId": self.account_id,
            "AccountName": self.account_name,
            "EndDateTime": self.end.strftime(TIMESTAMP),
            "HourlyCommitment": _plain(self.commitment),
            "InstanceFamily": self.family,
            "PaymentOption": self.payment,
            "PurchaseTerm": f"{years}yr",
            "RecurringHourlyFee": _plain(self.recurring),
            "Region": region_name(self.region) if self.region else "Any",
            "SavingsPlanARN": self.arn,
            "SavingsPlansType": _SP_TYPES.get(self.plan_type, f"{self.plan_type}SavingsPlans"),
            "StartDateTime": self.start.strftime(TIMESTAMP),
            "Status": self.status,
            "UpfrontFee": _plain(self.upfront),
        }


def _plain(value: float) -> str:
    return repr(float(value))


@functools.cache
def _region_names() -> dict[str, str]:
    import botocore.session

    endpoints = botocore.session.get_session().get_data("endpoints")
    return {
        code: region.get("description", code)
        for partition in endpoints["partitions"]
        for code, region in partition["regions"].items()
    }


def region_name(region: str) -> str:
    """A region's name as Cost Explorer writes it (``US East (N. Virginia)``)."""
    return _region_names().get(region, region)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def plans(account_id: str, account_name: str, records: Iterable[Mapping[str, Any]]) -> list[Plan]:
    """The Savings Plans among ``records`` Cost Explorer lists (active and retired)."""
    found = []
    for record in records:
        status = LISTED_STATES.get(str(record.get("state", "")))
        start, end = _time(record.get("start")), _time(record.get("end"))
        plan_id = record.get("savingsPlanId")
        if status is None or start is None or end is None or not plan_id:
            continue
        arn = record.get("savingsPlanArn") or SPECS["savingsplans"].arn(
            account_id, "us-east-1", plan_id
        )
        found.append(
            Plan(
                account_id=account_id,
                account_name=account_name,
                plan_id=str(plan_id),
                arn=str(arn),
                start=start,
                end=end,
                status=status,
                plan_type=str(record.get("savingsPlanType", "Compute")),
                payment=str(record.get("paymentOption", "No Upfront")),
                region=str(record.get("region") or ""),
                family=str(record.get("ec2InstanceFamily") or ""),
                commitment=_float(record.get("commitment")),
                upfront=_float(record.get("upfrontPaymentAmount")),
                recurring=_float(record.get("recurringPaymentAmount")),
                term_seconds=int(
                    record.get("termDurationInSeconds") or (end - start).total_seconds()
                ),
            )
        )
    return found


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


@dataclass(frozen=True)
class PlanUse:
    """One plan's use over a period, in numbers (summable)."""

    total: float = 0.0
    used: float = 0.0
    on_demand: float = 0.0
    recurring: float = 0.0
    upfront: float = 0.0

    def __add__(self, other: PlanUse) -> PlanUse:
        return PlanUse(*(a + b for a, b in zip(fields_of(self), fields_of(other), strict=True)))

    def sections(self) -> dict[str, dict[str, str]]:
        return {
            "Utilization": {
                "TotalCommitment": amount(self.total),
                "UsedCommitment": amount(self.used),
                "UnusedCommitment": amount(self.total - self.used),
                "UtilizationPercentage": percentage(ratio(self.used, self.total)),
            },
            "Savings": {
                "NetSavings": amount(self.on_demand - self.total),
                "OnDemandCostEquivalent": amount(self.on_demand),
            },
            "AmortizedCommitment": {
                "AmortizedRecurringCommitment": amount(self.recurring),
                "AmortizedUpfrontCommitment": amount(self.upfront),
                "TotalAmortizedCommitment": amount(self.recurring + self.upfront),
            },
        }


def plan_use(plan: Plan, lo: datetime, hi: datetime, percent: float) -> PlanUse:
    hours = hours_between(plan.start, plan.end, lo, hi)
    term_hours = max(plan.term_seconds / 3600, 1.0)
    used = plan.commitment * hours * percent / 100
    return PlanUse(
        total=plan.commitment * hours,
        used=used,
        on_demand=used / (1 - SP_DISCOUNT),
        recurring=plan.recurring * hours,
        upfront=plan.upfront * hours / term_hours,
    )


_SP_DIMENSIONS: Mapping[str, Callable[[Plan], Iterable[str]]] = {
    "LINKED_ACCOUNT": lambda p: [p.account_id],
    "SAVINGS_PLAN_ARN": lambda p: [p.arn],
    "REGION": lambda p: [p.region] if p.region else [],
    "PAYMENT_OPTION": lambda p: [p.payment, p.payment.replace(" ", "")],
    "INSTANCE_TYPE_FAMILY": lambda p: [p.family] if p.family else [],
}


@answering_errors
def get_savings_plans_utilization_details(response: BaseResponse) -> ActionResult:
    params = params_of(response)
    accounts = visible_accounts(response.current_account)
    start, end = time_period(params, within_13_months=True)
    conditions = filter_conditions(params.get("Filter"), _SP_DIMENSIONS)
    data_types = params.get("DataType") or list(DATA_TYPES)
    unknown = [t for t in data_types if t not in DATA_TYPES]
    if unknown:
        raise invalid(f"DataType {', '.join(map(str, unknown))} is invalid")
    lo, hi = midnight(start), midnight(end)
    chosen = [
        plan
        for account_id, name in accounts
        for plan in plans(
            account_id,
            name,
            (record for _, record in STATE.store.of_account(account_id, "savingsplans")),
        )
        if plan.start < hi
        and plan.end > lo
        and all(set(_SP_DIMENSIONS[k](plan)) & values for k, values in conditions.items())
    ]
    uses = [
        plan_use(p, lo, hi, STATE.ce.utilization(p.account_id, "savingsplans", p.plan_id))
        for p in chosen
    ]
    details = [
        {
            "SavingsPlanArn": plan.arn,
            "Attributes": STATE.ce.apply(plan.attributes()),
            **use.sections(),
        }
        for plan, use in zip(chosen, uses, strict=True)
    ]
    details = sort_items(
        details,
        params.get("SortBy"),
        {key: (lambda d, path=path: d[path[0]][path[1]]) for key, path in SORT_KEYS.items()},
    )
    left_out = set(DATA_TYPES.values()) - {DATA_TYPES[t] for t in data_types}
    details = [{k: v for k, v in detail.items() if k not in left_out} for detail in details]
    items, token = page(details, params.get("NextToken"), page_size(params))
    result: dict[str, Any] = {
        "SavingsPlansUtilizationDetails": items,
        "Total": sum(uses, PlanUse()).sections(),
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
    }
    if token:
        result["NextToken"] = token
    return ActionResult(result)
