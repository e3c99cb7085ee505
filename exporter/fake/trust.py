"""STS as strict as AWS: registered roles with ExternalId, trust and MFA
conditions, MFA devices, session durations, and expiring session keys.

moto's STS lets anyone assume any role; these checks run before moto does.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from exporter.fake.errors import Rejection

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@/-]+/)?[\w+=,.@-]+$")
CHAINED_MAX_SECONDS = 3600
_MFA_INVALID = "MultiFactorAuthentication failed with invalid MFA one time pass code."
_MFA_UNKNOWN = (
    "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA "
    "serial number is valid and associated with this user."
)


@dataclass(frozen=True)
class Role:
    arn: str
    account_id: str
    external_id: str | None = None
    mfa_serial: str | None = None
    trusted_account_ids: frozenset[str] | None = None
    max_session_seconds: int = 3600


@dataclass(frozen=True)
class Session:
    """Temporary keys the fake issued, and what they prove."""

    access_key: str
    account_id: str
    expires_at: float
    role_arn: str | None  # None for GetSessionToken keys
    mfa: bool


class Trust:
    """Roles, MFA devices and issued sessions; thread-safe."""

    def __init__(self, min_session_seconds: int = 900) -> None:
        self.min_session_seconds = min_session_seconds
        # Issue sessions no longer than this, whatever was asked: lets a test
        # watch credentials expire in seconds although clients validate >= 900.
        self.cap_seconds: int | None = None
        self._lock = threading.Lock()
        self._roles: dict[str, Role] = {}
        self._mfa: dict[str, str] = {}
        self._sessions: dict[str, Session] = {}

    # --- registration -------------------------------------------------------

    def add_role(
        self,
        role_arn: str,
        external_id: str | None = None,
        mfa_serial: str | None = None,
        trusted_account_ids: list[str] | None = None,
        max_session_seconds: int = 3600,
    ) -> None:
        match = ROLE_ARN.match(role_arn)
        if not match:
            raise ValueError(f"not an IAM role ARN: {role_arn!r}")
        if not 3600 <= max_session_seconds <= 43200:
            raise ValueError("max_session_seconds must be between 3600 and 43200, as in IAM")
        role = Role(
            arn=role_arn,
            account_id=match.group(1),
            external_id=external_id,
            mfa_serial=mfa_serial,
            trusted_account_ids=None
            if trusted_account_ids is None
            else frozenset(str(a) for a in trusted_account_ids),
            max_session_seconds=max_session_seconds,
        )
        with self._lock:
            self._roles[role_arn] = role

    def add_mfa_device(self, serial: str, code: str) -> None:
        with self._lock:
            self._mfa[serial] = str(code)

    def roles(self) -> list[Role]:
        with self._lock:
            return list(self._roles.values())

    def clear(self) -> None:
        with self._lock:
            self._roles.clear()
            self._mfa.clear()
            self._sessions.clear()

    # --- sessions -----------------------------------------------------------

    def remember(
        self,
        access_key: str,
        account_id: str,
        expiration: datetime,
        role_arn: str | None,
        mfa: bool,
    ) -> None:
        with self._lock:
            self._sessions[access_key] = Session(
                access_key, account_id, expiration.timestamp(), role_arn, mfa
            )

    def session(self, access_key: str) -> Session | None:
        with self._lock:
            return self._sessions.get(access_key)

    def account_of(self, access_key: str) -> str | None:
        """The account of a session key the fake issued, else None."""
        session = self.session(access_key)
        return session.account_id if session else None

    def is_expired(self, access_key: str, now: float | None = None) -> bool:
        session = self.session(access_key)
        return session is not None and (time.time() if now is None else now) >= session.expires_at

    # --- checks ---------------------------------------------------------------

    def check_assume_role(
        self, caller_key: str, caller_account: str, caller_arn: str, params: dict[str, str]
    ) -> tuple[Rejection | None, bool]:
        """(refusal or None, whether the new session is MFA-authenticated)."""
        role_arn = params.get("RoleArn", "")
        denied = Rejection(
            "AccessDenied",
            f"User: {caller_arn} is not authorized to perform: sts:AssumeRole "
            f"on resource: {role_arn}",
            403,
        )
        caller_session = self.session(caller_key)
        duration = _int(params.get("DurationSeconds"), 3600)
        if duration is None:
            return _validation("DurationSeconds must be an integer"), False
        if duration < self.min_session_seconds:
            return _validation(
                f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed "
                f"to satisfy constraint: Member must have value greater than or equal to "
                f"{self.min_session_seconds}"
            ), False
        with self._lock:
            role = self._roles.get(role_arn)
        if role is None:
            return denied, False
        if role.trusted_account_ids is not None and caller_account not in role.trusted_account_ids:
            return denied, False
        if role.external_id is not None and params.get("ExternalId") != role.external_id:
            return denied, False
        mfa, refusal = self._check_mfa(params)
        if refusal:
            return refusal, False
        mfa = mfa or bool(caller_session and caller_session.mfa)
        if role.mfa_serial is not None:
            serial = params.get("SerialNumber")
            if not mfa or (serial is not None and serial != role.mfa_serial):
                return denied, False
        if caller_session is not None and caller_session.role_arn is not None:
            if duration > CHAINED_MAX_SECONDS:
                return _validation(
                    "The requested DurationSeconds exceeds the 1 hour session limit "
                    "for roles assumed by role chaining."
                ), False
        elif duration > role.max_session_seconds:
            return _validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            ), False
        return None, mfa

    def check_session_token(
        self, caller_key: str, params: dict[str, str]
    ) -> tuple[Rejection | None, bool]:
        """(refusal or None, whether the new session is MFA-authenticated)."""
        if self.session(caller_key) is not None:
            return Rejection(
                "AccessDenied", "Cannot call GetSessionToken with session credentials", 403
            ), False
        duration = _int(params.get("DurationSeconds"), 43200)
        if duration is None or not self.min_session_seconds <= duration <= 129600:
            return _validation(
                f"1 validation error detected: Value '{params.get('DurationSeconds')}' at "
                f"'durationSeconds' failed to satisfy constraint: Member must have value "
                f"between {self.min_session_seconds} and 129600"
            ), False
        mfa, refusal = self._check_mfa(params)
        return refusal, mfa

    def _check_mfa(self, params: dict[str, str]) -> tuple[bool, Rejection | None]:
        serial, code = params.get("SerialNumber"), params.get("TokenCode")
        if serial is None and code is None:
            return False, None
        if serial is None or code is None:
            return False, _validation("SerialNumber and TokenCode must be given together")
        with self._lock:
            expected = self._mfa.get(serial)
        if expected is None:
            return False, Rejection("AccessDenied", _MFA_UNKNOWN, 403)
        if code != expected:
            return False, Rejection("AccessDenied", _MFA_INVALID, 403)
        return True, None


def _validation(message: str) -> Rejection:
    return Rejection("ValidationError", message, 400)


def _int(value: str | None, default: int) -> int | None:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return None
