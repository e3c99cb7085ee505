"""Injected faults: denied IAM actions, throttling that botocore retries,
latency, and malformed listings the exporter must reject."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime, timezone

import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import PaginationError, ReadTimeoutError

from exporter.aws.errors import MalformedRecord
from exporter.fake.catalog import SPECS
from exporter.services import REGISTRY
from tests.fake.conftest import error_of
from tests.support import OWN_ACCOUNT

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def call(fake, service: str, account: str = OWN_ACCOUNT, config: Config | None = None, **kwargs):
    spec = SPECS[service]
    client = fake.client(spec.client_name, account, config=config)
    return getattr(client, xform_name(spec.operation))(**kwargs)


def valid(service: str, rid: str) -> dict:
    """A record the exporter's own parser accepts."""
    if service == "savingsplans":
        return {
            "savingsPlanId": rid,
            "state": "active",
            "start": "2025-01-01T00:00:00.000Z",
            "end": "2026-01-01T00:00:00.000Z",
        }
    times = {"Start": T0, "End": T0} if service == "ec2" else {"StartTime": T0, "Duration": 3600}
    return {SPECS[service].id_key: rid, "State": "active", **times}


@pytest.mark.parametrize(
    ("service", "code", "status"),
    [
        ("ec2", "UnauthorizedOperation", 403),
        ("rds", "AccessDenied", 403),
        ("elasticache", "AccessDenied", 403),
        ("redshift", "AccessDenied", 403),
        ("memorydb", "AccessDeniedException", 400),
        ("opensearch", "AccessDeniedException", 403),
        ("savingsplans", "AccessDeniedException", 403),
    ],
)
def test_denied_action_fails_with_the_protocols_access_error(fake, service, code, status):
    action = SPECS[service].iam_action
    fake.deny(OWN_ACCOUNT, action)

    got_code, message, got_status = error_of(lambda: call(fake, service))

    assert (got_code, got_status) == (code, status)
    assert f"is not authorized to perform: {action}" in message
    assert fake.calls()[-1].outcome == "denied"


def test_deny_is_per_account_and_uses_iam_names(fake):
    fake.deny(OWN_ACCOUNT, "es:DescribeReservedInstances")  # OpenSearch's IAM prefix is es:

    assert error_of(lambda: call(fake, "opensearch"))[0] == "AccessDeniedException"
    assert call(fake, "opensearch", "222222222222")["ReservedInstances"] == []
    assert call(fake, "memorydb")["ReservedNodes"] == []


def test_deny_accepts_iam_wildcards(fake):
    fake.deny(OWN_ACCOUNT, "ec2:Describe*")
    assert error_of(lambda: call(fake, "ec2"))[0] == "UnauthorizedOperation"


@pytest.mark.parametrize("mode", ["legacy", "standard"])
@pytest.mark.parametrize("service", list(SPECS))
def test_botocore_retries_each_services_throttling_error(fake, service, mode):
    fake.seed(OWN_ACCOUNT, "us-east-1", service, [valid(service, "r-1")])
    fake.throttle(service, SPECS[service].operation, 1)
    config = Config(retries={"mode": mode, "total_max_attempts": 2})

    response = call(fake, service, config=config)

    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert len(response[SPECS[service].result_key]) == 1
    assert [c.outcome for c in fake.calls()] == ["throttled", "ok"]


def test_call_succeeds_after_n_throttles_below_max_attempts(fake):
    fake.seed(OWN_ACCOUNT, "us-east-1", "rds", [valid("rds", "r-1")])
    fake.throttle("rds", "DescribeReservedDBInstances", 3)
    config = Config(retries={"mode": "standard", "total_max_attempts": 5})

    response = call(fake, "rds", config=config)

    assert response["ResponseMetadata"]["RetryAttempts"] == 3
    assert [c.outcome for c in fake.calls(service="rds")] == ["throttled"] * 3 + ["ok"]


@pytest.mark.parametrize(
    ("service", "code", "status"),
    [
        ("ec2", "RequestLimitExceeded", 503),
        ("rds", "Throttling", 400),
        ("memorydb", "ThrottlingException", 400),
        ("savingsplans", "ThrottlingException", 400),
    ],
)
def test_throttling_beyond_max_attempts_surfaces_the_real_error(fake, service, code, status):
    fake.throttle(service, SPECS[service].operation, 10)
    config = Config(retries={"mode": "standard", "total_max_attempts": 2})

    assert error_of(lambda: call(fake, service, config=config))[::2] == (code, status)
    assert len(fake.calls(service=service, outcome="throttled")) == 2


def test_throttle_can_target_one_account(fake):
    fake.throttle("rds", "DescribeReservedDBInstances", 1, account_id="222222222222")
    no_retry = Config(retries={"mode": "standard", "total_max_attempts": 1})

    assert call(fake, "rds", config=no_retry)["ReservedDBInstances"] == []
    assert error_of(lambda: call(fake, "rds", "222222222222", config=no_retry))[0] == "Throttling"


def test_delay_slows_every_request_of_the_service(fake):
    fake.delay("opensearch", 0.4)

    started = time.monotonic()
    call(fake, "opensearch")
    assert time.monotonic() - started >= 0.4  # a lower bound: sleeping guarantees it

    impatient = Config(read_timeout=0.1, retries={"mode": "standard", "total_max_attempts": 1})
    with pytest.raises(ReadTimeoutError):
        call(fake, "opensearch", config=impatient)
    fake.delay("opensearch", 0)
    assert call(fake, "opensearch", config=Config(read_timeout=30))["ReservedInstances"] == []


def test_global_delay_applies_to_every_service(fake):
    fake.delay(None, 0.3)
    sts, rds = fake.client("sts", OWN_ACCOUNT), fake.client("rds", OWN_ACCOUNT)
    for request in (sts.get_caller_identity, rds.describe_reserved_db_instances):
        started = time.monotonic()
        request()
        assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("service", [s for s in SPECS if s != "savingsplans"])
def test_bad_timestamp_makes_botocore_reject_the_response(fake, service):
    fake.seed(OWN_ACCOUNT, "us-east-1", service, [valid(service, "r-1"), valid(service, "r-2")])
    fake.malform(OWN_ACCOUNT, "us-east-1", service, "bad_timestamp")

    with pytest.raises(ValueError, match="not-a-timestamp"):
        call(fake, service)

    fake.malform(OWN_ACCOUNT, "us-east-1", service, None)  # healed
    assert len(call(fake, service)[SPECS[service].result_key]) == 2


def test_bad_savings_plan_timestamp_reaches_the_exporters_parser(fake):
    # Savings Plans' start/end are strings to botocore: only the parser can object.
    fake.seed(OWN_ACCOUNT, "global", "savingsplans", [valid("savingsplans", "sp-1")])
    fake.malform(OWN_ACCOUNT, "us-east-1", "savingsplans", "bad_timestamp")

    (plan,) = call(fake, "savingsplans")["savingsPlans"]

    assert plan["start"] == "not-a-timestamp"
    with pytest.raises(MalformedRecord, match="start"):
        REGISTRY["savingsplans"].parse(plan)


@pytest.mark.parametrize("service", list(SPECS))
def test_missing_id_fails_the_exporters_parser(fake, service):
    spec = SPECS[service]
    fake.seed(OWN_ACCOUNT, "us-east-1", service, [valid(service, "r-1"), valid(service, "r-2")])
    fake.malform(OWN_ACCOUNT, "us-east-1", service, "missing_id")

    first, second = call(fake, service)[spec.result_key]

    assert spec.id_key not in first and second[spec.id_key] == "r-2"
    with pytest.raises(MalformedRecord, match=spec.id_key):
        REGISTRY[service].parse(first)


def test_malformation_is_scoped_to_its_target(fake):
    for region in ("us-east-1", "eu-west-1"):
        fake.seed(OWN_ACCOUNT, region, "rds", [valid("rds", "r-1")])
    fake.malform(OWN_ACCOUNT, "us-east-1", "rds", "missing_id")

    eu = fake.client("rds", OWN_ACCOUNT, "eu-west-1").describe_reserved_db_instances()
    assert eu["ReservedDBInstances"][0]["ReservedDBInstanceId"] == "r-1"


@pytest.mark.parametrize("service", ["rds", "memorydb"])
def test_repeated_token_trips_botocores_paginator(fake, service):
    spec = SPECS[service]
    fake.seed(OWN_ACCOUNT, "us-east-1", service, [valid(service, f"r-{i}") for i in range(250)])
    fake.malform(OWN_ACCOUNT, "us-east-1", service, "repeated_token")
    paginator = fake.client(spec.client_name, OWN_ACCOUNT).get_paginator(xform_name(spec.operation))

    with pytest.raises(PaginationError):
        list(paginator.paginate())


@pytest.mark.parametrize("service", ["opensearch", "savingsplans"])
def test_repeated_token_trips_the_exporters_token_loop(fake, service):
    fake.seed(OWN_ACCOUNT, "us-east-1", service, [valid(service, f"r-{i}") for i in range(250)])
    fake.malform(OWN_ACCOUNT, "us-east-1", service, "repeated_token")
    client = fake.client(SPECS[service].client_name, OWN_ACCOUNT)

    with pytest.raises(MalformedRecord, match="repeated"):
        list(REGISTRY[service].list_records(client))


def test_bad_fault_arguments_are_refused(fake):
    with pytest.raises(ValueError, match="kind must be one of"):
        fake.malform(OWN_ACCOUNT, "us-east-1", "rds", "truncated")
    with pytest.raises(ValueError, match="unknown reservation service"):
        fake.malform(OWN_ACCOUNT, "us-east-1", "dynamodb", "missing_id")
    with pytest.raises(ValueError, match="service:Operation"):
        fake.deny(OWN_ACCOUNT, "DescribeReservedDBInstances")


# --- answers spoiled on the wire (corrupt) ---------------------------------------------


def raw_answer(fake, service: str, target: str, body: bytes) -> tuple[int, dict, bytes]:
    """One signed POST straight to the fake, read off the socket: the headers and
    body as sent, not as a client library would make of them."""
    import http.client
    from urllib.parse import urlparse

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(*fake.credentials(OWN_ACCOUNT))
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": target,
    }
    request = AWSRequest("POST", fake.endpoint_url + "/", data=body, headers=headers)
    SigV4Auth(creds, service, "us-east-1").add_auth(request)
    url = urlparse(fake.endpoint_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    connection.request("POST", "/", body=body, headers=dict(request.headers))
    response = connection.getresponse()
    declared = dict(response.getheaders())
    try:
        payload = response.read()
    except http.client.IncompleteRead as partial:
        payload = partial.partial
    connection.close()
    return response.status, declared, payload


def list_accounts(fake) -> tuple[int, dict, bytes]:
    return raw_answer(fake, "organizations", "AWSOrganizationsV20161128.ListAccounts", b"{}")


@pytest.fixture
def organization(fake):
    fake.add_org_account(OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT)
    fake.add_org_account("222222222222", "production")
    status, _, whole = list_accounts(fake)
    assert status == 200 and b"production" in whole
    return whole


def test_truncate_sends_half_the_body_with_a_matching_length(fake, organization):
    fake.corrupt("truncate", "organizations", "ListAccounts")
    status, headers, body = list_accounts(fake)
    assert status == 200
    assert body == organization[: len(organization) // 2]
    assert int(headers["Content-Length"]) == len(body)


def test_garbage_sends_an_html_page_with_status_200(fake, organization):
    fake.corrupt("garbage", "organizations", "ListAccounts")
    status, _, body = list_accounts(fake)
    assert status == 200
    assert body.startswith(b"<html>") and b"\x1b[2J" in body


def test_short_declares_the_whole_length_and_sends_half(fake, organization):
    fake.corrupt("short", "organizations", "ListAccounts")
    status, headers, body = list_accounts(fake)
    assert status == 200
    assert int(headers["Content-Length"]) == len(organization)
    assert body == organization[: len(organization) // 2]


def test_endless_token_adds_a_new_token_to_every_json_answer(fake, organization):
    import json

    fake.corrupt("endless_token", "organizations", "ListAccounts")
    tokens = {json.loads(list_accounts(fake)[2])["NextToken"] for _ in range(3)}
    assert len(tokens) == 3


def test_count_limits_the_spoiled_answers_and_account_selects_the_caller(fake, organization):
    fake.corrupt("garbage", "organizations", "ListAccounts", count=1)
    assert list_accounts(fake)[2].startswith(b"<html>")
    assert list_accounts(fake)[2] == organization
    fake.corrupt("garbage", "organizations", "ListAccounts", account_id="999999999999")
    assert list_accounts(fake)[2] == organization


def test_hang_holds_the_answer_until_reset(fake, organization):
    import threading

    fake.corrupt("hang", "organizations", "ListAccounts")
    answers: list[float] = []

    def ask() -> None:
        started = time.monotonic()
        with contextlib.suppress(OSError):
            list_accounts(fake)
        answers.append(time.monotonic() - started)

    thread = threading.Thread(target=ask)
    thread.start()
    time.sleep(1.0)
    assert answers == []  # still waiting
    fake.reset()
    thread.join(10)
    assert len(answers) == 1 and answers[0] >= 1.0


def test_drip_feeds_an_answer_under_any_read_timeout_until_reset(fake):
    import threading

    fake.seed(OWN_ACCOUNT, "us-east-1", "opensearch", [valid("opensearch", "os-1")])
    fake.corrupt("drip", "opensearch")
    # Each read gets a byte well within 1 s: no read timeout ever fires.
    patient = Config(read_timeout=1, retries={"mode": "standard", "total_max_attempts": 1})
    outcome: list[object] = []

    def ask() -> None:
        try:
            outcome.append(call(fake, "opensearch", config=patient))
        except Exception as exc:  # what it was is the assertion
            outcome.append(exc)

    thread = threading.Thread(target=ask)
    thread.start()
    time.sleep(2.5)
    assert outcome == []  # still receiving, 2.5 read timeouts later
    fake.reset()  # the rest at once: a whole, valid answer
    thread.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], dict), outcome
    assert [r["ReservedInstanceId"] for r in outcome[0]["ReservedInstances"]] == ["os-1"]


def test_endless_token_malformation_pages_forever(fake):
    fake.seed(OWN_ACCOUNT, "us-east-1", "memorydb", [valid("memorydb", "r-1")])
    fake.malform(OWN_ACCOUNT, "us-east-1", "memorydb", "endless_token")
    client = fake.client("memorydb", OWN_ACCOUNT)
    tokens = set()
    kwargs: dict = {}
    for _ in range(5):
        page = client.describe_reserved_nodes(**kwargs)
        assert [r["ReservationId"] for r in page["ReservedNodes"]] == ["r-1"]
        tokens.add(page["NextToken"])
        kwargs = {"NextToken": page["NextToken"]}
    assert len(tokens) == 5


def test_corrupt_refuses_unknown_kinds(fake):
    with pytest.raises(Exception, match="kind must be one of"):
        fake.corrupt("explode", "sts")
