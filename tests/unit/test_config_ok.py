"""Valid configs load into the values they say, with defaults applied and ARNs built."""

from __future__ import annotations

import logging

import botocore.session
import pytest
from pydantic import ValidationError

from exporter.config import Config, load_config, parse_config
from exporter.model import Account
from exporter.services import SERVICE_NAMES
from tests.support import CONFIGS, ROOT

EXAMPLE = ROOT / "config.example.yaml"


def load(name: str) -> Config:
    return load_config(CONFIGS / f"{name}.ok.yaml")


def test_minimal_config_takes_every_default() -> None:
    config = load("minimal")
    assert config.refresh_interval == 3600.0
    assert config.expired_lookback == 30 * 86400.0
    assert config.regions == ("us-east-1",)
    assert config.services == SERVICE_NAMES
    assert config.concurrency == 16
    assert config.defaults.role_name == "ReservationExporter"
    assert config.defaults.partition is None
    assert config.defaults.external_id is None
    assert config.defaults.session_name == "aws-reservation-exporter"
    assert config.defaults.session_duration == 3600
    assert config.organizations.enabled is False
    assert config.organizations.role_arn is None
    assert config.organizations.include == ("*",)
    assert config.organizations.exclude == ()
    assert config.renewal.scope == "account"
    assert config.renewal.purchase_window == 30 * 86400.0
    (payer,) = config.accounts
    assert payer.name == "payer"
    assert payer.uses_own_credentials and not payer.assumes_role
    assert payer.account_id is None
    assert config.role_arn_for(payer, "aws") is None


def test_minimal_config_resolves_to_a_model_account_using_own_credentials() -> None:
    config = load("minimal")
    assert config.to_account(config.accounts[0], "aws") == Account(
        name="payer",
        account_id=None,
        role_arn=None,
        external_id=None,
        session_name="aws-reservation-exporter",
        session_duration=3600,
        regions=("us-east-1",),
        services=SERVICE_NAMES,
        source="static",
    )


def test_durations_are_seconds_in_every_notation(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="exporter.config"):
        config = load("durations")
    assert config.refresh_interval == 90.0
    assert config.expired_lookback == 0.0
    assert config.defaults.session_duration == 5400
    durations = [config.effective_session_duration(a) for a in config.accounts]
    assert durations == [900, 43200, 3600]
    assert config.regions == "all"
    assert config.effective_regions(config.accounts[0]) == "all"
    assert config.to_account(config.accounts[0], "aws").regions is None  # every enabled one


def test_refresh_interval_under_five_minutes_logs_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="exporter.config"):
        load("durations")
    warnings = [(r.name, r.getMessage()) for r in caplog.records if r.levelno == logging.WARNING]
    # Logged as exporter.config, the package's own name: report and doctor filter it by name.
    assert any(
        name == "exporter.config" and message.startswith("refresh_interval is 1m30s: under 5m")
        for name, message in warnings
    )


def test_hourly_refresh_logs_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="exporter.config"):
        load("minimal")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_fixed_partition_builds_role_arns_whatever_the_own_partition() -> None:
    config = load("partition")
    built, written = config.accounts
    assert config.partition_for("aws") == "aws-cn"
    # The id keeps its leading zero because it is quoted.
    assert built.account_id == "012345678901"
    expected = "arn:aws-cn:iam::012345678901:role/readers/ReservationExporter"
    assert config.role_arn_for(built, "aws") == expected
    assert config.role_arn_for(built, "aws-cn") == expected
    assert config.role_arn_for(written, "aws") == "arn:aws-cn:iam::111111111111:role/Custom"
    assert written.account_id == "111111111111"
    assert config.effective_external_id(built) == "shared-external-id"
    assert config.effective_external_id(written) == "own-external-id"


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_role_arn_is_built_in_the_own_partition_when_none_is_configured(partition: str) -> None:
    config = load("overrides")
    analytics = config.account("analytics")
    assert analytics is not None
    assert config.role_arn_for(analytics, partition) == (
        f"arn:{partition}:iam::444444444444:role/ReservationExporter"
    )
    production = config.account("production")
    assert production is not None
    # A written role_arn wins over any partition.
    assert config.role_arn_for(production, partition) == (
        "arn:aws:iam::111111111111:role/ReservationExporter"
    )


def test_per_account_overrides_and_duplicates_removed() -> None:
    config = load("overrides")
    assert config.regions == ("us-east-1", "eu-west-1")
    assert config.services == ("rds", "ec2")
    assert config.concurrency == 512
    payer, production, analytics, sandbox, deep = config.accounts
    assert config.effective_services(payer) == SERVICE_NAMES
    assert config.effective_regions(payer) == ("us-east-1", "eu-west-1")
    assert config.effective_regions(production) == ("eu-west-1",)
    assert config.effective_services(production) == ("rds", "ec2")
    assert config.effective_session_name(production) == "exporter@prod"
    assert config.effective_session_name(analytics) == "aws-reservation-exporter"
    assert config.effective_regions(analytics) == "all"
    assert config.effective_services(analytics) == ("savingsplans",)
    assert analytics.via == "production"
    assert deep.via == "analytics"
    assert sandbox.profile == "sandbox"
    assert not sandbox.uses_own_credentials and not sandbox.assumes_role
    assert config.role_arn_for(sandbox, "aws") is None
    assert config.account("nobody") is None


def test_profile_account_resolves_without_role_or_external_id() -> None:
    config = load("overrides")
    sandbox = config.account("sandbox")
    assert sandbox is not None
    account = config.to_account(sandbox, "aws")
    assert (account.profile, account.role_arn, account.account_id, account.external_id) == (
        "sandbox",
        None,
        None,
        None,
    )
    assert account.regions == ("us-east-1", "eu-west-1")


def test_chained_account_resolves_with_its_source_account() -> None:
    config = load("overrides")
    by_name = {a.name: a for a in config.static_accounts("aws")}
    account = by_name["analytics"]
    # via is the resolved account itself, not its name
    assert account.via is by_name["production"]
    assert account.via.role_arn == by_name["production"].role_arn
    assert by_name["deep"].via is account  # chains follow, whatever the file order
    assert account.role_arn == "arn:aws:iam::444444444444:role/ReservationExporter"
    assert account.account_id == "444444444444"
    assert account.regions is None  # regions: all
    assert account.services == ("savingsplans",)
    assert [a.name for a in config.static_accounts("aws")] == [a.name for a in config.accounts]


def test_organizations_without_static_accounts() -> None:
    config = load("organizations")
    assert config.accounts == ()
    orgs = config.organizations
    assert orgs.enabled is True
    assert orgs.role_arn == "arn:aws:iam::999999999999:role/OrganizationsReadOnly"
    assert orgs.selects("prod-web", "111111111111")
    assert orgs.selects("anything", "123456789012")  # include by id
    assert not orgs.selects("prod-legacy-1", "111111111111")  # excluded
    assert not orgs.selects("staging", "222222222222")  # not included


def test_discovered_account_uses_defaults_and_top_level_lists() -> None:
    config = load("organizations")
    assert config.discovered_account("prod-web", "123456789012", "aws-us-gov") == Account(
        name="prod-web",
        account_id="123456789012",
        role_arn="arn:aws-us-gov:iam::123456789012:role/ReservationExporter",
        external_id=None,
        session_name="aws-reservation-exporter",
        session_duration=3600,
        regions=("us-east-1",),
        services=SERVICE_NAMES,
        source="organizations",
    )


def test_every_region_botocore_knows_in_the_supported_partitions_loads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A region botocore does not know is refused (region-newer-than-botocore.bad.yaml);
    # every one it does know, in aws, aws-cn and aws-us-gov, is accepted without a word.
    session = botocore.session.get_session()
    known = sorted(
        region
        for partition in ("aws", "aws-cn", "aws-us-gov")
        for region in session.get_available_regions("ec2", partition_name=partition)
    )
    assert {"us-east-1", "cn-north-1", "us-gov-west-1"} <= set(known)
    with caplog.at_level(logging.WARNING, logger="exporter.config"):
        config = parse_config(
            {
                "regions": known,
                "accounts": [
                    {"name": "payer"},
                    {"name": "gov", "id": "111111111111", "regions": ["us-gov-east-1"]},
                ],
            }
        )
    assert config.regions == tuple(known)
    assert config.effective_regions(config.accounts[1]) == ("us-gov-east-1",)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_config_is_frozen() -> None:
    config = load("minimal")
    with pytest.raises(ValidationError):
        config.concurrency = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.accounts[0].name = "other"  # type: ignore[misc]


def test_example_config_loads_and_shows_every_option() -> None:
    config = load_config(EXAMPLE)
    assert [a.name for a in config.accounts] == [
        "payer",
        "production",
        "staging",
        "sandbox",
        "analytics",
    ]
    payer, production, staging, sandbox, analytics = config.accounts
    assert payer.uses_own_credentials
    assert production.external_id is not None
    assert config.role_arn_for(staging, "aws") == (
        "arn:aws:iam::222222222222:role/ReservationExporter"
    )
    assert config.effective_regions(staging) == ("ap-northeast-1",)
    assert config.effective_services(staging) == ("ec2", "rds")
    assert sandbox.profile == "sandbox"
    assert analytics.via == "production"
    assert config.organizations.enabled is False
    assert config.organizations.exclude
    text = EXAMPLE.read_text(encoding="utf-8")
    # Every option of every section appears in the example.
    sections = (
        config.defaults,
        config.organizations,
        config.renewal,
        config.cost_explorer,
        payer,
    )
    for model in (Config, *map(type, sections)):
        for key in model.model_fields:
            assert f"{key}:" in text, f"config.example.yaml does not show {key}"


def test_renewal_section_sets_scope_and_purchase_window() -> None:
    config = load("renewal")
    assert config.renewal.scope == "organization"
    assert config.renewal.purchase_window == 60 * 86400.0
