"""Log formatters: one record is one line, whatever AWS put in the message."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from exporter.logs import JsonFormatter, TextFormatter, setup_logging

HOSTILE = "evil\n2026-01-01 ERROR forged\x1b[2J\r\x85\u2028\u2029\u202e\x7f\x00\t end"
SHOWN = "evil\\n2026-01-01 ERROR forged\\x1b[2J\\r\\x85\\u2028\\u2029\\u202e\\x7f\\x00\\t end"
# Anything a terminal acts on or a reader splits lines at.
RAW = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202e]")


def record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("boom\nsecond line\x1b[2J")
        except RuntimeError:
            import sys

            exc_info = sys.exc_info()
    return logging.LogRecord(
        "exporter.refresher", logging.WARNING, __file__, 1, msg, args, exc_info
    )


def test_text_formatter_escapes_arguments_into_one_line():
    line = TextFormatter("%(levelname)s %(name)s: %(message)s").format(
        record("refresh failed: account=%s reason=%s", HOSTILE, "denied")
    )
    assert line == f"WARNING exporter.refresher: refresh failed: account={SHOWN} reason=denied"
    assert not RAW.search(line)


def test_text_formatter_keeps_a_traceback_on_the_same_line():
    line = TextFormatter("%(message)s").format(record("task crashed", exc=True))
    assert "\n" not in line and not RAW.search(line)
    assert line.startswith("task crashed\\nTraceback (most recent call last):\\n")
    assert line.endswith("RuntimeError: boom\\nsecond line\\x1b[2J")


def test_text_formatter_leaves_ordinary_messages_alone():
    message = "account=prod région=eu-west-1 path=C:\\tmp 100% ✓"
    assert TextFormatter("%(message)s").format(record(message)) == message


def test_json_formatter_escapes_c1_separators_and_bidi_and_round_trips():
    line = JsonFormatter().format(record("account=%s", HOSTILE, exc=True))
    assert not RAW.search(line)
    assert line.splitlines() == [line]  # str.splitlines splits at \x85 and U+2028 too
    assert "\\u0085" in line and "\\u2028" in line and "\\u2029" in line and "\\u202e" in line
    entry = json.loads(line)
    assert entry["msg"] == f"account={HOSTILE}"
    assert entry["level"] == "warning" and entry["logger"] == "exporter.refresher"
    assert entry["exception"].endswith("RuntimeError: boom\nsecond line\x1b[2J")


def test_json_formatter_keeps_non_ascii_text_readable():
    line = JsonFormatter().format(record("région ✓ 東京"))
    assert '"msg": "région ✓ 東京"' in line


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_setup_logging_writes_one_line_per_record(fmt, monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("info", fmt)
        logging.getLogger("exporter.accounts").warning("account %s discovered", HOSTILE)
        logging.getLogger("exporter.accounts").info("second")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert not RAW.search(stream.getvalue().replace("\n", ""))
    if fmt == "json":
        assert json.loads(lines[0])["msg"] == f"account {HOSTILE} discovered"
    else:
        assert lines[0].endswith(f" WARNING exporter.accounts: account {SHOWN} discovered")
