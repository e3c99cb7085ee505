"""The pre-rendered exposition: exact series, escaping, and parseability."""

from __future__ import annotations

from exporter.collector import prepare, render
from exporter.model import Reservation, Target, TargetResult
from exporter.store import SnapshotStore
from tests.support import parse_samples

NOW = 1_750_000_000.0
TARGET = Target("prod", "111111111111", "us-east-1", "ec2")


def _reservation(rid: str, end: float, **kw) -> Reservation:
    fields = {
        "reservation_id": rid,
        "state": "active",
        "start": end - 86400 * 365,
        "end": end,
        "instance_count": 2,
        "instance_type": "m5.large",
        "hourly_cost": 0.2,
        "upfront_cost": 100.0,
    }
    fields.update(kw)
    return Reservation(**fields)


def test_days_until_expiry_is_computed_at_render_time():
    result = TargetResult(TARGET, (_reservation("ri-1", NOW + 2.5 * 86400),), True, NOW, 0.1, NOW)
    prepared = prepare(result)
    ident = frozenset(
        {
            "account": "prod",
            "account_id": "111111111111",
            "region": "us-east-1",
            "reservation_id": "ri-1",
            "service": "ec2",
        }.items()
    )
    first = parse_samples(render([prepared], NOW))
    later = parse_samples(render([prepared], NOW + 86400))
    assert first[("aws_reservation_days_until_expiry", ident)] == 2.5
    assert later[("aws_reservation_days_until_expiry", ident)] == 1.5
    assert first[("aws_reservation_expiry_timestamp_seconds", ident)] == NOW + 2.5 * 86400
    assert first[("aws_reservation_instances", ident)] == 2
    money = ident | {("currency", "USD")}
    assert first[("aws_reservation_hourly_cost", money)] == 0.2
    assert first[("aws_reservation_upfront_cost", money)] == 100.0


def test_label_values_are_escaped_and_parse_back():
    nasty = 'a "quoted"\\ name\nwith newline'
    result = TargetResult(
        Target(nasty, "111111111111", "us-east-1", "rds"),
        (_reservation("db-1", NOW + 86400, product=nasty),),
        True,
        NOW,
        0.1,
        NOW,
    )
    samples = parse_samples(render([prepare(result)], NOW))
    infos = [labels for (name, labels) in samples if name == "aws_reservation_info"]
    assert len(infos) == 1
    assert dict(infos[0])["account"] == nasty
    assert dict(infos[0])["product"] == nasty


def test_savings_plan_has_no_instances_series_and_uses_its_region():
    sp = _reservation("sp-1", NOW + 86400, instance_count=None, region="global")
    result = TargetResult(
        Target("prod", "111111111111", "global", "savingsplans"), (sp,), True, NOW, 0.1, NOW
    )
    samples = parse_samples(render([prepare(result)], NOW))
    assert not [k for k in samples if k[0] == "aws_reservation_instances"]
    regions = {dict(k[1])["region"] for k in samples if k[0] == "aws_reservation_info"}
    assert regions == {"global"}


def test_duplicate_ids_from_aws_render_once():
    r = _reservation("ri-dup", NOW + 86400)
    result = TargetResult(TARGET, (r, r), True, NOW, 0.1, NOW)
    text = render([prepare(result)], NOW)
    assert text.count("aws_reservation_info{") == 1


def test_failed_target_keeps_last_good_data_and_last_success_time():
    store = SnapshotStore()
    store.record_success(TARGET, [_reservation("ri-1", NOW + 86400)], attempted_at=NOW, duration=1)
    store.record_failure(TARGET, attempted_at=NOW + 60, duration=2, reason="throttled")
    samples = parse_samples(render(store.snapshot(), NOW + 60))
    health = frozenset(
        {
            "account": "prod",
            "account_id": "111111111111",
            "region": "us-east-1",
            "service": "ec2",
        }.items()
    )
    assert samples[("aws_reservation_refresh_success", health)] == 0
    assert samples[("aws_reservation_refresh_last_success_timestamp_seconds", health)] == NOW
    assert samples[("aws_reservation_refresh_duration_seconds", health)] == 2
    assert any(k[0] == "aws_reservation_days_until_expiry" for k in samples)


def test_never_successful_target_has_no_last_success_series():
    store = SnapshotStore()
    store.record_failure(TARGET, attempted_at=NOW, duration=1, reason="denied")
    samples = parse_samples(render(store.snapshot(), NOW))
    names = {k[0] for k in samples}
    assert "aws_reservation_refresh_success" in names
    assert "aws_reservation_refresh_last_success_timestamp_seconds" not in names
    assert "aws_reservation_days_until_expiry" not in names


def test_retain_drops_targets_that_disappeared():
    store = SnapshotStore()
    other = Target("gone", "222222222222", "us-east-1", "ec2")
    store.record_success(TARGET, [_reservation("a", NOW)], attempted_at=NOW, duration=1)
    store.record_success(other, [_reservation("b", NOW)], attempted_at=NOW, duration=1)
    store.retain([TARGET])
    assert [p.result.target for p in store.snapshot()] == [TARGET]
