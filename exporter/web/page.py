"""The landing page: what ends when, what renewals cover, what is at stake.

Server-rendered HTML without a script: filters are a GET form, sorting and
paging are links, so the page works with the strict CSP, offline, behind a
proxy and at 10,000 reservations (a page shows PAGE_SIZE rows of a section;
filtering, sorting and paging run in the server over the held snapshot).
Every value from AWS or Organizations is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlencode

from exporter.renewal import renewed_text
from exporter.web import timeline
from exporter.web.view import Row, TargetStatus, View

PAGE_SIZE = 100
HEALTHY_TARGETS_SHOWN = 200
MAX_QUERY = 200  # characters of a filter value taken from the URL
NAMED_FAILURES = 5  # failing targets named in the summary

e = html.escape


@dataclass(frozen=True)
class Query:
    """The page's URL parameters: filters, sort order and the page of each section."""

    account: str = ""
    service: str = ""
    state: str = ""
    text: str = ""
    sort: str = "days"
    descending: bool = False
    page: int = 1
    ended_page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, Sequence[str]]) -> Query:
        def one(name: str) -> str:
            values = params.get(name) or [""]
            return values[0][:MAX_QUERY]

        sort = one("sort")
        return cls(
            account=one("account"),
            service=one("service"),
            state=one("state"),
            text=one("q").strip(),
            sort=sort if sort in COLUMNS else "days",
            descending=one("dir") == "desc",
            page=_positive(one("page")),
            ended_page=_positive(one("epage")),
        )

    def params(self, **changes: object) -> str:
        """This query as a URL query string, with ``changes``; defaults left out."""
        values = {
            "account": self.account,
            "service": self.service,
            "state": self.state,
            "q": self.text,
            "sort": "" if self.sort == "days" else self.sort,
            "dir": "desc" if self.descending else "",
            "page": "" if self.page == 1 else str(self.page),
            "epage": "" if self.ended_page == 1 else str(self.ended_page),
        }
        values.update({k: str(v) for k, v in changes.items()})
        kept = {k: v for k, v in values.items() if v and not (k in ("page", "epage") and v == "1")}
        return "?" + urlencode(kept) if kept else "?"

    def matches(self, row: Row) -> bool:
        return (
            (not self.account or row.account == self.account)
            and (not self.service or row.service == self.service)
            and (not self.state or row.state == self.state)
            and (not self.text or self.text.lower() in row.text())
        )


def _positive(text: str) -> int:
    return int(text) if text.isdigit() and 0 < int(text) < 10**6 else 1


# Sortable columns: key -> (heading, sort key).
COLUMNS: dict[str, tuple[str, Callable[[Row], object]]] = {
    "days": ("days left", lambda r: r.end),
    "account": ("account", lambda r: (r.account, r.end)),
    "region": ("region", lambda r: (r.region, r.end)),
    "service": ("service", lambda r: (r.service, r.end)),
    "id": ("reservation", lambda r: r.reservation_id),
    "type": ("type", lambda r: (r.type, r.end)),
    "count": ("count", lambda r: (-1 if r.count is None else r.count, r.end)),
    "state": ("state", lambda r: (r.state, r.end)),
    "renewed": ("renewed", lambda r: (2.0 if r.covered is None else r.covered, r.end)),
    "cost": ("hourly cost", lambda r: (r.hourly_cost or 0.0, r.end)),
}


def render(
    view: View,
    query: Query,
    *,
    version: str,
    ready: bool,
    refresh_interval: float | None = None,
) -> str:
    rows = [r for r in view.rows if query.matches(r)]
    key = COLUMNS[query.sort][1]
    rows.sort(key=key, reverse=query.descending)  # type: ignore[arg-type]
    upcoming = [r for r in rows if not r.ended]
    ended = [r for r in rows if r.ended]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AWS reservations</title>
<style>{STYLE}</style></head><body>
<header><h1>AWS reservations</h1>
<p class="meta">{_status_line(view, version, ready, refresh_interval)}</p>
<nav><a href="metrics">/metrics</a> <a href="calendar.ics">calendar (.ics)</a>
<a href="healthz">/healthz</a> <a href="readyz">/readyz</a></nav></header>
<main>
{_summary(view)}
{_health(view)}
{_timeline(view)}
<section id="reservations"><h2>Reservations</h2>
{_filters(view, query)}
<h3>Upcoming <span class="count">{len(upcoming)}</span></h3>
{_table(upcoming, view, query, "page", query.page)}
<details{" open" if query.ended_page > 1 else ""}><summary>Ended
<span class="count">{len(ended)}</span> (within expired_lookback; retired early ones never
alert)</summary>
{_table(ended, view, query, "epage", query.ended_page)}
</details></section>
{_targets(view)}
</main></body></html>
"""


def _status_line(view: View, version: str, ready: bool, interval: float | None) -> str:
    state = "ready" if ready else "first refresh in progress"
    if view.newest_data is None:
        age = "no data yet"
    else:
        age = f"data from {_ago(view.now - view.newest_data)}"
        if view.oldest_data is not None and view.newest_data - view.oldest_data > 60:
            age += f" (oldest target: {_ago(view.now - view.oldest_data)})"
    every = f" · refreshed every {_duration(interval)}" if interval else ""
    return f"version {e(version)} · {e(state)} · {age}{every} · now {_utc(view.now)}"


def _summary(view: View) -> str:
    cards = []
    for tier in view.tiers:
        money = ", ".join(
            f"{cost:,.2f} {e(currency)}/h" for currency, cost in sorted(tier.uncovered_cost.items())
        )
        cls = "bad" if tier.uncovered else "ok"
        cards.append(
            f'<div class="card {cls}" data-tier="{e(tier.name)}">'
            f'<div class="label">ending within {_days(tier.days)} ({e(tier.name)})</div>'
            f'<div class="big" data-uncovered="{tier.uncovered}">{tier.uncovered}</div>'
            f'<div>not fully renewed, of <span data-ending="{tier.ending}">{tier.ending}'
            "</span></div>"
            f'<div class="money" data-cost="{_cost_attr(tier.uncovered_cost)}">'
            f"{money + ' not covered' if money else 'nothing at stake'}</div></div>"
        )
    return f'<section id="summary" class="cards">{"".join(cards)}</section>'


def _cost_attr(costs: Mapping[str, float]) -> str:
    return e(" ".join(f"{c}={v:.6f}" for c, v in sorted(costs.items())))


def _health(view: View) -> str:
    failing = view.failing
    total = len(view.targets)
    if not total:
        return '<p id="health" class="warn">No target refreshed yet.</p>'
    if not failing:
        return f'<p id="health" class="ok" data-failing="0">All {total} targets healthy.</p>'
    named = ", ".join(
        f"{e(t.target.account)}/{e(t.target.region)}/{e(t.target.service)} "
        f"({e(t.reason or 'error')})"
        for t in failing[:NAMED_FAILURES]
    )
    more = f" and {len(failing) - NAMED_FAILURES} more" if len(failing) > NAMED_FAILURES else ""
    return (
        f'<p id="health" class="bad" data-failing="{len(failing)}">{len(failing)} of {total} '
        f"targets failing, their last good data kept: {named}{more}. "
        f'<a href="#targets">Targets</a></p>'
    )


def _timeline(view: View) -> str:
    found = timeline.currencies(view.timeline)
    if not found:
        return (
            '<section id="timeline"><h2>Next 12 months</h2>'
            "<p>Nothing ends in the next 12 months.</p></section>"
        )
    charts = "".join(
        f"<figure>{timeline.svg(view.timeline, currency)}<figcaption>{e(currency)} per hour "
        'ending each month: <span class="key-uncovered">not covered</span> and '
        '<span class="key-covered">covered by renewals</span></figcaption></figure>'
        for currency in found
    )
    return f'<section id="timeline"><h2>Next 12 months</h2>{charts}</section>'


def _filters(view: View, query: Query) -> str:
    def select(name: str, label: str, values: Iterable[str], chosen: str) -> str:
        options = ['<option value="">all</option>']
        for value in sorted(set(values)):
            mark = " selected" if value == chosen else ""
            options.append(f'<option value="{e(value)}"{mark}>{e(value)}</option>')
        return f'<label>{label} <select name="{name}">{"".join(options)}</select></label>'

    return (
        '<form id="filters" method="get" action="">'
        + select("account", "account", (r.account for r in view.rows), query.account)
        + select("service", "service", (r.service for r in view.rows), query.service)
        + select("state", "state", (r.state for r in view.rows), query.state)
        + f'<label>search <input type="search" name="q" value="{e(query.text)}" '
        f'maxlength="{MAX_QUERY}"></label>'
        + '<button type="submit">filter</button> <a href="?">clear</a></form>'
    )


def _table(rows: Sequence[Row], view: View, query: Query, param: str, page: int) -> str:
    if not rows:
        return "<p>None.</p>"
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = min(page, pages)
    shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    owners = "".join(f"<th>{e(label)}</th>" for label in view.owner_labels)
    head = (
        _heading("days", query)
        + _heading("account", query)
        + owners
        + "".join(_heading(k, query) for k in ("region", "service", "id", "type", "count"))
        + "".join(_heading(k, query) for k in ("state", "renewed", "cost"))
    )
    body = "".join(_row(r) for r in shown)
    return (
        f'<table class="reservations"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
        f"</table>{_pager(query, param, page, pages, len(rows))}"
    )


def _heading(key: str, query: Query) -> str:
    label = COLUMNS[key][0]
    descending = query.sort == key and not query.descending
    arrow = (" ▼" if query.descending else " ▲") if query.sort == key else ""
    link = query.params(sort=key, dir="desc" if descending else "", page=1, epage=1)
    return f'<th><a href="{e(link)}">{e(label)}{arrow}</a></th>'


def _row(r: Row) -> str:
    cls = "bad" if r.days_left < 7 else "warn" if r.days_left < 30 else "ok"
    renewed = "ok" if not r.uncovered else "bad" if (r.covered or 0) == 0 else "warn"
    count = "" if r.count is None else str(r.count)
    cost = "" if r.hourly_cost is None else f"{r.hourly_cost:.4f} {e(r.currency)}"
    owners = "".join(f"<td>{e(value)}</td>" for value in r.owners)
    return (
        f'<tr data-account="{e(r.account)}"><td class="{cls} num" title="ends {_utc(r.end)}">'
        f"{r.days_left:.1f}</td><td>{e(r.account)}<br><small>{e(r.account_id)}</small></td>"
        f"{owners}<td>{e(r.region)}</td><td>{e(r.service)}</td>"
        f'<td class="id">{e(r.reservation_id)}</td><td>{e(r.type)}</td>'
        f'<td class="num">{count}</td><td>{e(r.state)}</td>'
        f'<td class="{renewed} num">{renewed_text(r.covered)}</td><td class="num">{cost}</td></tr>'
    )


def _pager(query: Query, param: str, page: int, pages: int, total: int) -> str:
    if pages == 1:
        return ""
    links = []
    if page > 1:
        links.append(f'<a href="{e(query.params(**{param: page - 1}))}">previous</a>')
    links.append(f"page {page} of {pages} ({total} rows)")
    if page < pages:
        links.append(f'<a href="{e(query.params(**{param: page + 1}))}">next</a>')
    return f'<p class="pager">{" · ".join(links)}</p>'


def _targets(view: View) -> str:
    failing = [t for t in view.targets if not t.success]
    healthy = [t for t in view.targets if t.success]

    def rows(items: Sequence[TargetStatus]) -> str:
        return "".join(
            f"<tr><td>{e(t.target.account)}</td><td>{e(t.target.account_id)}</td>"
            f"<td>{e(t.target.region)}</td><td>{e(t.target.service)}</td>"
            f'<td class="{"ok" if t.success else "bad"}">'
            f"{'ok' if t.success else 'failing: ' + e(t.reason or 'error')}</td>"
            f"<td>{_utc(t.last_success) if t.last_success else 'never'}</td>"
            f'<td class="num">{t.reservations}</td></tr>'
            for t in items
        )

    head = (
        "<thead><tr><th>account</th><th>account id</th><th>region</th><th>service</th>"
        "<th>status</th><th>last success</th><th>reservations</th></tr></thead>"
    )
    shown = healthy[:HEALTHY_TARGETS_SHOWN]
    more = (
        f"<p>and {len(healthy) - len(shown)} more healthy targets (see /metrics).</p>"
        if len(healthy) > len(shown)
        else ""
    )
    failures = (
        f'<table class="targets">{head}<tbody>{rows(failing)}</tbody></table>'
        if failing
        else "<p>No target is failing.</p>"
    )
    return (
        f'<section id="targets"><h2>Targets</h2><h3>Failing <span class="count">{len(failing)}'
        f'</span></h3>{failures}<details><summary>Healthy <span class="count">{len(healthy)}'
        f'</span></summary><table class="targets">{head}<tbody>{rows(shown)}</tbody></table>'
        f"{more}</details></section>"
    )


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


def _days(days: float) -> str:
    return f"{days:g} day" + ("" if days == 1 else "s")


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


STYLE = """
:root { --ok: #1a7f37; --warn: #9a4d00; --bad: #c62828; --line: #d0d7de; }
body { font-family: system-ui, sans-serif; margin: 0 2em 2em; color: #1f2328; }
header { border-bottom: 1px solid var(--line); margin-bottom: 1em; }
h1 { margin-bottom: 0.2em; } .meta { color: #59636e; margin: 0.2em 0; }
nav a { margin-right: 1em; }
.cards { display: flex; flex-wrap: wrap; gap: 1em; margin: 1em 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 0.8em 1.2em; min-width: 12em; }
.card.bad { border-left: 6px solid var(--bad); } .card.ok { border-left: 6px solid var(--ok); }
.card .label { color: #59636e; } .card .big { font-size: 2em; font-weight: bold; }
.card .money { margin-top: 0.3em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
td, th { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left; }
th a { color: inherit; } td.num { text-align: right; white-space: nowrap; }
td.id { font-family: monospace; }
.ok { color: var(--ok); } .warn { color: var(--warn); }
.bad { color: var(--bad); font-weight: bold; }
.count { color: #59636e; font-weight: normal; }
form label { margin-right: 1em; } .pager { color: #59636e; }
svg.timeline .grid { stroke: var(--line); } svg.timeline .axis { font-size: 11px; fill: #59636e; }
svg.timeline .bar-uncovered { fill: var(--bad); } svg.timeline .bar-covered { fill: var(--ok); }
.key-uncovered { color: var(--bad); } .key-covered { color: var(--ok); }
figure { margin: 0 0 1em; }
"""
