"""The seven reservation listings over HTTP with boto3: exact fields, paging,
filters and isolation per (account, region, service)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from botocore import xform_name
from botocore.model import Shape

from exporter.fake.catalog import SPECS, record_shape
from tests.fake.conftest import error_of
from tests.support import OWN_ACCOUNT

T0 = datetime(2025, 3, 1, 12, 30, tzinfo=timezone.utc)
PAGED = ("rds", "elasticache", "redshift", "memorydb", "opensearch", "savingsplans")


def sample(shape: Shape, name: str) -> Any:
    """A value for every member of ``shape``, so a record exercises all of them."""
    kind = shape.type_name
    if kind == "structure":
        return {key: sample(member, key) for key, member in shape.members.items()}
    if kind == "list":
        return [sample(shape.member, name)]
    if kind == "map":
        return {"team": "payments"}
    if kind == "timestamp":
        return T0
    if kind in ("integer", "long"):
        return 3
    if kind in ("double", "float"):
        return 0.125
    if kind == "boolean":
        return True
    return f"{name}-value"


def full_record(service: str, rid: str) -> dict[str, Any]:
    record = sample(record_shape(service), "record")
    record[SPECS[service].id_key] = rid
    return record


def listing(fake, service: str, account: str = OWN_ACCOUNT, region: str = "us-east-1", **kwargs):
    spec = SPECS[service]
    client = fake.client(spec.client_name, account, region)
    return getattr(client, xform_name(spec.operation))(**kwargs)


def minimal(service: str, rid: str) -> dict[str, Any]:
    return {SPECS[service].id_key: rid}


@pytest.mark.parametrize("service", list(SPECS))
def test_every_member_seeded_comes_back_and_nothing_else(fake, service):
    spec = SPECS[service]
    seeded = full_record(service, "00000000-0000-4000-8000-000000000001")
    fake.seed(OWN_ACCOUNT, "us-east-1", service, [seeded])

    response = listing(fake, service)

    assert set(response) - {"ResponseMetadata"} <= set(record_shape(service).members) | {
        spec.result_key,
        spec.token_key,
    }
    (record,) = response[spec.result_key]
    assert set(record) <= set(record_shape(service).members)
    assert record == seeded  # every key, nested ones too, with equal values


@pytest.mark.parametrize("service", list(SPECS))
def test_records_stay_in_their_account_and_region(fake, service):
    fake.seed(OWN_ACCOUNT, "us-east-1", service, [minimal(service, "mine")])
    fake.seed("222222222222", "us-east-1", service, [minimal(service, "theirs")])
    id_key, result_key = SPECS[service].id_key, SPECS[service].result_key

    assert [r[id_key] for r in listing(fake, service)[result_key]] == ["mine"]
    assert [r[id_key] for r in listing(fake, service, "222222222222")[result_key]] == ["theirs"]
    other_region = listing(fake, service, region="eu-west-1")[result_key]
    # Savings Plans are global: the same plans whatever region the client uses.
    assert [r[id_key] for r in other_region] == (["mine"] if service == "savingsplans" else [])


@pytest.mark.parametrize("service", PAGED)
def test_first_page_has_the_aws_default_size_and_a_token(fake, service):
    spec = SPECS[service]
    fake.seed(
        OWN_ACCOUNT, "us-east-1", service, [minimal(service, f"r-{i:03d}") for i in range(250)]
    )

    first = listing(fake, service)

    assert len(first[spec.result_key]) == 100
    assert first[spec.token_key]


@pytest.mark.parametrize("service", PAGED)
def test_token_loop_returns_every_record_once_in_pages_of_the_clients_size(fake, service):
    spec = SPECS[service]
    ids = [f"r-{i:03d}" for i in range(250)]
    fake.seed(OWN_ACCOUNT, "us-east-1", service, [minimal(service, rid) for rid in ids])
    size = 20 if spec.page_min == 20 else 7

    call = getattr(fake.client(spec.client_name, OWN_ACCOUNT), xform_name(spec.operation))
    seen, pages, kwargs = [], [], {spec.limit_key: size}
    while True:
        page = call(**kwargs)
        pages.append(len(page[spec.result_key]))
        seen += [r[spec.id_key] for r in page[spec.result_key]]
        if not page.get(spec.token_key):
            break
        kwargs = {spec.limit_key: size, spec.token_key: page[spec.token_key]}

    assert seen == ids
    assert max(pages) == size and len(pages) == -(-250 // size)


@pytest.mark.parametrize("service", ["rds", "elasticache", "redshift", "memorydb"])
def test_botocore_paginators_walk_all_pages(fake, service):
    spec = SPECS[service]
    fake.seed(
        OWN_ACCOUNT, "us-east-1", service, [minimal(service, f"r-{i:03d}") for i in range(230)]
    )
    client = fake.client(spec.client_name, OWN_ACCOUNT)

    pages = list(client.get_paginator(xform_name(spec.operation)).paginate())

    assert [len(p[spec.result_key]) for p in pages] == [100, 100, 30]


def test_ec2_returns_everything_in_one_unpaginated_call(fake):
    fake.seed(OWN_ACCOUNT, "us-east-1", "ec2", [minimal("ec2", f"ri-{i}") for i in range(250)])

    response = listing(fake, "ec2")

    assert len(response["ReservedInstances"]) == 250
    assert "NextToken" not in response


@pytest.mark.parametrize("service", ["rds", "elasticache", "redshift"])
def test_query_apis_refuse_page_sizes_outside_20_to_100(fake, service):
    spec = SPECS[service]
    code, message, status = error_of(lambda: listing(fake, service, **{spec.limit_key: 5}))
    assert (code, status) == ("InvalidParameterValue", 400)
    assert "20 to 100" in message


@pytest.mark.parametrize("service", PAGED)
def test_a_token_the_fake_did_not_issue_is_refused(fake, service):
    spec = SPECS[service]
    code, _, status = error_of(lambda: listing(fake, service, **{spec.token_key: "bm90LW91cnM"}))
    assert code == spec.invalid_code and status == 400


def test_ec2_honours_ids_and_filters(fake):
    fake.seed(
        OWN_ACCOUNT,
        "us-east-1",
        "ec2",
        [
            {"ReservedInstancesId": "a", "State": "active", "InstanceType": "m5.large"},
            {"ReservedInstancesId": "b", "State": "retired", "InstanceType": "m5.large"},
            {"ReservedInstancesId": "c", "State": "active", "InstanceType": "c6i.large"},
        ],
    )

    def ids(**kwargs):
        return [
            r["ReservedInstancesId"] for r in listing(fake, "ec2", **kwargs)["ReservedInstances"]
        ]

    assert ids(ReservedInstancesIds=["b", "c"]) == ["b", "c"]
    assert ids(Filters=[{"Name": "state", "Values": ["active"]}]) == ["a", "c"]
    assert ids(
        Filters=[
            {"Name": "state", "Values": ["active"]},
            {"Name": "instance-type", "Values": ["m5.large"]},
        ]
    ) == ["a"]
    code, _, _ = error_of(lambda: ids(Filters=[{"Name": "tag:team", "Values": ["x"]}]))
    assert code == "InvalidParameterValue"


@pytest.mark.parametrize(
    ("service", "argument", "code", "status"),
    [
        ("rds", "ReservedDBInstanceId", "ReservedDBInstanceNotFound", 404),
        ("elasticache", "ReservedCacheNodeId", "ReservedCacheNodeNotFound", 404),
        ("redshift", "ReservedNodeId", "ReservedNodeNotFound", 404),
        ("memorydb", "ReservationId", "ReservedNodeNotFoundFault", 400),
    ],
)
def test_id_filter_finds_one_reservation_or_answers_not_found(
    fake, service, argument, code, status
):
    fake.seed(
        OWN_ACCOUNT, "us-east-1", service, [minimal(service, "keep"), minimal(service, "other")]
    )
    id_key, result_key = SPECS[service].id_key, SPECS[service].result_key

    found = listing(fake, service, **{argument: "keep"})[result_key]

    assert [r[id_key] for r in found] == ["keep"]
    assert error_of(lambda: listing(fake, service, **{argument: "missing"}))[::2] == (code, status)


def test_savings_plans_filter_by_state_and_id(fake):
    fake.seed(
        OWN_ACCOUNT,
        "global",
        "savingsplans",
        [
            {"savingsPlanId": "p1", "state": "active"},
            {"savingsPlanId": "p2", "state": "queued"},
            {"savingsPlanId": "p3", "state": "retired"},
        ],
    )

    def ids(**kwargs):
        return [p["savingsPlanId"] for p in listing(fake, "savingsplans", **kwargs)["savingsPlans"]]

    assert ids(states=["queued", "retired"]) == ["p2", "p3"]
    assert ids(savingsPlanIds=["p1"]) == ["p1"]


def test_seeding_appends_to_what_a_target_holds(fake):
    assert fake.seed(OWN_ACCOUNT, "us-east-1", "rds", [minimal("rds", "one")]) == 1
    assert fake.seed(OWN_ACCOUNT, "us-east-1", "rds", [minimal("rds", "two")]) == 2

    ids = [r["ReservedDBInstanceId"] for r in listing(fake, "rds")["ReservedDBInstances"]]

    assert ids == ["one", "two"]


def test_reset_forgets_seeded_records(fake):
    fake.seed(OWN_ACCOUNT, "us-east-1", "memorydb", [minimal("memorydb", "gone")])
    fake.reset()
    assert listing(fake, "memorydb")["ReservedNodes"] == []
