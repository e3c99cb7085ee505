"""AWS error responses in each wire protocol, and the outcome of a response.

The guard rejects requests before moto sees them, so it renders the errors
itself, byte for byte in the shape botocore parses (code, message, status).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "LimitExceededException",  # Cost Explorer's rate limit
    }
)
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
    }
)


@dataclass(frozen=True)
class Rejection:
    """An error the fake answers with instead of calling moto."""

    code: str
    message: str
    status: int = 400


def throttled(protocol: str, signing_name: str = "") -> Rejection:
    """The real throttling error of a protocol or service (botocore's standard
    retry mode retries each of these)."""
    if signing_name == "ce":
        # The one rate-limit error Cost Explorer's model declares. botocore's
        # standard mode retries it; its legacy mode does not (no rule for ce).
        return Rejection("LimitExceededException", "Rate exceeded", 400)
    if protocol == "ec2":
        # botocore's legacy retry rule for EC2 matches this code with HTTP 503.
        return Rejection("RequestLimitExceeded", "Request limit exceeded.", 503)
    if protocol == "query":
        return Rejection("Throttling", "Rate exceeded", 400)
    return Rejection("ThrottlingException", "Rate exceeded", 400)


def access_denied(protocol: str, message: str) -> Rejection:
    """IAM's refusal, spelled as each protocol spells it."""
    if protocol == "ec2":
        return Rejection(
            "UnauthorizedOperation",
            f"You are not authorized to perform this operation. {message}",
            403,
        )
    if protocol == "query":
        return Rejection("AccessDenied", message, 403)
    return Rejection("AccessDeniedException", message, 403 if protocol == "rest-json" else 400)


def expired_token(protocol: str) -> Rejection:
    message = "The security token included in the request is expired"
    if protocol in ("ec2", "query"):
        return Rejection("ExpiredToken", message, 400)
    return Rejection("ExpiredTokenException", message, 403)


def render(protocol: str, rejection: Rejection) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of ``rejection`` in ``protocol``'s wire format."""
    request_id = str(uuid.uuid4())
    code, message = escape(rejection.code), escape(rejection.message)
    headers = [("x-amzn-RequestId", request_id)]
    if protocol == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        headers.append(("Content-Type", "text/xml;charset=UTF-8"))
    elif protocol == "query":
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers.append(("Content-Type", "text/xml"))
    elif protocol == "json":
        body = json.dumps({"__type": rejection.code, "message": rejection.message})
        headers.append(("Content-Type", "application/x-amz-json-1.1"))
    else:  # rest-json (and anything unknown): the type travels in a header
        body = json.dumps({"message": rejection.message})
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", rejection.code)]
    return rejection.status, headers, body.encode()


_CODE_PATTERNS = (
    re.compile(rb"<Code>([^<]+)</Code>"),
    re.compile(rb'"__type"\s*:\s*"([^"]+)"'),
    re.compile(rb'"code"\s*:\s*"([^"]+)"'),
)


def error_code(headers: dict[str, str], body: bytes) -> str:
    """The AWS error code of a response, wherever its protocol puts it."""
    header = headers.get("x-amzn-errortype")
    if header:
        return header.split(":", 1)[0]
    for pattern in _CODE_PATTERNS:
        match = pattern.search(body[:4096])
        if match:
            return match.group(1).decode(errors="replace").rsplit("#", 1)[-1]
    return ""


def outcome(status: int, code: str) -> str:
    """ok | throttled | denied | error: the exporter's own outcome vocabulary."""
    if status < 400:
        return "ok"
    if code in THROTTLING_CODES:
        return "throttled"
    if code in DENIED_CODES:
        return "denied"
    return "error"
