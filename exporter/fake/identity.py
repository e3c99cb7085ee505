"""Who is calling what: the fake's own long-term keys and the decoding of a
signed request into (account, region, signing name, operation, protocol)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account

# Long-term keys are derived from the account id, so an in-process harness, a
# remote control client and a subprocess all agree on them without asking.
# moto maps a key to an account only when it is 20 chars of [A-Z0-9].
_OWN_KEY = re.compile(r"^AKIA(\d{12})FAKE$")
_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_ANY_KEY = re.compile(r"^[A-Z0-9]{20}$")


def credentials_for(account_id: str) -> tuple[str, str]:
    """The fake's long-term (access key id, secret) for ``account_id``."""
    if len(account_id) != 12 or not account_id.isdigit():
        raise ValueError(f"account_id must be 12 digits, got {account_id!r}")
    return f"AKIA{account_id}FAKE", f"fake-secret-for-{account_id}"


def own_key_account(access_key: str) -> str | None:
    """The account of one of the fake's long-term keys, else None."""
    match = _OWN_KEY.match(access_key)
    return match.group(1) if match else None


def account_of(access_key: str, known: Callable[[str], str | None] | None = None) -> str:
    """The account moto will serve a request signed with ``access_key`` from.

    ``known`` answers for session keys the fake issued; moto's own lookup
    scans every account's IAM keys, which grows with the number of accounts.
    """
    own = own_key_account(access_key) or (known(access_key) if known else None)
    if own:
        return own
    if not _ANY_KEY.match(access_key):
        return DEFAULT_ACCOUNT_ID
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


def caller_arn(access_key: str, account_id: str) -> str:
    """The ARN ``sts:GetCallerIdentity`` reports for ``access_key``."""
    from moto.sts.models import sts_backends

    _, arn, _ = sts_backends[account_id]["aws"].get_caller_identity(access_key, "us-east-1")
    return arn


@dataclass
class RequestInfo:
    """What the guard and recorder need to know about one AWS request."""

    access_key: str
    account_id: str
    region: str
    signing_name: str
    operation: str
    protocol: str  # ec2 | query | json | rest-json
    params: dict[str, Any] = field(default_factory=dict)  # query/form params, first values
    mfa: bool = False  # set by the STS checks: the new session is MFA-authenticated

    @property
    def iam_action(self) -> str:
        return f"{self.signing_name}:{self.operation}"


def describe(
    environ: dict[str, Any], body: bytes, known: Callable[[str], str | None] | None = None
) -> RequestInfo | None:
    """Decode a request; None when it is not a signed AWS API call.

    ``known`` maps session keys the fake issued to their account (see ``account_of``).
    """
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    params = _query_params(environ, body)
    if match:
        access_key, region, signing_name = match.groups()
    elif params.get("Action") in ("AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"):
        access_key, region, signing_name = "", "us-east-1", "sts"  # unsigned by design
    else:
        return None
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        operation, protocol = target.rsplit(".", 1)[-1], "json"
    elif "Action" in params:
        operation = params["Action"]
        protocol = "ec2" if signing_name == "ec2" else "query"
    else:
        operation = _rest_operation(signing_name, environ)
        protocol = "rest-json"
    return RequestInfo(
        access_key=access_key,
        account_id=account_of(access_key, known) if access_key else DEFAULT_ACCOUNT_ID,
        region=region,
        signing_name=signing_name,
        operation=operation,
        protocol=protocol,
        params=params,
    )


def _query_params(environ: dict[str, Any], body: bytes) -> dict[str, str]:
    raw = environ.get("QUERY_STRING", "")
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        raw = f"{raw}&{body.decode(errors='replace')}" if raw else body.decode(errors="replace")
    return {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}


# Signing names whose botocore model is not called like them.
_MODEL_FOR_SIGNING_NAME = {"es": "opensearch"}


def _rest_operation(signing_name: str, environ: dict[str, Any]) -> str:
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "/")
    for op_method, pattern, name in _rest_routes(
        _MODEL_FOR_SIGNING_NAME.get(signing_name, signing_name)
    ):
        if op_method == method and pattern.match(path):
            return name
    return ""


@functools.cache
def _rest_routes(service: str) -> tuple[tuple[str, re.Pattern[str], str], ...]:
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    try:
        model = botocore.session.get_session().get_service_model(service)
    except UnknownServiceError:
        return ()
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http.get("requestUri", "/").split("?", 1)[0]
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(uri))
        routes.append((http.get("method", "POST"), re.compile(f"^{regex}/?$"), name))
    # Literal paths before templated ones, so /domain wins over /{name}.
    routes.sort(key=lambda route: route[1].pattern.count("[^/]+"))
    return tuple(routes)
