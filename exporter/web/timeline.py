"""The timeline chart: hourly cost ending per month, uncovered and covered,
as server-rendered SVG (no script, no external file: the page's CSP allows
none, and it works offline and behind a proxy)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from exporter.web.view import Bucket

WIDTH, HEIGHT = 760, 220
LEFT, BOTTOM, TOP = 56, 28, 12


def currencies(buckets: Sequence[Bucket]) -> list[str]:
    """Every currency with a cost in the timeline, USD first."""
    found = {c for b in buckets for c in (*b.covered, *b.uncovered)}
    return sorted(found, key=lambda c: (c != "USD", c))


def svg(buckets: Sequence[Bucket], currency: str) -> str:
    """A stacked bar per month: not covered (bottom) and covered by renewals."""
    uncovered = [b.uncovered.get(currency, 0.0) for b in buckets]
    covered = [b.covered.get(currency, 0.0) for b in buckets]
    peak = max((u + c for u, c in zip(uncovered, covered, strict=True)), default=0.0)
    scale_max = _nice(peak)
    plot_w = WIDTH - LEFT - 8
    plot_h = HEIGHT - BOTTOM - TOP
    step = plot_w / max(len(buckets), 1)
    bar_w = step * 0.7
    e = html.escape
    parts = [
        f'<svg class="timeline" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{e(currency)} per hour ending per month, next {len(buckets)} '
        f'months">',
    ]
    for i in range(5):  # grid and axis labels
        value = scale_max * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_money(value)}</text>"
        )
    for i, bucket in enumerate(buckets):
        x = LEFT + i * step + (step - bar_w) / 2
        base = TOP + plot_h
        for kind, value in (("uncovered", uncovered[i]), ("covered", covered[i])):
            if value <= 0 or scale_max <= 0:
                continue
            h = plot_h * value / scale_max
            base -= h
            said = "not covered" if kind == "uncovered" else "covered by renewals"
            title = f"{bucket.label}: {value:.2f} {currency}/h {said}"
            parts.append(
                f'<rect class="bar-{kind}" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}"><title>{e(title)}</title></rect>'
            )
        parts.append(
            f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{HEIGHT - 10}" '
            f'text-anchor="middle">{e(bucket.label[2:])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _nice(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2 or 5 times a power of ten)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if value <= factor * power:
            return factor * power
    return 10 * power


def _money(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}".rstrip("0").rstrip(".") or "0"
