"""Terminal output of the commands for people: a progress line that keeps out of
the way of logs and prompts, where logs go, and whether a stream is a terminal.
(Tables and escaping are ``exporter.terminal``'s: the daemon uses them too.)
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from exporter.aws.profiles import Prompter


class Progress:
    """A self-erasing progress line on stderr while a long run lasts.

    Only on a terminal, and only after ``delay`` seconds, so piped output and
    quick runs stay clean. Log lines and prompts written meanwhile go through
    ``write`` / ``paused`` so they never land in the middle of the line.
    """

    def __init__(
        self,
        stream: TextIO,
        describe: Callable[[], str],
        *,
        enabled: bool,
        delay: float = 1.0,
        interval: float = 0.2,
    ) -> None:
        self.stream = stream
        self.describe = describe
        self.enabled = enabled
        self.delay = delay
        self.interval = interval
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._shown = False
        self._paused = 0
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def __enter__(self) -> Progress:
        if self.enabled:
            self._started = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.clear()

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return
        while not self._stop.is_set():
            with self._lock:
                if not self._paused:
                    elapsed = time.monotonic() - self._started
                    self.stream.write(f"\r\x1b[K{self.describe()} ({elapsed:.0f}s)")
                    self.stream.flush()
                    self._shown = True
            self._stop.wait(self.interval)

    def clear(self) -> None:
        with self._lock:
            if self._shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._shown = False

    def write(self, text: str) -> None:
        """Write ``text`` to the stream on a clean line."""
        with self._lock:
            self.clear()
            self.stream.write(text)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        with self._lock:
            self.clear()
            self._paused += 1
        try:
            yield
        finally:
            with self._lock:
                self._paused -= 1

    def guard_prompter(self, prompter: Prompter) -> Prompter:
        def ask(prompt: str) -> str:
            with self.paused():
                return prompter(prompt)

        return ask

    @contextlib.contextmanager
    def guard_logging(self) -> Iterator[None]:
        """Route the root logger's stream handlers through ``write`` meanwhile."""
        handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
        previous = [h.setStream(_Through(self, h.stream)) for h in handlers]  # type: ignore[arg-type]
        try:
            yield
        finally:
            for handler, stream in zip(handlers, previous, strict=True):
                handler.setStream(stream)


class _Through:
    """A stream that writes through ``Progress.write`` when it targets the same stream."""

    def __init__(self, progress: Progress, stream: TextIO) -> None:
        self._progress = progress
        self._stream = stream

    def write(self, text: str) -> int:
        if self._stream is self._progress.stream:
            self._progress.write(text)
        else:
            self._stream.write(text)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def log_to(stream: TextIO) -> None:
    """Send the root logger's output to ``stream`` (the command's stderr)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
