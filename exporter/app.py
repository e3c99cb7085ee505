"""The running exporter: wires config, AWS clients, refresher and HTTP server,
and handles reload and shutdown."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporter.aws import ClientFactory
from exporter.config import ConfigError, load_config
from exporter.refresher import Refresher
from exporter.server import ExporterHTTPServer, PageSettings
from exporter.store import SnapshotStore
from exporter.telemetry import Telemetry

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 5.0  # seconds in-flight refresh tasks get after SIGTERM


@dataclass(frozen=True)
class ServeOptions:
    config_file: str
    listen_address: str = ":9725"
    web_config_file: str | None = None
    enable_lifecycle: bool = False
    shard: int = 0
    total_shards: int = 1


def parse_listen_address(text: str) -> tuple[str, int]:
    """':9725' / '0.0.0.0:9725' / '[::]:9725' / 'localhost:9725' -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--web.listen-address: expected [host]:port, got {text!r}")
    host = host.strip("[]")
    return host, int(port)


class Exporter:
    """One exporter process: refresh in the background, serve HTTP in front."""

    def __init__(
        self,
        options: ServeOptions,
        config: Any,
        *,
        web_config: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.telemetry = Telemetry()
        self.store = SnapshotStore()
        self.factory = ClientFactory(
            concurrency=config.concurrency, on_session=self.telemetry.hook_session
        )
        self.refresher = Refresher(
            config,
            factory=self.factory,
            store=self.store,
            telemetry=self.telemetry,
            shard=options.shard,
            total_shards=options.total_shards,
            clock=clock,
        )
        self.telemetry.reload_ok.set(1)
        self.telemetry.reload_time.set(time.time())
        self.stop = threading.Event()
        self._reload_requested = threading.Event()
        self._reload_lock = threading.Lock()
        self.server = ExporterHTTPServer(
            parse_listen_address(options.listen_address),
            store=self.store,
            telemetry=self.telemetry,
            ready=self.refresher.ready,
            reload=self.reload if options.enable_lifecycle else None,
            web_config=web_config,
            clock=clock,
            settings=lambda: PageSettings.of(self.refresher.config),
        )

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def reload(self) -> tuple[bool, str]:
        """Re-read the config file; a bad one is refused and the old one kept."""
        with self._reload_lock:
            try:
                config = load_config(self.options.config_file)
            except ConfigError as exc:
                self.telemetry.reload_ok.set(0)
                log.error("config reload refused; keeping the running config:\n%s", exc)
                return False, f"config reload refused:\n{exc}"
            self.refresher.set_config(config)
            self.telemetry.reload_ok.set(1)
            self.telemetry.reload_time.set(time.time())
            log.info("config reloaded from %s", self.options.config_file)
            return True, "config reloaded"

    def start(self) -> None:
        """Start serving and refreshing in background threads."""
        threading.Thread(
            target=self.server.serve_forever,
            name="http",
            kwargs={"poll_interval": 0.2},
            daemon=True,
        ).start()
        threading.Thread(
            target=self.refresher.run_forever, name="scheduler", args=(self.stop,), daemon=True
        ).start()
        host, port = self.server.server_address[:2]
        log.info("listening on %s:%d", host or "*", port)

    def request_reload(self) -> None:
        self._reload_requested.set()

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; SIGHUP reloads. Returns the exit status."""
        self._install_signals()
        self.start()
        while not self.stop.wait(0.2):
            if self._reload_requested.is_set():
                self._reload_requested.clear()
                self.reload()
        self.shutdown()
        return 0

    def shutdown(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        log.info("stopped")

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, lambda *_: self.request_reload())
