"""``FakeAws``: moto's HTTP server plus the project's extension, in a thread.

    with FakeAws() as fake:
        fake.seed("111111111111", "us-east-1", "rds", [...])
        env = fake.env("111111111111")      # for a client or a subprocess

boto3 reaches it through ``AWS_ENDPOINT_URL``, so real STS calls, SigV4
signing, retries and pagination all run.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from exporter.fake.control import FakeControls
from exporter.fake.state import STATE, FakeState


class FakeAws(FakeControls):
    """An in-process fake AWS on ``host:port`` (port 0: a free one).

    moto's state is process-wide, so every ``FakeAws`` in a process shares one
    ``FakeState``; the first to start begins from a clean slate.
    ``latency`` adds that many seconds to every request (benchmarks).
    """

    _running = 0
    _running_lock = threading.Lock()

    def __init__(self, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0) -> None:
        self.host = host
        self.port = port
        self.latency = latency
        self.endpoint_url: str | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> FakeState:
        return STATE

    def start(self) -> str:
        """Start serving; returns (and sets) ``endpoint_url``."""
        if self._server is not None:
            return self.endpoint_url  # type: ignore[return-value]
        from werkzeug.serving import make_server

        from exporter.fake.extension import install
        from exporter.fake.wsgi import FakeAwsApp

        install()
        with FakeAws._running_lock:
            if FakeAws._running == 0:
                STATE.reset()
            FakeAws._running += 1
        if self.latency:
            STATE.delay(None, self.latency)
        app = FakeAwsApp(_dispatcher(), STATE)
        self._server = make_server(
            self.host, self.port, app, threaded=True, request_handler=_quiet_handler()
        )
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"fake-aws:{port}", daemon=True
        )
        self._thread.start()
        return self.endpoint_url

    def stop(self) -> None:
        """Stop serving and wait for the server thread."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self.endpoint_url = None
        with FakeAws._running_lock:
            FakeAws._running -= 1

    def __enter__(self) -> FakeAws:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _invoke(self, op: str, /, **kwargs: Any) -> Any:
        return getattr(STATE, op)(**kwargs)


@functools.cache
def _dispatcher() -> Any:
    """moto's per-service app router, shared by every server in the process:
    building a service's app costs up to a second and holds no account data."""
    from moto.server import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def _quiet_handler() -> type:
    """moto's request handler (keeps underscored headers) without per-request log lines."""
    from moto.server import MotoRequestHandler

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    return QuietHandler
