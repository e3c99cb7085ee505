"""Demo mode: the real exporter against the embedded fake AWS, as a newcomer runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

from tests.support import ROOT, free_port, parse_samples

SERVICES = {"ec2", "rds", "elasticache", "redshift", "opensearch", "memorydb", "savingsplans"}


def _scrape(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return parse_samples(r.read().decode())
    except OSError:
        return None


def test_demo_serves_every_service_for_several_accounts_within_30_seconds(tmp_path):
    port = free_port()
    env = dict(os.environ, AWS_PROFILE="must-be-ignored", AWS_ENDPOINT_URL_EC2="http://192.0.2.1")
    log = (tmp_path / "demo.log").open("wb")
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", "--demo", f"--web.listen-address=127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        samples = None
        while time.monotonic() - started < 30:
            samples = _scrape(port)
            if samples and any(k[0] == "aws_reservation_info" for k in samples):
                break
            time.sleep(0.2)
        output = (tmp_path / "demo.log").read_text()
        assert samples, output
        info = [dict(k[1]) for k in samples if k[0] == "aws_reservation_info"]
        assert info, f"no reservations within 30 s:\n{output}"
        # The first cycle may still be running: wait for it before judging coverage.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5):
                    break
            except urllib.error.HTTPError:  # 503 until the first cycle ends
                time.sleep(0.2)
        samples = _scrape(port)
        info = [dict(k[1]) for k in samples if k[0] == "aws_reservation_info"]
        assert {i["service"] for i in info} == SERVICES
        assert len({i["account"] for i in info}) >= 3
        states = {i["state"] for i in info}
        assert {"active", "queued", "retired"} <= states
        assert "payment-failed" not in states
        health = [v for k, v in samples.items() if k[0] == "aws_reservation_refresh_success"]
        assert health and set(health) == {1.0}
        days = [v for k, v in samples.items() if k[0] == "aws_reservation_days_until_expiry"]
        assert min(days) < 0 < max(days)
        assert any(0 < d < 7 for d in days)
    finally:
        proc.terminate()
        code = proc.wait(15)
        log.close()
    assert code == 0, (tmp_path / "demo.log").read_text()


def test_demo_without_the_extra_exits_2_naming_it(tmp_path):
    blocker = tmp_path / "blocker"
    (blocker / "moto").mkdir(parents=True)
    (blocker / "moto" / "__init__.py").write_text("raise ImportError('No module named moto')\n")
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--demo"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=f"{blocker}{os.pathsep}{ROOT}"),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "aws-reservation-exporter[demo]" in result.stderr


def test_the_demo_environment_points_the_process_at_the_fake_and_puts_it_back(
    monkeypatch, tmp_path
):
    from exporter.demo import demo_environment

    monkeypatch.setenv("AWS_PROFILE", "must-be-ignored")
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", "http://192.0.2.1")
    before = dict(os.environ)
    with demo_environment(tmp_path) as demo:
        fake = demo.fake
        assert os.environ["AWS_ENDPOINT_URL"] == fake.endpoint_url
        assert "AWS_PROFILE" not in os.environ
        assert "AWS_ENDPOINT_URL_EC2" not in os.environ
        assert demo.config_file.parent == tmp_path
        assert demo.config_file.is_file()
    assert dict(os.environ) == before
    assert fake.endpoint_url is None  # stopped
