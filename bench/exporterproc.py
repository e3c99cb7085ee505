"""The real exporter as a child process for the benchmarks: ``python -m
exporter`` on a free loopback port, its stderr drained and kept."""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

LISTENING = re.compile(r"listening on [^:\s]*:(\d+)")
STOP_GRACE = 15.0


class ExporterProcess:
    """``python -m exporter --config.file=config`` (run from ``cwd``: another
    checkout's exporter when given), listening on a port it picks itself."""

    def __init__(self, config: Path, env: dict[str, str], cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                f"--config.file={config}",
                "--web.listen-address=127.0.0.1:0",
            ],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.port: int | None = None
        self.log: list[str] = []
        self._port_known = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line.rstrip())
            match = LISTENING.search(line)
            if match and self.port is None:
                self.port = int(match.group(1))
                self._port_known.set()
        self._port_known.set()

    def wait_ready(self, timeout: float) -> None:
        """Until /readyz answers 200 (the first refresh cycle finished)."""
        deadline = time.monotonic() + timeout
        if not self._port_known.wait(timeout) or self.port is None:
            raise RuntimeError("the exporter did not start:\n" + "\n".join(self.log[-20:]))
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the exporter exited:\n" + "\n".join(self.log[-20:]))
            try:
                if _status(self.port, "/readyz") == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the exporter was not ready within {timeout:.0f} s")

    def stop(self) -> int:
        """SIGTERM and the exit status (SIGKILL, and -9, if it overstays STOP_GRACE)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return -9
        return self.proc.returncode


def _status(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()
