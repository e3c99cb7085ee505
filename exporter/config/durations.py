"""Durations as people write them (``30s``, ``15m``, ``1h30m``, ``30d``) and back."""

from __future__ import annotations

import math
import re

__all__ = ["format_duration", "parse_duration"]

DURATION_HELP = "use a number and a unit: s, m, h, d or w (e.g. 30s, 15m, 1h, 30d)"

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_SHAPE = re.compile(r"(?:\d+(?:\.\d+)?[A-Za-z]+)+", re.ASCII)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([A-Za-z]+)", re.ASCII)
_NUMBER = re.compile(r"\d+(?:\.\d+)?", re.ASCII)


def parse_duration(text: str | int | float, *, allow_zero: bool = False) -> float:
    """Seconds in a duration: ``"30s"``, ``"15m"``, ``"1h"``, ``"1d"``, ``"2w"``, ``"1h30m"``.

    A bare number (``90``, ``"90"``) is seconds. The result must be positive
    (or zero with ``allow_zero``). Raises ``ValueError`` with a message for people.
    """
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"expected a duration; {DURATION_HELP}")
    if isinstance(text, str):
        shown = text.strip()
        if not shown:
            raise ValueError(f"empty duration; {DURATION_HELP}")
        if shown.startswith("-"):
            raise ValueError(f"must not be negative; got {shown}")
        seconds = _duration_text_seconds(shown)
    else:
        if not math.isfinite(text):
            raise ValueError(f"expected a duration; {DURATION_HELP}")
        shown, seconds = f"{text:g}", float(text)
        if seconds < 0:
            raise ValueError(f"must not be negative; got {shown}")
    if seconds == 0 and not allow_zero:
        raise ValueError(f"must be greater than zero; got {shown}")
    return seconds


def _duration_text_seconds(text: str) -> float:
    if _NUMBER.fullmatch(text):
        return float(text)
    if not _DURATION_SHAPE.fullmatch(text):
        raise ValueError(f"'{text}' is not a duration; {DURATION_HELP}")
    seconds = 0.0
    for number, unit in _DURATION_PART.findall(text):
        if unit not in _UNIT_SECONDS:
            hint = " (for a year write 365d)" if unit.lower() == "y" else ""
            raise ValueError(f"unknown unit '{unit}' in '{text}'; use s, m, h, d or w{hint}")
        seconds += float(number) * _UNIT_SECONDS[unit]
    return seconds


def format_duration(seconds: float) -> str:
    """The short form people write: 5400 -> ``1h30m``, 2592000 -> ``30d``."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest, parts = int(seconds), []
    for unit in ("d", "h", "m", "s"):
        count, rest = divmod(rest, _UNIT_SECONDS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
