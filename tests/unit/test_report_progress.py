"""The progress line: only on a terminal, erased before log lines and prompts."""

from __future__ import annotations

import io
import logging
import threading

from exporter.commands.console import Progress, log_to

CLEAR = "\r\x1b[K"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def shown_progress(stream: io.StringIO) -> tuple[Progress, threading.Event]:
    drawn = threading.Event()

    def describe() -> str:
        drawn.set()
        return "reading reservations: 3 targets done"

    return Progress(stream, describe, enabled=True, delay=0, interval=0.01), drawn


def test_progress_draws_on_a_terminal_and_erases_itself():
    stream = Terminal()
    progress, drawn = shown_progress(stream)
    with progress:
        assert drawn.wait(10)
    text = stream.getvalue()
    assert text.startswith(f"{CLEAR}reading reservations: 3 targets done (")
    assert text.endswith(CLEAR)


def test_progress_is_silent_when_disabled():
    stream = io.StringIO()
    with Progress(stream, lambda: "x", enabled=False, delay=0):
        pass
    assert stream.getvalue() == ""


def test_log_lines_start_on_a_clean_line_and_handlers_are_restored():
    stream = Terminal()
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    saved = root.handlers[:]
    root.handlers[:] = [handler]
    try:
        progress, drawn = shown_progress(stream)
        with progress, progress.guard_logging():
            assert drawn.wait(10)
            logging.getLogger("exporter.test").warning("refresh failed: denied")
        assert handler.stream is stream
    finally:
        root.handlers[:] = saved
    text = stream.getvalue()
    before, _, _ = text.partition("refresh failed: denied\n")
    assert before.endswith(CLEAR)


def test_prompts_pause_the_progress_line():
    stream = Terminal()
    progress, drawn = shown_progress(stream)
    seen: list[str] = []

    def prompter(prompt: str) -> str:
        seen.append(stream.getvalue())
        return "123456"

    with progress:
        assert drawn.wait(10)
        assert progress.guard_prompter(prompter)("code: ") == "123456"
    assert seen[0].endswith(CLEAR)  # the line was erased before the question


def test_log_to_moves_stream_handlers():
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    saved = root.handlers[:]
    root.handlers[:] = [handler]
    target = io.StringIO()
    try:
        log_to(target)
        assert handler.stream is target
    finally:
        root.handlers[:] = saved
