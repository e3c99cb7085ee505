"""One control surface for the fake, in process or over HTTP.

``FakeControls`` is the API tests and benchmarks use (seed, add_role, deny,
throttle, delay, malform, calls, reset, env...). ``FakeAws`` (in-process)
and ``FakeAwsClient`` (a fake running elsewhere, e.g. ``python -m
exporter.fake``) both implement it; the server side is ``handle_control``,
a small JSON API under ``/_fake/``.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from exporter.aws.environment import isolate_from_real_aws
from exporter.fake.identity import DEFAULT_ACCOUNT_ID, credentials_for
from exporter.fake.recorder import Call

if TYPE_CHECKING:
    from exporter.fake.state import FakeState

CONTROL_PREFIX = "/_fake/"
OPERATIONS = (
    "seed",
    "tag_reservation",
    "set_utilization",
    "ce_rename_attribute",
    "ce_drop_attribute",
    "add_role",
    "add_mfa_device",
    "set_session_limits",
    "deny",
    "throttle",
    "delay",
    "malform",
    "corrupt",
    "add_org_account",
    "tag_org_account",
    "move_org_account",
    "calls",
    "reset_calls",
    "reset",
)


class FakeError(RuntimeError):
    """The fake refused a control request (bad arguments, unknown operation)."""


class FakeControls:
    """What tests, the demo and benchmarks call; subclasses say how to reach the fake."""

    endpoint_url: str | None = None

    def _invoke(self, op: str, /, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- data -------------------------------------------------------------------

    def seed(
        self, account_id: str, region: str, service: str, records: Iterable[Mapping[str, Any]]
    ) -> int:
        """Add reservation records to (account, region, service); returns the target's size.

        Records use botocore's member names and types (datetime timestamps;
        ISO strings are accepted too). Savings Plans are global: any region.
        """
        return self._invoke(
            "seed", account_id=account_id, region=region, service=service, records=list(records)
        )

    def tag_reservation(
        self,
        account_id: str,
        region: str,
        service: str,
        reservation: str,
        tags: Mapping[str, str],
    ) -> None:
        """Replace the tags of a seeded reservation, named by its id or ARN.

        EC2 and Savings Plans return them in their listing (``Tags``, ``tags``);
        RDS, ElastiCache and MemoryDB from their tag API called with the
        reservation's ARN. Redshift and OpenSearch reservations have no tags
        in AWS: ValueError.
        """
        self._invoke(
            "tag_reservation",
            account_id=account_id,
            region=region,
            service=service,
            reservation=reservation,
            tags=dict(tags),
        )

    def set_utilization(
        self, account_id: str, service: str, reservation_id: str, percent: float | None
    ) -> None:
        """Cost Explorer's utilization, 0-100 percent, of one seeded reservation
        (``service`` ec2, rds, elasticache, redshift, opensearch, memorydb) or
        Savings Plan (``savingsplans``; its id or ARN) of ``account_id``.

        ``None`` restores the default, a spread derived from the id
        (``ceplan.default_utilization``).
        """
        self._invoke(
            "set_utilization",
            account_id=account_id,
            service=service,
            reservation_id=reservation_id,
            percent=percent,
        )

    def ce_rename_attribute(self, old: str, new: str | None) -> None:
        """Send Cost Explorer attribute ``old`` (``endDateTime``, ``EndDateTime``...)
        under the key ``new`` in every answer; None drops it, ``new == old`` restores it."""
        self._invoke("ce_rename_attribute", old=old, new=new)

    def ce_drop_attribute(self, key: str) -> None:
        """Leave Cost Explorer attribute ``key`` out of every answer."""
        self._invoke("ce_drop_attribute", key=key)

    def add_org_account(
        self,
        account_id: str,
        name: str,
        state: str | None = "ACTIVE",
        status: str | None = None,
        email: str | None = None,
        management_account_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        ou_path: str | None = None,
    ) -> None:
        """List an account in Organizations' ListAccounts (of the management account,
        default 123456789012 or the last one given).

        ``tags`` replace its tags (ListTagsForResource); ``ou_path`` such as
        ``"Workloads/Payments"`` (relative to the root; ``""`` is the root)
        moves it there, creating missing OUs. None leaves either as it is.
        """
        self._invoke(
            "add_org_account",
            account_id=account_id,
            name=name,
            state=state,
            status=status,
            email=email,
            management_account_id=management_account_id,
            tags=None if tags is None else dict(tags),
            ou_path=ou_path,
        )

    def tag_org_account(self, account_id: str, tags: Mapping[str, str]) -> None:
        """Replace the tags of an account of the organization."""
        self._invoke("tag_org_account", account_id=account_id, tags=dict(tags))

    def move_org_account(self, account_id: str, ou_path: str) -> None:
        """Move an account of the organization to the OU at ``ou_path``."""
        self._invoke("move_org_account", account_id=account_id, ou_path=ou_path)

    # --- STS ----------------------------------------------------------------------

    def add_role(
        self,
        role_arn: str,
        external_id: str | None = None,
        mfa_serial: str | None = None,
        trusted_account_ids: list[str] | None = None,
        max_session_seconds: int = 3600,
    ) -> None:
        """Make a role assumable; unregistered roles are refused like AWS refuses them."""
        self._invoke(
            "add_role",
            role_arn=role_arn,
            external_id=external_id,
            mfa_serial=mfa_serial,
            trusted_account_ids=list(trusted_account_ids) if trusted_account_ids else None,
            max_session_seconds=max_session_seconds,
        )

    def add_mfa_device(self, serial: str, code: str) -> None:
        self._invoke("add_mfa_device", serial=serial, code=code)

    def set_session_limits(self, min_seconds: int = 900, cap_seconds: int | None = None) -> None:
        """STS bounds: smallest DurationSeconds accepted (AWS: 900; boto3 also checks
        it client-side) and a cap on every issued session's lifetime in seconds."""
        self._invoke("set_session_limits", min_seconds=min_seconds, cap_seconds=cap_seconds)

    # --- faults -------------------------------------------------------------------

    def deny(self, account_id: str, action: str) -> None:
        self._invoke("deny", account_id=account_id, action=action)

    def throttle(
        self, service: str, operation: str, count: int, account_id: str | None = None
    ) -> None:
        self._invoke(
            "throttle", service=service, operation=operation, count=count, account_id=account_id
        )

    def delay(self, service: str | None, seconds: float) -> None:
        self._invoke("delay", service=service, seconds=seconds)

    def malform(self, account_id: str, region: str, service: str, kind: str | None) -> None:
        self._invoke("malform", account_id=account_id, region=region, service=service, kind=kind)

    def corrupt(
        self,
        kind: str,
        service: str = "*",
        operation: str = "*",
        account_id: str | None = None,
        count: int | None = None,
    ) -> None:
        """Spoil successful answers on the wire (truncate, garbage, short, hang,
        endless_token) for any service, STS and Organizations included."""
        self._invoke(
            "corrupt",
            kind=kind,
            service=service,
            operation=operation,
            account_id=account_id,
            count=count,
        )

    # --- recorder and reset -------------------------------------------------------

    def calls(
        self,
        account_id: str | None = None,
        region: str | None = None,
        service: str | None = None,
        operation: str | None = None,
        outcome: str | None = None,
    ) -> list[Call]:
        found = self._invoke(
            "calls",
            account_id=account_id,
            region=region,
            service=service,
            operation=operation,
            outcome=outcome,
        )
        return [Call(*call) for call in found]

    def reset_calls(self) -> None:
        self._invoke("reset_calls")

    def reset(self) -> None:
        self._invoke("reset")

    # --- reaching the fake ------------------------------------------------------

    def credentials(self, account_id: str = DEFAULT_ACCOUNT_ID) -> tuple[str, str]:
        """Long-term (access key id, secret) that act as ``account_id``."""
        return credentials_for(account_id)

    def env(
        self,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = "us-east-1",
        base: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """A complete environment for a client or subprocess that must reach only the fake.

        Starts from ``base`` (default: ``os.environ``), drops profiles, session
        tokens, per-service endpoints and other ways to real AWS (the one list,
        ``exporter.aws.environment``), and sets the endpoint, ``account_id``'s
        keys and the region. Config files point at the null device, so a
        developer's ~/.aws cannot leak in.
        """
        if not self.endpoint_url:
            raise FakeError("the fake is not running: start() it first")
        result = dict(os.environ if base is None else base)
        isolate_from_real_aws(result)  # also the null config files, no metadata service
        key, secret = credentials_for(account_id)
        result.update(
            AWS_ENDPOINT_URL=self.endpoint_url,
            AWS_ACCESS_KEY_ID=key,
            AWS_SECRET_ACCESS_KEY=secret,
            AWS_DEFAULT_REGION=region,
            AWS_REGION=region,
        )
        return result

    def apply_env(
        self,
        environ: MutableMapping[str, str] | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = "us-east-1",
    ) -> None:
        """Make ``environ`` (default: ``os.environ``) equal to ``env()``, in place."""
        target = os.environ if environ is None else environ
        wanted = self.env(account_id, region, base=dict(target))
        for key in [k for k in target if k not in wanted]:
            del target[key]
        target.update(wanted)

    def client(
        self,
        service: str,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = "us-east-1",
        **kwargs: Any,
    ) -> Any:
        """A boto3 client acting as ``account_id`` (one shared session: models load once)."""
        if not self.endpoint_url:
            raise FakeError("the fake is not running: start() it first")
        key, secret = credentials_for(account_id)
        with _SESSION_LOCK:  # a botocore session is not safe to build clients from concurrently
            return _boto3_session().client(
                service,
                endpoint_url=self.endpoint_url,
                region_name=region,
                aws_access_key_id=key,
                aws_secret_access_key=secret,
                **kwargs,
            )


_SESSION: Any = None
_SESSION_LOCK = threading.Lock()


def _boto3_session() -> Any:
    global _SESSION
    if _SESSION is None:
        import boto3

        _SESSION = boto3.session.Session()
    return _SESSION


class FakeAwsClient(FakeControls):
    """Drives a fake running in another process through its control API."""

    def __init__(self, endpoint_url: str, timeout: float = 30.0) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.timeout = timeout

    def _invoke(self, op: str, /, **kwargs: Any) -> Any:
        request = urllib.request.Request(
            f"{self.endpoint_url}{CONTROL_PREFIX}{op}",
            data=json.dumps(kwargs, default=_json_default).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())["result"]
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read())["error"]
            except (ValueError, KeyError):
                message = str(exc)
            raise FakeError(f"{op}: {message}") from None

    def ping(self) -> bool:
        """Whether the fake answers its health check."""
        try:
            with urllib.request.urlopen(
                f"{self.endpoint_url}{CONTROL_PREFIX}health", timeout=self.timeout
            ) as response:
                return response.status == 200
        except OSError:
            return False


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} to the fake")


def handle_control(
    state: FakeState, environ: dict[str, Any], start_response: Callable[..., Any]
) -> list[bytes]:
    """Serve ``POST /_fake/<operation>`` (JSON keyword arguments) and ``GET /_fake/health``."""
    operation = environ.get("PATH_INFO", "")[len(CONTROL_PREFIX) :].strip("/")
    status, payload = "200 OK", {"result": None}
    if operation == "health":
        payload = {"result": "ok"}
    elif operation not in OPERATIONS or environ.get("REQUEST_METHOD") != "POST":
        status, payload = "404 Not Found", {"error": f"no control operation {operation!r}"}
    else:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            kwargs = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
            payload = {"result": getattr(state, operation)(**kwargs)}
        except (TypeError, ValueError, KeyError) as exc:
            status, payload = "400 Bad Request", {"error": str(exc)}
    body = json.dumps(payload, default=_json_default).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
