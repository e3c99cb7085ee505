"""exporter.aws.errors: one classification of what went wrong, and texts that
never carry a credential."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    NoCredentialsError,
    PaginationError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError
from urllib3.exceptions import ProtocolError

from exporter.aws.errors import (
    DeadlineExceeded,
    MalformedRecord,
    MalformedResponse,
    ProfileError,
    check_deadline,
    deadline,
    describe_error,
    failure_reason,
    redact,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD" + "x" * 60
BODY = (
    "<AssumeRoleResponse><Credentials><AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>"
    f"<SecretAccessKey>{SECRET}</SecretAccessKey><SessionToken>{TOKEN[:70]}"
)


def client_error(code: str, status: int = 400, message: str = "no") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "DescribeReservedInstances",
    )


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (client_error("AccessDenied", 403), "denied"),
        (client_error("Throttling"), "throttled"),
        (client_error("InternalFailure", 500), "error"),
        (ReadTimeoutError(endpoint_url="https://sts"), "timeout"),
        (DeadlineExceeded("late"), "timeout"),
        (ResponseParserError("Unable to parse response: " + BODY), "malformed"),
        (MalformedResponse("not JSON"), "malformed"),
        (MalformedRecord("missing id"), "malformed"),
        (PaginationError(message="same token twice"), "malformed"),
        (ProtocolError("Connection broken: IncompleteRead"), "malformed"),
        (ValueError("Invalid timestamp"), "malformed"),
        (NoCredentialsError(), "denied"),
        (ProfileError("profile 'prod' needs an MFA code"), "denied"),
        (client_error("SlowDown", 503), "throttled"),
        (client_error("Whatever", 429), "throttled"),
        (client_error("Whatever", 403), "denied"),
        (RuntimeError("boom"), "error"),
    ],
)
def test_failure_reason(exc: BaseException, reason: str) -> None:
    assert failure_reason(exc) == reason


def test_a_parser_error_is_described_without_its_body() -> None:
    text = describe_error(ResponseParserError("Unable to parse response (no element):\n" + BODY))
    assert text.startswith("ResponseParserError: the answer could not be parsed")
    for secret in (SECRET, "ASIAIOSFODNN7EXAMPLE", TOKEN[:40], "SecretAccessKey"):
        assert secret not in text


@pytest.mark.parametrize(
    "leaky",
    [
        f"key ASIAIOSFODNN7EXAMPLE secret {SECRET}",
        f'{{"SecretAccessKey": "{SECRET}"}}',
        f"aws_session_token={TOKEN}",
        f"<SessionToken>{TOKEN}</SessionToken>",
    ],
)
def test_redact_removes_keys_secrets_and_tokens(leaky: str) -> None:
    cleaned = redact(leaky)
    assert "[redacted]" in cleaned
    for secret in ("ASIAIOSFODNN7EXAMPLE", SECRET, TOKEN[:30]):
        assert secret not in cleaned


def test_aws_error_messages_keep_their_arns() -> None:
    message = "User: arn:aws:sts::111111111111:assumed-role/R/s is not authorized"
    assert describe_error(client_error("AccessDenied", 403, message)) == f"AccessDenied: {message}"


def test_deadline_stops_new_requests_and_nests_to_the_earlier_one() -> None:
    check_deadline()  # no deadline: nothing happens
    with deadline(60):
        check_deadline()
        with deadline(-1), pytest.raises(DeadlineExceeded):
            check_deadline()
    # An inner, later deadline cannot extend the outer one.
    with deadline(-1), deadline(3600), pytest.raises(DeadlineExceeded):
        check_deadline()
    check_deadline()


def test_a_request_sent_before_the_deadline_waits_at_most_the_time_left() -> None:
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config

    def sent(within: float | None, read_timeout: float = 20) -> dict:
        request = AWSRequest(method="POST", url="https://sts.amazonaws.com/").prepare()
        request.context = {"client_config": Config(read_timeout=read_timeout)}
        if within is None:
            check_deadline(request=request)
        else:
            with deadline(within):
                check_deadline(request=request)
        return request.context

    assert "read_timeout" not in sent(None)  # no deadline: the client's own
    assert 2.5 < sent(3)["read_timeout"] <= 3  # the time left, not 20 s
    assert sent(3600)["read_timeout"] == 20  # never longer than the client's
    assert sent(3600, read_timeout=7)["read_timeout"] == 7
