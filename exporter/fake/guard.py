"""Faults the tests inject: denied IAM actions, throttling, latency and
malformed records. Thread-safe; the WSGI layer consults it per request."""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass

from exporter.fake.catalog import signing_name, spec_for, store_region
from exporter.fake.identity import RequestInfo

MALFORM_KINDS = ("missing_id", "bad_timestamp", "repeated_token", "endless_token")
# What a broken proxy or endpoint can do to any successful answer (``corrupt``).
CORRUPT_KINDS = ("truncate", "garbage", "short", "hang", "drip", "endless_token")
DRIP_INTERVAL = 0.2  # seconds between the bytes of a dripped answer
HANG_LIMIT = 600.0  # seconds a hung answer waits at most (reset() releases it sooner)


@dataclass
class _Corruption:
    kind: str
    signing_name: str  # fnmatch pattern
    operation: str  # fnmatch pattern
    account_id: str | None
    remaining: int | None  # None: every matching answer


@dataclass
class _Throttle:
    signing_name: str
    operation: str  # fnmatch pattern
    remaining: int
    account_id: str | None


class Faults:
    """The fault plan: what to refuse, slow down or corrupt, and for whom."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._denied: set[tuple[str, str]] = set()
        self._throttles: list[_Throttle] = []
        self._delays: dict[str | None, float] = {}
        self._malformed: dict[tuple[str, str, str], str] = {}
        self._corruptions: list[_Corruption] = []
        self.released = threading.Event()  # set by clear(): hung answers return

    def clear(self) -> None:
        with self._lock:
            self._denied.clear()
            self._throttles.clear()
            self._delays.clear()
            self._malformed.clear()
            self._corruptions.clear()
            self.released.set()
            self.released = threading.Event()

    # --- deny -------------------------------------------------------------------

    def deny(self, account_id: str, action: str) -> None:
        """Refuse IAM ``action`` (``rds:DescribeReservedDBInstances``; globs allowed)."""
        if ":" not in action and action != "*":
            raise ValueError(f"IAM action must look like 'service:Operation', got {action!r}")
        with self._lock:
            self._denied.add((str(account_id), action.lower()))

    def is_denied(self, info: RequestInfo) -> bool:
        action = info.iam_action.lower()
        with self._lock:
            return any(
                fnmatch.fnmatchcase(info.account_id, account)
                and fnmatch.fnmatchcase(action, pattern)
                for account, pattern in self._denied
            )

    # --- throttle ---------------------------------------------------------------

    def throttle(
        self, service: str, operation: str, count: int, account_id: str | None = None
    ) -> None:
        """Fail the next ``count`` matching calls with the protocol's throttling error."""
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._lock:
            self._throttles.append(_Throttle(signing_name(service), operation, count, account_id))

    def take_throttle(self, info: RequestInfo) -> bool:
        """Whether this request is throttled (uses up one of the planned failures)."""
        with self._lock:
            for plan in self._throttles:
                if (
                    plan.remaining > 0
                    and plan.signing_name == info.signing_name
                    and fnmatch.fnmatchcase(info.operation, plan.operation)
                    and plan.account_id in (None, info.account_id)
                ):
                    plan.remaining -= 1
                    return True
        return False

    # --- delay --------------------------------------------------------------------

    def delay(self, service: str | None, seconds: float) -> None:
        """Add ``seconds`` of latency to every request of ``service`` (None: every request)."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        key = None if service in (None, "*") else signing_name(service)  # type: ignore[arg-type]
        with self._lock:
            if seconds:
                self._delays[key] = float(seconds)
            else:
                self._delays.pop(key, None)

    def latency(self, info: RequestInfo) -> float:
        with self._lock:
            return self._delays.get(None, 0.0) + self._delays.get(info.signing_name, 0.0)

    # --- malform ------------------------------------------------------------------

    def malform(self, account_id: str, region: str, service: str, kind: str | None) -> None:
        """Corrupt the listing of one target: ``missing_id`` drops the first record's id,
        ``bad_timestamp`` garbles its start time on the wire, ``repeated_token`` makes
        pagination return the same token forever, ``endless_token`` a new token on
        every page (the same records again). ``None`` heals the target."""
        spec = spec_for(service)
        key = (str(account_id), store_region(spec, region), spec.service)
        if kind is not None and kind not in MALFORM_KINDS:
            raise ValueError(f"kind must be one of {', '.join(MALFORM_KINDS)}, got {kind!r}")
        with self._lock:
            if kind is None:
                self._malformed.pop(key, None)
            else:
                self._malformed[key] = kind

    def malformation(self, account_id: str, region: str, service: str) -> str | None:
        spec = spec_for(service)
        with self._lock:
            return self._malformed.get((account_id, store_region(spec, region), spec.service))

    # --- corrupt ------------------------------------------------------------------

    def corrupt(
        self,
        kind: str,
        service: str = "*",
        operation: str = "*",
        account_id: str | None = None,
        count: int | None = None,
    ) -> None:
        """Spoil successful answers on the wire, for any service (STS and
        Organizations included): ``truncate`` cuts the body in half, ``garbage``
        replaces it with bytes no parser reads, ``short`` sends half the body
        under the full Content-Length and closes the connection, ``hang`` never
        answers (until ``reset``), ``drip`` sends the answer a byte every
        DRIP_INTERVAL (each read gets data long before a read timeout; the rest
        comes at once on ``reset``), ``endless_token`` adds a new page token to
        every JSON answer. ``count`` answers, or every one when None."""
        if kind not in CORRUPT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(CORRUPT_KINDS)}, got {kind!r}")
        if count is not None and count < 0:
            raise ValueError("count must be >= 0")
        name = service if service == "*" else signing_name(service)
        with self._lock:
            self._corruptions.append(_Corruption(kind, name, operation, account_id, count))

    def take_corruption(self, info: RequestInfo) -> str | None:
        """The corruption planned for this answer, if any (uses one up)."""
        with self._lock:
            for plan in self._corruptions:
                if (
                    plan.remaining != 0
                    and fnmatch.fnmatchcase(info.signing_name, plan.signing_name)
                    and fnmatch.fnmatchcase(info.operation, plan.operation)
                    and plan.account_id in (None, info.account_id)
                ):
                    if plan.remaining is not None:
                        plan.remaining -= 1
                    return plan.kind
        return None
