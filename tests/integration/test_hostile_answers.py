"""Answers no exporter should trust: truncated, garbage and short bodies,
hung endpoints and endless page tokens, for listings, STS and Organizations
(issue 14). Each must fail its own target loudly (reason malformed or
timeout), keep the target's last good series, let the rest of the cycle
finish on time, and never put a credential in any output."""

from __future__ import annotations

import io
import logging
import re
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from exporter import accounts as accounts_module
from exporter import refresher as refresher_module
from exporter.fake.demo_data import OFFERINGS, TERMS, make_record, make_savings_plan
from exporter.logs import setup_logging
from exporter.services import base as services_base
from tests.integration.harness import Harness, by_target, reservation_ids
from tests.support import OWN_ACCOUNT, assert_no_issued_secret

PROD = "222222222222"
ROLE = f"arn:aws:iam::{PROD}:role/ReservationExporter"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
SERVICES = ("ec2", "rds", "memorydb", "opensearch", "savingsplans")
CONFIG = {
    "refresh_interval": "1h",
    "regions": ["us-east-1"],
    "services": list(SERVICES),
    "concurrency": 4,
    "accounts": [{"name": "payer"}, {"name": "production", "role_arn": ROLE}],
}
# What a leaked credential looks like in any text: a session key id, the
# names of the secret members, or a long run of base64.
LEAKS = re.compile(r"ASIA[A-Z0-9]{16}|SecretAccessKey|SessionToken|secret_key|[A-Za-z0-9/+]{40,}")


def seed(fake) -> None:
    fake.add_role(ROLE)
    start = NOW - timedelta(days=100)
    for account in (OWN_ACCOUNT, PROD):
        for service in SERVICES[:-1]:
            fake.seed(
                account,
                "us-east-1",
                service,
                [
                    make_record(
                        service,
                        rid=f"{service}-{account}",
                        account_id=account,
                        region="us-east-1",
                        start=start,
                        seconds=TERMS[1],
                        state="active",
                        offering=OFFERINGS[service][0],
                    )
                ],
            )
        plan_id = f"00000000-0000-4000-8000-{account}"
        fake.seed(
            account,
            "global",
            "savingsplans",
            [
                make_savings_plan(
                    plan_id=plan_id, account_id=account, start=start, years=1, state="active"
                )
            ],
        )


def expected_ids() -> set[str]:
    ids = {f"{s}-{a}" for s in SERVICES[:-1] for a in (OWN_ACCOUNT, PROD)}
    return ids | {f"00000000-0000-4000-8000-{a}" for a in (OWN_ACCOUNT, PROD)}


def region_of(service: str) -> str:
    return "global" if service == "savingsplans" else "us-east-1"


def errors_by_reason(samples: dict) -> dict[tuple[str, str, str], str]:
    return {
        (dict(k[1])["account"], dict(k[1])["service"], dict(k[1])["reason"]): v
        for k, v in samples.items()
        if k[0] == "aws_reservation_refresh_errors_total"
    }


def _captured(fmt: str):
    stream = io.StringIO()
    setup_logging("debug", fmt)
    logging.getLogger().handlers[0].setStream(stream)
    return stream


@pytest.fixture
def logs():
    """Everything the exporter logs, at debug level, as the daemon sets it up."""
    yield _captured("text")
    setup_logging("info", "text")


@pytest.fixture(params=["text", "json"])
def logs_any_format(request):
    """The same, once per log format."""
    yield _captured(request.param)
    setup_logging("info", "text")


@pytest.fixture
def harness(fake_env):
    seed(fake_env)
    h = Harness(CONFIG)
    first = h.cycle()
    assert reservation_ids(first) == expected_ids()
    assert set(by_target(first, "aws_reservation_refresh_success").values()) == {1.0}
    h.fake = fake_env
    return h


def failed_targets(samples: dict) -> set[tuple[str, str, str]]:
    success = by_target(samples, "aws_reservation_refresh_success")
    return {target for target, value in success.items() if value == 0.0}


def only_failed(samples: dict, service: str, reason: str) -> None:
    """production's target of ``service`` alone failed, for ``reason``, and every
    reservation is still exported (the failed target's from its last good data)."""
    assert failed_targets(samples) == {("production", region_of(service), service)}
    assert errors_by_reason(samples) == {("production", service, reason): 1.0}
    assert reservation_ids(samples) == expected_ids()


@pytest.mark.parametrize("kind", ["truncate", "garbage", "short"])
@pytest.mark.parametrize("service", SERVICES)
def test_a_spoiled_listing_fails_its_target_as_malformed_and_keeps_its_data(
    harness, logs, service, kind
) -> None:
    operation = "DescribeSavingsPlans" if service == "savingsplans" else "Describe*"
    harness.fake.corrupt(kind, service, operation, account_id=PROD)
    started = time.monotonic()
    samples = harness.cycle()
    assert time.monotonic() - started < 30
    only_failed(samples, service, "malformed")
    text = logs.getvalue()
    assert f"service={service} reason=malformed" in text
    assert not LEAKS.search(text), LEAKS.search(text)


@pytest.mark.parametrize("kind", ["truncate", "garbage", "short"])
def test_a_spoiled_assume_role_answer_is_malformed_and_never_shows_the_credentials(
    harness, logs_any_format, kind
) -> None:
    logs = logs_any_format
    harness.fake.corrupt(kind, "sts", "AssumeRole")
    harness.factory.forget_except([])  # the next cycle assumes the role again
    samples = harness.cycle()
    assert failed_targets(samples) == {
        ("production", region_of(service), service) for service in SERVICES
    }
    assert set(errors_by_reason(samples)) == {
        ("production", service, "malformed") for service in SERVICES
    }
    assert reservation_ids(samples) == expected_ids()
    text = logs.getvalue()
    assert "reason=malformed" in text
    assert "could not be parsed" in text or "Content-Length" in text
    assert not LEAKS.search(text), LEAKS.search(text)
    assert_no_issued_secret(text)


@pytest.mark.parametrize("service", ["memorydb", "opensearch", "savingsplans", "rds"])
def test_endless_page_tokens_stop_at_the_page_cap(harness, logs, monkeypatch, service) -> None:
    monkeypatch.setattr(services_base, "MAX_PAGES", 25)
    harness.fake.malform(PROD, region_of(service), service, "endless_token")
    started = time.monotonic()
    samples = harness.cycle()
    assert time.monotonic() - started < 30
    only_failed(samples, service, "malformed")
    assert "more than 25 pages" in logs.getvalue()
    # It stopped at the cap: the first cycle's one page, then 25 pages and the
    # 26th, refused on arrival; nothing after it was asked for.
    calls = harness.fake.calls(account_id=PROD, service=service)
    assert len(calls) == 1 + 26
    assert all(c.outcome == "ok" for c in calls)


def test_a_hung_listing_times_out_and_the_rest_of_the_cycle_finishes(
    fake_env, logs, monkeypatch
) -> None:
    seed(fake_env)
    monkeypatch.setattr(refresher_module, "TARGET_DEADLINE", 3.0)
    h = Harness(CONFIG, max_attempts=10)  # the default read timeout: 20 s
    h.cycle()
    fake_env.corrupt("hang", "rds", "DescribeReservedDBInstances", account_id=PROD)
    started = time.monotonic()
    samples = h.cycle()
    took = time.monotonic() - started
    fake_env.reset()  # release the hung answer
    # The deadline (3 s) bounds the answer already awaited too: not one read
    # timeout (20 s) more, let alone 10 attempts of it.
    assert took < 8, took
    only_failed(samples, "rds", "timeout")


def test_a_hung_assume_role_does_not_hold_the_cycle(fake_env, logs, monkeypatch) -> None:
    seed(fake_env)
    monkeypatch.setattr(refresher_module, "TARGET_DEADLINE", 3.0)
    h = Harness(CONFIG, max_attempts=10)  # the default read timeout: 20 s
    fake_env.corrupt("hang", "sts", "AssumeRole")
    started = time.monotonic()
    samples = h.cycle()
    took = time.monotonic() - started
    fake_env.reset()
    assert took < 8, took  # the deadline, not one more read timeout (20 s)
    assert failed_targets(samples) == {
        ("production", region_of(service), service) for service in SERVICES
    }
    assert {reason for _, _, reason in errors_by_reason(samples)} == {"timeout"}
    # The own account's targets were read meanwhile.
    success = by_target(samples, "aws_reservation_refresh_success")
    assert {t for t, v in success.items() if v == 1.0} == {
        ("payer", region_of(service), service) for service in SERVICES
    }


@pytest.fixture
def abandoning(fake_env, monkeypatch) -> Harness:
    """The seeded pair of accounts, with a 5 s deadline and abandoning 2 s after
    it: short, yet room for the healthy targets on a loaded machine."""
    seed(fake_env)
    monkeypatch.setattr(refresher_module, "TARGET_DEADLINE", 5.0)
    monkeypatch.setattr(refresher_module, "ABANDON_AFTER", 2.0)
    return Harness(CONFIG)


def test_a_dripped_listing_is_abandoned_and_not_asked_again_while_it_runs(
    fake_env, logs, abandoning
) -> None:
    h = abandoning
    first = h.cycle()
    fake_env.corrupt("drip", "rds", "DescribeReservedDBInstances", account_id=PROD)
    fake_env.reset_calls()
    started = time.monotonic()
    samples = h.cycle()
    took = time.monotonic() - started
    # A byte every 0.2 s beats every read timeout (the answer takes minutes):
    # only abandoning, 7 s in, ends it.
    assert took < 15, took
    only_failed(samples, "rds", "timeout")
    assert reservation_ids(samples) == reservation_ids(first)  # its last good data stays
    # It ran the whole limit (deadline + abandon), and says so.
    duration = by_target(samples, "aws_reservation_refresh_duration_seconds")
    assert duration[("production", "us-east-1", "rds")] == 7.0
    assert "the cycle goes on without it" in logs.getvalue()
    # Still dripping: the next cycle fails it at once and sends no second request.
    samples = h.cycle()
    assert failed_targets(samples) == {("production", "us-east-1", "rds")}
    assert errors_by_reason(samples) == {("production", "rds", "timeout"): 2.0}
    assert len(fake_env.calls(account_id=PROD, service="rds")) == 1
    assert "still unanswered" in logs.getvalue()
    fake_env.reset()  # the rest of the answer comes at once; the stuck task ends
    seed(fake_env)
    deadline = time.monotonic() + 10
    while h.refresher._stuck:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert set(by_target(h.cycle(), "aws_reservation_refresh_success").values()) == {1.0}


def test_a_dripped_assume_role_fails_its_account_within_the_bound(
    fake_env, logs, abandoning
) -> None:
    h = abandoning
    fake_env.corrupt("drip", "sts", "AssumeRole")
    started = time.monotonic()
    samples = h.cycle()
    took = time.monotonic() - started
    fake_env.reset()
    assert took < 20, took  # 2 x 5 s + 2 s to abandon, not the minutes the drip lasts
    assert failed_targets(samples) == {
        ("production", region_of(service), service) for service in SERVICES
    }
    success = by_target(samples, "aws_reservation_refresh_success")
    assert {t for t, v in success.items() if v == 1.0} == {
        ("payer", region_of(service), service) for service in SERVICES
    }


# --- Organizations ---------------------------------------------------------------

ORG_CONFIG = {
    "refresh_interval": "1h",
    "regions": ["us-east-1"],
    "services": ["ec2"],
    "accounts": [{"name": "payer"}],
    "organizations": {"enabled": True},
}


@pytest.fixture
def organization(fake_env):
    fake_env.add_role(ROLE)
    fake_env.add_org_account(OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT)
    fake_env.add_org_account(PROD, "production")
    return fake_env


def discovery(samples: dict) -> tuple[float | None, float | None]:
    def one(name: str) -> float | None:
        values = [v for k, v in samples.items() if k[0] == name]
        return values[0] if values else None

    return (
        one("aws_reservation_discovery_success"),
        one("aws_reservation_discovery_last_success_timestamp_seconds"),
    )


def accounts_read(samples: dict) -> set[str]:
    return {a for a, _, _ in by_target(samples, "aws_reservation_refresh_success")}


@pytest.mark.parametrize("kind", ["truncate", "garbage", "short", "endless_token"])
def test_a_spoiled_list_accounts_keeps_the_last_good_list_and_says_so(
    organization, logs, monkeypatch, kind
) -> None:
    monkeypatch.setattr(accounts_module, "MAX_ORGANIZATION_PAGES", 10)
    h = Harness(ORG_CONFIG)
    first = h.cycle()
    assert accounts_read(first) == {"payer", "production"}
    success, when = discovery(first)
    assert success == 1.0 and when is not None
    organization.corrupt(kind, "organizations", "ListAccounts")
    samples = h.cycle()
    assert discovery(samples) == (0.0, when)
    assert accounts_read(samples) == {"payer", "production"}
    assert "organizations discovery failed" in logs.getvalue()
    assert "keeping the last good list of 2 accounts" in logs.getvalue()


def test_a_reload_keeps_the_last_good_organization_list(organization, logs) -> None:
    from exporter.config import parse_config

    h = Harness(ORG_CONFIG)
    assert accounts_read(h.cycle()) == {"payer", "production"}
    organization.corrupt("garbage", "organizations", "ListAccounts")
    # A reload (even of the same file) builds a new account directory.
    h.refresher.set_config(parse_config(ORG_CONFIG))
    samples = h.cycle()
    assert accounts_read(samples) == {"payer", "production"}
    assert discovery(samples)[0] == 0.0


def test_a_hung_list_accounts_keeps_the_last_good_list_within_the_deadline(
    organization, logs, monkeypatch
) -> None:
    monkeypatch.setattr(refresher_module, "DIRECTORY_DEADLINE", 3.0)
    h = Harness(ORG_CONFIG, max_attempts=10)  # the default read timeout: 20 s
    first = h.cycle()
    assert accounts_read(first) == {"payer", "production"}
    when = discovery(first)[1]
    organization.corrupt("hang", "organizations", "ListAccounts")
    started = time.monotonic()
    samples = h.cycle()
    took = time.monotonic() - started
    organization.reset()  # release the hung answer
    # The deadline (3 s), not one more read timeout (20 s) nor 10 attempts.
    assert took < 8, took
    assert discovery(samples) == (0.0, when)
    assert accounts_read(samples) == {"payer", "production"}
    assert "keeping the last good list of 2 accounts" in logs.getvalue()


def test_a_reload_over_http_while_list_accounts_fails_keeps_every_discovered_account(
    organization, run_exporter
) -> None:
    record = make_record(
        "ec2",
        rid="ri-discovered",
        account_id=PROD,
        region="us-east-1",
        start=NOW - timedelta(days=100),
        seconds=TERMS[1],
        state="active",
        offering=OFFERINGS["ec2"][0],
    )
    organization.seed(PROD, "us-east-1", "ec2", [record])
    with run_exporter(ORG_CONFIG, enable_lifecycle=True) as running:
        running.wait_ready()
        samples = running.samples()[0]
        assert accounts_read(samples) == {"payer", "production"}
        assert "ri-discovered" in reservation_ids(samples)
        organization.corrupt("garbage", "organizations", "ListAccounts")
        request = urllib.request.Request(running.url + "/-/reload", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.read() == b"config reloaded\n"
        deadline = time.monotonic() + 30
        while discovery(samples)[0] != 0.0:  # the cycle the reload started has run
            assert time.monotonic() < deadline, discovery(samples)
            time.sleep(0.1)
            samples = running.samples()[0]
        assert accounts_read(samples) == {"payer", "production"}
        assert "ri-discovered" in reservation_ids(samples)
        success = by_target(samples, "aws_reservation_refresh_success")
        assert success[("production", "us-east-1", "ec2")] == 1.0


def test_discovery_metrics_are_absent_when_discovery_is_off(fake_env) -> None:
    seed(fake_env)
    samples = Harness(CONFIG).cycle()
    assert discovery(samples) == (None, None)


def test_hostile_organization_names_are_written_out_not_obeyed(organization) -> None:
    organization.add_org_account("333333333333", "evil\n2026-01-01 ERROR forged\x1b[2J")
    organization.add_role("arn:aws:iam::333333333333:role/ReservationExporter")
    samples = Harness(ORG_CONFIG).cycle()
    assert "evil\\n2026-01-01 ERROR forged\\x1b[2J" in accounts_read(samples)
    assert not any("\x1b" in a or "\n" in a for a in accounts_read(samples))


def test_ready_after_a_bounded_time_while_one_account_still_hangs(
    fake_env, run_exporter, monkeypatch
) -> None:
    seed(fake_env)
    monkeypatch.setattr(refresher_module, "READY_AFTER", 2.0)
    fake_env.corrupt("hang", "sts", "AssumeRole")
    with run_exporter(CONFIG) as running:
        started = time.monotonic()
        try:
            assert running.exporter.refresher.ready.wait(15)
            took = time.monotonic() - started
            assert 1.5 < took < 8, took
            assert running.get("/readyz") == (200, "ready\n")
            # Ready came from the timer, not from a finished cycle.
            assert running.exporter.telemetry.cycles._value.get() == 0
            # The own account's targets arrive (on a busy machine perhaps only
            # after the timer); production's AssumeRole still hangs.
            until = time.monotonic() + 20
            while True:
                samples, _, _ = running.samples()
                if accounts_read(samples) or time.monotonic() > until:
                    break
                time.sleep(0.2)
            assert accounts_read(samples) == {"payer"}
            assert running.exporter.telemetry.cycles._value.get() == 0
        finally:
            fake_env.reset()  # release the hung answer
