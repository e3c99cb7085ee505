"""The fake AWS in a process of its own (``python -m exporter.fake``), so a
benchmarked exporter's RSS and CPU are its own.

    process = FakeProcess(latency=0.1)
    fake = process.start()          # an exporter.fake.FakeAwsClient
    ...
    process.stop()
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from typing import Any

from exporter.fake import FakeAwsClient

STARTUP_TIMEOUT = 60.0
_PREFIX = "FAKE_AWS_ENDPOINT="


class FakeProcess:
    """Starts the fake with per-request ``latency`` and drives it through its control API."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> FakeAwsClient:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exporter.fake", "--port", "0", "--latency", str(self.latency)],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = _readline(self.proc.stdout, STARTUP_TIMEOUT).strip()
        if not line.startswith(_PREFIX):
            self.stop()
            raise RuntimeError(f"the fake AWS did not start (first line: {line!r})")
        return FakeAwsClient(line[len(_PREFIX) :], timeout=120)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 10 s."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _readline(stream: Any, timeout: float) -> str:
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0] if line else ""
