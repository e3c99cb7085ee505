"""Cost Explorer rows to the model: region names, missing keys named."""

from __future__ import annotations

import pytest

from exporter.aws.errors import MalformedRecord
from exporter.costexplorer.parse import region_code, reservation_row

GROUP = {
    "Key": "SUBSCRIPTION_ID",
    "Value": "1234567890",
    "Attributes": {
        "accountId": "222222222222",
        "accountName": "prod\nforged",
        "leaseId": "ri-1",
        "subscriptionStatus": "Active",
        "startDateTime": "2026-01-01T00:00:00.000Z",
        "endDateTime": "2027-01-01T00:00:00.000Z",
        "numberOfInstances": "3",
        "region": "us-east-1",
        "instanceType": "m5.large",
    },
    "Utilization": {"UtilizationPercentage": "87.5", "TotalAmortizedFee": "16.8"},
}


def test_a_reservation_row_maps_onto_the_model() -> None:
    row = reservation_row(GROUP, "ec2", 168.0)
    r = row.reservation
    assert (row.account_id, row.account_name, row.region) == (
        "222222222222",
        "prod\\nforged",
        "us-east-1",
    )
    assert (r.reservation_id, r.state, r.instance_count, r.source) == (
        "ri-1",
        "active",
        3,
        "cost_explorer",
    )
    assert r.end == 1798761600.0 and r.utilization == pytest.approx(0.875)
    assert r.hourly_cost == pytest.approx(0.1)


@pytest.mark.parametrize("key", ["endDateTime", "leaseId", "accountId", "numberOfInstances"])
def test_a_missing_key_is_named_never_guessed(key: str) -> None:
    group = {**GROUP, "Attributes": {k: v for k, v in GROUP["Attributes"].items() if k != key}}
    with pytest.raises(MalformedRecord, match=f"attribute '{key}' is missing"):
        reservation_row(group, "ec2", 168.0)


def test_cost_explorer_region_names_become_codes() -> None:
    assert region_code("US East (N. Virginia)") == "us-east-1"
    assert region_code("Europe (Ireland)") == "eu-west-1"
    assert region_code("eu-west-1") == "eu-west-1"
    assert region_code("Any") == "global" and region_code(None) == "global"
