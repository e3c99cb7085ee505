"""The exporter as a real process: promtool on its /metrics, no secrets in debug
logs, clean exit on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.core_slice import CONFIG, seed
from tests.support import OWN_ACCOUNT, ROOT, free_port, issued_secrets, parse_samples
from tests.tooling import require_tool

pytestmark = pytest.mark.tools  # promtool

# The one lint line DESIGN §4 accepts: the user-facing gauge is in days on purpose.
ACCEPTED_LINT = 'aws_reservation_days_until_expiry use base unit "seconds" instead of "days"'


class ExporterProcess:
    def __init__(self, fake, tmp_path: Path, config: dict, *extra: str) -> None:
        self.port = free_port()
        self.config_path = tmp_path / "config.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = tmp_path / "exporter.log"
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                f"--config.file={self.config_path}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                *extra,
            ],
            cwd=ROOT,
            env=fake.env(OWN_ACCOUNT),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def wait_listening(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("exporter not listening:\n" + self.output())

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("exporter not ready:\n" + self.output())

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        return code, time.monotonic() - started

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def process(fake_env, tmp_path):
    seed(fake_env)
    started: list[ExporterProcess] = []

    def start(config: dict = CONFIG, *extra: str) -> ExporterProcess:
        proc = ExporterProcess(fake_env, tmp_path, config, *extra)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.close()


def test_promtool_finds_only_the_documented_lint(process, tmp_path):
    promtool = require_tool("promtool")
    proc = process()
    proc.wait_ready()
    status, body = proc.get("/metrics")
    assert status == 200
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=60
    )
    lines = [ln for ln in (result.stdout + result.stderr).decode().splitlines() if ln.strip()]
    assert lines == [ACCEPTED_LINT]


def test_debug_logs_contain_no_secret_key_or_session_token(process, fake_env):
    proc = process(CONFIG, "--log.level=debug")
    proc.wait_ready()
    proc.get("/metrics")
    proc.get("/")
    code, _ = proc.stop()
    assert code == 0
    output = proc.output()
    secrets = issued_secrets() | {fake_env.credentials(OWN_ACCOUNT)[1]}
    assert len(secrets) >= 7  # own secret + 3 assumed roles x (token, secret)
    assert "DEBUG" in output  # debug logging was really on
    leaked = [s for s in secrets if s in output]
    assert leaked == []


def test_sigterm_exits_zero_quickly_even_mid_refresh(process, fake_env):
    fake_env.delay("rds", 30.0)  # every RDS listing hangs: a refresh is in flight
    proc = process()
    proc.wait_listening()
    time.sleep(1)
    assert proc.get("/readyz")[0] == 503
    code, took = proc.stop(signal.SIGTERM)
    assert code == 0
    assert took < 10


def _catches(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler installed for ``sig`` (/proc SigCgt)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    except FileNotFoundError:
        pass
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_as_soon_as_python_runs_exits_zero(process, sig):
    proc = process()
    spawned = time.monotonic()
    # Wait for SIGTERM's handler: Python itself handles SIGINT (KeyboardInterrupt) from the start.
    while not _catches(proc.proc.pid, signal.SIGTERM):
        assert proc.proc.poll() is None, proc.output()
        assert time.monotonic() - spawned < 10, "no handler for SIGTERM"
        time.sleep(0.001)
    # The handler is in before the slow imports and the config: nothing listens yet.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proc.port), timeout=1).close()
    code, took = proc.stop(sig)
    assert code == 0, proc.output()
    assert took < 5
    assert "Traceback" not in proc.output()


def test_sigterm_a_quarter_second_after_spawning_exits_zero(process):
    proc = process()
    time.sleep(0.25)  # Python is up (~0.05 s), the exporter still starting (the 143 window)
    code, took = proc.stop(signal.SIGTERM)
    assert code == 0, proc.output()
    assert took < 5


def test_sigint_exits_zero(process):
    proc = process()
    proc.wait_ready()
    code, took = proc.stop(signal.SIGINT)
    assert code == 0
    assert took < 10


BAD_RELOADS = {
    "bad-field": ("regions: [us-east-1]\naccounts:\n  - name: x\n    id: 12\n", "accounts[0].id"),
    # ~1 KB that would expand to 10^9 strings: refused at the alias, never expanded
    "billion-laughs": (
        (ROOT / "tests" / "configs" / "yaml-billion-laughs.bad.yaml").read_text(),
        "refused: with alias *lol4",
    ),
}


@pytest.mark.parametrize("bad", sorted(BAD_RELOADS))
def test_sighup_with_a_bad_config_keeps_serving_the_old_one(process, fake_env, bad):
    text, named = BAD_RELOADS[bad]
    proc = process()
    proc.wait_ready()
    before = proc.get("/metrics")[1]
    proc.config_path.write_text(text)
    proc.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while b"aws_reservation_config_last_reload_successful 0.0" not in proc.get("/metrics")[1]:
        assert time.monotonic() < deadline, proc.output()
        time.sleep(0.1)
    after = proc.get("/metrics")[1]
    assert proc.proc.poll() is None
    assert "config reload refused" in proc.output()
    assert named in proc.output()

    def ids(body: bytes) -> set[str]:
        samples = parse_samples(body.decode())
        return {dict(k[1])["reservation_id"] for k in samples if k[0] == "aws_reservation_info"}

    assert ids(after) == ids(before) and len(ids(before)) > 100
    code, _ = proc.stop()
    assert code == 0


def test_bad_config_file_exits_2_naming_the_field(fake_env, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions: [us-east-1]\nconcurrency: 0\n")
    result = subprocess.run(
        [sys.executable, "-m", "exporter", f"--config.file={bad}"],
        cwd=ROOT,
        env=fake_env.env(OWN_ACCOUNT),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "concurrency" in result.stderr
