"""The landing page shows the covered share the store decided, row by row."""

from __future__ import annotations

import re
import threading
from types import SimpleNamespace

from exporter.server import landing_page
from exporter.store import SnapshotStore
from tests.test_store_renewals import MEMBER, NOW, queued, ri


def rows_by_id(page: str) -> dict[str, list[str]]:
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        if len(cells) == 11:  # the reservation table
            rows[cells[6]] = cells
    return rows


def test_renewed_column_shows_the_covered_share() -> None:
    store = SnapshotStore()
    store.record_success(
        MEMBER,
        [ri("partly", 20, 4), queued("q", 20, 3), ri("bare", 10, 1, instance_type="c5.large")],
        attempted_at=NOW,
        duration=1,
    )
    page = landing_page(SimpleNamespace(store=store, clock=lambda: NOW, ready=threading.Event()))
    rows = rows_by_id(page)
    assert "renewed</th>" in page
    assert {rid: cells[-1] for rid, cells in rows.items()} == {
        "partly": "75%",
        "q": "-",  # queued: it is the renewal, it needs none
        "bare": "0%",
    }
