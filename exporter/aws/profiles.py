"""Credentials of named profiles from the shared AWS config, with MFA asked once.

botocore resolves a role profile that has ``mfa_serial`` by calling AssumeRole
with a code, once per profile: twenty role profiles behind one MFA device mean
twenty codes (and a TOTP code is single-use). Here, when a profile's source
credentials are long-term keys, one ``sts:GetSessionToken`` call with the code
opens an MFA-authenticated session per (source profile, MFA device), and every
role profile behind it is assumed from that session without another prompt —
it satisfies ``aws:MultiFactorAuthPresent`` in the roles' trust policies.
Temporary source credentials (a chained role, ``credential_source``) cannot
call GetSessionToken; those profiles fall back to one code per profile.

Without a prompter (the daemon), a profile that needs MFA anywhere in its
chain fails with ``ProfileError`` instead of blocking on a terminal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.credentials import CanonicalNameCredentialSourcer, Credentials

from exporter.aws.botoconfig import client_config
from exporter.aws.credentials import (
    TimeFetcher,
    assume_role_credentials,
    deferred_credentials,
    sts_metadata,
)
from exporter.aws.errors import ProfileError
from exporter.aws.partitions import home_region, partition_of_arn

log = logging.getLogger(__name__)

Prompter = Callable[[str], str]  # asks for an MFA code (exporter.commands.prompter: a terminal)
SessionMaker = Callable[[str | None], botocore.session.Session]  # profile name or None

DEFAULT_ROLE_SESSION_NAME = "aws-reservation-exporter"
DEFAULT_ROLE_SECONDS = 3600
# GetSessionToken's default; long enough that a long report never asks twice.
MFA_SESSION_SECONDS = 12 * 3600
_SOURCE_PROVIDERS = ("env", "container-role", "iam-role")


@dataclass(frozen=True)
class ProfileSettings:
    """The parts of one shared-config profile that decide how to get its credentials."""

    name: str
    role_arn: str | None = None
    source_profile: str | None = None
    credential_source: str | None = None
    mfa_serial: str | None = None
    external_id: str | None = None
    role_session_name: str | None = None
    duration_seconds: int | None = None
    has_static_keys: bool = False

    @classmethod
    def from_config(cls, name: str, raw: dict[str, Any]) -> ProfileSettings:
        duration = raw.get("duration_seconds")
        try:
            seconds = int(duration) if duration not in (None, "") else None
        except ValueError:
            raise ProfileError(
                f"profile {name!r}: duration_seconds must be a number of seconds, got {duration!r}"
            ) from None
        return cls(
            name=name,
            role_arn=raw.get("role_arn") or None,
            source_profile=raw.get("source_profile") or None,
            credential_source=raw.get("credential_source") or None,
            mfa_serial=raw.get("mfa_serial") or None,
            external_id=raw.get("external_id") or None,
            role_session_name=raw.get("role_session_name") or None,
            duration_seconds=seconds,
            has_static_keys=bool(raw.get("aws_access_key_id") and raw.get("aws_secret_access_key")),
        )


def mfa_required_message(profile: str, via: str | None = None) -> str:
    where = f" (through its source profile {via!r})" if via and via != profile else ""
    return (
        f"profile {profile!r} needs an MFA code (mfa_serial){where}; the exporter daemon "
        "cannot prompt for one: use a role without an MFA condition, or the "
        "`report` command"
    )


class ProfileResolver:
    """Resolves named profiles to credentials; one per ``ClientFactory``.

    ``new_session(profile)`` makes a botocore session (sharing the factory's
    model loader); ``prompter`` asks for an MFA code, or is None where nobody can
    answer. Credentials are cached per profile and renew themselves; nothing
    calls STS before first use.
    """

    def __init__(
        self,
        new_session: SessionMaker,
        prompter: Prompter | None = None,
        *,
        mfa_session_seconds: int = MFA_SESSION_SECONDS,
        time_fetcher: TimeFetcher | None = None,
    ) -> None:
        self._new_session = new_session
        self._prompter = prompter
        self._mfa_session_seconds = mfa_session_seconds
        self._time_fetcher = time_fetcher  # decides when credentials need renewing (tests)
        self._lock = threading.RLock()
        self._profiles: dict[str, dict[str, Any]] | None = None
        self._credentials: dict[str, Credentials] = {}
        self._mfa_sessions: dict[tuple[str, str], Credentials] = {}

    # -- settings -------------------------------------------------------------

    def settings(self, profile: str) -> ProfileSettings:
        """The profile's settings (config and credentials files merged, as botocore reads them)."""
        with self._lock:
            if self._profiles is None:
                self._profiles = dict(self._new_session(None).full_config.get("profiles", {}))
            raw = self._profiles.get(profile)
        if raw is None:
            raise ProfileError(f"profile {profile!r} is not defined in the shared AWS config")
        return ProfileSettings.from_config(profile, raw)

    def _raw(self, profile: str) -> dict[str, Any]:
        with self._lock:
            return dict((self._profiles or {}).get(profile) or {})

    def chain(self, profile: str) -> list[ProfileSettings]:
        """The profile and the source profiles behind it, nearest first."""
        found: list[ProfileSettings] = []
        name: str | None = profile
        while name is not None:
            if any(s.name == name for s in found):
                path = " -> ".join([*(s.name for s in found), name])
                raise ProfileError(f"profile {profile!r}: source_profile loop: {path}")
            settings = self.settings(name)
            found.append(settings)
            if not settings.role_arn or settings.source_profile in (None, settings.name):
                break
            name = settings.source_profile
        return found

    def needs_mfa(self, profile: str) -> str | None:
        """The name of the first profile in the chain that needs an MFA code, if any."""
        for settings in self.chain(profile):
            if settings.role_arn and settings.mfa_serial:
                return settings.name
        return None

    def partition(self, profile: str) -> str:
        role_arn = self.settings(profile).role_arn
        return partition_of_arn(role_arn) if role_arn else "aws"

    # -- credentials ----------------------------------------------------------

    def credentials(self, profile: str) -> Credentials:
        """Credentials for ``profile``; raises ProfileError when they cannot be had."""
        if self._prompter is None:
            needing = self.needs_mfa(profile)
            if needing is not None:
                raise ProfileError(mfa_required_message(profile, needing))
        self.chain(profile)  # fail early on undefined profiles and loops
        with self._lock:
            cached = self._credentials.get(profile)
            if cached is None:
                cached = self._resolve(self.settings(profile))
                self._credentials[profile] = cached
            return cached

    def _resolve(self, settings: ProfileSettings) -> Credentials:
        if not settings.role_arn or not (settings.source_profile or settings.credential_source):
            # Static keys, SSO, credential_process, web identity: botocore's own job.
            credentials = self._new_session(settings.name).get_credentials()
            if credentials is None:
                raise ProfileError(f"profile {settings.name!r} has no usable credentials")
            return credentials
        source, source_label = self._source(settings)
        # A role profile behind another role profile: AWS caps the session at 1 h.
        chained = self._is_role_profile(settings.source_profile, settings.name)
        if not settings.mfa_serial:
            return self._assume(settings, source, chained=chained)
        if _is_long_term(source):
            session = self._mfa_session(source_label, source, settings.mfa_serial)
            return self._assume(settings, session, chained=False)
        # GetSessionToken refuses temporary credentials: the code goes with AssumeRole.
        return self._assume(settings, source, chained=chained, mfa_serial=settings.mfa_serial)

    def _is_role_profile(self, profile: str | None, of: str) -> bool:
        return profile not in (None, of) and bool(self.settings(profile or "").role_arn)

    def _source(self, settings: ProfileSettings) -> tuple[Credentials, str]:
        """The credentials a role profile assumes its role with, and where they come from."""
        if settings.source_profile == settings.name:
            if not settings.has_static_keys:
                raise ProfileError(
                    f"profile {settings.name!r} is its own source_profile but has no keys"
                )
            raw = self._raw(settings.name)
            return (
                Credentials(
                    raw["aws_access_key_id"],
                    raw["aws_secret_access_key"],
                    raw.get("aws_session_token"),
                    method="shared-config",
                ),
                f"profile {settings.name}",
            )
        if settings.source_profile:
            source = self.credentials(settings.source_profile)
            return source, f"profile {settings.source_profile}"
        return self._credential_source(settings), f"credential_source {settings.credential_source}"

    def _credential_source(self, settings: ProfileSettings) -> Credentials:
        resolver = self._new_session(None).get_component("credential_provider")
        providers = [resolver.get_provider(name) for name in _SOURCE_PROVIDERS]
        sourcer = CanonicalNameCredentialSourcer([p for p in providers if p is not None])
        name = settings.credential_source or ""
        if not sourcer.is_supported(name):
            raise ProfileError(
                f"profile {settings.name!r}: credential_source {name!r} is not one of "
                "Environment, Ec2InstanceMetadata, EcsContainer"
            )
        credentials = sourcer.source_credentials(name)
        if credentials is None:
            raise ProfileError(
                f"profile {settings.name!r}: no credentials from credential_source {name!r}"
            )
        return credentials

    def _mfa_session(self, source_label: str, source: Credentials, serial: str) -> Credentials:
        """The MFA-authenticated session of one source and device: one code per process."""
        key = (source_label, serial)
        with self._lock:
            cached = self._mfa_sessions.get(key)
            if cached is not None:
                return cached
            region = home_region(partition_of_arn(serial))
            seconds = self._mfa_session_seconds

            def fetch() -> dict[str, str]:
                code = self._ask(serial, source_label)
                sts = self._sts(source, region)
                response = sts.get_session_token(
                    DurationSeconds=seconds, SerialNumber=serial, TokenCode=code
                )
                log.debug("MFA session for %s opened", source_label)
                return sts_metadata("GetSessionToken", response)

            cached = deferred_credentials(
                fetch,
                method="mfa-session-token",
                duration=seconds,
                time_fetcher=self._time_fetcher,
            )
            self._mfa_sessions[key] = cached
            return cached

    def _assume(
        self,
        settings: ProfileSettings,
        source: Credentials,
        *,
        chained: bool,
        mfa_serial: str | None = None,
    ) -> Credentials:
        label = f"profile {settings.name}"
        serial = mfa_serial or ""
        return assume_role_credentials(
            sts=lambda region: nullcontext(self._sts(source, region)),
            role_arn=settings.role_arn or "",
            session_name=settings.role_session_name or DEFAULT_ROLE_SESSION_NAME,
            duration=settings.duration_seconds or DEFAULT_ROLE_SECONDS,
            external_id=settings.external_id,
            chained=chained,
            mfa_serial=mfa_serial,
            token_code=(lambda: self._ask(serial, label)) if mfa_serial else None,
            label=label,
            time_fetcher=self._time_fetcher,
        )

    def _ask(self, serial: str, source: str) -> str:
        """One code from the prompter; ``source`` says whose (``profile ops``)."""
        if self._prompter is None:  # checked up front; a guard for direct callers
            raise ProfileError(f"{source} needs an MFA code and nobody can be asked for one")
        code = "".join(self._prompter(f"Enter MFA code for {serial} ({source}): ").split())
        if not code:
            raise ProfileError(f"{source}: no MFA code entered")
        return code

    def _sts(self, source: Credentials, region: str) -> Any:
        frozen = source.get_frozen_credentials()
        return self._new_session(None).create_client(
            "sts",
            region_name=region,
            config=client_config(),
            aws_access_key_id=frozen.access_key,
            aws_secret_access_key=frozen.secret_key,
            aws_session_token=frozen.token,
        )


def _is_long_term(credentials: Credentials) -> bool:
    """Long-term IAM user keys carry no session token; only they may call GetSessionToken."""
    return not credentials.get_frozen_credentials().token
