"""Faults are contained: each fails only its own target, which keeps its last
good data, and everything else carries on (fault injection at the fake AWS)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from exporter.accounts import AccountDirectory
from exporter.config import parse_config
from tests.core_slice import ec2, rds
from tests.integration.harness import Harness, by_target, reservation_ids
from tests.support import OWN_ACCOUNT

PROD = "222222222222"
ROLE = f"arn:aws:iam::{PROD}:role/ReservationExporter"
NOW = datetime.now(timezone.utc).replace(microsecond=0)

CONFIG = {
    "refresh_interval": "1h",
    "regions": ["us-east-1", "eu-west-1"],
    "services": ["ec2", "rds"],
    "concurrency": 4,
    "accounts": [{"name": "payer"}, {"name": "production", "role_arn": ROLE}],
}


def seed(fake) -> None:
    fake.add_role(ROLE)
    for account in (OWN_ACCOUNT, PROD):
        for region in ("us-east-1", "eu-west-1"):
            fake.seed(
                account,
                region,
                "ec2",
                [ec2(f"ri-{account}-{region}", "active", NOW + timedelta(days=40))],
            )
            fake.seed(
                account,
                region,
                "rds",
                [rds(f"db-{account}-{region}", "active", NOW - timedelta(days=100))],
            )


ALL_IDS = {
    f"{kind}-{account}-{region}"
    for kind in ("ri", "db")
    for account in (OWN_ACCOUNT, PROD)
    for region in ("us-east-1", "eu-west-1")
}


@pytest.fixture
def harness(fake_env):
    seed(fake_env)
    h = Harness(CONFIG)
    first = h.cycle()
    assert reservation_ids(first) == ALL_IDS
    assert set(by_target(first, "aws_reservation_refresh_success").values()) == {1.0}
    h.first = first
    return h


def _only_failed(samples: dict, failed: set[tuple[str, str, str]]) -> None:
    success = by_target(samples, "aws_reservation_refresh_success")
    assert {k for k, v in success.items() if v == 0.0} == failed
    assert len(success) == 8


def _kept_last_success(h: Harness, samples: dict, failed: set) -> None:
    before = by_target(h.first, "aws_reservation_refresh_last_success_timestamp_seconds")
    after = by_target(samples, "aws_reservation_refresh_last_success_timestamp_seconds")
    for target in failed:
        assert after[target] == before[target]
    for target in set(after) - failed:
        assert after[target] > before[target]


def _errors(samples: dict) -> dict[tuple[str, str, str, str], float]:
    return {
        (
            dict(k[1])["account"],
            dict(k[1])["region"],
            dict(k[1])["service"],
            dict(k[1])["reason"],
        ): v
        for k, v in samples.items()
        if k[0] == "aws_reservation_refresh_errors_total"
    }


def test_denied_action_fails_only_that_service_and_keeps_its_data(harness, fake_env):
    fake_env.deny(PROD, "rds:DescribeReservedDBInstances")
    time.sleep(0.01)
    samples = harness.cycle()
    failed = {("production", r, "rds") for r in ("us-east-1", "eu-west-1")}
    _only_failed(samples, failed)
    _kept_last_success(harness, samples, failed)
    assert reservation_ids(samples) == ALL_IDS  # last good data kept
    assert _errors(samples) == {
        ("production", "us-east-1", "rds", "denied"): 1.0,
        ("production", "eu-west-1", "rds", "denied"): 1.0,
    }
    outcomes = {
        (dict(k[1])["operation"], dict(k[1])["outcome"])
        for k in samples
        if k[0] == "aws_reservation_api_requests_total"
    }
    assert ("DescribeReservedDBInstances", "denied") in outcomes


def test_role_that_cannot_be_assumed_fails_its_account_only(fake_env):
    seed(fake_env)
    h = Harness(
        {
            **CONFIG,
            "accounts": [
                {"name": "payer"},
                {"name": "production", "role_arn": ROLE.replace("ReservationExporter", "Missing")},
            ],
        }
    )
    samples = h.cycle()
    _only_failed(
        samples, {("production", r, s) for r in ("us-east-1", "eu-west-1") for s in ("ec2", "rds")}
    )
    assert {e[3] for e in _errors(samples)} == {"denied"}
    # One AssumeRole attempt for the whole account, not one per target.
    assert len(fake_env.calls(operation="AssumeRole")) == 1


def test_throttling_is_retried_and_counted(harness, fake_env):
    fake_env.reset_calls()
    fake_env.throttle("ec2", "DescribeReservedInstances", 2, account_id=PROD)
    samples = harness.cycle()
    _only_failed(samples, set())
    throttled = [
        v
        for k, v in samples.items()
        if k[0] == "aws_reservation_api_requests_total"
        and dict(k[1])
        == {"service": "ec2", "operation": "DescribeReservedInstances", "outcome": "throttled"}
    ]
    assert throttled == [2.0]
    assert len(fake_env.calls(account_id=PROD, operation="DescribeReservedInstances")) == 4


def test_persistent_throttling_fails_the_target_as_throttled(harness, fake_env):
    fake_env.throttle("rds", "DescribeReservedDBInstances", 100, account_id=OWN_ACCOUNT)
    samples = harness.cycle()
    failed = {("payer", r, "rds") for r in ("us-east-1", "eu-west-1")}
    _only_failed(samples, failed)
    assert {e: v for e, v in _errors(samples).items()} == {
        ("payer", r, "rds", "throttled"): 1.0 for r in ("us-east-1", "eu-west-1")
    }
    assert reservation_ids(samples) == ALL_IDS


@pytest.mark.parametrize("kind", ["missing_id", "bad_timestamp"])
def test_malformed_response_fails_only_its_target(harness, fake_env, kind):
    fake_env.malform(PROD, "eu-west-1", "ec2", kind)
    samples = harness.cycle()
    failed = {("production", "eu-west-1", "ec2")}
    _only_failed(samples, failed)
    _kept_last_success(harness, samples, failed)
    assert _errors(samples) == {("production", "eu-west-1", "ec2", "malformed"): 1.0}
    assert reservation_ids(samples) == ALL_IDS


def test_unknown_state_is_exported_not_a_fault(fake_env):
    fake_env.seed(
        OWN_ACCOUNT,
        "us-east-1",
        "ec2",
        [ec2("ri-new-state", "brand-new-state", NOW + timedelta(days=5))],
    )
    h = Harness({**CONFIG, "accounts": [{"name": "payer"}]})
    samples = h.cycle()
    assert set(by_target(samples, "aws_reservation_refresh_success").values()) == {1.0}
    states = {
        dict(k[1])["reservation_id"]: dict(k[1])["state"]
        for k in samples
        if k[0] == "aws_reservation_info"
    }
    assert states == {"ri-new-state": "brand-new-state"}
    unknown = [v for k, v in samples.items() if k[0] == "aws_reservation_unknown_states_total"]
    assert unknown == [1.0]


def test_hung_endpoint_times_out_and_fails_only_its_targets(fake_env):
    seed(fake_env)
    h = Harness(CONFIG)
    h.cycle()
    # Short waits so the test is quick; production waits 20 s per attempt, 5 attempts.
    hasty = Harness(CONFIG, read_timeout=2, max_attempts=2)
    hasty.store = hasty.refresher.store = h.store  # same last good data
    fake_env.delay("rds", 6.0)
    samples = hasty.cycle()
    failed = {(a, r, "rds") for a in ("payer", "production") for r in ("us-east-1", "eu-west-1")}
    _only_failed(samples, failed)
    assert {e[3] for e in _errors(samples)} == {"timeout"}
    assert reservation_ids(samples) == ALL_IDS


def test_unreachable_endpoint_is_a_timeout_and_bounded(fake_env, monkeypatch):
    seed(fake_env)
    h = Harness(CONFIG)
    h.cycle()
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", "http://127.0.0.1:9")  # nothing listens
    h2 = Harness(CONFIG)
    h2.store = h.store  # same last good data
    h2.refresher.store = h.store
    samples = h2.cycle()
    failed = {(a, r, "rds") for a in ("payer", "production") for r in ("us-east-1", "eu-west-1")}
    _only_failed(samples, failed)
    assert {e[3] for e in _errors(samples)} == {"timeout"}
    assert reservation_ids(samples) == ALL_IDS


def _latest_session_expiry(role_arn: str) -> datetime:
    """Expiration of the newest session the fake's STS issued for ``role_arn``."""
    from moto.sts.models import sts_backends

    issued = [
        role
        for account_id in sts_backends
        for partition in sts_backends[account_id]
        for role in sts_backends[account_id][partition].assumed_roles
        if role.role_arn == role_arn
    ]
    expiry = max(role.expiration for role in issued)
    return expiry if expiry.tzinfo else expiry.replace(tzinfo=timezone.utc)


def test_credentials_are_renewed_before_they_expire_without_restart(fake_env):
    """A 1 h session is renewed once it is in its last 15 minutes (botocore's
    advisory window), on a clock the test sets; no restart, one STS call."""
    seed(fake_env)
    now = [datetime.now(timezone.utc)]
    h = Harness(CONFIG, time_fetcher=lambda: now[0])  # session_duration: the default 1 h
    assert set(by_target(h.cycle(), "aws_reservation_refresh_success").values()) == {1.0}
    assert len(fake_env.calls(operation="AssumeRole", outcome="ok")) == 1
    first_expiry = _latest_session_expiry(ROLE)

    now[0] = first_expiry - timedelta(minutes=30)  # still fresh: no STS call
    h.cycle()
    assert len(fake_env.calls(operation="AssumeRole", outcome="ok")) == 1

    # A session issued from now on ends at least 4 s after the first one, so
    # this instant is inside the first session's window and outside the next one's.
    time.sleep(4)
    now[0] = first_expiry - timedelta(seconds=900 - 2)
    samples = h.cycle()
    assert set(by_target(samples, "aws_reservation_refresh_success").values()) == {1.0}
    assert len(fake_env.calls(operation="AssumeRole", outcome="ok")) == 2
    assert _latest_session_expiry(ROLE) > first_expiry
    h.cycle()  # the renewed session is fresh
    assert len(fake_env.calls(operation="AssumeRole", outcome="ok")) == 2


def test_account_removed_from_config_stops_being_exported(harness):
    harness.refresher.set_config(parse_config({**CONFIG, "accounts": [{"name": "payer"}]}))
    samples = harness.cycle()
    assert {k[0] for k in by_target(samples, "aws_reservation_refresh_success")} == {"payer"}
    assert all(OWN_ACCOUNT in rid for rid in reservation_ids(samples))


def test_directory_reads_own_identity_once(fake_env):
    h = Harness({**CONFIG, "accounts": [{"name": "payer"}, {"name": "x", "id": PROD}]})
    directory: AccountDirectory = h.refresher.directory
    fake_env.add_role(ROLE)
    h.cycle()
    h.cycle()
    assert len(fake_env.calls(operation="GetCallerIdentity")) == 1
    assert directory.partition() == "aws"
