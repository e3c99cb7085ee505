"""Seeded reservation records and their tags, kept per (account_id, region,
service), and the paging the listing handlers share."""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from exporter.fake.catalog import (
    SPECS,
    ApiSpec,
    normalise_record,
    record_shape,
    spec_for,
    store_region,
)

_TOKEN_PREFIX = "fake-page:"
# AWS's tag limits (EC2, RDS, ElastiCache, MemoryDB and Savings Plans agree).
MAX_TAGS, MAX_KEY, MAX_VALUE = 50, 128, 256

Target = tuple[str, str, str]  # (account_id, store region, service)


class ReservationStore:
    """Thread-safe record lists; handlers read copies, seeding appends.

    Tags of services whose listing carries them (EC2, Savings Plans) live in
    the records; those read through a tag API (RDS, ElastiCache, MemoryDB)
    live beside them, found by the reservation's ARN.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[Target, list[dict[str, Any]]] = {}
        # (account, service) -> its store regions: Cost Explorer asks per account
        # for every member of an organization, on every page.
        self._regions: dict[tuple[str, str], set[str]] = {}
        self._arns: dict[Target, dict[str, str]] = {}  # reservation ARN -> id
        self._tags: dict[Target, dict[str, dict[str, str]]] = {}  # id -> tags

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
            self._regions.setdefault((key[0], key[2]), set()).add(key[1])
            if spec.tags_operation:
                arns = self._arns.setdefault(key, {})
                for record in checked:
                    arns[_arn_of(spec, key, record)] = record[spec.id_key]
            return len(target)

    def set_tags(
        self,
        account_id: str,
        region: str,
        service: str,
        reservation: str,
        tags: Mapping[str, str],
    ) -> None:
        """Replace the tags of one seeded reservation, named by its id or ARN."""
        spec = spec_for(service)
        if not spec.has_tags:
            raise ValueError(
                f"{spec.service} reservations have no tags in AWS: no tag member in "
                f"{spec.operation}'s records and no tag API that takes a reservation"
            )
        checked = check_tags(tags)
        key = (_account(account_id), store_region(spec, region), spec.service)
        with self._lock:
            records = self._records.get(key, [])
            index = next(
                (
                    i
                    for i, record in enumerate(records)
                    if reservation in (record.get(spec.id_key), _arn_of(spec, key, record))
                ),
                None,
            )
            if index is None:
                raise ValueError(
                    f"no {spec.service} reservation {reservation!r} seeded in "
                    f"{key[0]} {key[1]}: seed() it first"
                )
            if spec.tags_member:
                # A new dict: answers being serialised keep the record they read.
                records[index] = {**records[index], spec.tags_member: _as_member(spec, checked)}
            else:
                self._tags.setdefault(key, {})[records[index][spec.id_key]] = checked

    def tags_by_arn(
        self, account_id: str, region: str, service: str, arn: str
    ) -> dict[str, str] | None:
        """The tags of the reservation with ``arn`` in this target; None if there is none."""
        spec = SPECS[service]
        key = (account_id, store_region(spec, region), service)
        with self._lock:
            reservation_id = self._arns.get(key, {}).get(arn)
            if reservation_id is None:
                return None
            return dict(self._tags.get(key, {}).get(reservation_id, {}))

    def list(self, account_id: str, region: str, service: str) -> list[dict[str, Any]]:
        """The records of one target (a shallow copy: handlers may filter it)."""
        spec = SPECS[service]
        with self._lock:
            return list(self._records.get((account_id, store_region(spec, region), service), ()))

    def of_account(self, account_id: str, service: str) -> list[tuple[str, dict[str, Any]]]:
        """(store region, record) of every record of ``service`` in ``account_id``,
        all regions, in a stable order (regions sorted, records as seeded)."""
        with self._lock:
            return [
                (region, record)
                for region in sorted(self._regions.get((account_id, service), ()))
                for record in self._records[(account_id, region, service)]
            ]

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
            self._regions.clear()
            self._arns.clear()
            self._tags.clear()


def check_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``tags`` within AWS's limits (ValueError otherwise)."""
    if not isinstance(tags, Mapping):
        raise ValueError(f"tags must be a mapping of key to value, got {type(tags).__name__}")
    if len(tags) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags per resource, got {len(tags)}")
    checked: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY:
            raise ValueError(f"tag key must be a string of 1-{MAX_KEY} characters: {key!r}")
        if not isinstance(value, str) or len(value) > MAX_VALUE:
            raise ValueError(f"tag value of {key!r} must be a string of 0-{MAX_VALUE} characters")
        checked[key] = value
    return checked


def _arn_of(spec: ApiSpec, key: Target, record: Mapping[str, Any]) -> str | None:
    """A record's ARN: its own ARN member, else the one AWS would give it."""
    if spec.arn_key and record.get(spec.arn_key):
        return str(record[spec.arn_key])
    reservation_id = record.get(spec.id_key)
    return spec.arn(key[0], key[1], str(reservation_id)) if reservation_id else None


def _as_member(spec: ApiSpec, tags: dict[str, str]) -> Any:
    """``tags`` the way the listing's record carries them: EC2's list of
    ``{Key, Value}``, Savings Plans' map."""
    assert spec.tags_member is not None
    if record_shape(spec.service).members[spec.tags_member].type_name == "list":
        return [{"Key": k, "Value": v} for k, v in tags.items()]
    return dict(tags)


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
