"""Cost Explorer over HTTP with boto3: GetReservationUtilization grouped by
SUBSCRIPTION_ID and GetSavingsPlansUtilizationDetails, answered from the
reservations seeded for every account of the caller's organization."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any

import pytest
from botocore.config import Config

from exporter.fake.catalog import CE_SERVICE_NAMES
from exporter.fake.ceplan import default_utilization
from exporter.fake.costexplorer.common import MEMBER_DENIED
from exporter.fake.demo_data import (
    DEMO_UTILIZATION,
    OFFERINGS,
    Offering,
    make_record,
    make_savings_plan,
    seed_demo,
)
from tests.fake.conftest import error_of
from tests.support import OWN_ACCOUNT

PROD, STAGING, OUTSIDER = "222222222222", "333333333333", "777777777777"
TODAY = datetime.now(timezone.utc).date()
HI = datetime.combine(TODAY, time(), tzinfo=timezone.utc)  # the period's (exclusive) end
LO = HI - timedelta(days=7)
WEEK = {"Start": str(LO.date()), "End": str(TODAY)}
BY_SUBSCRIPTION = [{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}]
YEAR = timedelta(days=365)
# An RI that started long before the week and ends long after it, at an odd time.
STARTED = LO - timedelta(days=99, hours=14, minutes=29, seconds=3)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def service_filter(service: str) -> dict[str, Any]:
    return {"Dimensions": {"Key": "SERVICE", "Values": [CE_SERVICE_NAMES[service]]}}


def utilization(fake, account: str = OWN_ACCOUNT, service: str = "ec2", **kwargs: Any) -> dict:
    """One page of GetReservationUtilization grouped by SUBSCRIPTION_ID."""
    kwargs.setdefault("TimePeriod", WEEK)
    kwargs.setdefault("Filter", service_filter(service))
    return fake.client("ce", account).get_reservation_utilization(GroupBy=BY_SUBSCRIPTION, **kwargs)


def pages(call, token_key: str, items) -> list[list[dict]]:
    """Every page of a Cost Explorer read, following its token."""
    found, token = [], None
    while True:
        answer = call(**({token_key: token} if token else {}))
        found.append(items(answer))
        token = answer.get(token_key)
        if not token:
            return found


def groups(fake, account: str = OWN_ACCOUNT, service: str = "ec2", **kwargs: Any) -> list[dict]:
    every = pages(
        lambda **token: utilization(fake, account, service, **kwargs, **token),
        "NextPageToken",
        lambda answer: answer["UtilizationsByTime"][0]["Groups"],
    )
    return [group for page in every for group in page]


def details(fake, account: str = OWN_ACCOUNT, **kwargs: Any) -> list[dict]:
    kwargs.setdefault("TimePeriod", WEEK)
    client = fake.client("ce", account)
    every = pages(
        lambda **token: client.get_savings_plans_utilization_details(**kwargs, **token),
        "NextToken",
        lambda answer: answer["SavingsPlansUtilizationDetails"],
    )
    return [detail for page in every for detail in page]


def by_lease(found: list[dict]) -> dict[str, dict]:
    return {group["Attributes"]["leaseId"]: group for group in found}


def ri(
    service: str,
    rid: str,
    account: str,
    region: str = "us-east-1",
    *,
    start: datetime = STARTED,
    state: str = "active",
    count: int = 1,
    offering: Offering | None = None,
    zone: str | None = None,
) -> dict:
    return make_record(
        service,
        rid=rid,
        account_id=account,
        region=region,
        start=start,
        seconds=int(YEAR.total_seconds()),
        state=state,
        offering=offering or OFFERINGS[service][0],
        count=count,
        zone=zone,
    )


def plan(account: str, plan_id: str, start: datetime = STARTED, **kwargs: Any) -> dict:
    kwargs.setdefault("years", 1)
    kwargs.setdefault("state", "active")
    return make_savings_plan(plan_id=plan_id, account_id=account, start=start, **kwargs)


def arn(account: str, plan_id: str) -> str:
    return f"arn:aws:savingsplans::{account}:savingsplan/{plan_id}"


@pytest.fixture
def org(fake):
    """An organization managed by OWN_ACCOUNT with two member accounts."""
    fake.add_org_account(OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT)
    fake.add_org_account(PROD, "production")
    fake.add_org_account(STAGING, "staging")
    return fake


# --- GetReservationUtilization ----------------------------------------------------------


def test_the_management_account_sees_every_accounts_ris_with_their_attributes(org):
    retired_at = HI - timedelta(days=3)
    org.seed(OWN_ACCOUNT, "us-east-1", "ec2", [ri("ec2", "ri-own", OWN_ACCOUNT, count=2)])
    org.seed(
        PROD,
        "eu-west-1",
        "ec2",
        [ri("ec2", "ri-zonal", PROD, "eu-west-1", offering=OFFERINGS["ec2"][2], zone="eu-west-1a")],
    )
    org.seed(
        PROD,
        "us-east-1",
        "ec2",
        [
            ri("ec2", "ri-retired", PROD, start=retired_at - YEAR, state="retired"),
            ri("ec2", "ri-retired-before", PROD, start=LO - YEAR - timedelta(days=1)),
        ],
    )
    org.seed(
        STAGING,
        "us-east-1",
        "ec2",
        [
            ri("ec2", "ri-queued", STAGING, start=HI + timedelta(days=5), state="queued"),
            ri("ec2", "ri-pending", STAGING, start=LO + timedelta(days=2), state="payment-pending"),
            ri("ec2", "ri-failed", STAGING, start=LO + timedelta(days=2), state="payment-failed"),
        ],
    )

    found = by_lease(groups(org))

    assert set(found) == {"ri-own", "ri-zonal", "ri-retired"}
    own = found["ri-own"]
    assert own["Key"] == "SUBSCRIPTION_ID"
    assert own["Value"].isdigit() and own["Attributes"]["subscriptionId"] == own["Value"]
    assert own["Attributes"] == {
        "accountId": OWN_ACCOUNT,
        "accountName": "payer",
        "availabilityZone": "",
        "endDateTime": stamp(STARTED + YEAR),
        "instanceType": "m5.large",
        "leaseId": "ri-own",
        "numberOfInstances": "2",
        "offeringType": "Standard",
        "platform": "Linux/UNIX",
        "region": "us-east-1",
        "scope": "Region",
        "startDateTime": stamp(STARTED),
        "subscriptionId": own["Value"],
        "subscriptionStatus": "Active",
        "subscriptionType": "No Upfront",
        "tenancy": "Shared",
    }
    zonal = found["ri-zonal"]["Attributes"]
    assert (zonal["accountId"], zonal["accountName"], zonal["region"]) == (
        PROD,
        "production",
        "eu-west-1",
    )
    assert (zonal["availabilityZone"], zonal["scope"], zonal["subscriptionType"]) == (
        "eu-west-1a",
        "Availability Zone",
        "All Upfront",
    )
    assert zonal["instanceType"] == "c6i.2xlarge"
    retired = found["ri-retired"]["Attributes"]
    assert retired["subscriptionStatus"] == "Retired"
    assert retired["endDateTime"] == stamp(retired_at)
    assert by_lease(groups(org))["ri-own"]["Value"] == own["Value"]  # stable


@pytest.mark.parametrize("service", list(CE_SERVICE_NAMES))
def test_each_service_is_asked_by_its_cost_explorer_name_with_its_lease_id(org, service):
    record = ri(service, f"{service}-reserved-1", PROD, "eu-west-1", count=3)
    org.seed(PROD, "eu-west-1", service, [record])

    (group,) = groups(org, service=service)

    attributes = group["Attributes"]
    expected_lease = record["LeaseId"] if service == "rds" else f"{service}-reserved-1"
    assert attributes["leaseId"] == expected_lease
    assert (attributes["accountId"], attributes["accountName"]) == (PROD, "production")
    assert (attributes["region"], attributes["numberOfInstances"]) == ("eu-west-1", "3")
    assert attributes["instanceType"] == OFFERINGS[service][0].instance_type
    assert attributes["endDateTime"] == stamp(STARTED + YEAR)
    assert attributes["subscriptionStatus"] == "Active"
    if service == "opensearch":  # OpenSearch names its billing subscription itself
        assert group["Value"] == str(record["BillingSubscriptionId"])
    if service != "ec2":
        assert groups(org, service="ec2") == []


def test_hours_and_costs_follow_the_period_the_count_and_the_utilization(org):
    busy = Offering("m5.large", "Linux/UNIX", "No Upfront", 0.0, 0.062)
    prepaid = Offering("m5.xlarge", "Linux/UNIX", "All Upfront", 876.0, 0.0)
    org.seed(
        OWN_ACCOUNT,
        "us-east-1",
        "ec2",
        [
            ri("ec2", "ri-busy", OWN_ACCOUNT, count=2, offering=busy),
            ri("ec2", "ri-new", OWN_ACCOUNT, start=HI - timedelta(days=2), offering=prepaid),
        ],
    )
    org.set_utilization(OWN_ACCOUNT, "ec2", "ri-busy", 50)
    org.set_utilization(OWN_ACCOUNT, "ec2", "ri-new", 100)

    answer = utilization(org)

    (by_time,) = answer["UtilizationsByTime"]
    assert by_time["TimePeriod"] == WEEK
    found = by_lease(by_time["Groups"])
    assert found["ri-busy"]["Utilization"] == {
        "UtilizationPercentage": "50",
        "UtilizationPercentageInUnits": "50",
        "PurchasedHours": "336.0",  # 7 days x 24 h x 2 instances
        "PurchasedUnits": "1344.0",  # a large is 4 units an hour
        "TotalActualHours": "168.0",
        "TotalActualUnits": "672.0",
        "UnusedHours": "168.0",
        "UnusedUnits": "672.0",
        "OnDemandCostOfRIHoursUsed": "17.36",  # 168 h at 0.062 / (1 - 0.4)
        "NetRISavings": "-3.472",
        "TotalPotentialRISavings": "13.888",
        "AmortizedUpfrontFee": "0.0",
        "AmortizedRecurringFee": "20.832",  # 336 h x 0.062
        "TotalAmortizedFee": "20.832",
        "RICostForUnusedHours": "10.416",
        "RealizedSavings": "6.944",
        "UnrealizedSavings": "17.36",
    }
    new = found["ri-new"]["Utilization"]
    assert (new["PurchasedHours"], new["UnusedHours"], new["UtilizationPercentage"]) == (
        "48.0",
        "0.0",
        "100",
    )
    assert new["AmortizedUpfrontFee"] == "4.8"  # 876 over 8760 h, 48 h of them
    total = answer["Total"]
    assert total == by_time["Total"]
    assert (total["PurchasedHours"], total["TotalActualHours"]) == ("384.0", "216.0")
    assert total["UtilizationPercentage"] == "56.25"
    assert total["TotalAmortizedFee"] == "25.632"


def test_utilization_defaults_to_a_stable_spread_derived_from_the_id(org):
    org.seed(OWN_ACCOUNT, "us-east-1", "ec2", [ri("ec2", "ri-1", OWN_ACCOUNT)])
    org.set_utilization(OWN_ACCOUNT, "ec2", "ri-1", 33.5)
    org.set_utilization(OWN_ACCOUNT, "ec2", "ri-1", None)  # back to the default

    (group,) = groups(org)

    percent = default_utilization("ri-1")
    assert group["Utilization"]["UtilizationPercentage"] == f"{percent:g}"
    spread = [default_utilization(f"reservation-{i}") for i in range(60)]
    assert spread == [default_utilization(f"reservation-{i}") for i in range(60)]
    assert any(p >= 92 for p in spread)
    assert any(40 <= p <= 60 for p in spread)
    assert any(p < 20 for p in spread)
    assert all(p >= 92 or 40 <= p <= 60 or 2 <= p <= 18 for p in spread)


def test_groups_come_twenty_a_page_and_every_page_is_one_counted_call(org):
    org.seed(
        OWN_ACCOUNT, "us-east-1", "ec2", [ri("ec2", f"ri-{i:02d}", OWN_ACCOUNT) for i in range(25)]
    )
    org.seed(PROD, "eu-west-1", "ec2", [ri("ec2", f"ri-{i:02d}", PROD) for i in range(25, 45)])
    org.reset_calls()
    client = org.client("ce", OWN_ACCOUNT)

    def ask(**token):
        return client.get_reservation_utilization(
            TimePeriod=WEEK, GroupBy=BY_SUBSCRIPTION, Filter=service_filter("ec2"), **token
        )

    every = pages(ask, "NextPageToken", lambda answer: answer)

    found = [answer["UtilizationsByTime"][0]["Groups"] for answer in every]
    assert [len(page) for page in found] == [20, 20, 5]
    leases = sorted(group["Attributes"]["leaseId"] for page in found for group in page)
    assert leases == [f"ri-{i:02d}" for i in range(45)]
    assert len({answer["Total"]["PurchasedHours"] for answer in every}) == 1  # the whole result
    calls = org.calls(service="ce", operation="GetReservationUtilization")
    assert [(c.account_id, c.outcome) for c in calls] == [(OWN_ACCOUNT, "ok")] * 3
    smaller = pages(
        lambda **token: ask(MaxResults=10, **token),
        "NextPageToken",
        lambda answer: answer["UtilizationsByTime"][0]["Groups"],
    )
    assert [len(page) for page in smaller] == [10, 10, 10, 10, 5]


def test_an_unknown_page_token_is_refused(org):
    org.seed(
        OWN_ACCOUNT, "us-east-1", "ec2", [ri("ec2", f"ri-{i:02d}", OWN_ACCOUNT) for i in range(3)]
    )

    for token in ("not-a-token", "ZmFrZS1wYWdlOjk5OQ"):  # garbage; a page past the end
        code, message, status = error_of(lambda token=token: utilization(org, NextPageToken=token))
        assert (code, status) == ("InvalidNextTokenException", 400)
        assert "pagination token is invalid" in message


def test_a_member_account_is_refused_and_an_account_outside_sees_its_own(org):
    org.seed(PROD, "us-east-1", "ec2", [ri("ec2", "ri-prod", PROD)])
    org.seed(PROD, "global", "savingsplans", [plan(PROD, "sp-prod")])
    org.seed(OUTSIDER, "us-east-1", "ec2", [ri("ec2", "ri-outsider", OUTSIDER)])

    assert error_of(lambda: utilization(org, PROD)) == (
        "AccessDeniedException",
        MEMBER_DENIED,
        400,
    )
    assert error_of(lambda: details(org, PROD))[0] == "AccessDeniedException"
    assert [c.outcome for c in org.calls(service="ce")] == ["denied", "denied"]
    (alone,) = groups(org, OUTSIDER)
    assert (alone["Attributes"]["leaseId"], alone["Attributes"]["accountId"]) == (
        "ri-outsider",
        OUTSIDER,
    )
    assert set(by_lease(groups(org))) == {"ri-prod"}


def _yesterday_today() -> dict[str, str]:
    return {"Start": str(TODAY - timedelta(days=1)), "End": str(TODAY)}


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"Granularity": "MONTHLY"}, "Granularity is not supported when specifying groupBy"),
        ({"GroupBy": [{"Type": "DIMENSION", "Key": "REGION"}]}, "group only by SUBSCRIPTION_ID"),
        ({"TimePeriod": {"Start": str(TODAY), "End": str(TODAY)}}, "must be before"),
        (
            {"TimePeriod": {"Start": str(TODAY), "End": str(TODAY - timedelta(days=3))}},
            "must be before",
        ),
        ({"TimePeriod": {"Start": "2025/01/01", "End": str(TODAY)}}, "YYYY-MM-DD"),
        ({"TimePeriod": {"Start": "2025-02-30", "End": str(TODAY)}}, "YYYY-MM-DD"),
        (
            {
                "Filter": {
                    "Dimensions": {
                        "Key": "SERVICE",
                        "Values": [CE_SERVICE_NAMES["ec2"], CE_SERVICE_NAMES["rds"]],
                    }
                }
            },
            "should not exceed 1",
        ),
        (
            {"Filter": {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon DynamoDB"]}}},
            "Values are invalid",
        ),
        ({"Filter": {"Tags": {"Key": "Team", "Values": ["payments"]}}}, "Dimensions"),
        (
            {"Filter": {"Or": [service_filter("ec2"), service_filter("rds")]}},
            "Dimensions",
        ),
        (
            {"Filter": {"Dimensions": {"Key": "SUBSCRIPTION_ID", "Values": ["ri-1"]}}},
            "only digits",
        ),
        ({"Filter": {"Dimensions": {"Key": "USAGE_TYPE", "Values": ["x"]}}}, "not allowed"),
        ({"SortBy": {"Key": "Nonsense"}}, "SortBy"),
    ],
)
def test_requests_are_validated_as_aws_validates_them(org, request_, message):
    kwargs = {
        "TimePeriod": _yesterday_today(),
        "GroupBy": BY_SUBSCRIPTION,
        "Filter": service_filter("ec2"),
        **request_,
    }

    code, text, status = error_of(
        lambda: org.client("ce", OWN_ACCOUNT).get_reservation_utilization(**kwargs)
    )

    assert (code, status) == ("ValidationException", 400)
    assert message in text


def test_a_period_that_has_not_ended_has_no_data(org):
    ahead = {"Start": str(TODAY - timedelta(days=1)), "End": str(TODAY + timedelta(days=1))}

    assert error_of(lambda: utilization(org, TimePeriod=ahead))[::2] == (
        "DataUnavailableException",
        400,
    )
    assert error_of(lambda: details(org, TimePeriod=ahead))[::2] == (
        "DataUnavailableException",
        400,
    )
    assert utilization(org, TimePeriod=_yesterday_today())["UtilizationsByTime"][0]["Groups"] == []


def test_without_group_by_the_answer_has_one_total_per_day_or_month(org):
    org.seed(
        OWN_ACCOUNT,
        "us-east-1",
        "ec2",
        [ri("ec2", "ri-1", OWN_ACCOUNT, start=STARTED - timedelta(days=60))],
    )
    org.set_utilization(OWN_ACCOUNT, "ec2", "ri-1", 50)
    ce = org.client("ce", OWN_ACCOUNT)

    daily = ce.get_reservation_utilization(TimePeriod=WEEK)["UtilizationsByTime"]

    assert [d["TimePeriod"]["Start"] for d in daily] == [
        str(LO.date() + timedelta(days=i)) for i in range(7)
    ]
    assert all("Groups" not in d for d in daily)
    assert {(d["Total"]["PurchasedHours"], d["Total"]["TotalActualHours"]) for d in daily} == {
        ("24.0", "12.0")
    }
    this_month = TODAY.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    start = last_month - timedelta(days=10)
    monthly = ce.get_reservation_utilization(
        TimePeriod={"Start": str(start), "End": str(this_month)}, Granularity="MONTHLY"
    )["UtilizationsByTime"]
    assert [(m["TimePeriod"]["Start"], m["TimePeriod"]["End"]) for m in monthly] == [
        (str(start), str(last_month)),
        (str(last_month), str(this_month)),
    ]
    assert monthly[0]["Total"]["PurchasedHours"] == "240.0"
    code, text, _ = error_of(
        lambda: ce.get_reservation_utilization(TimePeriod=WEEK, Granularity="HOURLY")
    )
    assert code == "ValidationException" and "DAILY and MONTHLY" in text


def test_filters_narrow_the_groups_by_account_region_and_subscription(org):
    org.seed(OWN_ACCOUNT, "us-east-1", "ec2", [ri("ec2", "ri-own", OWN_ACCOUNT)])
    org.seed(PROD, "us-east-1", "ec2", [ri("ec2", "ri-prod-us", PROD)])
    org.seed(PROD, "eu-west-1", "ec2", [ri("ec2", "ri-prod-eu", PROD, "eu-west-1")])
    wanted = {
        "And": [
            service_filter("ec2"),
            {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [PROD]}},
            {"Dimensions": {"Key": "REGION", "Values": ["eu-west-1"]}},
        ]
    }

    assert set(by_lease(groups(org, Filter=wanted))) == {"ri-prod-eu"}
    everything = by_lease(groups(org))
    one = everything["ri-prod-us"]["Value"]
    by_id = {"Dimensions": {"Key": "SUBSCRIPTION_ID", "Values": [one]}}
    assert set(by_lease(groups(org, Filter=by_id))) == {"ri-prod-us"}  # EC2 by default
    descending = groups(org, SortBy={"Key": "UtilizationPercentage", "SortOrder": "DESCENDING"})
    percents = [float(g["Utilization"]["UtilizationPercentage"]) for g in descending]
    assert percents == sorted(percents, reverse=True)


# --- GetSavingsPlansUtilizationDetails --------------------------------------------------


def test_savings_plans_of_every_account_come_with_their_attributes(org):
    retired_at = HI - timedelta(days=2)
    org.seed(
        OWN_ACCOUNT,
        "global",
        "savingsplans",
        [plan(OWN_ACCOUNT, "sp-compute", commitment=10.0, payment="Partial Upfront")],
    )
    org.seed(
        PROD,
        "global",
        "savingsplans",
        [
            plan(
                PROD,
                "sp-ec2",
                years=3,
                plan_type="EC2Instance",
                region="us-east-1",
                family="m5",
                commitment=2.0,
                payment="All Upfront",
            ),
            plan(PROD, "sp-retired", start=retired_at - YEAR, state="retired"),
        ],
    )
    org.seed(
        STAGING,
        "global",
        "savingsplans",
        [
            plan(STAGING, "sp-queued", start=HI + timedelta(days=3), state="queued"),
            plan(STAGING, "sp-returned", start=LO + timedelta(days=1), state="returned"),
            plan(STAGING, "sp-pending-return", start=LO, state="pending-return"),
            plan(STAGING, "sp-failed", start=LO + timedelta(days=1), state="payment-failed"),
            plan(STAGING, "sp-pending", start=LO + timedelta(days=1), state="payment-pending"),
        ],
    )

    found = {d["SavingsPlanArn"]: d for d in details(org)}

    assert set(found) == {
        arn(OWN_ACCOUNT, "sp-compute"),
        arn(PROD, "sp-ec2"),
        arn(PROD, "sp-retired"),
    }
    assert found[arn(OWN_ACCOUNT, "sp-compute")]["Attributes"] == {
        "AccountId": OWN_ACCOUNT,
        "AccountName": "payer",
        "EndDateTime": stamp(STARTED + YEAR),
        "HourlyCommitment": "10.0",
        "InstanceFamily": "",
        "PaymentOption": "Partial Upfront",
        "PurchaseTerm": "1yr",
        "RecurringHourlyFee": "5.0",
        "Region": "Any",
        "SavingsPlanARN": arn(OWN_ACCOUNT, "sp-compute"),
        "SavingsPlansType": "ComputeSavingsPlans",
        "StartDateTime": stamp(STARTED),
        "Status": "Active",
        "UpfrontFee": "43800.0",  # half of 10/h over 8760 h
    }
    ec2 = found[arn(PROD, "sp-ec2")]["Attributes"]
    assert (ec2["AccountName"], ec2["Region"], ec2["InstanceFamily"]) == (
        "production",
        "US East (N. Virginia)",
        "m5",
    )
    assert (ec2["PurchaseTerm"], ec2["SavingsPlansType"], ec2["EndDateTime"]) == (
        "3yr",
        "EC2InstanceSavingsPlans",
        stamp(STARTED + 3 * YEAR),
    )
    retired = found[arn(PROD, "sp-retired")]["Attributes"]
    assert (retired["Status"], retired["EndDateTime"]) == ("Retired", stamp(retired_at))


def test_savings_plan_numbers_follow_the_commitment_and_the_utilization(org):
    org.seed(
        OWN_ACCOUNT,
        "global",
        "savingsplans",
        [plan(OWN_ACCOUNT, "sp-1", commitment=10.0, payment="Partial Upfront")],
    )
    org.set_utilization(OWN_ACCOUNT, "savingsplans", arn(OWN_ACCOUNT, "sp-1"), 80)  # by ARN (or id)

    answer = org.client("ce", OWN_ACCOUNT).get_savings_plans_utilization_details(TimePeriod=WEEK)

    (detail,) = answer["SavingsPlansUtilizationDetails"]
    sections = {k: v for k, v in detail.items() if k not in ("SavingsPlanArn", "Attributes")}
    assert sections == {
        "Utilization": {
            "TotalCommitment": "1680.0",  # 10/h x 168 h
            "UsedCommitment": "1344.0",
            "UnusedCommitment": "336.0",
            "UtilizationPercentage": "80",
        },
        "Savings": {
            "NetSavings": "186.66666667",
            "OnDemandCostEquivalent": "1866.66666667",  # 1344 / (1 - 0.28)
        },
        "AmortizedCommitment": {
            "AmortizedRecurringCommitment": "840.0",
            "AmortizedUpfrontCommitment": "840.0",
            "TotalAmortizedCommitment": "1680.0",
        },
    }
    assert answer["Total"] == sections
    assert answer["TimePeriod"] == WEEK
    assert "NextToken" not in answer


def days_ago(days: int) -> str:
    return str(TODAY - timedelta(days=days))


@pytest.mark.parametrize(
    ("period", "code"),
    [
        ({"Start": days_ago(0), "End": days_ago(0)}, "ValidationException"),
        ({"Start": "2025-1-1", "End": days_ago(0)}, "ValidationException"),
        ({"Start": days_ago(2), "End": days_ago(-1)}, "DataUnavailableException"),  # not ended
        ({"Start": days_ago(430), "End": days_ago(400)}, "DataUnavailableException"),  # too old
    ],
)
def test_savings_plan_periods_must_be_dates_that_have_ended_within_13_months(org, period, code):
    got, _, status = error_of(
        lambda: org.client("ce", OWN_ACCOUNT).get_savings_plans_utilization_details(
            TimePeriod=period
        )
    )
    assert (got, status) == (code, 400)


def test_savings_plans_page_with_next_token_and_every_page_is_a_call(org):
    org.seed(
        OWN_ACCOUNT, "global", "savingsplans", [plan(OWN_ACCOUNT, f"sp-{i:02d}") for i in range(25)]
    )
    org.reset_calls()
    client = org.client("ce", OWN_ACCOUNT)

    def ask(**kwargs):
        return client.get_savings_plans_utilization_details(TimePeriod=WEEK, **kwargs)

    def sizes(**kwargs) -> list[int]:
        every = pages(
            lambda **t: ask(**kwargs, **t),
            "NextToken",
            lambda a: a["SavingsPlansUtilizationDetails"],
        )
        return [len(p) for p in every]

    assert sizes() == [20, 5]
    assert len(org.calls(service="ce", operation="GetSavingsPlansUtilizationDetails")) == 2
    assert sizes(MaxResults=10) == [10, 10, 5]
    assert error_of(lambda: ask(NextToken="bogus"))[::2] == ("InvalidNextTokenException", 400)


def test_savings_plans_filter_by_account_and_arn_and_choose_their_sections(org):
    org.seed(OWN_ACCOUNT, "global", "savingsplans", [plan(OWN_ACCOUNT, "sp-own")])
    org.seed(PROD, "global", "savingsplans", [plan(PROD, "sp-prod-1"), plan(PROD, "sp-prod-2")])

    def arns(**kwargs) -> set[str]:
        return {d["SavingsPlanArn"] for d in details(org, **kwargs)}

    linked = {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [PROD]}}
    assert arns(Filter=linked) == {arn(PROD, "sp-prod-1"), arn(PROD, "sp-prod-2")}
    one = {"Dimensions": {"Key": "SAVINGS_PLAN_ARN", "Values": [arn(PROD, "sp-prod-2")]}}
    assert arns(Filter={"And": [linked, one]}) == {arn(PROD, "sp-prod-2")}
    only = details(org, DataType=["UTILIZATION"])
    assert {tuple(sorted(d)) for d in only} == {("SavingsPlanArn", "Utilization")}
    assert error_of(lambda: details(org, Filter=service_filter("ec2")))[0] == (
        "ValidationException"
    )
    assert error_of(lambda: details(org, DataType=["EVERYTHING"]))[0] == "ValidationException"


# --- faults and attribute keys ------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "call"),
    [
        ("ce:GetReservationUtilization", lambda fake: utilization(fake)),
        ("ce:GetSavingsPlansUtilizationDetails", lambda fake: details(fake)),
    ],
)
def test_denied_cost_explorer_actions_fail_with_access_denied(org, action, call):
    org.deny(OWN_ACCOUNT, action)

    code, message, status = error_of(lambda: call(org))

    assert (code, status) == ("AccessDeniedException", 400)
    assert f"is not authorized to perform: {action}" in message
    assert org.calls(service="ce")[-1].outcome == "denied"


def test_cost_explorer_throttles_with_its_own_error_which_botocore_retries(org):
    org.seed(OWN_ACCOUNT, "us-east-1", "ec2", [ri("ec2", "ri-1", OWN_ACCOUNT)])
    org.throttle("ce", "GetReservationUtilization", 1)
    retrying = Config(retries={"mode": "standard", "total_max_attempts": 2})

    answer = org.client("ce", OWN_ACCOUNT, config=retrying).get_reservation_utilization(
        TimePeriod=WEEK, GroupBy=BY_SUBSCRIPTION
    )

    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert len(answer["UtilizationsByTime"][0]["Groups"]) == 1
    assert [c.outcome for c in org.calls(service="ce")] == ["throttled", "ok"]
    org.throttle("ce", "GetSavingsPlansUtilizationDetails", 5)
    client = org.client("ce", OWN_ACCOUNT, config=retrying)
    assert error_of(lambda: client.get_savings_plans_utilization_details(TimePeriod=WEEK))[::2] == (
        "LimitExceededException",
        400,
    )


def test_endless_page_tokens_use_each_operations_token_member(org):
    org.corrupt("endless_token", "ce", "GetReservationUtilization")
    org.corrupt("endless_token", "ce", "GetSavingsPlansUtilizationDetails")

    assert utilization(org)["NextPageToken"].startswith("endless-")
    answer = org.client("ce", OWN_ACCOUNT).get_savings_plans_utilization_details(TimePeriod=WEEK)
    assert answer["NextToken"].startswith("endless-")


def test_attribute_keys_can_be_renamed_or_dropped_and_restored(org):
    org.seed(OWN_ACCOUNT, "us-east-1", "ec2", [ri("ec2", "ri-1", OWN_ACCOUNT)])
    org.seed(OWN_ACCOUNT, "global", "savingsplans", [plan(OWN_ACCOUNT, "sp-1")])
    org.ce_rename_attribute("endDateTime", "endDate")
    org.ce_drop_attribute("accountName")
    org.ce_rename_attribute("EndDateTime", "AgreementEndDateTime")

    (group,) = groups(org)
    (detail,) = details(org)

    assert "endDateTime" not in group["Attributes"] and "accountName" not in group["Attributes"]
    assert group["Attributes"]["endDate"] == stamp(STARTED + YEAR)
    assert "EndDateTime" not in detail["Attributes"]
    assert detail["Attributes"]["AgreementEndDateTime"] == stamp(STARTED + YEAR)
    assert detail["Attributes"]["AccountName"] == "payer"  # keys are case-sensitive

    org.ce_rename_attribute("endDateTime", "endDateTime")
    (group,) = groups(org)
    assert group["Attributes"]["endDateTime"] == stamp(STARTED + YEAR)
    assert "accountName" not in group["Attributes"]
    org.ce_rename_attribute("accountName", "accountName")
    assert groups(org)[0]["Attributes"]["accountName"] == "payer"


def test_cost_explorer_controls_refuse_what_they_cannot_mean(fake):
    with pytest.raises(ValueError, match="unknown reservation service"):
        fake.set_utilization(OWN_ACCOUNT, "dynamodb", "x", 50)
    with pytest.raises(ValueError, match="from 0 to 100"):
        fake.set_utilization(OWN_ACCOUNT, "ec2", "ri-1", 100.5)
    with pytest.raises(ValueError, match="not an attribute key"):
        fake.ce_rename_attribute("end date", "endDate")
    fake.set_utilization(OWN_ACCOUNT, "opensearch", "r-1", 0)  # any name the fake knows works
    fake.set_utilization(OWN_ACCOUNT, "es", "r-1", None)


# --- the demo ------------------------------------------------------------------------------


def test_the_demo_payer_sees_every_accounts_reservations_and_plans(fake):
    layout = seed_demo(fake)
    payer = layout.own_account_id
    store = fake.state.store

    found = {service: groups(fake, payer, service) for service in CE_SERVICE_NAMES}

    names = {g["Attributes"]["accountName"] for every in found.values() for g in every}
    assert names == {account.name for account in layout.accounts}
    statuses = {g["Attributes"]["subscriptionStatus"] for every in found.values() for g in every}
    assert statuses <= {"Active", "Retired"}
    for service, every in found.items():
        assert len({g["Attributes"]["accountId"] for g in every}) >= 3, service
    queued = {
        r["ReservedInstancesId"]
        for account in layout.accounts
        for region in layout.regions
        for r in store.list(account.account_id, region, "ec2")
        if r["State"] == "queued"
    }
    assert queued and not queued & set(by_lease(found["ec2"]))
    rds = {
        r["ReservedDBInstanceId"]: r["LeaseId"]
        for account in layout.accounts
        for r in store.list(account.account_id, "us-east-1", "rds")
    }
    leases = by_lease(found["rds"])
    for rid, percent in DEMO_UTILIZATION.items():
        assert leases[rds[rid]]["Utilization"]["UtilizationPercentage"] == f"{percent:g}"
    assert layout.utilization == DEMO_UTILIZATION
    percents = [
        float(g["Utilization"]["UtilizationPercentage"]) for every in found.values() for g in every
    ]
    assert any(p >= 90 for p in percents)
    assert any(40 <= p <= 60 for p in percents)
    assert any(p < 20 for p in percents)

    plans = details(fake, payer)
    assert {d["Attributes"]["AccountName"] for d in plans} == {a.name for a in layout.accounts}
    assert {d["Attributes"]["Status"] for d in plans} <= {"Active", "Retired"}
    hidden = {
        p["savingsPlanArn"]
        for account in layout.accounts
        for p in store.list(account.account_id, "global", "savingsplans")
        if p["state"] not in ("active", "retired")
    }
    assert hidden and not hidden & {d["SavingsPlanArn"] for d in plans}
