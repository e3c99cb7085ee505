"""Every AWS request the fake answered, so tests and benchmarks count API
calls independently of the exporter's own metrics."""

from __future__ import annotations

import threading
from typing import NamedTuple


class Call(NamedTuple):
    account_id: str
    region: str
    service: str  # the SigV4 signing name: "es" for OpenSearch
    operation: str
    outcome: str  # ok | throttled | denied | error


class Recorder:
    """An append-only, thread-safe list of calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def calls(
        self,
        account_id: str | None = None,
        region: str | None = None,
        service: str | None = None,
        operation: str | None = None,
        outcome: str | None = None,
    ) -> list[Call]:
        """The calls so far, in order, keeping those that match every given field."""
        wanted = {
            index: value
            for index, value in enumerate((account_id, region, service, operation, outcome))
            if value is not None
        }
        with self._lock:
            snapshot = list(self._calls)
        return [c for c in snapshot if all(c[i] == v for i, v in wanted.items())]

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
