"""The demo data: every service in every state that matters, renewals, roles
reachable exactly as the generated exporter config says."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from botocore import xform_name

from exporter.config import parse_config
from exporter.fake.catalog import SPECS
from exporter.fake.demo_data import demo_config, demo_config_yaml, generate, seed_demo
from exporter.services import REGISTRY
from tests.fake.conftest import error_of, ou_path, session_client, tag_map
from tests.support import OWN_ACCOUNT

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc)
DAY = 86400.0


@pytest.fixture
def demo(fake):
    return seed_demo(fake, NOW)


@pytest.fixture(scope="module")
def world(server):
    """(layout, everything listed) of one demo seeding, read once for the module."""
    server.reset()
    layout = seed_demo(server, NOW)
    return layout, everything(server, layout)


def clients_by_account(fake, layout):
    """A client factory per demo account, reached the way the config says."""
    sts = fake.client("sts", layout.own_account_id)
    sessions = {}
    for account in layout.accounts:
        if account.role_arn is None:
            sessions[account.name] = None
            continue
        caller = sts
        if account.via:
            caller = session_client(fake, sessions[account.via], "sts")
        kwargs = {"ExternalId": account.external_id} if account.external_id else {}
        sessions[account.name] = caller.assume_role(
            RoleArn=account.role_arn, RoleSessionName="demo-test", **kwargs
        )["Credentials"]

    def client(account, service, region):
        credentials = sessions[account.name]
        if credentials is None:
            return fake.client(service, account.account_id, region)
        return session_client(fake, credentials, service, region_name=region)

    return client


def everything(fake, layout):
    """{service: [(account name, raw record)]} read through the real STS paths."""
    client = clients_by_account(fake, layout)
    found = {service: [] for service in SPECS}
    for account in layout.accounts:
        for service, spec in SPECS.items():
            regions = ["us-east-1"] if spec.is_global else layout.regions
            for region in regions:
                api = client(account, spec.client_name, region)
                records = list(REGISTRY[service].list_records(api))
                found[service] += [(account.name, record) for record in records]
    return found


def scenarios(service: str, records) -> set[str]:
    seen = set()
    for _, record in records:
        reservation = REGISTRY[service].parse(record)
        days = (reservation.end - NOW.timestamp()) / DAY
        state = reservation.state
        if state == "active":
            if 1 <= days < 2:
                seen.add("expires in 1-2 days")
            elif 2 <= days < 7:
                seen.add("expires within a week")
            elif 7 <= days < 60:
                seen.add("expires in weeks")
            elif days >= 60:
                seen.add("expires in months")
        elif state == "retired":
            seen.add("retired recently" if -30 < days < 0 else "retired long ago")
        else:
            seen.add(state)
    return seen


REGIONAL_SCENARIOS = {
    "expires in 1-2 days",
    "expires within a week",
    "expires in weeks",
    "expires in months",
    "retired recently",
    "retired long ago",
    "payment-failed",
}


@pytest.mark.parametrize("service", [s for s in SPECS if s != "savingsplans"])
def test_every_regional_service_has_every_scenario(world, service):
    found = world[1][service]
    pending = "pending-payment" if service == "redshift" else "payment-pending"

    assert scenarios(service, found) >= REGIONAL_SCENARIOS | {pending}
    assert {name for name, _ in found} == {"payer", "production", "staging", "analytics"}


def test_savings_plans_cover_expiring_queued_retired_and_failed(world):
    seen = scenarios("savingsplans", world[1]["savingsplans"])
    assert seen >= {
        "expires in 1-2 days",
        "expires within a week",
        "expires in weeks",
        "expires in months",
        "retired recently",
        "retired long ago",
        "payment-failed",
        "queued",
    }


@pytest.fixture(scope="module")
def demo_rows(server):
    """Report rows of the whole demo as the exporter decides them at NOW."""
    from exporter.commands.report import collect
    from exporter.commands.report_rows import report_rows

    saved = dict(os.environ)
    server.reset()
    try:
        os.environ.clear()
        os.environ.update(server.env(OWN_ACCOUNT))
        layout = seed_demo(server, NOW)
        at = NOW.timestamp()
        results, renewals = collect(parse_config(demo_config(layout)), at=at, prompter=None)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert all(r.success for r in results)
    return report_rows(results, at, renewals=renewals)


def showcase(rows, account, service, instance_type):
    """The active reservation that a queued one of this account and service replaces."""
    (queued,) = [r for r in rows if (r.account, r.service, r.state) == (account, service, "queued")]
    (row,) = [
        r
        for r in rows
        if (r.account, r.service, r.type, r.state, r.end)
        == (account, service, instance_type, "active", queued.start)
    ]
    return row


def test_demo_renewals_show_each_case_of_the_coverage_rule(demo_rows):
    cases = {
        "queued RI of the same type": showcase(demo_rows, "production", "ec2", "m5.xlarge"),
        "size-flexible: 2 x xlarge by 4 x large": showcase(demo_rows, "payer", "ec2", "m6i.xlarge"),
        "partial: 4 expiring, 3 queued": showcase(demo_rows, "analytics", "ec2", "c7g.large"),
        "RDS renewal bought early": next(
            r for r in demo_rows if r.reservation_id == "production-orders-db-2024"
        ),
        "staggered purchase, no renewal": next(
            r for r in demo_rows if r.reservation_id == "staging-reporting-db-2025"
        ),
    }
    assert {case: row.renewal_covered_ratio for case, row in cases.items()} == {
        "queued RI of the same type": 1.0,
        "size-flexible: 2 x xlarge by 4 x large": 1.0,
        "partial: 4 expiring, 3 queued": 0.75,
        "RDS renewal bought early": 1.0,
        "staggered purchase, no renewal": 0.0,
    }
    assert all(0 < row.days_left < 30 for row in cases.values())
    assert cases["staggered purchase, no renewal"].renewed_by == ()


def test_demo_savings_plan_is_renewed_by_a_queued_plan(demo_rows):
    (queued,) = [r for r in demo_rows if r.service == "savingsplans" and r.state == "queued"]
    (renewed,) = [
        r
        for r in demo_rows
        if r.service == "savingsplans" and queued.reservation_id in r.renewed_by
    ]
    assert renewed.renewal_covered_ratio == 1.0
    assert renewed.end == queued.start


def test_demo_has_expiring_reservations_that_nothing_renews(demo_rows):
    # The alerts have something to say: several ending within 30 days, uncovered.
    uncovered = [r for r in demo_rows if 0 < r.days_left <= 30 and not r.fully_renewed]
    assert len(uncovered) >= 10


def test_parsed_demo_reservations_carry_prices_and_counts(world):
    for service, records in world[1].items():
        for _, record in records:
            reservation = REGISTRY[service].parse(record)
            assert reservation.currency == "USD"
            assert (reservation.hourly_cost or 0) + (reservation.upfront_cost or 0) > 0
            if service != "savingsplans":
                assert 1 <= reservation.instance_count <= 8
                assert reservation.instance_type


def test_demo_config_is_valid_and_shows_each_way_to_reach_an_account(demo):
    config = parse_config(demo_config(demo))

    by_name = {account.name: account for account in config.accounts}
    assert list(by_name) == ["payer", "production", "staging", "analytics"]
    assert by_name["payer"].uses_own_credentials
    assert by_name["production"].external_id == "demo-3f9c2a71-external"
    assert by_name["staging"].id == "333333333333" and by_name["staging"].role_arn is None
    assert by_name["analytics"].via == "production"
    assert config.regions == demo.regions
    assert set(config.services) == set(SPECS)
    assert config.refresh_interval == 300


def test_demo_config_yaml_parses_to_the_same_config(demo):
    import yaml

    assert parse_config(yaml.safe_load(demo_config_yaml(demo))) == parse_config(demo_config(demo))


def test_demo_roles_refuse_the_wrong_path(fake, demo):
    sts = fake.client("sts", OWN_ACCOUNT)
    production, staging, analytics = demo.accounts[1:]

    assert (
        error_of(lambda: sts.assume_role(RoleArn=production.role_arn, RoleSessionName="s1"))[0]
        == "AccessDenied"
    )  # ExternalId required
    assert sts.assume_role(RoleArn=staging.role_arn, RoleSessionName="s1")["Credentials"]
    assert (
        error_of(lambda: sts.assume_role(RoleArn=analytics.role_arn, RoleSessionName="s1"))[0]
        == "AccessDenied"
    )  # only through production


def test_demo_seeds_organizations_with_active_and_inactive_accounts(fake, demo):
    listed = fake.client("organizations", demo.own_account_id).list_accounts()["Accounts"]
    states = {a["Name"]: a["State"] for a in listed}
    assert states == {
        "payer": "ACTIVE",
        "production": "ACTIVE",
        "staging": "ACTIVE",
        "analytics": "ACTIVE",
        "sandbox-legacy": "SUSPENDED",
        "closed-project": "CLOSED",
    }


def test_demo_organization_has_ous_account_tags_and_the_payer_as_management(fake, demo):
    org = fake.client("organizations", demo.own_account_id)

    paths = {account.name: ou_path(org, account.account_id) for account in demo.accounts}
    tags = {
        account.name: tag_map(org.list_tags_for_resource(ResourceId=account.account_id)["Tags"])
        for account in demo.accounts
    }

    assert paths == {
        "payer": "Root",
        "production": "Root/Workloads/Payments",
        "staging": "Root/Workloads/Search",
        "analytics": "Root/Platform",
    }
    assert tags == {
        "payer": {"Team": "finops", "CostCenter": "CC-1000"},
        "production": {"Team": "payments", "CostCenter": "CC-2100"},
        "staging": {"Team": "search"},
        "analytics": {"Team": "data-platform", "CostCenter": "CC-3100"},
    }
    assert tags == {account.name: dict(account.tags) for account in demo.accounts}
    assert org.describe_organization()["Organization"]["MasterAccountId"] == OWN_ACCOUNT
    assert ou_path(org, "555555555555") == "Root/Platform"  # suspended, not configured


TAGGED = ("ec2", "rds", "elasticache", "memorydb", "savingsplans")
_TAG_ARG = {"rds": "ResourceName", "elasticache": "ResourceName", "memorydb": "ResourceArn"}


def reservation_tags(fake, layout):
    """{reservation id: (account name, service, its tags)} as each API answers them,
    read through the real STS paths."""
    client = clients_by_account(fake, layout)
    found = {}
    for account in layout.accounts:
        for service in TAGGED:
            spec = SPECS[service]
            for region in ["us-east-1"] if spec.is_global else layout.regions:
                api = client(account, spec.client_name, region)
                for record in REGISTRY[service].list_records(api):
                    if spec.tags_member:
                        raw = record.get(spec.tags_member) or {}
                        tags = tag_map(raw) if isinstance(raw, list) else dict(raw)
                    else:
                        read = getattr(api, xform_name(spec.tags_operation))
                        tags = tag_map(read(**{_TAG_ARG[service]: record[spec.arn_key]})["TagList"])
                    found[record[spec.id_key]] = (account.name, service, tags)
    return found


def test_demo_reservations_have_own_teams_cost_centers_or_no_tags(fake, demo):
    found = reservation_tags(fake, demo)
    team_of_account = {account.name: account.tags["Team"] for account in demo.accounts}

    assert {rid: tags for rid, (_, _, tags) in found.items() if tags} == demo.reservation_tags
    for service in TAGGED:
        mine = [(name, tags) for name, svc, tags in found.values() if svc == service]
        # Precedence shows: a Team of the reservation's own, unlike its account's...
        assert any(
            tags.get("Team", team_of_account[name]) != team_of_account[name] for name, tags in mine
        )
        # ...a CostCenter of its own but the account's Team, and no tags at all.
        if service != "savingsplans":
            assert any("CostCenter" in tags and "Team" not in tags for _, tags in mine)
        assert any(not tags for _, tags in mine)
    orders = {rid: tags for rid, tags in demo.reservation_tags.items() if "orders" in rid}
    assert orders == {
        "production-orders-db-2024": {"Team": "orders", "CostCenter": "CC-2150"},
        "production-orders-db-renewal": {"Team": "orders", "CostCenter": "CC-2150"},
    }


def test_demo_tags_only_services_whose_reservations_have_tags(world):
    layout, found = world
    untaggable = {
        record[SPECS[service].id_key]
        for service in ("redshift", "opensearch")
        for _, record in found[service]
    }
    assert untaggable and not untaggable & set(layout.reservation_tags)


def test_demo_layout_counts_what_was_seeded(world):
    layout, found = world
    assert layout.records == {service: len(records) for service, records in found.items()}


@pytest.mark.parametrize("service", list(SPECS))
def test_generated_records_are_plausible_and_page_past_one_hundred(fake, service):
    records = generate(service, 150, NOW, OWN_ACCOUNT, "eu-west-1", seed=7)
    fake.seed(OWN_ACCOUNT, "eu-west-1", service, records)
    spec = SPECS[service]
    client = fake.client(spec.client_name, OWN_ACCOUNT, "eu-west-1")

    listed = list(REGISTRY[service].list_records(client))

    assert len(listed) == 150
    assert len({r[spec.id_key] for r in listed}) == 150
    parsed = [REGISTRY[service].parse(r) for r in listed]
    assert any(p.end < NOW.timestamp() for p in parsed)
    assert any(p.end > NOW.timestamp() + 365 * DAY for p in parsed)
    if spec.token_key:
        calls = fake.calls(operation=spec.operation, service=service)
        assert len(calls) == 2  # 100 + 50
    assert generate(service, 150, NOW, OWN_ACCOUNT, "eu-west-1", seed=7) == records


def test_generate_refuses_unknown_services():
    with pytest.raises(ValueError):
        generate("dynamodb", 1, NOW)


def test_demo_listing_calls_use_each_services_own_api(fake, demo):
    production = demo.accounts[1]
    clients_by_account(fake, demo)  # exercises the STS paths first
    for spec in SPECS.values():
        api = fake.client(spec.client_name, production.account_id)
        list(REGISTRY[spec.service].list_records(api))
    operations = {(c.service, c.operation) for c in fake.calls(outcome="ok")}
    for spec in SPECS.values():
        assert (spec.signing_name, spec.operation) in operations
