"""The fake's pure parts without a server: record checking, paging tokens,
keys and request decoding, and error bodies botocore must parse."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone

import botocore.session
import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import create_parser

from exporter.fake import errors
from exporter.fake.catalog import GLOBAL, normalise_record, signing_name, spec_for
from exporter.fake.identity import credentials_for, describe, own_key_account
from exporter.fake.store import ReservationStore, decode_token, encode_token, page


def test_unknown_record_keys_are_refused_with_the_shapes_members():
    with pytest.raises(ValueError, match=r"rds: Endtime not in botocore's ReservedDBInstance"):
        normalise_record("rds", {"ReservedDBInstanceId": "x", "Endtime": "2025-01-01"})


def test_unknown_nested_keys_are_refused_with_their_path():
    record = {"ReservedInstancesId": "x", "RecurringCharges": [{"Amount": 1, "Period": "h"}]}
    with pytest.raises(ValueError, match=r"ec2\.RecurringCharges\[\]: Period not in"):
        normalise_record("ec2", record)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2025, 1, 2, 3, 4, 5),  # naive: taken as UTC, never local time
        datetime(2025, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1))),
        "2025-01-02T03:04:05Z",
        "2025-01-02T03:04:05+00:00",
        1735787045,
    ],
)
def test_timestamps_in_any_form_become_aware_utc_datetimes(value):
    record = normalise_record("memorydb", {"ReservationId": "r", "StartTime": value})
    assert record["StartTime"] == datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert record["StartTime"].tzinfo is timezone.utc


def test_unparseable_seed_timestamps_are_refused():
    with pytest.raises(ValueError, match="StartTime: not a timestamp"):
        normalise_record("rds", {"ReservedDBInstanceId": "r", "StartTime": "soon"})


def test_savings_plan_times_stay_strings_as_botocore_types_them():
    record = normalise_record("savingsplans", {"savingsPlanId": "p", "start": "garbage"})
    assert record["start"] == "garbage"


def test_service_names_resolve_from_any_alias():
    assert spec_for("es").service == "opensearch"
    assert signing_name("opensearch") == "es"
    assert signing_name("sts") == "sts"
    with pytest.raises(ValueError, match="unknown reservation service 'dynamodb'"):
        spec_for("dynamodb")


def test_store_keeps_targets_apart_and_savings_plans_global():
    store = ReservationStore()
    store.add("111111111111", "us-east-1", "ec2", [{"ReservedInstancesId": "a"}])
    store.add("111111111111", "eu-west-1", "savingsplans", [{"savingsPlanId": "p"}])

    assert store.list("111111111111", "eu-west-1", "ec2") == []
    assert store.list("111111111111", "ap-south-1", "savingsplans") == [{"savingsPlanId": "p"}]
    assert store.list("111111111111", GLOBAL, "savingsplans") == [{"savingsPlanId": "p"}]
    assert store.counts() == {"ec2": 1, "savingsplans": 1}


@pytest.mark.parametrize(
    ("account", "record", "message"),
    [
        ("1111", {"ReservedInstancesId": "a"}, "account_id must be 12 digits"),
        ("111111111111", {"State": "active"}, "every seeded record needs ReservedInstancesId"),
    ],
)
def test_store_refuses_bad_seeds(account, record, message):
    with pytest.raises(ValueError, match=message):
        ReservationStore().add(account, "us-east-1", "ec2", [record])


def test_tokens_round_trip_and_match_savings_plans_pattern():
    token = encode_token(300)
    assert decode_token(token) == 300
    assert re.fullmatch(r"[A-Za-z0-9/=+]+", token)
    for bad in ("", "!!", encode_token(1)[:-2] + "zz", "aGVsbG8"):
        with pytest.raises(ValueError):
            decode_token(bad)


def test_page_walks_records_and_stuck_repeats_its_token():
    records = [{"n": i} for i in range(5)]
    first, token = page(records, None, 2)
    second, token2 = page(records, token, 2)
    last, end = page(records, token2, 2)
    assert [r["n"] for r in first + second + last] == [0, 1, 2, 3, 4]
    assert end is None
    assert page(records, None, 5) == (records, None)
    _, stuck1 = page(records, None, 2, stuck=True)
    _, stuck2 = page(records, stuck1, 2, stuck=True)
    assert stuck1 == stuck2


def test_own_keys_are_deterministic_moto_shaped_and_map_back_to_their_account():
    key, secret = credentials_for("222222222222")
    assert re.fullmatch(r"[A-Z0-9]{20}", key)
    assert credentials_for("222222222222") == (key, secret)
    assert own_key_account(key) == "222222222222"
    assert own_key_account("ASIAXXXXXXXXXXXXXXXX") is None
    with pytest.raises(ValueError):
        credentials_for("12")


def environ(method="POST", path="/", body=b"", **headers):
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": headers.pop("query", ""),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_AUTHORIZATION": headers.pop("auth", ""),
    }
    env.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    if "content_type" in headers:
        env["CONTENT_TYPE"] = env.pop("HTTP_CONTENT_TYPE")
    return env


def auth(service: str, region: str = "eu-west-1", account: str = "333333333333") -> str:
    key = credentials_for(account)[0]
    return (
        f"AWS4-HMAC-SHA256 Credential={key}/20250101/{region}/{service}/aws4_request, "
        "SignedHeaders=host, Signature=abc"
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            environ(
                body=b"Action=DescribeReservedDBInstances&Version=2014-10-31",
                content_type="application/x-www-form-urlencoded; charset=utf-8",
                auth=auth("rds"),
            ),
            ("rds", "DescribeReservedDBInstances", "query"),
        ),
        (
            environ(
                body=b"Action=DescribeReservedInstances",
                content_type="application/x-www-form-urlencoded",
                auth=auth("ec2"),
            ),
            ("ec2", "DescribeReservedInstances", "ec2"),
        ),
        (
            environ(
                body=b"{}",
                x_amz_target="AmazonMemoryDB.DescribeReservedNodes",
                auth=auth("memorydb"),
            ),
            ("memorydb", "DescribeReservedNodes", "json"),
        ),
        (
            environ("GET", "/2021-01-01/opensearch/reservedInstances", auth=auth("es")),
            ("es", "DescribeReservedInstances", "rest-json"),
        ),
        (
            environ("POST", "/DescribeSavingsPlans", body=b"{}", auth=auth("savingsplans")),
            ("savingsplans", "DescribeSavingsPlans", "rest-json"),
        ),
        (
            environ("GET", "/2021-01-01/opensearch/domain/my-domain", auth=auth("es")),
            ("es", "DescribeDomain", "rest-json"),
        ),
    ],
)
def test_requests_decode_to_account_region_service_operation_protocol(env, expected):
    info = describe(env, env["wsgi.input"].read())
    assert (info.account_id, info.region) == ("333333333333", "eu-west-1")
    assert (info.signing_name, info.operation, info.protocol) == expected


def test_unsigned_requests_other_than_web_identity_are_not_aws_calls():
    assert describe(environ("GET", "/moto-api/"), b"") is None
    body = b"Action=AssumeRoleWithWebIdentity&RoleArn=x"
    env = environ(body=body, content_type="application/x-www-form-urlencoded")
    info = describe(env, body)
    assert (info.signing_name, info.operation, info.access_key) == (
        "sts",
        "AssumeRoleWithWebIdentity",
        "",
    )


PROTOCOL_OF = {"ec2": "ec2", "rds": "query", "memorydb": "json", "savingsplans": "rest-json"}
OPERATION_OF = {
    "ec2": "DescribeReservedInstances",
    "rds": "DescribeReservedDBInstances",
    "memorydb": "DescribeReservedNodes",
    "savingsplans": "DescribeSavingsPlans",
}


@pytest.mark.parametrize("service", list(PROTOCOL_OF))
@pytest.mark.parametrize(
    "rejection",
    [
        errors.Rejection("AccessDenied", "User: x is not <allowed> & that's that", 403),
        errors.Rejection("Throttling", "Rate exceeded", 400),
    ],
)
def test_rendered_errors_parse_in_botocore_to_their_code_and_message(service, rejection):
    model = botocore.session.get_session().get_service_model(service)
    status, headers, body = errors.render(PROTOCOL_OF[service], rejection)
    parser = create_parser(model.metadata["protocol"] if service != "memorydb" else "json")
    parsed = parser.parse(
        {"status_code": status, "headers": HeadersDict(headers), "body": body},
        model.operation_model(OPERATION_OF[service]).output_shape,
    )
    assert parsed["Error"]["Code"] == rejection.code
    assert parsed["Error"]["Message"] == rejection.message
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == rejection.status


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        (200, "", "ok"),
        (503, "RequestLimitExceeded", "throttled"),
        (400, "ThrottlingException", "throttled"),
        (403, "UnauthorizedOperation", "denied"),
        (400, "ExpiredToken", "denied"),
        (404, "ReservedDBInstanceNotFound", "error"),
    ],
)
def test_outcomes_use_the_exporters_vocabulary(status, code, outcome):
    assert errors.outcome(status, code) == outcome


def test_error_codes_are_found_wherever_the_protocol_puts_them():
    assert errors.error_code({"x-amzn-errortype": "ValidationException:http://x"}, b"") == (
        "ValidationException"
    )
    assert errors.error_code({}, b'{"__type": "com.amazon#ThrottlingException"}') == (
        "ThrottlingException"
    )
    assert errors.error_code({}, b"<Error><Code>Throttling</Code></Error>") == "Throttling"
