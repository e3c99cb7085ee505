"""Prototypes of the core changes bench/README.md proposes, patched in so the
benchmarks can measure them before the core adopts them.

Off by default: ``--prototype NAME[,NAME]`` on bench.refresh (applied in the
exporter child only) and bench.scrape (in the serving child only). Each is the
smallest patch that shows the effect, not the production change; delete it
once the core has its own version (warm-models and tcp-nodelay, measured
here first, are now in the core: ClientFactory.warm and the server's
TCP_NODELAY).

- ``shared-clients``: one botocore client per (service, region) shared by
  every account; each task's credentials come from a context variable read at
  signing time. No client construction (~20 ms CPU) per target, pooled
  keep-alive connections.
- ``stream-metrics``: pre-rendered blocks kept as bytes and /metrics written
  in slices (gzip streamed through zlib), never joined into one string.
"""

from __future__ import annotations

import contextvars
import threading
import zlib
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any


def install(names: Iterable[str]) -> list[str]:
    """Apply the named prototypes; returns their names."""
    applied = []
    for name in names:
        if name not in PROTOTYPES:
            raise ValueError(f"unknown prototype {name!r}; known: {', '.join(PROTOTYPES)}")
        PROTOTYPES[name]()
        applied.append(name)
    return applied


def parse(text: str) -> list[str]:
    """'a,b' -> ['a', 'b'], checking each name."""
    names = [n for n in text.split(",") if n]
    for name in names:
        if name not in PROTOTYPES:
            raise ValueError(f"unknown prototype {name!r}; known: {', '.join(PROTOTYPES)}")
    return names


# --- refresh ------------------------------------------------------------------------


_CREDENTIALS: contextvars.ContextVar[Any] = contextvars.ContextVar("bench_credentials")
_HOOKS: contextvars.ContextVar[dict[str, Callable[..., Any]]] = contextvars.ContextVar(
    "bench_hooks"
)


def _shared_clients() -> None:
    from botocore.credentials import CredentialResolver, Credentials

    import exporter.aws as aws

    class TaskCredentials(Credentials):
        """Whatever credentials the running task set (read at signing time)."""

        def __init__(self) -> None:
            self.method = "aws-reservation-exporter"

        def get_frozen_credentials(self) -> Any:
            return _CREDENTIALS.get().get_frozen_credentials()

        access_key = property(lambda self: self.get_frozen_credentials().access_key)
        secret_key = property(lambda self: self.get_frozen_credentials().secret_key)
        token = property(lambda self: self.get_frozen_credentials().token)

    class TaskEvents:
        """client.meta.events for one task: hooks it registers apply to its own calls."""

        def __init__(self, shared: Any) -> None:
            self._shared = shared

        def register(self, event: str, handler: Callable[..., Any], **_: Any) -> None:
            _HOOKS.get()[event] = handler

        def __getattr__(self, name: str) -> Any:
            return getattr(self._shared, name)

    class TaskMeta:
        def __init__(self, meta: Any) -> None:
            self._meta = meta
            self.events = TaskEvents(meta.events)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._meta, name)

    class TaskClient:
        """The shared client as one task sees it."""

        def __init__(self, shared: Any) -> None:
            self._shared = shared
            self.meta = TaskMeta(shared.meta)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._shared, name)

    def dispatch(event: str) -> Callable[..., Any]:
        def handler(**kwargs: Any) -> Any:
            hook = _HOOKS.get({}).get(event)
            return hook(**kwargs) if hook is not None else None

        return handler

    original = aws.ClientFactory.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._shared_session = self._new_session()
        self._shared_session.register_component(
            "credential_provider", CredentialResolver([aws._FixedProvider(TaskCredentials())])
        )
        self._shared_clients: dict[tuple[str, str], Any] = {}
        self._shared_lock = threading.Lock()

    def client(self: Any, account_session: Any, service: str, region: str) -> Any:
        _CREDENTIALS.set(account_session.credentials())
        _HOOKS.set({})
        key = (service, region)
        with self._shared_lock:
            shared = self._shared_clients.get(key)
            if shared is None:
                shared = self._shared_session.create_client(
                    service, region_name=region, config=self._config
                )
                shared.meta.events.register("before-send", dispatch("before-send"))
                self._shared_clients[key] = shared
        return TaskClient(shared)

    aws.ClientFactory.__init__ = __init__  # type: ignore[method-assign]
    aws.ClientFactory.client = client  # type: ignore[method-assign]


# --- scrape -------------------------------------------------------------------------

_SLICE = 256  # pre-rendered blocks joined per write


def _stream_metrics() -> None:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    import exporter.collector as collector
    import exporter.server as server
    import exporter.store as store

    original_prepare = collector.prepare

    def prepare(result: Any) -> Any:
        p = original_prepare(result)
        return collector.PreparedTarget(
            result=p.result,
            static=tuple(block.encode() for block in p.static),
            health=tuple(block.encode() for block in p.health),
            days_prefixes=tuple(prefix.encode() for prefix in p.days_prefixes),
            ends=p.ends,
        )

    store.prepare = prepare
    store.SnapshotStore.__init__.__defaults__ = (prepare,)

    def parts(targets: list[Any], now: float) -> list[bytes]:
        fmt = collector.fmt
        out = [collector._header(*collector.DAYS).encode()]
        for p in targets:
            out.append(
                b"".join(
                    prefix + f"{fmt(round((end - now) / 86400.0, 6))}\n".encode()
                    for prefix, end in zip(p.days_prefixes, p.ends, strict=True)
                )
            )
        for index, family in enumerate(collector.STATIC_FAMILIES):
            out.append(collector._header(*family).encode())
            out.extend(p.static[index] for p in targets)
        for index, family in enumerate(collector.HEALTH_FAMILIES):
            out.append(collector._header(*family).encode())
            out.extend(p.health[index] for p in targets)
        return out

    def _metrics(self: Any, head: bool) -> None:
        body = parts(self.server.store.snapshot(), self.server.clock())
        body.append(generate_latest(self.server.telemetry.registry))
        slices = range(0, len(body), _SLICE)
        encoding = "gzip" in (self.headers.get("Accept-Encoding") or "")
        if encoding:
            compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
            body = [compressor.compress(b"".join(body[i : i + _SLICE])) for i in slices]
            body.append(compressor.flush())
            slices = range(0, len(body), _SLICE)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(sum(map(len, body))))
        if encoding:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        if not head:
            for i in slices:
                self.wfile.write(b"".join(body[i : i + _SLICE]))

    server.Handler._metrics = _metrics  # type: ignore[method-assign]


PROTOTYPES: dict[str, Callable[[], None]] = {
    "shared-clients": _shared_clients,
    "stream-metrics": _stream_metrics,
}
