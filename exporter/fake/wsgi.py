"""The WSGI layer in front of moto: control API, latency, expired keys,
denied actions, throttling, strict STS, malformed and corrupted bodies and
the call log."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode

from exporter.aws.partitions import account_of_arn
from exporter.fake import errors
from exporter.fake.catalog import BY_CALL, CE_TOKEN_KEYS, wire_name
from exporter.fake.control import CONTROL_PREFIX, handle_control
from exporter.fake.guard import DRIP_INTERVAL, HANG_LIMIT
from exporter.fake.identity import RequestInfo, caller_arn, describe, own_key_account
from exporter.fake.recorder import Call
from exporter.fake.state import FakeState

StartResponse = Callable[..., Any]
_STS_CREDENTIALS = re.compile(
    rb"<AccessKeyId>([^<]+)</AccessKeyId>.*?<Expiration>([^<]+)</Expiration>", re.S
)


class FakeAwsApp:
    """Wraps moto's dispatcher; every AWS request passes through ``__call__``."""

    def __init__(self, moto_app: Callable[..., Iterable[bytes]], state: FakeState) -> None:
        self.moto_app = moto_app
        self.state = state

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):
            return handle_control(self.state, environ, start_response)
        body = _read_body(environ)
        info = describe(environ, body, self.state.trust.account_of)
        if info is None:  # moto's own API, favicon...: not an AWS call
            return self.moto_app(environ, start_response)
        if own_key_account(info.access_key) or self.state.trust.account_of(info.access_key):
            # moto's documented override: serve this request from that account
            # (and spare moto its scan of every account's keys).
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = info.account_id
        latency = self.state.faults.latency(info)
        if latency:
            time.sleep(latency)
        rejection = self._reject(info)
        declared: int | None = None  # a Content-Length other than the body's own
        kind: str | None = None
        if rejection is not None:
            status, headers, payload = errors.render(info.protocol, rejection)
        else:
            if info.signing_name == "sts" and self.state.trust.cap_seconds:
                _cap_duration(environ, body, self.state.trust.cap_seconds)
            status, headers, payload = self._call_moto(environ)
            if status < 400:
                payload = self._after(info, payload)
                kind = self.state.faults.take_corruption(info)
                if kind is not None:
                    payload, declared, headers = self._spoil(kind, info, payload, headers)
        lowered = {k.lower(): v for k, v in headers}
        code = "" if status < 400 else errors.error_code(lowered, payload)
        self.state.recorder.record(
            Call(
                info.account_id,
                info.region,
                info.signing_name,
                info.operation,
                errors.outcome(status, code),
            )
        )
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(payload) if declared is None else declared)))
        start_response(f"{status} {_reason(status)}", headers)
        if kind == "drip":
            return self._drip(payload)
        return [payload]

    def _drip(self, payload: bytes) -> Iterator[bytes]:
        """``payload`` a byte every DRIP_INTERVAL, the rest at once when released."""
        released = self.state.faults.released
        deadline = time.monotonic() + HANG_LIMIT
        for i in range(len(payload)):
            if released.wait(DRIP_INTERVAL) or time.monotonic() > deadline:
                yield payload[i:]
                return
            yield payload[i : i + 1]

    def _spoil(
        self, kind: str, info: RequestInfo, payload: bytes, headers: list[tuple[str, str]]
    ) -> tuple[bytes, int | None, list[tuple[str, str]]]:
        """(body, declared Content-Length or None, headers) of a corrupted answer."""
        if kind == "drip":  # the body is sent slowly by __call__
            return payload, None, headers
        if kind == "hang":
            # Never answer in time: the client's read timeout fires first.
            self.state.faults.released.wait(HANG_LIMIT)
            return payload, None, headers
        if kind == "truncate":
            return payload[: len(payload) // 2], None, headers
        if kind == "garbage":
            # An HTML error page with status 200, as a misconfigured proxy sends.
            return b"<html><body>502 Bad Gateway\x1b[2J</body></html>", None, headers
        if kind == "short":
            # Half the body under the whole body's length, then the connection
            # closes: what a dying proxy sends.
            return payload[: len(payload) // 2], len(payload), [*headers, ("Connection", "close")]
        return _endless_token(info, payload), None, headers

    def _reject(self, info: RequestInfo) -> errors.Rejection | None:
        """Why AWS would refuse this request, checked in AWS's order; None if it would not."""
        if info.access_key and self.state.trust.is_expired(info.access_key):
            return errors.expired_token(info.protocol)
        if self.state.faults.is_denied(info):
            arn = caller_arn(info.access_key, info.account_id)
            resource = f"arn:aws:{info.signing_name}:{info.region}:{info.account_id}:*"
            return errors.access_denied(
                info.protocol,
                f"User: {arn} is not authorized to perform: {info.iam_action} on resource: "
                f"{resource} because no identity-based policy allows the {info.iam_action} action",
            )
        if self.state.faults.take_throttle(info):
            return errors.throttled(info.protocol, info.signing_name)
        if info.signing_name == "sts" and info.operation == "AssumeRole":
            arn = caller_arn(info.access_key, info.account_id)
            refusal, info.mfa = self.state.trust.check_assume_role(
                info.access_key, info.account_id, arn, info.params
            )
            return refusal
        if info.signing_name == "sts" and info.operation == "GetSessionToken":
            refusal, info.mfa = self.state.trust.check_session_token(info.access_key, info.params)
            return refusal
        return None

    def _after(self, info: RequestInfo, payload: bytes) -> bytes:
        """Post-process a successful moto answer: remember sessions, corrupt bodies."""
        if info.signing_name == "sts" and info.operation in ("AssumeRole", "GetSessionToken"):
            match = _STS_CREDENTIALS.search(payload)
            if match:
                key, expiration = (g.decode() for g in match.groups())
                role_arn = info.params.get("RoleArn") if info.operation == "AssumeRole" else None
                account = account_of_arn(role_arn) if role_arn else info.account_id
                self.state.trust.remember(key, account, _parse_time(expiration), role_arn, info.mfa)
            return payload
        spec = BY_CALL.get((info.signing_name, info.operation))
        if spec is not None:
            kind = self.state.faults.malformation(info.account_id, info.region, spec.service)
            if kind == "bad_timestamp":
                return _garble_first(payload, wire_name(spec.service, spec.start_key))
        return payload

    def _call_moto(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        result = self.moto_app(environ, capture)
        try:
            payload = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close:
                close()
        return int(captured["status"].split(" ", 1)[0]), list(captured["headers"]), payload


def _endless_token(info: RequestInfo, payload: bytes) -> bytes:
    """A JSON answer with a page token it has never sent before."""
    try:
        document = json.loads(payload)
    except ValueError:
        return payload
    spec = BY_CALL.get((info.signing_name, info.operation))
    key = spec.token_key if spec is not None and spec.token_key else "NextToken"
    if info.signing_name == "ce":
        key = CE_TOKEN_KEYS.get(info.operation, key)
    document[key] = f"endless-{uuid.uuid4().hex}"
    return json.dumps(document).encode()


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
    return body


def _cap_duration(environ: dict[str, Any], body: bytes, cap: int) -> None:
    """Rewrite an STS form body so moto issues a session of at most ``cap`` seconds."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return
    fields = parse_qsl(body.decode(), keep_blank_values=True)
    if not any(k == "Action" and v in ("AssumeRole", "GetSessionToken") for k, v in fields):
        return
    asked = next((int(v) for k, v in fields if k == "DurationSeconds" and v.isdigit()), None)
    fields = [(k, v) for k, v in fields if k != "DurationSeconds"]
    fields.append(("DurationSeconds", str(min(asked or cap, cap))))
    new_body = urlencode(fields).encode()
    environ["wsgi.input"] = io.BytesIO(new_body)
    environ["CONTENT_LENGTH"] = str(len(new_body))


def _parse_time(text: str) -> datetime:
    from botocore.utils import parse_timestamp

    return parse_timestamp(text)


def _garble_first(payload: bytes, name: str) -> bytes:
    """Replace the first value of field ``name`` with text no parser accepts.

    Done on the serialised body because moto's serialiser itself rejects an
    unparseable timestamp (HTTP 500) before it could reach a client.
    """
    field = re.escape(name.encode())
    xml = re.compile(rb"<(" + field + rb")>[^<]*</\1>")
    if xml.search(payload):
        return xml.sub(rb"<\1>not-a-timestamp</\1>", payload, count=1)
    as_json = re.compile(rb'("' + field + rb'"\s*:\s*)("[^"]*"|[-+0-9.eE]+)')
    return as_json.sub(rb'\1"not-a-timestamp"', payload, count=1)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"
