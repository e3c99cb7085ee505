"""How configuration problems are told: ``path: message (line N)``, never raw control characters.

A ``Problem`` is one thing wrong at a ``Path`` (``("accounts", 2, "role_arn")``, shown
``accounts[2].role_arn``); ``render`` orders and words them; ``ConfigError`` carries
them to the user. The bottom of the package: it imports nothing from it.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_HINT_CHOICES",
    "ConfigError",
    "Path",
    "Problem",
    "did_you_mean",
    "escaped",
    "format_path",
    "printable",
    "render",
    "unprintable",
]

#: Where in a document: mapping keys and list indexes (an ``int`` is a list index).
Path = tuple[str | int, ...]

MAX_HINT_CHOICES = 1000  # "did you mean" only among fewer choices than this

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)


class ConfigError(Exception):
    """The configuration cannot be used. ``errors`` holds every problem as ``path: message``.

    Control and invisible formatting characters in a message (from a key or value in the
    file) are shown escaped, e.g. ``\\x1b``, so printing an error cannot drive a terminal.
    """

    def __init__(self, errors: list[str], source: str = "<config>") -> None:
        self.errors = [printable(error) for error in errors]
        self.source = source
        super().__init__("\n".join(self.errors))

    def __str__(self) -> str:
        return "\n".join(self.errors)


# C0/C1 controls (newline, ESC...), formatting characters (bidi overrides, zero-width
# spaces), line and paragraph separators, lone surrogates: nothing a label or a line of a
# log or terminal should carry raw.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def unprintable(text: str) -> list[str]:
    """The characters of ``text`` that must not be printed raw, in order, each once."""
    found = {ch: None for ch in text if unicodedata.category(ch) in _UNPRINTABLE}
    return list(found)


def escaped(char: str) -> str:
    """``"\\x1b"`` for ESC, ``"\\n"`` for a newline, ``"\\u202e"`` for a bidi override."""
    return char.encode("unicode_escape").decode("ascii")


def printable(text: str) -> str:
    """``text`` with every character ``unprintable`` finds shown ``escaped``."""
    if text.isprintable():
        return text
    return "".join(escaped(ch) if unicodedata.category(ch) in _UNPRINTABLE else ch for ch in text)


@dataclass(frozen=True)
class Problem:
    """One thing wrong, at ``path``, in the user's terms."""

    path: Path
    message: str
    line: int | None = None  # set when known better than the path's own line
    line_path: Path | None = None  # where to look the line up, if not at path


def format_path(path: Path, *, keys_only: bool = False) -> str:
    """``("accounts", 2, "role_arn")`` -> ``accounts[2].role_arn``.

    With ``keys_only`` every part is a mapping key (a file without lists, such as the web
    config): one that is not a plain name (letters, digits, ``_``, ``-``), or not text at
    all (YAML reads ``yes:`` as true, ``1:`` as a number), is shown quoted, so a key with
    a dot or a space cannot pass for a path: ``basic_auth_users["ali:ce"]``, ``["True"]``.
    """
    text = ""
    for part in path:
        if keys_only and not (isinstance(part, str) and _PLAIN_KEY.fullmatch(part)):
            text += f"[{json.dumps(str(part))}]"
        elif isinstance(part, int) and not keys_only:
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def did_you_mean(word: str, choices: frozenset[str] | tuple[str, ...]) -> str:
    """A hint for a misspelt name: a choice it abbreviates, else the closest spelling.

    None among thousands of choices (account names): comparing every unknown name with
    every choice would take minutes in a hostile file.
    """
    if len(choices) > MAX_HINT_CHOICES:
        return ""
    lowered = word.lower()
    ordered = sorted(choices)
    match = [c for c in ordered if lowered and c.startswith(lowered)]
    match = match or difflib.get_close_matches(lowered, ordered, n=1, cutoff=0.6)
    return f" (did you mean {match[0]}?)" if match else ""


def render(problems: list[Problem], lines: dict[Path, int], keys: list[Any]) -> list[str]:
    """``path: message (line N)``, in file order; problems about the whole file first.

    Without line numbers (``parse_config``), the order of the top-level keys stands in.
    """
    located = [
        (problem, problem.line or _line_of(problem.line_path or problem.path, lines))
        for problem in problems
    ]

    def position(item: tuple[Problem, int | None]) -> tuple[int, int]:
        problem, line = item
        top = problem.path[0] if problem.path else None
        return line or 0, keys.index(top) if top in keys else -1

    located.sort(key=position)
    rendered = []
    for problem, line in located:
        suffix = f" (line {line})" if line else ""
        path = format_path(problem.path) or "config"
        rendered.append(f"{path}: {problem.message}{suffix}")
    return rendered


def _line_of(path: Path, lines: dict[Path, int]) -> int | None:
    for end in range(len(path), 0, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None
