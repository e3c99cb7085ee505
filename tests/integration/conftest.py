"""Fixtures that run the real exporter in-process against the fake AWS over HTTP
(the fake itself, ``fake`` and ``fake_env``, is in tests/conftest.py)."""

from __future__ import annotations

import time
import urllib.request

import pytest

from exporter.app import Exporter, ServeOptions
from exporter.config import parse_config
from tests.support import parse_samples


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
