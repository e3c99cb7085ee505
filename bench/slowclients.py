"""Slow clients (issue 14, item 9): many half-open connections against the real
exporter process. Loopback only; bounded in time; stops by itself.

    python -m bench.slowclients [--clients 1000] [--hold 3] [--scrapes 20]

The exporter runs as ``python -m exporter`` against the fake AWS (a few
accounts). Each client connects and sends part of a request (every other
one ``GET /metr``, the others a whole ``GET /metrics`` request line and an
unfinished header block), then nothing. While they are open, the exporter's threads,
RSS and open file descriptors are sampled (/proc/<pid>/status and fd) and
healthy clients scrape /healthz and /metrics (each on a new connection);
then the clients close, and the same is measured after. A second wave of
clients stays silent past the server's request deadline: the server must
close them itself. Renders and answers are counted from the exporter's own
``aws_reservation_http_requests_total``: the slow clients must get none.

Correctness (exit 1): every healthy scrape is 200, the slow clients get no
answer and trigger no /metrics render, SIGTERM exits 0. Targets (MISS; exit
1 only with --strict): threads at most the idle count + MAX_WORKERS, RSS
growth under 30 MB while the clients are open and after, the second wave
closed by the server within REQUEST_TIMEOUT + 3 s, /healthz under 1 s.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import resource
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.exporterproc import ExporterProcess
from bench.fakeproc import FakeProcess
from bench.load import write_config
from bench.measure import cpu_seconds, percentile, print_machine, table, verdict
from bench.refresh import OWN_ACCOUNT, seed
from exporter.server import MAX_WORKERS, REQUEST_TIMEOUT

ROOT = Path(__file__).resolve().parent.parent
# What each client sends before going silent, in turn: part of a request line, and
# a whole /metrics request line with its headers unfinished.
PARTIALS = (b"GET /metr", b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
RSS_GROWTH_MB = 30.0
HEALTHZ_MAX_S = 1.0
READY_TIMEOUT = 300.0
ANSWERS = re.compile(rb"^aws_reservation_http_requests_total\{([^}]*)\} (\S+)$", re.M)
LABEL = re.compile(rb'(\w+)="([^"]*)"')


def get(port: int, path: str) -> tuple[int, bytes, float]:
    """(status, body, seconds) of one GET on a new connection."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        return response.status, body, time.perf_counter() - started
    finally:
        conn.close()


def proc_status(pid: int) -> tuple[int, float, int]:
    """(threads, RSS MiB, open file descriptors) of ``pid`` now."""
    threads, rss = 0, 0.0
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = float(line.split()[1]) / 1024.0
    return threads, rss, len(os.listdir(f"/proc/{pid}/fd"))


class Sampler:
    """Samples the exporter's threads, RSS and fds every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int, float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), *proc_status(self.pid)))
            except (OSError, ValueError):
                return
            self._stop.wait(self.interval)

    def peak(self, start: float, end: float) -> tuple[int, float, int]:
        """Most threads, most RSS and most fds seen between ``start`` and ``end``."""
        window = [s for s in self.samples if start <= s[0] <= end] or self.samples[-1:]
        return (
            max(s[1] for s in window),
            max(s[2] for s in window),
            max(s[3] for s in window),
        )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


class Answers:
    """The exporter's answer counter, read with a /metrics scrape (counted after it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.supported = True

    def read(self) -> tuple[float, float]:
        """(all answers, /metrics renders) so far; this reading adds 1 to both, later."""
        status, body, _ = get(self.port, "/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        total = renders = 0.0
        found = False
        for labels, value in ANSWERS.findall(body):
            found = True
            pairs = dict(LABEL.findall(labels))
            total += float(value)
            if pairs.get(b"path") == b"/metrics" and pairs.get(b"code") == b"200":
                renders += float(value)
        self.supported = found
        return total, renders


@dataclass
class Phase:
    name: str
    connections: int
    threads: int
    rss_mb: float
    fds: int
    cpu_s: float = float("nan")
    answers: float = float("nan")  # answers the slow clients got (should be 0)
    renders: float = float("nan")  # /metrics renders they triggered (should be 0)
    closed_by_server: str = "-"


@dataclass
class Scrapes:
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"/healthz": [], "/metrics": []}
    )
    failures: list[str] = field(default_factory=list)
    answered: int = 0  # answers of any status
    renders: int = 0  # 200s on /metrics

    def run(self, port: int, rounds: int, pause: float) -> None:
        for _ in range(rounds):
            for path in self.latencies:
                try:
                    status, body, seconds = get(port, path)
                except (OSError, http.client.HTTPException) as exc:
                    self.failures.append(f"{path}: {type(exc).__name__}")
                    continue
                self.answered += 1
                self.renders += path == "/metrics" and status == 200
                if status != 200 or (path == "/metrics" and b"aws_reservation_info" not in body):
                    self.failures.append(f"{path}: HTTP {status}")
                    continue
                self.latencies[path].append(seconds)
            time.sleep(pause)


def open_half(port: int, count: int) -> list[socket.socket]:
    clients = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(PARTIALS[i % len(PARTIALS)])
        sock.setblocking(False)
        clients.append(sock)
    return clients


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""  # the socket is non-blocking
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        wanted = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _count(value: float) -> int | float:
    return value if value != value else int(value)  # NaN stays NaN ("-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000, help="half-open connections")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds they stay open")
    parser.add_argument("--scrapes", type=int, default=20, help="healthy scrapes of each path")
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--per-target", type=int, default=2, help="reservations per target")
    parser.add_argument(
        "--exporter-source",
        type=Path,
        default=ROOT,
        help="run the exporter from this checkout (e.g. a `git worktree` of an older commit)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 on a missed target too")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 20000 or not 0 < args.hold <= 60 or args.scrapes < 1:
        parser.error("--clients in [1, 20000], --hold in (0, 60], --scrapes at least 1")
    raise_fd_limit(args.clients + 512)

    print_machine()
    process = FakeProcess(latency=0.0)
    fake = process.start()
    exporter: ExporterProcess | None = None
    phases: list[Phase] = []
    scrapes = Scrapes()
    problems: list[str] = []
    sampler: Sampler | None = None
    try:
        seed(fake, args.accounts, args.per_target)
        with tempfile.TemporaryDirectory(prefix="bench-slowclients-") as tmp:
            config = write_config(Path(tmp), args.accounts, "1h", 4)
            env = {**fake.env(OWN_ACCOUNT), "PYTHONUNBUFFERED": "1"}
            exporter = ExporterProcess(config, env, cwd=args.exporter_source.resolve())
            exporter.wait_ready(READY_TIMEOUT)
            port, pid = exporter.port, exporter.pid
            assert port is not None
            answers = Answers(port)
            answers.read()  # warm: the first render allocates what every later one reuses
            time.sleep(1.0)
            sampler = Sampler(pid)
            threads, rss, fds = proc_status(pid)
            idle = Phase("idle", 0, threads, rss, fds)
            phases.append(idle)
            print(f"exporter ready (pid {pid}): {threads} threads, {rss:.1f} MB, {fds} fds")

            # Wave 1: the clients open, hold, then close themselves.
            total0, renders0 = answers.read()
            cpu0 = cpu_seconds(pid)
            started = time.monotonic()
            clients = open_half(port, args.clients)
            print(
                f"{args.clients} half-open clients connected in {time.monotonic() - started:.2f} s"
            )
            scrapes.run(port, args.scrapes, max(0.0, args.hold / args.scrapes - 0.01))
            time.sleep(max(0.0, started + args.hold - time.monotonic()))
            held = time.monotonic()
            t, r, f = sampler.peak(started, held)
            name = f"{args.clients} half-open, held {held - started:.1f} s"
            phases.append(Phase(name, args.clients, t, r, f))
            for sock in clients:
                sock.close()
            time.sleep(1.0)
            t, r, f = proc_status(pid)
            total1, renders1 = answers.read()
            # Beyond the first reading and the healthy scrapes:
            slow_answers = total1 - total0 - 1 - scrapes.answered
            slow_renders = renders1 - renders0 - 1 - scrapes.renders
            cpu = cpu_seconds(pid) - cpu0
            phases.append(
                Phase("1 s after they closed", 0, t, r, f, cpu, slow_answers, slow_renders)
            )

            # Wave 2: the clients stay silent; the server must close them at its deadline.
            total0, renders0 = answers.read()
            cpu0 = cpu_seconds(pid)
            started = time.monotonic()
            clients = open_half(port, args.clients)
            wait = REQUEST_TIMEOUT + 3.0
            time.sleep(wait)
            t, r, f = sampler.peak(started, time.monotonic())
            gone = sum(closed_by_server(sock) for sock in clients)
            for sock in clients:
                sock.close()
            time.sleep(0.5)
            total1, renders1 = answers.read()
            phases.append(
                Phase(
                    f"{args.clients} silent for {wait:.0f} s",
                    args.clients,
                    t,
                    r,
                    f,
                    cpu_seconds(pid) - cpu0,
                    total1 - total0 - 1,
                    renders1 - renders0 - 1,
                    f"{gone}/{args.clients}",
                )
            )
            sampler.stop()
            final_threads, final_rss, final_fds = proc_status(pid)
            exit_status = exporter.stop()
            exporter = None
    finally:
        if sampler is not None:
            sampler.stop()
        if exporter is not None:
            exporter.stop()
        process.stop()

    print()
    print(
        table(
            [
                "phase",
                "threads",
                "fds",
                "RSS MB",
                "RSS growth MB",
                "exporter CPU s",
                "answers to slow clients",
                "renders by slow clients",
                "closed by server",
            ],
            [
                [
                    p.name,
                    p.threads,
                    p.fds,
                    p.rss_mb,
                    p.rss_mb - idle.rss_mb,
                    p.cpu_s,
                    _count(p.answers) if answers.supported else "n/a",
                    _count(p.renders) if answers.supported else "n/a",
                    p.closed_by_server,
                ]
                for p in phases
            ],
        )
    )
    print()
    print(
        table(
            ["healthy scrape (new connection each)", "ok", "failed", "p50 ms", "max ms"],
            [
                [
                    path,
                    len(lat),
                    sum(f.startswith(path) for f in scrapes.failures),
                    percentile(lat, 50) * 1000,
                    max(lat, default=float("nan")) * 1000,
                ]
                for path, lat in scrapes.latencies.items()
            ],
        )
    )
    print(
        f"\nafter the run: {final_threads} threads, {final_rss:.1f} MB, {final_fds} fds; "
        f"SIGTERM exit status {exit_status}"
    )

    if scrapes.failures:
        problems.append(f"healthy scrapes failed: {scrapes.failures[:5]}")
    if answers.supported:
        for p in phases[2:]:
            if p.answers != 0 or p.renders != 0:
                problems.append(f"{p.name}: {p.answers:.0f} answers, {p.renders:.0f} renders")
    else:
        print("  (this exporter has no aws_reservation_http_requests_total: renders not counted)")
    if exit_status != 0:
        problems.append(f"exporter exit status {exit_status} after SIGTERM")

    thread_cap = idle.threads + MAX_WORKERS
    most_threads = max(p.threads for p in phases)
    growth = max(p.rss_mb for p in phases[1:]) - idle.rss_mb
    wave2 = phases[-1]
    healthz = max(scrapes.latencies["/healthz"], default=float("inf"))
    targets = [
        (
            f"threads <= idle + MAX_WORKERS = {thread_cap}",
            f"{most_threads} (idle {idle.threads}, +{most_threads - idle.threads})",
            most_threads <= thread_cap,
        ),
        (
            f"RSS growth < {RSS_GROWTH_MB:.0f} MB (open and after)",
            f"{growth:.1f} MB",
            growth < RSS_GROWTH_MB,
        ),
        (
            f"silent clients closed by the server within {REQUEST_TIMEOUT + 3:.0f} s",
            wave2.closed_by_server,
            wave2.closed_by_server == f"{args.clients}/{args.clients}",
        ),
        (
            f"/healthz meanwhile < {HEALTHZ_MAX_S:.0f} s",
            f"max {healthz * 1000:.0f} ms",
            healthz < HEALTHZ_MAX_S,
        ),
    ]
    print()
    for name, measured, ok in targets:
        print(f"{verdict(ok)}  {name}: {measured}")
    for problem in problems:
        print(f"  WRONG: {problem}")
    missed = sum(not ok for _, _, ok in targets)
    print(f"\n{len(problems)} problem(s), {missed} missed target(s).")
    return 1 if problems or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
