"""Every service, every region and every way to reach an account, against the
fake AWS over HTTP."""

from __future__ import annotations

import configparser
from datetime import datetime, timezone

import pytest

from exporter.fake.demo_data import generate
from tests.integration.harness import Harness, by_target
from tests.support import OWN_ACCOUNT

NOW = datetime.now(timezone.utc).replace(microsecond=0)
LOOKBACK = 30 * 86400
PROD, STAGING, ANALYTICS = "222222222222", "333333333333", "444444444444"
ROLE = "arn:aws:iam::{}:role/ReservationExporter"

# service -> (id member, count member, type member, offering member, recurring member names)
FIELDS = {
    "rds": ("ReservedDBInstanceId", "DBInstanceCount", "DBInstanceClass", "OfferingType"),
    "elasticache": ("ReservedCacheNodeId", "CacheNodeCount", "CacheNodeType", "OfferingType"),
    "redshift": ("ReservedNodeId", "NodeCount", "NodeType", "OfferingType"),
    "opensearch": ("ReservedInstanceId", "InstanceCount", "InstanceType", "PaymentOption"),
    "memorydb": ("ReservationId", "NodeCount", "NodeType", "OfferingType"),
    "ec2": ("ReservedInstancesId", "InstanceCount", "InstanceType", "OfferingType"),
}
PAGE_SIZE = {
    "rds": 100,
    "elasticache": 100,
    "redshift": 100,
    "opensearch": 100,
    "memorydb": 100,
    "savingsplans": 100,
}
COUNT = 120  # more than one page everywhere


def _epoch(value) -> float:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return value.timestamp()


def expected(service: str, record: dict) -> dict | None:
    """What the exporter must say about one seeded record, computed here independently."""
    if service == "savingsplans":
        rid, state = record["savingsPlanId"], record["state"]
        end = _epoch(record["end"])
        start = _epoch(record["start"])
        values = {
            "hourly": float(record["commitment"]),
            "upfront": float(record["upfrontPaymentAmount"]),
            "currency": record["currency"],
            "count": None,
            "region": record.get("region", "global"),
            "info": {
                "plan_type": record["savingsPlanType"],
                "instance_type": record.get("ec2InstanceFamily", ""),
                "offering_type": record["paymentOption"],
                "product": ",".join(sorted(record["productTypes"])),
            },
        }
    else:
        id_key, count_key, type_key, offering_key = FIELDS[service]
        rid, state = record[id_key], record["State"]
        if service == "ec2":
            start, end = _epoch(record["Start"]), _epoch(record["End"])
            charges = sum(
                c["Amount"] for c in record["RecurringCharges"] if c["Frequency"] == "Hourly"
            )
        else:
            start = _epoch(record["StartTime"])
            end = start + record["Duration"]
            charges = sum(
                c["RecurringChargeAmount"]
                for c in record["RecurringCharges"]
                if c["RecurringChargeFrequency"] == "Hourly"
            )
        count = record[count_key]
        values = {
            "hourly": (record.get("UsagePrice", 0.0) + charges) * count,
            "upfront": record["FixedPrice"] * count,
            "currency": record.get("CurrencyCode", "USD"),
            "count": count,
            "region": None,
            "info": {
                "instance_type": record[type_key],
                "offering_type": record[offering_key],
                "product": record.get("ProductDescription", ""),
            },
        }
    if state in ("payment-failed", "queued-deleted", "returned"):
        return None
    if state == "retired" and NOW.timestamp() - end >= LOOKBACK:
        return None
    return {"id": rid, "state": state, "start": start, "end": end, **values}


def _series(samples: dict, metric: str) -> dict[str, tuple[dict, float]]:
    return {
        dict(k[1])["reservation_id"]: (dict(k[1]), v) for k, v in samples.items() if k[0] == metric
    }


@pytest.mark.parametrize("service", [*sorted(PAGE_SIZE), "ec2"])
def test_each_service_fields_expiry_states_costs_and_pages(fake_env, service):
    region = "eu-west-1"
    # AWS timestamps carry whole seconds (EC2) or milliseconds: drop the generator's
    # microseconds so "expiry to the second" can be asserted exactly.
    records = [
        {k: v.replace(microsecond=0) if isinstance(v, datetime) else v for k, v in r.items()}
        for r in generate(service, COUNT, NOW, account_id=PROD, region=region, seed=service)
    ]
    fake_env.add_role(ROLE.format(PROD))
    fake_env.seed(PROD, region, service, records)
    h = Harness(
        {
            "regions": [region],
            "services": [service],
            "accounts": [{"name": "production", "role_arn": ROLE.format(PROD)}],
        }
    )
    samples = h.cycle()

    want = {e["id"]: e for r in records if (e := expected(service, r)) is not None}
    assert len(want) > PAGE_SIZE.get(service, 0) or service == "ec2"
    info = _series(samples, "aws_reservation_info")
    assert set(info) == set(want)
    ends = _series(samples, "aws_reservation_expiry_timestamp_seconds")
    starts = _series(samples, "aws_reservation_start_timestamp_seconds")
    hourly = _series(samples, "aws_reservation_hourly_cost")
    upfront = _series(samples, "aws_reservation_upfront_cost")
    instances = _series(samples, "aws_reservation_instances")
    for rid, e in want.items():
        labels, _ = info[rid]
        assert labels["state"] == e["state"]
        assert labels["service"] == service
        assert labels["region"] == (e["region"] or region)
        for key, value in e["info"].items():
            assert labels[key] == value, (rid, key)
        assert ends[rid][1] == e["end"]
        assert starts[rid][1] == e["start"]
        assert hourly[rid][1] == pytest.approx(e["hourly"])
        assert upfront[rid][1] == pytest.approx(e["upfront"])
        assert hourly[rid][0]["currency"] == e["currency"]
        if e["count"] is None:
            assert rid not in instances
        else:
            assert instances[rid][1] == e["count"]

    calls = fake_env.calls(account_id=PROD, service=None)
    listings = [c for c in calls if c.operation not in ("AssumeRole", "GetCallerIdentity")]
    pages = 1 if service == "ec2" else -(-COUNT // PAGE_SIZE[service])
    assert len(listings) == pages
    if service == "savingsplans":
        assert {
            dict(k[1])["region"] for k in samples if k[0] == "aws_reservation_refresh_success"
        } == {"global"}


def test_regions_all_reads_every_enabled_region(fake_env):
    ec2 = fake_env.client("ec2", OWN_ACCOUNT)
    # moto also lists other partitions' regions; real AWS lists only the account's own.
    enabled = {
        r["RegionName"]
        for r in ec2.describe_regions()["Regions"]
        if not r["RegionName"].startswith(("cn-", "us-gov-"))
    }
    assert len(enabled) > 10
    h = Harness(
        {"regions": "all", "services": ["ec2", "memorydb"], "accounts": [{"name": "payer"}]}
    )
    samples = h.cycle()
    health = by_target(samples, "aws_reservation_refresh_success")
    assert {r for (_, r, s) in health if s == "ec2"} == enabled
    memorydb = {r for (_, r, s) in health if s == "memorydb"}
    assert memorydb and memorydb < enabled  # only where botocore knows an endpoint
    assert set(health.values()) == {1.0}
    # The region list is cached: a second cycle does not call DescribeRegions again.
    fake_env.reset_calls()
    h.cycle()
    assert fake_env.calls(operation="DescribeRegions") == []


def test_role_chaining_assumes_from_the_source_account_session(fake_env):
    fake_env.add_role(ROLE.format(PROD), trusted_account_ids=[OWN_ACCOUNT])
    # Only production may assume analytics' role: a direct AssumeRole would be refused.
    fake_env.add_role(ROLE.format(ANALYTICS), trusted_account_ids=[PROD])
    fake_env.seed(ANALYTICS, "us-east-1", "rds", generate("rds", 3, NOW, ANALYTICS))
    h = Harness(
        {
            "regions": ["us-east-1"],
            "services": ["rds"],
            "accounts": [
                {"name": "production", "role_arn": ROLE.format(PROD)},
                {"name": "analytics", "role_arn": ROLE.format(ANALYTICS), "via": "production"},
            ],
        }
    )
    samples = h.cycle()
    assert set(by_target(samples, "aws_reservation_refresh_success").values()) == {1.0}
    assumed_by = sorted(c.account_id for c in fake_env.calls(operation="AssumeRole"))
    assert assumed_by == [OWN_ACCOUNT, PROD]


def test_role_chaining_is_really_needed(fake_env):
    fake_env.add_role(ROLE.format(ANALYTICS), trusted_account_ids=[PROD])
    h = Harness(
        {
            "regions": ["us-east-1"],
            "services": ["rds"],
            "accounts": [{"name": "analytics", "role_arn": ROLE.format(ANALYTICS)}],
        }
    )
    samples = h.cycle()
    assert set(by_target(samples, "aws_reservation_refresh_success").values()) == {0.0}


def test_profile_with_role_and_source_profile(fake_env, tmp_path, monkeypatch):
    key, secret = fake_env.credentials(OWN_ACCOUNT)
    credentials = configparser.ConfigParser()
    credentials["base"] = {"aws_access_key_id": key, "aws_secret_access_key": secret}
    config = configparser.ConfigParser()
    config["profile staging-reader"] = {
        "role_arn": ROLE.format(STAGING),
        "source_profile": "base",
        "region": "us-east-1",
    }
    (tmp_path / "credentials").write_text(_ini(credentials))
    (tmp_path / "config").write_text(_ini(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    fake_env.add_role(ROLE.format(STAGING))
    fake_env.seed(STAGING, "us-east-1", "ec2", generate("ec2", 2, NOW, STAGING))
    h = Harness(
        {
            "regions": ["us-east-1"],
            "services": ["ec2"],
            "accounts": [{"name": "staging", "profile": "staging-reader"}],
        }
    )
    samples = h.cycle()
    health = {
        dict(k[1])["account_id"]: v
        for k, v in samples.items()
        if k[0] == "aws_reservation_refresh_success"
    }
    assert health == {STAGING: 1.0}  # account_id learnt from GetCallerIdentity


def test_profile_needing_mfa_is_refused_by_the_daemon(fake_env, tmp_path, monkeypatch):
    config = configparser.ConfigParser()
    config["profile guarded"] = {
        "role_arn": ROLE.format(STAGING),
        "source_profile": "guarded",
        "mfa_serial": "arn:aws:iam::111111111111:mfa/alice",
    }
    (tmp_path / "config").write_text(_ini(config))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    h = Harness(
        {
            "regions": ["us-east-1"],
            "services": ["ec2"],
            "accounts": [{"name": "guarded", "profile": "guarded"}],
        }
    )
    samples = h.cycle()  # returns: no hanging prompt
    errors = {
        dict(k[1])["reason"] for k in samples if k[0] == "aws_reservation_refresh_errors_total"
    }
    assert errors == {"denied"}


def test_organizations_discovery_with_include_exclude(fake_env):
    fake_env.add_role(ROLE.format(PROD))
    for account_id, name, state in [
        ("555555555555", "team-alpha", "ACTIVE"),
        ("666666666666", "team-beta", "ACTIVE"),
        ("777777777777", "sandbox-gamma", "ACTIVE"),
        ("888888888888", "team-delta", "SUSPENDED"),
        ("999999999999", "team-alpha", "ACTIVE"),  # a repeated name
        (PROD, "prod-in-org", "ACTIVE"),  # also configured statically: static wins
    ]:
        fake_env.add_org_account(account_id, name, state=state, management_account_id=OWN_ACCOUNT)
        fake_env.add_role(ROLE.format(account_id))
    h = Harness(
        {
            "regions": ["us-east-1"],
            "services": ["ec2"],
            "accounts": [{"name": "production", "role_arn": ROLE.format(PROD)}],
            "organizations": {
                "enabled": True,
                "include": ["team-*", "2222*"],
                "exclude": ["666666666666"],
            },
        }
    )
    samples = h.cycle()
    accounts = {
        (dict(k[1])["account"], dict(k[1])["account_id"])
        for k in samples
        if k[0] == "aws_reservation_refresh_success"
    }
    assert accounts == {
        ("production", PROD),
        ("team-alpha", "555555555555"),
        ("team-alpha-999999999999", "999999999999"),
    }
    assert samples[("aws_reservation_accounts", frozenset())] == 3


def test_discovered_account_that_disappears_stops_being_exported(fake_env):
    fake_env.add_org_account("555555555555", "team-alpha", management_account_id=OWN_ACCOUNT)
    fake_env.add_role(ROLE.format("555555555555"))
    config = {"regions": ["us-east-1"], "services": ["ec2"], "organizations": {"enabled": True}}
    h = Harness(config)
    first = h.cycle()
    assert {k[0] for k in by_target(first, "aws_reservation_refresh_success")} >= {"team-alpha"}
    fake_env.add_org_account(
        "555555555555", "team-alpha", state="SUSPENDED", management_account_id=OWN_ACCOUNT
    )
    second = h.cycle()
    assert "team-alpha" not in {k[0] for k in by_target(second, "aws_reservation_refresh_success")}


def _ini(parser: configparser.ConfigParser) -> str:
    import io

    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def test_china_partition_role_uses_its_own_regions_and_endpoints(fake_env):
    role = f"arn:aws-cn:iam::{PROD}:role/ReservationExporter"
    fake_env.add_role(role)
    fake_env.seed(PROD, "cn-north-1", "rds", generate("rds", 3, NOW, PROD, "cn-north-1"))
    fake_env.seed(PROD, "global", "savingsplans", generate("savingsplans", 2, NOW, PROD))
    h = Harness(
        {
            "regions": ["cn-north-1"],
            "services": ["rds", "savingsplans"],
            "accounts": [{"name": "china", "role_arn": role}],
        }
    )
    samples = h.cycle()
    assert by_target(samples, "aws_reservation_refresh_success") == {
        ("china", "cn-north-1", "rds"): 1.0,
        ("china", "global", "savingsplans"): 1.0,
    }
    where = {(c.operation, c.region) for c in fake_env.calls()}
    assert where == {
        ("AssumeRole", "cn-northwest-1"),  # STS in the partition's home region
        ("DescribeReservedDBInstances", "cn-north-1"),
        ("DescribeSavingsPlans", "cn-northwest-1"),
    }
    assert len({k for k in samples if k[0] == "aws_reservation_info"}) == 5
