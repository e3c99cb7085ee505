"""Text that is safe to show on a terminal or write as one log line.

Account names come from Organizations (set by member-account admins) and
reservation ids, types and error messages from AWS: any of them can carry a
newline that forges a log line, an escape sequence that clears the screen or
rewrites what came before, or a bidi control that reorders what a person
reads. ``printable`` turns every such character into a visible escape
(``\\n``, ``\\x1b``, ``\\u202e``), so one value stays on one line and shows
what it really holds. Used by ``report``, ``doctor`` and the log formatters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# C0 controls, DEL and C1 controls (U+0085 NEL ends a line for str.splitlines,
# U+009B is a one-byte CSI on some terminals); the Unicode line and paragraph
# separators; the bidi controls (marks, embeddings, overrides, isolates).
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")
# What json.dumps(ensure_ascii=False) leaves raw: it escapes C0 itself.
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f\u2028\u2029{_BIDI}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

ELLIPSIS = "..."
# The widest a table column gets; longer cells are shortened in tables only.
MAX_COLUMN_WIDTH = 60


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` with every control character as a visible escape (``\\x1b``, ``\\n``).

    Cheap when there is nothing to escape (one regex scan). Backslashes are
    left alone: the point is that nothing acts on the terminal or breaks a
    line, not that the escaping can be reversed.
    """
    value = text if isinstance(text, str) else str(text)
    return _UNSAFE.sub(_visible, value)


def json_safe(text: str) -> str:
    """A document from ``json.dumps`` with DEL, C1 controls, U+2028/U+2029 and bidi
    controls written as ``\\uXXXX`` escapes.

    json.dumps escapes C0 itself; with ``ensure_ascii=False`` it leaves the rest
    raw, with ``ensure_ascii=True`` still DEL. Outside strings JSON has none of
    these characters, and inside one the escape is valid JSON that decodes to
    the same text.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in an ellipsis when cut."""
    if len(text) <= width:
        return text
    return text[: max(width - len(ELLIPSIS), 0)] + ELLIPSIS


def format_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: frozenset[str] = frozenset(),
    max_width: int = MAX_COLUMN_WIDTH,
) -> str:
    """Columns padded to their widest cell, two spaces apart; ``right`` columns right-aligned.

    Every cell is made ``printable`` and shortened to ``max_width`` characters,
    so one very long value cannot pad every row; except in a left-aligned last
    column, which pads nothing and is shown whole (doctor's list of regions).
    """
    last = len(headers) - 1 if headers and headers[-1] not in right else -1
    shown = [
        [
            cell if i == last else shorten(cell, max_width)
            for i, cell in enumerate(printable(c) for c in row)
        ]
        for row in rows
    ]
    widths = [len(h) for h in headers]
    for row in shown:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if h in right else c.ljust(w)
            for h, c, w in zip(headers, cells, widths, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(r) for r in shown)]) + "\n"
