"""What went wrong with an AWS call, in the exporter's terms: one place that
the refresher, discovery, ``doctor`` and the API counters all use.

The bottom of ``exporter.aws`` with ``partitions``: it imports nothing else
from the exporter, so every layer can raise its errors and classify them.

- The exporter's own errors: ``ProfileError`` (a named profile that cannot be
  used), ``MalformedRecord`` (a record without a field it needs),
  ``MalformedResponse`` (an answer that cannot be read), ``DeadlineExceeded``.
- ``outcome_of_code(code, status)``: ``ok``, ``throttled``, ``denied`` or
  ``error`` for one API attempt (the request counters).
- ``failure_reason(exc)``: ``denied``, ``throttled``, ``timeout``,
  ``malformed`` or ``error``.
- ``describe_error(exc)``: one line for logs and people, never a secret.
  botocore's parser errors quote the raw body they could not parse, and a
  truncated STS answer is a body full of credentials, so those are never
  shown; any other text is scrubbed of anything shaped like a key or token.
- ``watch(session)``: botocore hooks on a session. ``before-parse`` refuses an
  answer no parser can be trusted with (a JSON protocol answer that is not a
  JSON object, a body shorter or longer than its Content-Length, an empty
  body where output is due): botocore would otherwise read it as an empty
  result, and a target would "succeed" with no reservations. ``before-send``
  enforces the running task's deadline before every HTTP attempt.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import re
import time
import traceback
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PaginationError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError
from urllib3.exceptions import ProtocolError

# AWS error codes, by what they mean for us.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "AuthFailure",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "OptInRequired",
    }
)

REASONS = ("denied", "throttled", "timeout", "malformed", "error")


class ProfileError(Exception):
    """A named profile that cannot be used (missing, or needs an MFA prompt)."""


class MalformedRecord(ValueError):
    """A record from AWS lacks a required field or has one we cannot parse."""


class MalformedResponse(Exception):
    """AWS, or something between it and us, sent an answer that cannot be read."""


class DeadlineExceeded(Exception):
    """The unit of work ran out of time; no further request was sent."""


def outcome_of_code(code: str | None, status: int | None = None) -> str:
    """ok / throttled / denied / error for one API attempt."""
    if code in THROTTLING_CODES or status == 429:
        return "throttled"
    if code in DENIED_CODES or status == 403:
        return "denied"
    if code is None and status is not None and status < 300:
        return "ok"
    return "error"


def failure_reason(exc: BaseException) -> str:
    """denied / throttled / timeout / malformed / error."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        outcome = outcome_of_code(code, status)
        return outcome if outcome in ("throttled", "denied") else "error"
    if isinstance(exc, (NoCredentialsError, ProfileError)):
        return "denied"
    if isinstance(
        exc,
        (
            ConnectTimeoutError,
            ReadTimeoutError,
            EndpointConnectionError,
            ConnectionClosedError,
            DeadlineExceeded,
        ),
    ):
        return "timeout"
    # botocore raises a plain ValueError for an unparseable timestamp in a
    # response, and UnicodeDecodeError (a ValueError) for a body that is not text.
    if isinstance(
        exc,
        (MalformedRecord, MalformedResponse, ResponseParserError, PaginationError, ValueError),
    ):
        return "malformed"
    if _is_broken_body(exc):
        return "malformed"
    return "error"


def _is_broken_body(exc: BaseException) -> bool:
    """urllib3's IncompleteRead/ProtocolError: the body ended before it should."""
    return isinstance(exc, ProtocolError)


_UNREADABLE = (
    "the answer could not be parsed (truncated, garbled or not from AWS); its body is "
    "not shown because it may hold credentials"
)
# A key id, and values after a credential-like name in XML, JSON, query or
# Python-repr text; then any long run of base64, as secrets and tokens are.
_SECRETS = (
    re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    re.compile(
        r"(?i)(secret_?access_?key|secret_?key|session_?token|security_?token|token|"
        r"credentials?)(\W{1,4})([^\s\"'<>,&]{8,})"
    ),
    re.compile(r"[A-Za-z0-9/+=]{40,}"),
)


def redact(text: str) -> str:
    """``text`` with anything shaped like an AWS key, secret or token replaced."""
    text = _SECRETS[0].sub("[redacted]", text)
    text = _SECRETS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
    return _SECRETS[2].sub("[redacted]", text)


def describe_error(exc: BaseException) -> str:
    """A one-line reason for logs and people: what AWS said, or what broke.

    AWS error messages carry codes and ARNs; parser errors carry the raw
    body and are never quoted. Everything is scrubbed and kept short.
    """
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        text = f"{err.get('Code')}: {err.get('Message')}"
    elif isinstance(exc, (ResponseParserError, UnicodeDecodeError)):
        text = f"{type(exc).__name__}: {_UNREADABLE}"
    elif _is_broken_body(exc):
        text = f"{type(exc).__name__}: the answer ended before its declared length"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return redact(" ".join(text.split()))[:400]


def frames(exc: BaseException) -> str:
    """Where ``exc`` was raised, for a log line: the stack without the message
    (an exception's text may quote a body full of credentials)."""
    return "\n" + "".join(traceback.format_tb(exc.__traceback__)).rstrip()


# --- botocore hooks ----------------------------------------------------------------

_JSON_PROTOCOLS = frozenset({"json", "rest-json"})


def check_response(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
    """botocore ``before-parse`` hook: refuse an answer that would parse as empty.

    Only successful answers are checked; errors keep botocore's own handling.
    """
    status = response_dict.get("status_code") or 0
    if status >= 300 or operation_model.has_streaming_output:
        return
    body = response_dict.get("body") or b""
    headers = response_dict.get("headers") or {}
    declared = headers.get("content-length")
    if declared is not None and str(declared).isdigit() and int(declared) != len(body):
        raise MalformedResponse(
            f"{operation_model.name}: the answer has {len(body)} bytes of the "
            f"{int(declared)} its Content-Length declares"
        )
    # The protocol botocore chose (MemoryDB lists CBOR first, then JSON).
    service_model = operation_model.service_model
    protocol = getattr(service_model, "resolved_protocol", None) or service_model.protocol
    if not body.strip():
        if _expects_body(operation_model):
            raise MalformedResponse(f"{operation_model.name}: the answer is empty")
        return
    if protocol in _JSON_PROTOCOLS:
        try:
            document = json.loads(body)
        except ValueError:
            raise MalformedResponse(
                f"{operation_model.name}: the answer is not JSON ({_UNREADABLE})"
            ) from None
        if not isinstance(document, dict):
            raise MalformedResponse(f"{operation_model.name}: the answer is not a JSON object")


def _expects_body(operation_model: Any) -> bool:
    shape = operation_model.output_shape
    if shape is None:
        return False
    return any(member.serialization.get("location") is None for member in shape.members.values())


_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "aws_reservation_deadline", default=None
)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Requests made inside the block (retries included) stop after ``seconds``.

    No request starts after it, and one that starts waits for its answer at
    most the time left (see ``check_deadline``): a hung answer ends the block
    at the deadline, plus at most a connect timeout. Nested blocks keep the
    earlier deadline.
    """
    outer = _DEADLINE.get()
    mine = time.monotonic() + seconds
    token = _DEADLINE.set(mine if outer is None else min(outer, mine))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check_deadline(request: Any = None, **_: Any) -> None:
    """botocore ``before-send`` hook (and a check between pages).

    Refuses a request once the deadline has passed, and gives one sent before
    it a read timeout no longer than the time left: botocore (1.44 and later)
    takes a per-request ``read_timeout`` from the request's context. Without
    it, an answer that never comes would hold the caller a whole read timeout
    past the deadline.
    """
    limit = _DEADLINE.get()
    if limit is None:
        return
    left = limit - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded("ran out of time; no further request sent")
    context = getattr(request, "context", None)
    if isinstance(context, dict):
        configured = getattr(context.get("client_config"), "read_timeout", None)
        context["read_timeout"] = left if configured is None else min(configured, left)
    # Returns None: a value from before-send would be taken as the response.


def watch(session: Any) -> None:
    """Install the answer check and the deadline on every client of ``session``."""
    session.register("before-parse", check_response, unique_id="are-check-response")
    session.register("before-send", check_deadline, unique_id="are-check-deadline")
