"""The landing page shows the covered share the store decided, row by row."""

from __future__ import annotations

import re

from exporter.config.fields import DEFAULT_THRESHOLDS
from exporter.store import SnapshotStore
from exporter.web import page
from exporter.web.view import build
from tests.unit.test_store_renewals import MEMBER, NOW, queued, ri


def rows_by_id(html: str) -> dict[str, list[str]]:
    rows = {}
    for row in re.findall(r"<tr data-account[^>]*>(.*?)</tr>", html, flags=re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        rows[cells[4]] = cells
    return rows


def test_renewed_column_shows_the_covered_share() -> None:
    store = SnapshotStore()
    store.record_success(
        MEMBER,
        [ri("partly", 20, 4), queued("q", 20, 3), ri("bare", 10, 1, instance_type="c5.large")],
        attempted_at=NOW,
        duration=1,
    )
    view = build(store.snapshot(), NOW, DEFAULT_THRESHOLDS)
    html = page.render(view, page.Query(), version="test", ready=True)
    rows = rows_by_id(html)
    assert ">renewed" in html
    assert {rid: cells[-2] for rid, cells in rows.items()} == {
        "partly": "75%",
        "q": "-",  # queued: it is the renewal, it needs none
        "bare": "0%",
    }
