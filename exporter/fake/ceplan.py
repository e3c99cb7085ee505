"""What tests choose about the fake's Cost Explorer answers: the utilization of
each reservation or Savings Plan, and attribute keys renamed or dropped.

Kept apart from the handlers (``costexplorer``) so the fake's state can hold
it without importing request handling.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping

from exporter.fake.catalog import CE_SERVICE_NAMES, spec_for

# Services Cost Explorer reports utilization for: the RI services and Savings Plans.
UTILIZATION_SERVICES = (*CE_SERVICE_NAMES, "savingsplans")
_ATTRIBUTE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,127}$")


def default_utilization(reservation_id: str) -> float:
    """The fake's utilization (percent) of a reservation nobody set one for.

    Derived from the id alone, so it is stable across runs and processes, and
    spread so that a handful of reservations shows every case: about a third
    each at 92-100 % (keep), 40-60 % (resize) and 2-18 % (let lapse).
    """
    digest = hashlib.sha256(str(reservation_id).encode()).digest()
    fraction = digest[1] / 255
    band = digest[0] % 3
    if band == 0:
        return round(92 + 8 * fraction, 1)
    if band == 1:
        return round(40 + 20 * fraction, 1)
    return round(2 + 16 * fraction, 1)


def plan_id_of(reservation: str) -> str:
    """A Savings Plan's id from its id or ARN (``...:savingsplan/<id>``)."""
    return (
        reservation.rsplit("savingsplan/", 1)[-1] if ":savingsplan/" in reservation else reservation
    )


class CostExplorerPlan:
    """Utilization overrides and attribute-key changes; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._utilization: dict[tuple[str, str, str], float] = {}
        self._renames: dict[str, str | None] = {}

    def clear(self) -> None:
        with self._lock:
            self._utilization.clear()
            self._renames.clear()

    # --- utilization ------------------------------------------------------------

    def set_utilization(
        self, account_id: str, service: str, reservation_id: str, percent: float | None
    ) -> None:
        """Set (or with None, forget) the utilization of one reservation or plan."""
        name = spec_for(service).service
        if name not in UTILIZATION_SERVICES:
            raise ValueError(
                f"Cost Explorer reports no utilization for {name!r}; "
                f"expected one of {', '.join(UTILIZATION_SERVICES)}"
            )
        if not reservation_id or not isinstance(reservation_id, str):
            raise ValueError("reservation_id must be the reservation's id (or a plan's ARN)")
        if name == "savingsplans":
            reservation_id = plan_id_of(reservation_id)
        key = (str(account_id), name, reservation_id)
        if percent is None:
            with self._lock:
                self._utilization.pop(key, None)
            return
        if isinstance(percent, bool) or not isinstance(percent, (int, float)):
            raise ValueError(f"percent must be a number from 0 to 100, got {percent!r}")
        if not 0 <= percent <= 100:
            raise ValueError(f"percent must be from 0 to 100, got {percent}")
        with self._lock:
            self._utilization[key] = float(percent)

    def utilization(self, account_id: str, service: str, reservation_id: str) -> float:
        """The utilization (percent) answers give this reservation or plan."""
        with self._lock:
            chosen = self._utilization.get((account_id, service, reservation_id))
        return default_utilization(reservation_id) if chosen is None else chosen

    # --- attribute keys ---------------------------------------------------------

    def rename_attribute(self, old: str, new: str | None) -> None:
        """Answer attribute ``old`` under the key ``new`` (None: leave it out;
        ``new == old``: as AWS names it again)."""
        for key in (old, new):
            if key is not None and not (isinstance(key, str) and _ATTRIBUTE_KEY.match(key)):
                raise ValueError(f"not an attribute key: {key!r}")
        with self._lock:
            if new == old:
                self._renames.pop(old, None)
            else:
                self._renames[old] = new

    def apply(self, attributes: Mapping[str, str]) -> dict[str, str]:
        """``attributes`` with the planned renames and drops."""
        with self._lock:
            renames = dict(self._renames)
        result: dict[str, str] = {}
        for key, value in attributes.items():
            if key not in renames:
                result[key] = value
            elif renames[key] is not None:
                result[renames[key]] = value  # type: ignore[index]
        return result
