"""Reservation tags over HTTP with boto3: EC2 and Savings Plans in their
listings, RDS, ElastiCache and MemoryDB through their tag APIs by ARN; tag
changes, unknown ARNs, denied and throttled tag reads, and the call log."""

from __future__ import annotations

import pytest
from botocore import xform_name
from botocore.config import Config

from exporter.fake.catalog import SPECS
from tests.fake.conftest import error_of
from tests.support import OWN_ACCOUNT

PROD = "222222222222"
REGION = "us-east-1"

# service -> (id, ARN AWS gives it, how to read its tags)
TAG_API = {
    "rds": (
        "db-ri-1",
        f"arn:aws:rds:{REGION}:{OWN_ACCOUNT}:ri:db-ri-1",
        lambda client, arn: client.list_tags_for_resource(ResourceName=arn),
    ),
    "elasticache": (
        "cache-ri-1",
        f"arn:aws:elasticache:{REGION}:{OWN_ACCOUNT}:reserved-instance:cache-ri-1",
        lambda client, arn: client.list_tags_for_resource(ResourceName=arn),
    ),
    "memorydb": (
        "mem-ri-1",
        f"arn:aws:memorydb:{REGION}:{OWN_ACCOUNT}:reservednode/mem-ri-1",
        lambda client, arn: client.list_tags(ResourceArn=arn),
    ),
}
# The service's own error for an ARN of no reservation (code, HTTP status).
NOT_FOUND = {
    "rds": ("ReservedDBInstanceNotFound", 404),
    "elasticache": ("ReservedCacheNodeNotFound", 404),
    "memorydb": ("ReservedNodeNotFoundFault", 400),
}
DENIED = {
    "rds": ("AccessDenied", 403),
    "elasticache": ("AccessDenied", 403),
    "memorydb": ("AccessDeniedException", 400),
}


def seed_with_arn(fake, service: str, account: str = OWN_ACCOUNT, region: str = REGION) -> str:
    """Seed one reservation that names its ARN, as AWS's listing does; return the ARN."""
    spec = SPECS[service]
    rid, arn, _ = TAG_API[service]
    arn = arn.replace(OWN_ACCOUNT, account).replace(REGION, region)
    fake.seed(account, region, service, [{spec.id_key: rid, spec.arn_key: arn}])
    return arn


def read_tags(fake, service: str, arn: str, account: str = OWN_ACCOUNT, region: str = REGION, **kw):
    _, _, call = TAG_API[service]
    return call(fake.client(SPECS[service].client_name, account, region, **kw), arn)["TagList"]


@pytest.mark.parametrize("service", list(TAG_API))
def test_tag_api_returns_the_reservations_tags_by_arn(fake, service):
    arn = seed_with_arn(fake, service)
    fake.tag_reservation(
        OWN_ACCOUNT, REGION, service, arn, {"Team": "payments", "CostCenter": "CC-1"}
    )

    assert read_tags(fake, service, arn) == [
        {"Key": "Team", "Value": "payments"},
        {"Key": "CostCenter", "Value": "CC-1"},
    ]
    assert fake.calls(service=service, operation=SPECS[service].tags_operation) == [
        (OWN_ACCOUNT, REGION, service, SPECS[service].tags_operation, "ok")
    ]


@pytest.mark.parametrize("service", list(TAG_API))
def test_an_untagged_reservation_has_an_empty_tag_list(fake, service):
    arn = seed_with_arn(fake, service)
    assert read_tags(fake, service, arn) == []


@pytest.mark.parametrize("service", list(TAG_API))
def test_a_reservation_seeded_without_its_arn_answers_to_the_arn_aws_gives_it(fake, service):
    rid, arn, _ = TAG_API[service]
    fake.seed(OWN_ACCOUNT, REGION, service, [{SPECS[service].id_key: rid}])
    fake.tag_reservation(OWN_ACCOUNT, REGION, service, rid, {"Team": "search"})  # by id

    assert read_tags(fake, service, arn) == [{"Key": "Team", "Value": "search"}]


@pytest.mark.parametrize("service", list(TAG_API))
def test_a_tag_change_is_visible_on_the_next_read(fake, service):
    arn = seed_with_arn(fake, service)
    fake.tag_reservation(OWN_ACCOUNT, REGION, service, arn, {"Team": "payments", "Old": "x"})
    assert read_tags(fake, service, arn) == [
        {"Key": "Team", "Value": "payments"},
        {"Key": "Old", "Value": "x"},
    ]

    fake.tag_reservation(OWN_ACCOUNT, REGION, service, arn, {"Team": "checkout"})  # replaces all

    assert read_tags(fake, service, arn) == [{"Key": "Team", "Value": "checkout"}]
    fake.tag_reservation(OWN_ACCOUNT, REGION, service, arn, {})
    assert read_tags(fake, service, arn) == []


@pytest.mark.parametrize("service", list(TAG_API))
def test_an_unknown_reservation_arn_answers_the_services_not_found_error(fake, service):
    arn = seed_with_arn(fake, service)
    missing = arn[: -len("1")] + "9"

    code, message, status = error_of(lambda: read_tags(fake, service, missing))

    assert (code, status) == NOT_FOUND[service]
    assert "not found" in message
    assert fake.calls()[-1].outcome == "error"


@pytest.mark.parametrize("service", list(TAG_API))
def test_tags_stay_in_their_account_and_region(fake, service):
    arn = seed_with_arn(fake, service)
    fake.tag_reservation(OWN_ACCOUNT, REGION, service, arn, {"Team": "payments"})
    elsewhere = seed_with_arn(fake, service, PROD, "eu-west-1")
    fake.tag_reservation(PROD, "eu-west-1", service, elsewhere, {"Team": "search"})

    assert read_tags(fake, service, elsewhere, PROD, "eu-west-1") == [
        {"Key": "Team", "Value": "search"}
    ]
    # The same ARN asked in another region or by another account names nothing there.
    assert (
        error_of(lambda: read_tags(fake, service, arn, OWN_ACCOUNT, "eu-west-1"))[0]
        == (NOT_FOUND[service][0])
    )
    assert error_of(lambda: read_tags(fake, service, arn, PROD))[0] == NOT_FOUND[service][0]


def test_arns_of_other_resources_still_reach_motos_own_tags(fake):
    rds = fake.client("rds", OWN_ACCOUNT)
    rds.create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="password-of-the-fake",
        AllocatedStorage=20,
        Tags=[{"Key": "Team", "Value": "orders"}],
    )
    arn = rds.describe_db_instances()["DBInstances"][0]["DBInstanceArn"]

    assert rds.list_tags_for_resource(ResourceName=arn)["TagList"] == [
        {"Key": "Team", "Value": "orders"}
    ]
    cache = fake.client("elasticache", OWN_ACCOUNT)
    cache.create_cache_cluster(
        CacheClusterId="sessions",
        Engine="redis",
        CacheNodeType="cache.t4g.micro",
        NumCacheNodes=1,
        Tags=[{"Key": "Team", "Value": "web"}],
    )
    arn = cache.describe_cache_clusters()["CacheClusters"][0]["ARN"]

    assert cache.list_tags_for_resource(ResourceName=arn)["TagList"] == [
        {"Key": "Team", "Value": "web"}
    ]


@pytest.mark.parametrize("service", list(TAG_API))
def test_a_denied_tag_read_is_refused_with_the_protocols_access_error(fake, service):
    arn = seed_with_arn(fake, service)
    action = f"{SPECS[service].signing_name}:{SPECS[service].tags_operation}"
    fake.deny(OWN_ACCOUNT, action)

    code, message, status = error_of(lambda: read_tags(fake, service, arn))

    assert (code, status) == DENIED[service]
    assert f"is not authorized to perform: {action}" in message
    assert fake.calls(service=service)[-1].outcome == "denied"
    # Denying the tag read leaves the listing allowed.
    client = fake.client(SPECS[service].client_name, OWN_ACCOUNT)
    listing = getattr(client, xform_name(SPECS[service].operation))()
    assert len(listing[SPECS[service].result_key]) == 1


@pytest.mark.parametrize("service", list(TAG_API))
def test_tag_reads_are_throttled_and_retried_like_any_call(fake, service):
    arn = seed_with_arn(fake, service)
    fake.tag_reservation(OWN_ACCOUNT, REGION, service, arn, {"Team": "payments"})
    fake.throttle(service, SPECS[service].tags_operation, 1)
    retrying = Config(retries={"mode": "standard", "total_max_attempts": 2})

    assert read_tags(fake, service, arn, config=retrying) == [{"Key": "Team", "Value": "payments"}]
    assert [c.outcome for c in fake.calls(service=service)] == ["throttled", "ok"]


def test_tag_reads_are_counted_per_call(fake):
    arns = []
    for n in range(3):
        rid = f"db-ri-{n}"
        fake.seed(OWN_ACCOUNT, REGION, "rds", [{"ReservedDBInstanceId": rid}])
        arns.append(f"arn:aws:rds:{REGION}:{OWN_ACCOUNT}:ri:{rid}")
    for arn in arns + arns[:1]:
        read_tags(fake, "rds", arn)
    fake.client("rds", OWN_ACCOUNT).describe_reserved_db_instances()

    assert len(fake.calls(service="rds", operation="ListTagsForResource")) == 4
    assert len(fake.calls(service="rds", operation="DescribeReservedDBInstances")) == 1


def test_corruption_applies_to_tag_reads(fake):
    from botocore.parsers import ResponseParserError

    arn = seed_with_arn(fake, "rds")
    fake.corrupt("garbage", service="rds", operation="ListTagsForResource", count=1)

    with pytest.raises(ResponseParserError):
        read_tags(fake, "rds", arn)
    assert read_tags(fake, "rds", arn) == []  # count=1: the next answer is whole


# --- tags in the listings: EC2 and Savings Plans ------------------------------------


def raw_body_of(client, event: str) -> list[bytes]:
    """The raw bodies of the answers ``client`` parses for ``event``."""
    bodies: list[bytes] = []

    def keep(response_dict, **_):
        bodies.append(response_dict["body"])

    client.meta.events.register(f"before-parse.{event}", keep)
    return bodies


def test_ec2_tags_seeded_in_the_record_travel_as_a_tag_set(fake):
    tags = [{"Key": "Team", "Value": "payments"}, {"Key": "CostCenter", "Value": "CC-1"}]
    fake.seed(OWN_ACCOUNT, REGION, "ec2", [{"ReservedInstancesId": "ri-1", "Tags": tags}])
    ec2 = fake.client("ec2", OWN_ACCOUNT)
    bodies = raw_body_of(ec2, "ec2.DescribeReservedInstances")

    (record,) = ec2.describe_reserved_instances()["ReservedInstances"]

    assert record["Tags"] == tags
    assert (
        b"<tagSet><item><key>Team</key><value>payments</value></item>"
        b"<item><key>CostCenter</key><value>CC-1</value></item></tagSet>"
    ) in b"".join(bodies[0].split())


def test_ec2_tags_change_through_the_control_surface(fake):
    fake.seed(
        OWN_ACCOUNT,
        REGION,
        "ec2",
        [{"ReservedInstancesId": "ri-1"}, {"ReservedInstancesId": "ri-2"}],
    )
    ec2 = fake.client("ec2", OWN_ACCOUNT)
    assert [r.get("Tags") for r in ec2.describe_reserved_instances()["ReservedInstances"]] == [
        None,
        None,
    ]

    fake.tag_reservation(OWN_ACCOUNT, REGION, "ec2", "ri-2", {"Team": "search"})
    first = ec2.describe_reserved_instances()["ReservedInstances"]
    fake.tag_reservation(OWN_ACCOUNT, REGION, "ec2", "ri-2", {"Team": "relevance"})
    second = ec2.describe_reserved_instances()["ReservedInstances"]

    assert [r.get("Tags") for r in first] == [None, [{"Key": "Team", "Value": "search"}]]
    assert [r.get("Tags") for r in second] == [None, [{"Key": "Team", "Value": "relevance"}]]


def test_savings_plan_tags_are_a_map_seeded_or_set_by_arn(fake):
    arn = f"arn:aws:savingsplans::{OWN_ACCOUNT}:savingsplan/sp-2"
    fake.seed(
        OWN_ACCOUNT,
        "global",
        "savingsplans",
        [{"savingsPlanId": "sp-1", "tags": {"Team": "finops"}}, {"savingsPlanId": "sp-2"}],
    )
    sp = fake.client("savingsplans", OWN_ACCOUNT)

    fake.tag_reservation(OWN_ACCOUNT, "eu-west-1", "savingsplans", arn, {"Team": "checkout"})
    plans = sp.describe_savings_plans()["savingsPlans"]

    assert [(p["savingsPlanId"], p.get("tags")) for p in plans] == [
        ("sp-1", {"Team": "finops"}),
        ("sp-2", {"Team": "checkout"}),
    ]


def test_listing_tags_are_denied_with_the_listing_itself(fake):
    fake.seed(OWN_ACCOUNT, REGION, "ec2", [{"ReservedInstancesId": "ri-1", "Tags": []}])
    fake.deny(OWN_ACCOUNT, "ec2:DescribeReservedInstances")
    assert error_of(fake.client("ec2", OWN_ACCOUNT).describe_reserved_instances)[0] == (
        "UnauthorizedOperation"
    )


# --- the control surface refuses what AWS cannot have ------------------------------------


@pytest.mark.parametrize("service", ["redshift", "opensearch"])
def test_services_without_reservation_tags_refuse_them(fake, service):
    fake.seed(OWN_ACCOUNT, REGION, service, [{SPECS[service].id_key: "r-1"}])
    with pytest.raises(ValueError, match="have no tags in AWS"):
        fake.tag_reservation(OWN_ACCOUNT, REGION, service, "r-1", {"Team": "x"})


def test_tagging_needs_a_seeded_reservation_and_valid_tags(fake):
    fake.seed(OWN_ACCOUNT, REGION, "rds", [{"ReservedDBInstanceId": "db-1"}])
    with pytest.raises(ValueError, match="no rds reservation 'db-2' seeded"):
        fake.tag_reservation(OWN_ACCOUNT, REGION, "rds", "db-2", {"Team": "x"})
    with pytest.raises(ValueError, match="tag key"):
        fake.tag_reservation(OWN_ACCOUNT, REGION, "rds", "db-1", {"": "x"})
    with pytest.raises(ValueError, match="tag value"):
        fake.tag_reservation(OWN_ACCOUNT, REGION, "rds", "db-1", {"Team": "x" * 257})
    with pytest.raises(ValueError, match="at most 50 tags"):
        fake.tag_reservation(OWN_ACCOUNT, REGION, "rds", "db-1", {f"k{i}": "v" for i in range(51)})


def test_reset_forgets_reservation_tags(fake):
    arn = seed_with_arn(fake, "rds")
    fake.tag_reservation(OWN_ACCOUNT, REGION, "rds", arn, {"Team": "payments"})
    fake.reset()
    seed_with_arn(fake, "rds")
    assert read_tags(fake, "rds", arn) == []
