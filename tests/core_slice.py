"""The core slice's data: four accounts (own credentials, a role with an
external id, a role from defaults, a plain role), their EC2 and RDS
reservations and the config that reads them. Seeded into the fake by the
slice's own test, the fault and shared-client tests and the process tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.support import OWN_ACCOUNT

DAY = 86400
YEAR = 365 * DAY
NOW = datetime.now(timezone.utc).replace(microsecond=0)

PROD, STAGING, ANALYTICS = "222222222222", "333333333333", "444444444444"
EXTERNAL_ID = "prod-external-id-1"


def ec2(rid: str, state: str, end: datetime, count: int = 1, **extra) -> dict:
    start = end - timedelta(seconds=YEAR)
    record = {
        "ReservedInstancesId": rid,
        "State": state,
        "Start": start,
        "End": end,
        "Duration": YEAR,
        "InstanceCount": count,
        "InstanceType": "m5.large",
        "ProductDescription": "Linux/UNIX",
        "OfferingType": "No Upfront",
        "OfferingClass": "standard",
        "Scope": "Region",
        "UsagePrice": 0.0,
        "FixedPrice": 0.0,
        "CurrencyCode": "USD",
        "InstanceTenancy": "default",
        "RecurringCharges": [{"Frequency": "Hourly", "Amount": 0.062}],
    }
    record.update(extra)
    return record


def rds(rid: str, state: str, start: datetime, count: int = 1, multi_az: bool = False) -> dict:
    return {
        "ReservedDBInstanceId": rid,
        "ReservedDBInstancesOfferingId": f"offer-{rid}",
        "DBInstanceClass": "db.r6g.large",
        "StartTime": start,
        "Duration": YEAR,
        "FixedPrice": 1000.0,
        "UsagePrice": 0.0,
        "CurrencyCode": "USD",
        "DBInstanceCount": count,
        "ProductDescription": "postgresql",
        "OfferingType": "Partial Upfront",
        "MultiAZ": multi_az,
        "State": state,
        "RecurringCharges": [{"RecurringChargeFrequency": "Hourly", "RecurringChargeAmount": 0.1}],
    }


# What each account holds, and which ids must (not) be exported.
SEED = {
    (OWN_ACCOUNT, "us-east-1", "ec2"): [
        ec2("ri-own-3d", "active", NOW + timedelta(days=3), count=2),
        ec2("ri-own-queued", "queued", NOW + timedelta(days=3 + 365)),
        ec2("ri-own-pending", "payment-pending", NOW + timedelta(days=200)),
        ec2("ri-own-failed", "payment-failed", NOW + timedelta(days=200)),
    ],
    (PROD, "us-east-1", "ec2"): [
        ec2("ri-prod-recent", "retired", NOW - timedelta(days=10)),
        ec2("ri-prod-old", "retired", NOW - timedelta(days=90)),
        ec2(
            "ri-prod-weeks",
            "active",
            NOW + timedelta(days=25),
            Scope="Availability Zone",
            AvailabilityZone="us-east-1b",
        ),
    ],
    (PROD, "eu-west-1", "ec2"): [
        ec2("ri-prod-eu-months", "active", NOW + timedelta(days=150), CurrencyCode="USD"),
    ],
    (STAGING, "eu-west-1", "rds"): [
        rds(f"db-staging-{i:03d}", "active", NOW - timedelta(days=300) + timedelta(hours=i))
        for i in range(130)
    ]
    + [
        rds("db-staging-retired", "retired", NOW - timedelta(days=YEAR // DAY + 5)),
        rds("db-staging-failed", "payment-failed", NOW - timedelta(days=1)),
    ],
    (ANALYTICS, "us-east-1", "rds"): [
        rds("db-analytics-multi", "active", NOW - timedelta(days=360), count=3, multi_az=True),
    ],
}
NOT_EXPORTED = {"ri-own-failed", "ri-prod-old", "db-staging-failed"}

ACCOUNT_NAMES = {
    OWN_ACCOUNT: "payer",
    PROD: "production",
    STAGING: "staging",
    ANALYTICS: "analytics",
}

CONFIG = {
    "refresh_interval": "1h",
    "regions": ["us-east-1", "eu-west-1"],
    "services": ["ec2", "rds"],
    "concurrency": 4,
    "defaults": {"role_name": "ReservationExporter"},
    "accounts": [
        {"name": "payer"},
        {
            "name": "production",
            "role_arn": f"arn:aws:iam::{PROD}:role/ReservationExporter",
            "external_id": EXTERNAL_ID,
        },
        {"name": "staging", "id": STAGING},
        {"name": "analytics", "role_arn": f"arn:aws:iam::{ANALYTICS}:role/ReservationExporter"},
    ],
}


def seed(fake) -> None:
    fake.add_role(f"arn:aws:iam::{PROD}:role/ReservationExporter", external_id=EXTERNAL_ID)
    for account in (STAGING, ANALYTICS):
        fake.add_role(f"arn:aws:iam::{account}:role/ReservationExporter")
    for (account, region, service), records in SEED.items():
        fake.seed(account, region, service, records)
