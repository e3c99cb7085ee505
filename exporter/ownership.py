"""Who owns a reservation: its own tags, else its account's tags.

``owner_labels`` maps label names to tag keys. A reservation's own tag wins
(even with an empty value: someone set it); else its account's tag; else the
label is empty. Tags change rarely and some services need one call per
reservation, so ``TagCache`` remembers what was read and when: a resource
never read is read at once, a known one again at most every
``owner_labels_refresh``; a failed read keeps what was read before.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

# Tags as sorted (key, value) pairs: hashable, comparable, cheap to keep.
Tags = tuple[tuple[str, str], ...]
NO_TAGS: Tags = ()

# AWS allows 50 tags per resource, keys up to 128 and values up to 256
# characters; an answer beyond that is not trusted further.
MAX_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256


def tags_from_list(items: Any, key: str = "Key", value: str = "Value") -> Tags:
    """``[{"Key": k, "Value": v}, ...]`` (EC2, RDS, ElastiCache, MemoryDB,
    Organizations) as ``Tags``; malformed items are skipped, not trusted."""
    if not isinstance(items, list):
        return NO_TAGS
    pairs = {}
    for item in items[: MAX_TAGS * 2]:
        if isinstance(item, Mapping):
            k, v = item.get(key), item.get(value, "")
            if isinstance(k, str) and isinstance(v, str) and k and len(k) <= MAX_KEY:
                pairs[k] = v[:MAX_VALUE]
    return tuple(sorted(pairs.items()))[:MAX_TAGS]


def tags_from_map(mapping: Any) -> Tags:
    """``{"k": "v"}`` (Savings Plans' ``tags``) as ``Tags``."""
    if not isinstance(mapping, Mapping):
        return NO_TAGS
    items = [{"Key": k, "Value": v} for k, v in list(mapping.items())[: MAX_TAGS * 2]]
    return tags_from_list(items)


def owner_values(
    owner_labels: Iterable[tuple[str, str]], own: Tags, account: Tags
) -> tuple[str, ...]:
    """The value of each owner label: the reservation's tag, else the account's, else ""."""
    mine, theirs = dict(own), dict(account)
    return tuple(mine[tag] if tag in mine else theirs.get(tag, "") for _, tag in owner_labels)


class TagCache:
    """Tags read per resource, grouped by the target that lists it, with when
    they were read. Thread-safe: refresh tasks of several targets share it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Hashable, dict[str, tuple[Tags, float]]] = {}

    def due(self, group: Hashable, key: str, now: float, max_age: float) -> bool:
        """Whether ``key`` needs reading: never read, or read ``max_age`` ago or more."""
        with self._lock:
            entry = self._entries.get(group, {}).get(key)
        return entry is None or now - entry[1] >= max_age

    def get(self, group: Hashable, key: str) -> Tags | None:
        """The tags last read for ``key``; None when never read."""
        with self._lock:
            entry = self._entries.get(group, {}).get(key)
        return entry[0] if entry is not None else None

    def put(self, group: Hashable, key: str, tags: Tags, now: float) -> None:
        with self._lock:
            self._entries.setdefault(group, {})[key] = (tags, now)

    def retain(self, group: Hashable, keys: Iterable[str]) -> None:
        """Keep only these resources of ``group`` (a fresh listing of its target)."""
        wanted = set(keys)
        with self._lock:
            entries = self._entries.get(group)
            if entries is not None:
                for key in [k for k in entries if k not in wanted]:
                    del entries[key]

    def retain_groups(self, groups: Iterable[Hashable]) -> None:
        """Forget the groups (targets) no longer planned."""
        wanted = set(groups)
        with self._lock:
            for group in [g for g in self._entries if g not in wanted]:
                del self._entries[group]

    def __len__(self) -> int:
        with self._lock:
            return sum(len(e) for e in self._entries.values())
