"""Owner labels over HTTP against the fake AWS: reservation tags of each
service that has them, account tags and OU path from Organizations, the
precedence between them, the re-read interval (calls counted at the fake)
and tag reads that are denied."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from exporter.aws import ClientFactory
from exporter.collector import render
from exporter.config import parse_config
from exporter.fake.demo_data import OFFERINGS, TERMS, make_record, make_savings_plan
from exporter.refresher import Refresher
from exporter.store import SnapshotStore
from exporter.telemetry import Telemetry
from tests.support import OWN_ACCOUNT, parse_samples

PROD = "222222222222"
ROLE = f"arn:aws:iam::{PROD}:role/ReservationExporter"
REGION = "us-east-1"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
REGIONAL = ("ec2", "rds", "elasticache", "redshift", "opensearch", "memorydb")
# Where a reservation's own tags come from; the others take their account's.
TAGGED = ("ec2", "rds", "elasticache", "memorydb", "savingsplans")
# The tag calls the fake counts (one per reservation).
TAG_CALLS = {
    "rds": "ListTagsForResource",
    "elasticache": "ListTagsForResource",
    "memorydb": "ListTags",
}
HOUR = 3600.0

CONFIG = {
    "refresh_interval": "1h",
    "regions": [REGION],
    "services": [*REGIONAL, "savingsplans"],
    "concurrency": 4,
    "accounts": [{"name": "payer"}, {"name": "production", "role_arn": ROLE}],
    # The exporter's own account is the management account.
    "organizations": {"enabled": True},
    "owner_labels": {"team": "Team", "cost_center": "CostCenter"},
    "owner_labels_refresh": "1h",
}


def rid(service: str, n: int = 1) -> str:
    return f"{service}-{n}"


def plan_id(n: int = 1) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def record(service: str, n: int = 1) -> dict:
    start = NOW - timedelta(days=100)
    if service == "savingsplans":
        return make_savings_plan(
            plan_id=plan_id(n), account_id=PROD, start=start, years=1, state="active"
        )
    return make_record(
        service,
        rid=rid(service, n),
        account_id=PROD,
        region=REGION,
        start=start,
        seconds=TERMS[1],
        state="active",
        offering=OFFERINGS[service][0],
    )


def seed(fake, per_service: int = 1) -> None:
    fake.add_role(ROLE)
    fake.add_org_account(
        PROD,
        "production",
        management_account_id=OWN_ACCOUNT,
        tags={"Team": "platform", "CostCenter": "cc-prod"},
        ou_path="Workloads/Payments",
    )
    for service in REGIONAL:
        fake.seed(PROD, REGION, service, [record(service, n) for n in range(1, per_service + 1)])
    fake.seed(PROD, "global", "savingsplans", [record("savingsplans")])


def reservation_key(service: str) -> str:
    return plan_id() if service == "savingsplans" else rid(service)


def tag_each(fake, team: str = "{service}-team") -> None:
    """Give every reservation that can have tags a Team tag of its own."""
    for service in TAGGED:
        region = "global" if service == "savingsplans" else REGION
        fake.tag_reservation(
            PROD, region, service, reservation_key(service), {"Team": team.format(service=service)}
        )


class Owners:
    """A refresher with its own clock, rendering what /metrics would."""

    def __init__(self, config: dict) -> None:
        self.offset = 0.0
        self.telemetry = Telemetry()
        self.store = SnapshotStore()
        self.refresher = Refresher(
            parse_config(config),
            factory=ClientFactory(concurrency=4, on_session=self.telemetry.hook_session),
            store=self.store,
            telemetry=self.telemetry,
            clock=lambda: time.time() + self.offset,
        )

    def cycle(self, after: float = 0.0) -> dict:
        self.offset += after
        assert self.refresher.run_cycle()
        from prometheus_client import generate_latest

        text = render(self.store.snapshot(), time.time(), self.store.account_lines())
        return parse_samples(text + generate_latest(self.telemetry.registry).decode())


def owners(samples: dict) -> dict[tuple[str, str], tuple[str, str]]:
    """(service, reservation id) -> (team, cost_center) of aws_reservation_owner_info."""
    found = {}
    for (name, labels), value in samples.items():
        if name == "aws_reservation_owner_info":
            lbl = dict(labels)
            assert value == 1
            found[(lbl["service"], lbl["reservation_id"])] = (lbl["team"], lbl["cost_center"])
    return found


def accounts(samples: dict) -> dict[str, dict[str, str]]:
    return {
        dict(labels)["account"]: dict(labels)
        for (name, labels), _ in samples.items()
        if name == "aws_reservation_account_info"
    }


def tag_errors(samples: dict) -> dict[tuple[str, str, str], float]:
    return {
        (dict(k[1])["account"], dict(k[1])["service"], dict(k[1])["reason"]): v
        for k, v in samples.items()
        if k[0] == "aws_reservation_tag_read_errors_total"
    }


def tag_calls(fake, service: str) -> int:
    return len(fake.calls(account_id=PROD, service=service, operation=TAG_CALLS[service]))


@pytest.fixture
def org(fake_env):
    seed(fake_env)
    return fake_env


def test_each_service_with_reservation_tags_gives_its_own_team(org) -> None:
    tag_each(org)
    samples = Owners(CONFIG).cycle()
    found = owners(samples)
    for service in TAGGED:
        # the reservation's Team wins; CostCenter it lacks comes from its account
        assert found[(service, reservation_key(service))] == (f"{service}-team", "cc-prod")
    for service in ("redshift", "opensearch"):  # no reservation tags in AWS
        assert found[(service, rid(service))] == ("platform", "cc-prod")
    assert len(found) == 7
    assert tag_errors(samples) == {}


def test_account_tags_ou_path_and_payer_come_from_organizations(org) -> None:
    samples = Owners(CONFIG).cycle()
    production = accounts(samples)["production"]
    assert production == {
        "account": "production",
        "account_id": PROD,
        "payer_account_id": OWN_ACCOUNT,
        "ou_path": "Root/Workloads/Payments",
        "team": "platform",
        "cost_center": "cc-prod",
    }
    payer = accounts(samples)["payer"]
    assert (payer["payer_account_id"], payer["ou_path"], payer["team"]) == (OWN_ACCOUNT, "Root", "")
    # untagged reservations all carry the account's owner
    assert set(owners(samples).values()) == {("platform", "cc-prod")}


def test_tags_are_read_at_once_for_new_reservations_and_again_only_after_the_interval(
    org,
) -> None:
    tag_each(org, team="first")
    owners_ = Owners(CONFIG)
    first = owners_.cycle()
    assert owners(first)[("rds", rid("rds"))] == ("first", "cc-prod")
    assert {s: tag_calls(org, s) for s in TAG_CALLS} == dict.fromkeys(TAG_CALLS, 1)
    org_tag_reads = len(org.calls(operation="ListTagsForResource", service="organizations"))

    # Ten minutes on: a tag changed and one reservation is new. Only the new
    # one is read; the changed tag shows after the interval.
    tag_each(org, team="second")
    org.seed(PROD, REGION, "rds", [record("rds", 2)])
    org.tag_reservation(PROD, REGION, "rds", rid("rds", 2), {"Team": "new"})
    second = owners_.cycle(after=600)
    assert owners(second)[("rds", rid("rds"))] == ("first", "cc-prod")
    assert owners(second)[("rds", rid("rds", 2))] == ("new", "cc-prod")
    assert {s: tag_calls(org, s) for s in TAG_CALLS} == {"rds": 2, "elasticache": 1, "memorydb": 1}
    assert len(org.calls(operation="ListTagsForResource", service="organizations")) == org_tag_reads

    # An hour after the first read, everything is read again.
    third = owners_.cycle(after=HOUR)
    assert owners(third)[("rds", rid("rds"))] == ("second", "cc-prod")
    assert owners(third)[("elasticache", rid("elasticache"))] == ("second", "cc-prod")
    assert {s: tag_calls(org, s) for s in TAG_CALLS} == {"rds": 4, "elasticache": 2, "memorydb": 2}
    assert len(org.calls(operation="ListTagsForResource", service="organizations")) > org_tag_reads
    # EC2 and Savings Plans tags come with each listing: always current.
    assert owners(second)[("ec2", rid("ec2"))] == ("second", "cc-prod")


def test_no_owner_labels_no_tag_calls(fake_env) -> None:
    seed(fake_env)
    tag_each(fake_env)
    config = {k: v for k, v in CONFIG.items() if not k.startswith("owner_labels")}
    samples = Owners(config).cycle()
    assert owners(samples) == {}
    assert {s: tag_calls(fake_env, s) for s in TAG_CALLS} == dict.fromkeys(TAG_CALLS, 0)
    # the account's place in the organization is still exported
    assert accounts(samples)["production"]["ou_path"] == "Root/Workloads/Payments"


def test_a_denied_tag_read_degrades_to_the_accounts_owner_and_is_counted(org) -> None:
    org.seed(PROD, REGION, "rds", [record("rds", 2), record("rds", 3)])
    tag_each(org)
    org.deny(PROD, "rds:ListTagsForResource")
    samples = Owners(CONFIG).cycle()
    success = {
        dict(k[1])["service"]: v
        for k, v in samples.items()
        if k[0] == "aws_reservation_refresh_success" and dict(k[1])["account"] == "production"
    }
    assert set(success.values()) == {1.0}  # never a failed target
    found = owners(samples)
    assert {found[("rds", rid("rds", n))] for n in (1, 2, 3)} == {("platform", "cc-prod")}
    assert found[("elasticache", rid("elasticache"))] == ("elasticache-team", "cc-prod")
    assert tag_errors(samples) == {("production", "rds", "denied"): 1.0}
    # Denied once: the other two reservations were not tried in that cycle.
    assert tag_calls(org, "rds") == 1


def test_a_denied_organization_read_keeps_reservations_and_is_counted(org) -> None:
    org.deny(OWN_ACCOUNT, "organizations:ListParents")
    samples = Owners(CONFIG).cycle()
    production = accounts(samples)["production"]
    assert (production["ou_path"], production["team"]) == ("", "")
    assert tag_errors(samples) == {
        ("payer", "organizations", "denied"): 1.0,
        ("production", "organizations", "denied"): 1.0,
    }
    assert len(owners(samples)) == 7
