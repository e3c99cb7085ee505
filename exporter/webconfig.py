"""``--web.config.file``: TLS and basic auth for the HTTP server.

The file format is a subset of the Prometheus exporter-toolkit web config::

    tls_server_config:
      cert_file: server.crt          # relative paths: relative to this file's directory
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # default NoClientCert
      client_ca_file: ca.crt         # required for the Verify* modes
      min_version: TLS13             # TLS12 (default) or TLS13
    basic_auth_users:
      alice: $2y$10$...              # bcrypt hash

Any other key is an error. Certificate, key and client CA files are re-read when they change
on disk, so a rotated certificate is served from the next connection without a restart.

Failed basic auth is rate-limited per client address (``authenticate``): after
``FAILED_AUTH_LIMIT`` failures within ``FAILED_AUTH_WINDOW`` seconds the client is answered
429 without running bcrypt until the window ends, and at most ``BCRYPT_CONCURRENCY`` bcrypt
checks run at once, so a flood of wrong passwords cannot pin every CPU. Credentials that
already succeeded are checked from a cache without bcrypt and are never limited.
"""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import os
import re
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import bcrypt

from exporter.config.errors import format_path
from exporter.config.reading import YamlError, read_yaml

log = logging.getLogger(__name__)

__all__ = [
    "BASIC_AUTH_CHALLENGE",
    "CLIENT_AUTH_TYPES",
    "AuthDecision",
    "FailedAuthLimiter",
    "TLSSettings",
    "WebConfig",
    "WebConfigError",
    "build_ssl_context",
    "load_web_config",
    "parse_web_config",
]

#: Value of the ``WWW-Authenticate`` header to send with a 401 response.
BASIC_AUTH_CHALLENGE = 'Basic realm="aws-reservation-exporter", charset="UTF-8"'

_TOP_KEYS = ("basic_auth_users", "tls_server_config")
_TLS_KEYS = ("cert_file", "client_auth_type", "client_ca_file", "key_file", "min_version")

#: client_auth_type -> ssl verify mode. Python's ssl module cannot request a client certificate
#: without verifying it, so RequestClientCert (which accepts any client, with or without a
#: certificate, and never checks it) is served as NoClientCert: the same clients get in.
#: RequireAnyClientCert cannot be honoured at all and is rejected at load time.
CLIENT_AUTH_TYPES: dict[str, ssl.VerifyMode | None] = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_NONE,
    "RequireAnyClientCert": None,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_VERIFYING_MODES = ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert")

_MIN_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
_OLD_VERSIONS = ("TLS10", "TLS11")

# $2a$/$2b$/$2y$, a two-digit cost 04..31, then 22 characters of salt and 31 of hash.
_BCRYPT_HASH = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_BCRYPT_MAX_PASSWORD_BYTES = 72

FAILED_AUTH_LIMIT = 10  # failed attempts per client address ...
FAILED_AUTH_WINDOW = 60.0  # ... within this many seconds, then 429 until the window ends
FAILED_AUTH_CLIENTS = 4096  # addresses remembered (least recently failed forgotten first)
#: bcrypt checks at once (it releases the GIL): half the CPUs, so serving and refreshing go on.
BCRYPT_CONCURRENCY = max(1, (os.cpu_count() or 1) // 2)


class WebConfigError(Exception):
    """The web config file is invalid. ``errors`` holds one ``"path: message"`` per problem."""

    def __init__(self, errors: list[str] | str) -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True)
class TLSSettings:
    """The validated ``tls_server_config`` section, with absolute file paths."""

    cert_file: Path
    key_file: Path
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2

    def watched_files(self) -> tuple[Path, ...]:
        """The files whose change on disk means the SSL context must be rebuilt."""
        files = (self.cert_file, self.key_file)
        return files if self.client_ca_file is None else (*files, self.client_ca_file)


# --------------------------------------------------------------------------- loading


def load_web_config(path: str | os.PathLike[str]) -> WebConfig:
    """Read, validate and load a web config file; raise WebConfigError naming what is wrong.

    Every certificate and key is loaded here, so a config that loads will serve.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise WebConfigError(f"{file}: cannot read web config file: {reason}") from None
    try:
        document = read_yaml(text)  # the config's strict reader: no objects, no YAML bombs
    except YamlError as exc:
        raise WebConfigError(f"{file}: {_describe_yaml_error(exc)}") from None
    if document.duplicates:
        raise WebConfigError(
            [
                f"{file}: line {duplicate.line}: duplicate key {json.dumps(duplicate.path[-1])}"
                for duplicate in document.duplicates
            ]
        )
    data = document.data
    if data is not None and not isinstance(data, dict):
        raise WebConfigError(
            f"{file}: the web config must be a YAML mapping with tls_server_config "
            "and/or basic_auth_users"
        )
    return parse_web_config(data or {}, file.resolve().parent)


def parse_web_config(data: Mapping[str, Any], base_dir: str | os.PathLike[str]) -> WebConfig:
    """Validate an already-parsed web config mapping; relative paths resolve against base_dir."""
    errors: list[str] = []
    for key in data:
        if key not in _TOP_KEYS:
            errors.append(
                f"{format_path((key,), keys_only=True)}: unknown key; valid keys here: "
                + ", ".join(_TOP_KEYS)
            )
    tls = None
    if "tls_server_config" in data:
        tls = _parse_tls(data["tls_server_config"], Path(base_dir), errors)
    users: dict[str, str] = {}
    if "basic_auth_users" in data:
        users = _parse_users(data["basic_auth_users"], errors)
    if errors:
        raise WebConfigError(errors)
    return WebConfig(tls=tls, basic_auth_users=users)


def _parse_tls(section: Any, base_dir: Path, errors: list[str]) -> TLSSettings | None:
    where = "tls_server_config"
    if not isinstance(section, dict):
        errors.append(f"{where}: must be a mapping with cert_file and key_file")
        return None
    before = len(errors)
    for key in section:
        if key not in _TLS_KEYS:
            errors.append(
                f"{format_path((where, key), keys_only=True)}: unknown key; valid keys here: "
                + ", ".join(_TLS_KEYS)
            )

    def file_path(key: str, required_because: str | None) -> Path | None:
        value = section.get(key)
        if value is None:
            if required_because:
                errors.append(f"{where}.{key}: required {required_because}")
            return None
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{where}.{key}: must be a file path")
            return None
        return base_dir / value  # an absolute value replaces base_dir

    cert_file = file_path("cert_file", "when tls_server_config is set")
    key_file = file_path("key_file", "when tls_server_config is set")

    auth_type = section.get("client_auth_type", "NoClientCert")
    if auth_type not in CLIENT_AUTH_TYPES:
        errors.append(
            f"{where}.client_auth_type: {json.dumps(auth_type)} is not one of "
            + ", ".join(CLIENT_AUTH_TYPES)
        )
        auth_type = None
    elif CLIENT_AUTH_TYPES[auth_type] is None:
        errors.append(
            f"{where}.client_auth_type: {auth_type} is not supported: Python's ssl module cannot "
            "require a client certificate without verifying it; use RequireAndVerifyClientCert "
            "with client_ca_file"
        )
        auth_type = None

    ca_file = None
    if auth_type in _VERIFYING_MODES:
        ca_file = file_path("client_ca_file", f"when client_auth_type is {auth_type}")
    elif auth_type is not None and section.get("client_ca_file") is not None:
        errors.append(
            f"{where}.client_ca_file: only used with client_auth_type VerifyClientCertIfGiven "
            f"or RequireAndVerifyClientCert (client_auth_type is {auth_type})"
        )

    version_name = section.get("min_version", "TLS12")
    min_version = _MIN_VERSIONS.get(version_name) if isinstance(version_name, str) else None
    if min_version is None:
        if version_name in _OLD_VERSIONS:
            errors.append(
                f"{where}.min_version: {version_name} is not supported; use TLS12 or TLS13"
            )
        else:
            errors.append(
                f"{where}.min_version: {json.dumps(version_name)} is not one of "
                + ", ".join(_MIN_VERSIONS)
            )

    if len(errors) > before or cert_file is None or key_file is None or auth_type is None:
        return None
    settings = TLSSettings(cert_file, key_file, auth_type, ca_file, min_version)
    try:
        build_ssl_context(settings)  # load every file now: a config that loads will serve
    except WebConfigError as exc:
        errors.extend(exc.errors)
        return None
    return settings


def _parse_users(section: Any, errors: list[str]) -> dict[str, str]:
    where = "basic_auth_users"
    if not isinstance(section, dict):
        errors.append(f"{where}: must be a mapping of user name to bcrypt hash")
        return {}
    if not section:
        errors.append(f"{where}: is empty; add users, or remove the key to disable basic auth")
    users: dict[str, str] = {}
    for name, hashed in section.items():
        if not isinstance(name, str):
            # YAML reads `yes:` as true and `123:` as a number: the user meant a string.
            errors.append(f"{where}: user name {name!r} must be a string; quote it")
            continue
        path = format_path((where, name), keys_only=True)
        if not name:
            errors.append(f"{path}: user name must not be empty")
        elif ":" in name:
            errors.append(
                f"{path}: user name must not contain ':' (basic auth splits user "
                "and password at the first ':')"
            )
        # Never echo the value: a user may have pasted a plain password by mistake.
        elif not isinstance(hashed, str) or not _BCRYPT_HASH.fullmatch(hashed):
            errors.append(
                f"{path}: not a bcrypt hash (value not shown); expected $2a$, $2b$ or $2y$, a "
                "cost from 04 to 31 and 53 characters, e.g. from "
                "`htpasswd -nbBC 10 USER PASSWORD` (the part after ':')"
            )
        else:
            users[name] = hashed
    return users


def _describe_yaml_error(exc: YamlError) -> str:
    if exc.line is None:
        return f"invalid YAML: {exc.problem}"
    return f"invalid YAML at line {exc.line}, column {exc.column}: {exc.problem}"


# --------------------------------------------------------------------------- TLS


class _EncryptedKey(Exception):
    pass


def _refuse_password() -> bytes:
    # Called by OpenSSL only for an encrypted key; without it OpenSSL would prompt on the tty.
    raise _EncryptedKey


def build_ssl_context(settings: TLSSettings) -> ssl.SSLContext:
    """A server SSLContext for ``settings``; WebConfigError names the file that does not load."""
    where = "tls_server_config"
    for key, file in (
        ("cert_file", settings.cert_file),
        ("key_file", settings.key_file),
        ("client_ca_file", settings.client_ca_file),
    ):
        if file is None:
            continue
        try:
            with open(file, "rb"):
                pass
        except OSError as exc:
            raise WebConfigError(f"{where}.{key}: cannot read {file}: {exc.strerror}") from None

    _check_certificates(settings.cert_file, f"{where}.cert_file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = settings.min_version
    try:
        context.load_cert_chain(settings.cert_file, settings.key_file, password=_refuse_password)
    except _EncryptedKey:
        raise WebConfigError(
            f"{where}.key_file: {settings.key_file} is encrypted; encrypted private keys are not "
            "supported, store the key unencrypted with restrictive file permissions"
        ) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            detail = f"does not match the certificate in {settings.cert_file}"
        else:  # the certificate loaded above, so the key is what failed
            detail = "contains no PEM private key"
        raise WebConfigError(f"{where}.key_file: {settings.key_file} {detail}") from None

    verify_mode = CLIENT_AUTH_TYPES[settings.client_auth_type]
    if verify_mode is None:  # guarded by the parser; here for direct callers
        raise WebConfigError(
            f"{where}.client_auth_type: {settings.client_auth_type} is not supported"
        )
    if settings.client_ca_file is not None:
        _check_certificates(settings.client_ca_file, f"{where}.client_ca_file")
        context.load_verify_locations(cafile=settings.client_ca_file)
    elif verify_mode != ssl.CERT_NONE:
        raise WebConfigError(
            f"{where}.client_ca_file: required when client_auth_type is {settings.client_auth_type}"
        )
    context.verify_mode = verify_mode
    return context


def _check_certificates(file: Path, where: str) -> None:
    """Fail unless ``file`` holds at least one PEM certificate that OpenSSL parses."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.load_verify_locations(cafile=file)
    except ssl.SSLError:
        raise WebConfigError(f"{where}: {file} contains no PEM certificate") from None
    except OSError as exc:
        raise WebConfigError(f"{where}: cannot read {file}: {exc.strerror}") from None


def _fingerprint(files: tuple[Path, ...]) -> tuple[tuple[int, int, int, int] | None, ...]:
    """Cheap change detector: stat() follows symlinks, so a Kubernetes secret swap shows too."""
    result = []
    for file in files:
        try:
            st = os.stat(file)
        except OSError:
            result.append(None)
        else:
            result.append((st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev))
    return tuple(result)


class _ReloadingContext:
    """Owns the listener's SSLContext and swaps in a fresh one when the files change.

    The listener context's SNI callback runs on every handshake, whether or not the client
    sent a server name (Prometheus scraping an IP sends none), early enough to change the
    connection's context. Changed files are loaded into a new context; if they do not load
    (for example a certificate replaced before its key), the previous context keeps serving and
    one warning is logged per distinct state of the files.
    """

    def __init__(self, settings: TLSSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._fingerprint = _fingerprint(settings.watched_files())
        self._failed_fingerprint: object = None
        self.listener = build_ssl_context(settings)
        self._current = self.listener
        self.listener.sni_callback = self._on_handshake

    def current(self) -> ssl.SSLContext:
        """The context for a new connection, rebuilt first if the files changed."""
        fingerprint = _fingerprint(self._settings.watched_files())
        if fingerprint == self._fingerprint:
            return self._current
        with self._lock:
            if fingerprint in (self._fingerprint, self._failed_fingerprint):
                return self._current
            try:
                context = build_ssl_context(self._settings)
            except WebConfigError as exc:
                self._failed_fingerprint = fingerprint
                log.warning(
                    "TLS files changed but do not load; still serving the previous certificate: %s",
                    exc,
                )
                return self._current
            # A change during the load gives a newer fingerprint next time: loaded again then.
            self._current, self._fingerprint = context, fingerprint
            self._failed_fingerprint = None
            log.info("reloaded TLS certificate from %s", self._settings.cert_file)
            return context

    def _on_handshake(self, connection: Any, server_name: str | None, _: Any) -> None:
        try:
            context = self.current()
            if connection.context is not context:
                connection.context = context
        except Exception:  # an exception here would abort the handshake with a cryptic alert
            log.exception("TLS certificate reload check failed; serving the loaded certificate")
        return None


# --------------------------------------------------------------------------- rate limiting


class AuthDecision(NamedTuple):
    """The answer to one request's credentials: ``ok``, or refused; ``retry_after`` seconds
    (> 0) when refused without checking because of too many failures (HTTP 429)."""

    ok: bool
    retry_after: int = 0


def client_key(address: str | None) -> str | None:
    """What failures are counted by: the IPv4 address, or the IPv6 /64 (one host's share)."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class FailedAuthLimiter:
    """At most ``limit`` failures per client within ``window`` seconds of its first one.

    Fixed windows: a client's first failure opens its window; when the window has passed,
    the count starts again. Memory is bounded: at most ``max_clients`` are remembered, the
    one whose window started first is forgotten first.
    """

    def __init__(
        self,
        limit: int = FAILED_AUTH_LIMIT,
        window: float = FAILED_AUTH_WINDOW,
        max_clients: int = FAILED_AUTH_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: collections.OrderedDict[str, tuple[float, int]] = (
            collections.OrderedDict()
        )  # client -> (window start, failures)

    def retry_after(self, client: str | None) -> int:
        """Whole seconds until ``client`` may try again; 0 if it may now."""
        if client is None:
            return 0
        with self._lock:
            entry = self._failures.get(client)
            if entry is None:
                return 0
            started, failures = entry
            left = started + self.window - self._clock()
            if left <= 0:
                del self._failures[client]
                return 0
            return math.ceil(left) if failures >= self.limit else 0

    def failed(self, client: str | None) -> None:
        if client is None:
            return
        with self._lock:
            now = self._clock()
            started, failures = self._failures.pop(client, (now, 0))
            if started + self.window <= now:
                started, failures = now, 0
            self._failures[client] = (started, failures + 1)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)


# --------------------------------------------------------------------------- the config


class WebConfig:
    """TLS and basic auth settings for the HTTP server. ``WebConfig()`` is plain HTTP, no auth."""

    def __init__(
        self,
        tls: TLSSettings | None = None,
        basic_auth_users: Mapping[str, str] | None = None,
    ) -> None:
        self.tls = tls
        self._users = {
            name: hashed.encode("ascii") for name, hashed in (basic_auth_users or {}).items()
        }
        # Unknown users are checked against a real hash so they cost as much as wrong passwords.
        self._decoy_hash = next(iter(self._users.values()), None)
        # user -> HMAC of (hash, user, password) for the last good check: scrapes every few
        # seconds skip bcrypt, and the cache holds neither passwords nor fast unsalted hashes.
        self._cache_key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        self.limiter = FailedAuthLimiter()
        self._bcrypt_slots = threading.BoundedSemaphore(BCRYPT_CONCURRENCY)
        self._reloader = _ReloadingContext(tls) if tls is not None else None
        if self._users and tls is None:
            log.warning(
                "basic auth is configured without TLS: passwords cross the network in clear text"
            )

    def __repr__(self) -> str:
        tls = (
            "off"
            if self.tls is None
            else (f"{self.tls.min_version.name}+, client auth {self.tls.client_auth_type}")
        )
        return f"WebConfig(tls={tls}, basic_auth_users={len(self._users)})"

    @property
    def tls_enabled(self) -> bool:
        """True when the server must speak HTTPS."""
        return self._reloader is not None

    @property
    def auth_enabled(self) -> bool:
        """True when requests need basic auth credentials."""
        return bool(self._users)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server SSLContext (None without TLS); rotated certificates apply per connection.

        Always the same object: wrap the listening socket with it once.
        """
        return self._reloader.listener if self._reloader is not None else None

    def wrap_server_socket(self, sock: socket.socket) -> socket.socket:
        """Wrap a listening socket for TLS (returned unchanged without TLS).

        The handshake is deferred (``do_handshake_on_connect=False``) so a slow or hostile
        client cannot stall the accept loop: the server should set a timeout on each accepted
        socket and call ``do_handshake()`` in the worker thread, closing the connection on
        ``ssl.SSLError``/``OSError`` (they are client errors, not server faults).
        """
        context = self.ssl_context()
        if context is None:
            return sock
        return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)

    def check_basic_auth(self, authorization_header: str | None) -> bool:
        """True when the Authorization header holds valid credentials, or no users are set.

        Malformed headers, unknown users, wrong passwords and passwords over bcrypt's 72-byte
        limit are all False; this never raises for client input and never logs it. Not rate
        limited (see ``authenticate``); waits for a bcrypt slot.
        """
        return self._check(authorization_header, None, wait=True).ok

    def authenticate(self, authorization_header: str | None, client: str | None) -> AuthDecision:
        """``check_basic_auth`` for a request from address ``client``, rate limited.

        Refused with ``retry_after`` (answer 429, no bcrypt) while ``client`` has had too many
        failures, or when every bcrypt slot is busy; credentials that succeeded before pass
        from the cache either way. A request without credentials is refused (401) but is not
        counted as a failure: browsers send one before asking for the password.
        """
        return self._check(authorization_header, client_key(client), wait=False)

    def _check(self, header: str | None, client: str | None, *, wait: bool) -> AuthDecision:
        if not self._users:
            return AuthDecision(True)
        credentials = _parse_basic_auth(header)
        if credentials is None:
            return AuthDecision(False)
        user, password = credentials
        if len(password) > _BCRYPT_MAX_PASSWORD_BYTES:
            # bcrypt would silently ignore the rest; refuse rather than truncate
            self.limiter.failed(client)
            return AuthDecision(False)
        hashed = self._users.get(user)
        known = hashed is not None
        if hashed is None:
            hashed = self._decoy_hash
        assert hashed is not None  # users exist, so the decoy does too
        digest = hmac.new(
            self._cache_key, b"%s\n%s:%s" % (hashed, user.encode(), password), hashlib.sha256
        ).digest()
        cached = self._verified.get(user)
        if known and cached is not None and hmac.compare_digest(cached, digest):
            return AuthDecision(True)
        wait_seconds = self.limiter.retry_after(client)
        if wait_seconds:
            return AuthDecision(False, wait_seconds)
        if not self._bcrypt_slots.acquire(blocking=wait):
            return AuthDecision(False, 1)
        try:
            ok = bcrypt.checkpw(password, hashed)
        except ValueError:
            ok = False
        finally:
            self._bcrypt_slots.release()
        if ok and known:
            self._verified[user] = digest
            return AuthDecision(True)
        self.limiter.failed(client)
        return AuthDecision(False)


def _parse_basic_auth(header: str | None) -> tuple[str, bytes] | None:
    """(user, password bytes) from ``Basic <base64(user:password)>``, or None if malformed."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    raw_user, colon, password = decoded.partition(b":")
    if not colon:
        return None
    try:
        user = raw_user.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return user, password
