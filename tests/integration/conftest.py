"""Fixtures that run the real exporter against the fake AWS over HTTP."""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Iterator

import pytest

from exporter.app import Exporter, ServeOptions
from exporter.config import parse_config
from exporter.fake import FakeAws
from tests.support import OWN_ACCOUNT, parse_samples


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeAws]:
    with FakeAws() as server:
        yield server


@pytest.fixture
def fake_env(fake: FakeAws) -> Iterator[FakeAws]:
    """A clean fake and an environment that reaches only it, as OWN_ACCOUNT."""
    fake.reset()
    saved = dict(os.environ)
    fake.apply_env(account_id=OWN_ACCOUNT)
    try:
        yield fake
    finally:
        os.environ.clear()
        os.environ.update(saved)


class RunningExporter:
    """An in-process exporter on a free port; stops on exit."""

    def __init__(self, config: dict, tmp_path, **options) -> None:
        path = tmp_path / "config.yaml"
        import yaml

        path.write_text(yaml.safe_dump(config))
        self.config_path = path
        web_config = None
        if options.get("web_config_file"):
            from exporter.webconfig import load_web_config

            web_config = load_web_config(options["web_config_file"])
        self.exporter = Exporter(
            ServeOptions(config_file=str(path), listen_address="127.0.0.1:0", **options),
            parse_config(config),
            web_config=web_config,
        )

    def __enter__(self) -> RunningExporter:
        self.exporter.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.exporter.shutdown()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.exporter.port}"

    def wait_ready(self, timeout: float = 60) -> None:
        if not self.exporter.refresher.ready.wait(timeout):
            raise AssertionError("first refresh cycle did not finish")

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def samples(self) -> tuple[dict[tuple[str, frozenset], float], float, float]:
        """(samples, time before, time after) of one scrape."""
        before = time.time()
        status, text = self.get("/metrics")
        after = time.time()
        assert status == 200
        return parse_samples(text), before, after


@pytest.fixture
def run_exporter(tmp_path):
    def start(config: dict, **options) -> RunningExporter:
        return RunningExporter(config, tmp_path, **options)

    return start
