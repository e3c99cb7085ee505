"""exporter.terminal: visible escapes, JSON escapes, shortened cells, tables."""

from __future__ import annotations

import json

import pytest

from exporter.terminal import MAX_COLUMN_WIDTH, format_table, json_safe, printable, shorten


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain id-123", "plain id-123"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x1b[2J\x07\x00\x7f", "\\x1b[2J\\x07\\x00\\x7f"),
        ("\x85\x9b31m", "\\x85\\x9b31m"),  # C1: NEL and the one-byte CSI
        ("\u2028\u2029", "\\u2028\\u2029"),
        (
            "\u202eevil\u202c \u2066x\u2069 \u200e\u200f\u061c",
            "\\u202eevil\\u202c \\u2066x\\u2069 \\u200e\\u200f\\u061c",
        ),
        ("C:\\path \u00e9\u6771\u4eac \u2713", "C:\\path \u00e9\u6771\u4eac \u2713"),
        (12, "12"),
    ],
)
def test_printable(text, shown):
    assert printable(text) == shown


def test_json_safe_escapes_what_json_dumps_leaves_raw_and_round_trips():
    value = {"name": "a\x7f\x85\u2028\u2029\u202e\n\x1b é"}
    text = json_safe(json.dumps(value, ensure_ascii=False))
    assert text == '{"name": "a\\u007f\\u0085\\u2028\\u2029\\u202e\\n\\u001b é"}'
    assert json.loads(text) == value
    assert json_safe(json.dumps(value)) == json.dumps(value).replace("\x7f", "\\u007f")


def test_shorten():
    assert shorten("abc", 3) == "abc"
    assert shorten("abcd", 3) == "..."
    assert shorten("x" * 61, 60) == "x" * 57 + "..."
    assert len(shorten("x" * 5000, MAX_COLUMN_WIDTH)) == MAX_COLUMN_WIDTH


def test_format_table_escapes_and_caps_but_keeps_a_left_aligned_last_column_whole():
    where = ", ".join(["ap-southeast-1"] * 10)
    text = format_table(
        ("NAME", "N", "WHERE"),
        [("a\x1b[2Jb", "1", where), ("y" * 100, "22", "-")],
        right=frozenset({"N"}),
    )
    lines = text.splitlines()
    assert lines == [
        "NAME" + " " * 59 + "N  WHERE",
        "a\\x1b[2Jb" + " " * 54 + "1  " + where,
        "y" * 57 + "...  22  -",
    ]


def test_format_table_caps_a_right_aligned_last_column():
    lines = format_table(("A", "COST"), [("a", "9" * 100), ("b", "1")], frozenset({"COST"}))
    assert lines.splitlines()[2] == "b" + " " * 61 + "1"
    assert lines.splitlines()[1] == "a  " + "9" * 57 + "..."
