"""Seeded reservation records, kept per (account_id, region, service), and
the paging the listing handlers share."""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from exporter.fake.catalog import SPECS, normalise_record, spec_for, store_region

_TOKEN_PREFIX = "fake-page:"


class ReservationStore:
    """Thread-safe record lists; handlers read copies, seeding appends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str, str], list[dict[str, Any]]] = {}

    def add(
        self, account_id: str, region: str, service: str, records: Iterable[Mapping[str, Any]]
    ) -> int:
        """Append checked copies of ``records``; returns how many the target now holds."""
        spec = spec_for(service)
        checked = [normalise_record(spec.service, record) for record in records]
        for record in checked:
            if not record.get(spec.id_key):
                raise ValueError(f"{spec.service}: every seeded record needs {spec.id_key}")
        key = (_account(account_id), store_region(spec, region), spec.service)
        with self._lock:
            target = self._records.setdefault(key, [])
            target.extend(checked)
            return len(target)

    def list(self, account_id: str, region: str, service: str) -> list[dict[str, Any]]:
        """The records of one target (a shallow copy: handlers may filter it)."""
        spec = SPECS[service]
        with self._lock:
            return list(self._records.get((account_id, store_region(spec, region), service), ()))

    def counts(self) -> dict[str, int]:
        """Records per service across all targets (for logs and tests)."""
        totals: dict[str, int] = {}
        with self._lock:
            for (_, _, service), records in self._records.items():
                totals[service] = totals.get(service, 0) + len(records)
        return totals

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


def _account(account_id: str) -> str:
    account_id = str(account_id)
    if len(account_id) != 12 or not account_id.isdigit():
        raise ValueError(f"account_id must be 12 digits, got {account_id!r}")
    return account_id


def encode_token(offset: int) -> str:
    """An opaque page token ([A-Za-z0-9+/] only: Savings Plans' pattern)."""
    return base64.b64encode(f"{_TOKEN_PREFIX}{offset}".encode()).decode().rstrip("=")


def decode_token(token: str) -> int:
    """The offset in ``token``; ValueError if it is not one of ours."""
    try:
        text = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(f"invalid pagination token {token!r}") from None
    if not text.startswith(_TOKEN_PREFIX) or not text[len(_TOKEN_PREFIX) :].isdigit():
        raise ValueError(f"invalid pagination token {token!r}")
    return int(text[len(_TOKEN_PREFIX) :])


def page(
    records: Sequence[dict[str, Any]],
    token: str | None,
    size: int,
    *,
    stuck: bool = False,
    endless: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``records`` and the token for the next page (None at the end).

    ``stuck`` returns the same token on every page, the way a broken endpoint
    would, so clients can prove they do not loop forever; ``endless`` a new
    token every time, with the first page's records again.
    """
    if endless:
        serial = decode_token(token) + 1 if token else 10**9
        return list(records[:size]), encode_token(serial)
    offset = decode_token(token) if token else 0
    end = offset + size
    if end >= len(records):
        return list(records[offset:]), None
    return list(records[offset:end]), encode_token(size if stuck else end)
