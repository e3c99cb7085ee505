"""exporter.capacity: pools and quantities of reservations."""

from __future__ import annotations

import pytest

from exporter.capacity import (
    COMMITMENT,
    INSTANCES,
    NORMALIZED_UNITS,
    capacity_of,
    size_factor,
    split_type,
)
from exporter.model import Reservation


def reservation(instance_type: str, count: int = 1, **kw) -> Reservation:
    kw.setdefault("product", "Linux/UNIX")
    kw.setdefault("tenancy", "default")
    return Reservation(
        reservation_id="r",
        state="active",
        start=0.0,
        end=1.0,
        instance_count=count,
        instance_type=instance_type,
        **kw,
    )


@pytest.mark.parametrize(
    ("instance_type", "factor"),
    [
        ("t3.nano", 0.25),
        ("t3.micro", 0.5),
        ("t3.small", 1),
        ("t3.medium", 2),
        ("m5.large", 4),
        ("m5.xlarge", 8),
        ("m5.2xlarge", 16),
        ("m5.4xlarge", 32),
        ("c5.9xlarge", 72),
        ("m5.24xlarge", 192),
        ("m5.metal", 192),
        ("m6i.metal", 256),
        ("m6g.metal", 128),
        ("c7i.metal-24xl", 192),
        ("c7i.metal-48xl", 384),
        ("db.r6g.large", 4),
        ("cache.t4g.medium", 2),
        ("M5.XLARGE", 8),
    ],
)
def test_size_factor(instance_type: str, factor: float) -> None:
    assert size_factor(instance_type) == factor


@pytest.mark.parametrize("instance_type", ["u-6tb1.metal", "m5.huge", "m5", "", "a.b.c"])
def test_sizes_without_a_known_factor(instance_type: str) -> None:
    assert size_factor(instance_type) is None


def test_split_type_drops_the_service_prefix() -> None:
    assert split_type("db.r6g.2xlarge") == ("r6g", "2xlarge")
    assert split_type("cache.m6g.large") == ("m6g", "large")
    assert split_type("m5.large") == ("m5", "large")


def test_regional_linux_ec2_pools_by_family_in_normalized_units() -> None:
    c = capacity_of("ec2", "us-east-1", reservation("m5.xlarge", 3, scope="Region"))
    assert c.pool == ("ec2", "us-east-1", "m5", "Linux/UNIX")
    assert (c.quantity, c.unit) == (24.0, NORMALIZED_UNITS)


def test_zonal_ec2_pools_by_exact_type_and_zone() -> None:
    r = reservation("m5.xlarge", 2, scope="Availability Zone", availability_zone="us-east-1a")
    c = capacity_of("ec2", "us-east-1", r)
    assert c.pool == ("ec2", "us-east-1", "m5.xlarge", "Linux/UNIX", "default", "us-east-1a")
    assert (c.quantity, c.unit) == (2.0, INSTANCES)


@pytest.mark.parametrize(
    "kw",
    [
        {"product": "Windows"},
        {"product": "Red Hat Enterprise Linux"},
        {"tenancy": "dedicated"},
        {"instance_type": "g5.xlarge"},
        {"instance_type": "u-6tb1.metal"},
    ],
)
def test_ec2_without_size_flexibility_counts_instances_of_the_exact_type(kw: dict) -> None:
    instance_type = kw.pop("instance_type", "m5.xlarge")
    c = capacity_of("ec2", "us-east-1", reservation(instance_type, 2, **kw))
    assert c.pool[2] == instance_type
    assert (c.quantity, c.unit) == (2.0, INSTANCES)


@pytest.mark.parametrize(
    ("engine", "flexible"),
    [
        ("postgresql", True),
        ("mysql", True),
        ("mariadb", True),
        ("aurora-postgresql", True),
        ("aurora-mysql", True),
        ("oracle-ee(byol)", True),
        ("oracle-se2(li)", False),
        ("sqlserver-se(li)", False),
    ],
)
def test_rds_engines(engine: str, flexible: bool) -> None:
    r = reservation("db.r6g.xlarge", 1, product=engine, multi_az="true", tenancy="")
    c = capacity_of("rds", "eu-west-1", r)
    if flexible:
        assert c.pool == ("rds", "eu-west-1", "r6g", engine)
        assert (c.quantity, c.unit) == (16.0, NORMALIZED_UNITS)  # Multi-AZ counts double
    else:
        assert c.pool == ("rds", "eu-west-1", "db.r6g.xlarge", engine, "true")
        assert (c.quantity, c.unit) == (1.0, INSTANCES)


def test_savings_plans_count_commitment_per_type_and_currency() -> None:
    compute = Reservation(
        "sp", "active", 0.0, 1.0, plan_type="Compute", hourly_cost=2.5, region="global"
    )
    c = capacity_of("savingsplans", "global", compute)
    assert c.pool == ("savingsplans", "Compute", "USD")
    assert (c.quantity, c.unit) == (2.5, COMMITMENT)
    ec2 = Reservation(
        "sp",
        "active",
        0.0,
        1.0,
        plan_type="EC2Instance",
        instance_type="m5",
        hourly_cost=1.0,
        region="eu-west-1",
    )
    assert capacity_of("savingsplans", "global", ec2).pool == (
        "savingsplans",
        "EC2Instance",
        "m5",
        "eu-west-1",
        "USD",
    )


def test_opensearch_and_redshift_count_instances_of_the_exact_type() -> None:
    for service, instance_type in (("opensearch", "r6g.large.search"), ("redshift", "ra3.4xlarge")):
        c = capacity_of(service, "us-east-1", reservation(instance_type, 3, product=""))
        assert c.pool == (service, "us-east-1", instance_type)
        assert (c.quantity, c.unit) == (3.0, INSTANCES)
