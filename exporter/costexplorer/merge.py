"""Cost Explorer's rows meet the per-account listings, by reservation id.

An account reached by its role keeps its listing's exact data (queued
renewals, tags, prices): a listed reservation that Cost Explorer also knows
only gains its utilization and ``source="both"``. Whatever Cost Explorer
alone knows (accounts or regions not read by role) becomes targets of their
own, ``source="cost_explorer"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from exporter.costexplorer.parse import Row
from exporter.model import GLOBAL_REGION, Reservation, Target


class Overlay:
    """The rows of one Cost Explorer read, by (account id, service, id)."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.rows = list(rows)
        self._by_key = {
            (row.account_id, row.service, row.reservation.reservation_id): row for row in self.rows
        }

    def __len__(self) -> int:
        return len(self.rows)

    def annotate(self, target: Target, reservations: Sequence[Reservation]) -> list[Reservation]:
        """``reservations`` (a listing of ``target``) with what Cost Explorer adds."""
        out = []
        for r in reservations:
            row = self._by_key.get((target.account_id, target.service, r.reservation_id))
            if row is None and r.lease_id:  # RDS: listed by name, known by lease
                row = self._by_key.get((target.account_id, target.service, r.lease_id))
            if row is None:
                out.append(r)
            else:
                out.append(replace(r, source="both", utilization=row.reservation.utilization))
        return out

    def targets(
        self, name_of: Callable[[str], str | None], skip: Iterable[Target]
    ) -> dict[Target, list[Reservation]]:
        """Cost Explorer's rows as targets, except those the listings read
        (``skip``). ``name_of(account_id)`` is the configured or discovered
        name, if any; else Cost Explorer's account name, else the id."""
        read = {(t.account_id, t.region, t.service) for t in skip}
        out: dict[Target, list[Reservation]] = {}
        for row in self.rows:
            region = GLOBAL_REGION if row.service == "savingsplans" else row.region
            if (row.account_id, region, row.service) in read:
                continue
            name = name_of(row.account_id) or row.account_name or row.account_id
            target = Target(name, row.account_id, region, row.service)
            out.setdefault(target, []).append(row.reservation)
        return out
