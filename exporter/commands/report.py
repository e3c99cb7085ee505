"""``aws-reservation-exporter report``: every reservation across the configured
accounts, sorted by days left, as a table, JSON or CSV.

It runs exactly one refresh cycle of the daemon's own data path (Refresher,
ClientFactory, SnapshotStore), so it sees what the exporter would export.

Exit status: 0 all good; 1 ``--fail-within`` matched a reservation that
renewals do not fully cover; 2 bad
flags or configuration; 3 some targets could not be read (the report is
incomplete; they are listed on stderr). A match wins over failed targets:
it is certain, while an incomplete report cannot prove there is none.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, TextIO

from exporter.model import Reservation, Target, TargetResult
from exporter.renewal import Renewal, in_demand, renewed_text
from exporter.terminal import format_table, json_safe, printable

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_EXPIRING = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130
DAY = 86400.0
FORMATS = ("table", "json", "csv")

Prompter = Callable[[str], str]


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class ReportRow:
    """One reservation as the report shows it. Times are Unix seconds (UTC)."""

    account: str
    account_id: str
    region: str
    service: str
    reservation_id: str
    type: str  # instance/node type; the plan type for Savings Plans
    count: int | None  # None for Savings Plans
    state: str
    start: float
    end: float
    days_left: float
    hourly_cost: float | None
    currency: str
    # Share of it that renewals cover (0..1); None where it needs no renewal
    # (queued, pending-return, retired early).
    renewal_covered_ratio: float | None = None
    renewed_by: tuple[str, ...] = ()

    @property
    def fully_renewed(self) -> bool:
        return self.renewal_covered_ratio is None or self.renewal_covered_ratio >= 1


@dataclass(frozen=True)
class FailedTarget:
    account: str
    account_id: str
    region: str
    service: str
    reason: str


def report_rows(
    results: Sequence[TargetResult],
    at: float,
    within: float | None = None,
    renewals: Mapping[tuple[Target, str], Renewal] | None = None,
) -> list[ReportRow]:
    """Rows for every reservation in ``results``, sorted by days left (soonest first).

    ``within`` (seconds) keeps reservations ending no later than ``at + within``;
    ones already ended (kept by expired_lookback) stay, with negative days left.
    ``renewals`` (from the store) fill the renewal columns; a reservation that
    needs a renewal but has no answer counts as not renewed, as in the alerts.
    """
    renewals = renewals or {}
    rows = []
    for result in results:
        target = result.target
        for r in result.reservations:
            days_left = (r.end - at) / DAY
            if within is not None and days_left > within / DAY:
                continue
            renewal = renewals.get((target, r.reservation_id))
            if renewal is not None:
                ratio: float | None = renewal.ratio
            else:
                ratio = 0.0 if in_demand(r) else None
            rows.append(
                ReportRow(
                    account=target.account,
                    account_id=target.account_id,
                    region=r.region or target.region,
                    service=target.service,
                    reservation_id=r.reservation_id,
                    type=_type_of(r),
                    count=r.instance_count,
                    state=r.state,
                    start=r.start,
                    end=r.end,
                    days_left=days_left,
                    hourly_cost=r.hourly_cost,
                    currency=r.currency,
                    renewal_covered_ratio=ratio,
                    renewed_by=renewal.renewed_by if renewal is not None else (),
                )
            )
    rows.sort(key=lambda r: (r.end, r.account, r.region, r.service, r.reservation_id))
    return rows


def _type_of(r: Reservation) -> str:
    """The instance/node type; for Savings Plans the plan type (and EC2 family)."""
    if r.plan_type:
        return f"{r.plan_type} {r.instance_type}".strip()
    return r.instance_type


def failed_targets(results: Sequence[TargetResult]) -> list[FailedTarget]:
    failed = [
        FailedTarget(
            r.target.account,
            r.target.account_id,
            r.target.region,
            r.target.service,
            r.error_reason or "error",
        )
        for r in results
        if not r.success
    ]
    return sorted(failed, key=lambda f: (f.account, f.region, f.service))


def expiring_within(rows: Sequence[ReportRow], window: float) -> list[ReportRow]:
    """Rows not yet ended, not fully renewed, that end within ``window`` seconds
    (for ``--fail-within``)."""
    return [r for r in rows if 0 <= r.days_left <= window / DAY and not r.fully_renewed]


# ----------------------------------------------------------------------- rendering


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc).replace(tzinfo=None, microsecond=0)


def iso(ts: float) -> str:
    """Unix seconds as ISO 8601 UTC with a Z, to the second; always a 4-digit year
    (``strftime("%Y")`` writes year 1 as ``1`` on glibc)."""
    return _utc(ts).isoformat() + "Z"


def table_time(ts: float) -> str:
    """``2030-01-06 00:00`` (UTC, to the minute) for the table."""
    return _utc(ts).isoformat(sep=" ", timespec="minutes")


def _record(row: ReportRow) -> dict[str, Any]:
    record = asdict(row)
    record["start"] = iso(row.start)
    record["end"] = iso(row.end)
    record["days_left"] = round(row.days_left, 2)
    if row.hourly_cost is not None:
        record["hourly_cost"] = round(row.hourly_cost, 6)
    record["renewed_by"] = list(row.renewed_by)
    return record


def render_json(
    rows: Sequence[ReportRow],
    failed: Sequence[FailedTarget],
    at: float,
    within: float | None,
) -> str:
    """``{"as_of", "within_days", "reservations": [...], "failed_targets": [...]}``."""
    document = {
        "as_of": iso(at),
        "within_days": None if within is None else round(within / DAY, 6),
        "reservations": [_record(r) for r in rows],
        "failed_targets": [asdict(f) for f in failed],
    }
    return json_safe(json.dumps(document, indent=2)) + "\n"


CSV_COLUMNS = tuple(ReportRow.__dataclass_fields__)
# A spreadsheet evaluates a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text_cell(value: str) -> str:
    """A text cell a spreadsheet will not run: one that starts with ``= + - @``, a
    tab or a carriage return, or with ``= + - @`` after leading whitespace (some
    spreadsheets trim it), gets a leading ``'`` (OWASP's CSV injection advice)."""
    if value.startswith(_FORMULA_START) or value.lstrip().startswith(_FORMULA_START[:4]):
        return "'" + value
    return value


def render_csv(rows: Sequence[ReportRow]) -> str:
    """One header line, then one line per reservation (empty cells for missing values).

    Text cells go through ``csv_text_cell``; numbers (``days_left`` is
    negative for ended reservations) are written as numbers.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record = _record(row)
        record["renewed_by"] = " ".join(row.renewed_by)
        writer.writerow(
            {
                k: "" if v is None else csv_text_cell(v) if isinstance(v, str) else v
                for k, v in record.items()
            }
        )
    return buffer.getvalue()


TABLE_HEADERS = (
    "ACCOUNT",
    "ACCOUNT ID",
    "REGION",
    "SERVICE",
    "ID",
    "TYPE",
    "COUNT",
    "STATE",
    "END (UTC)",
    "DAYS LEFT",
    "RENEWED",
    "HOURLY COST",
)
_RIGHT = frozenset({"COUNT", "DAYS LEFT", "RENEWED", "HOURLY COST"})


def render_table(rows: Sequence[ReportRow]) -> str:
    """A plain-text table for people: control characters escaped, columns capped
    (``exporter.terminal.format_table``)."""
    cells = [
        (
            r.account,
            r.account_id,
            r.region,
            r.service,
            r.reservation_id,
            r.type or "-",
            "-" if r.count is None else str(r.count),
            r.state,
            table_time(r.end),
            f"{r.days_left:.1f}",
            renewed_text(r.renewal_covered_ratio),
            "-" if r.hourly_cost is None else f"{r.hourly_cost:.4f} {r.currency}",
        )
        for r in rows
    ]
    return format_table(TABLE_HEADERS, cells, right=_RIGHT)


# ------------------------------------------------------------------------ progress


class Progress:
    """A self-erasing progress line on stderr while a long run lasts.

    Only on a terminal, and only after ``delay`` seconds, so piped output and
    quick runs stay clean. Log lines and prompts written meanwhile go through
    ``write`` / ``paused`` so they never land in the middle of the line.
    """

    def __init__(
        self,
        stream: TextIO,
        describe: Callable[[], str],
        *,
        enabled: bool,
        delay: float = 1.0,
        interval: float = 0.2,
    ) -> None:
        self.stream = stream
        self.describe = describe
        self.enabled = enabled
        self.delay = delay
        self.interval = interval
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._shown = False
        self._paused = 0
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def __enter__(self) -> Progress:
        if self.enabled:
            self._started = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.clear()

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return
        while not self._stop.is_set():
            with self._lock:
                if not self._paused:
                    elapsed = time.monotonic() - self._started
                    self.stream.write(f"\r\x1b[K{self.describe()} ({elapsed:.0f}s)")
                    self.stream.flush()
                    self._shown = True
            self._stop.wait(self.interval)

    def clear(self) -> None:
        with self._lock:
            if self._shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._shown = False

    def write(self, text: str) -> None:
        """Write ``text`` to the stream on a clean line."""
        with self._lock:
            self.clear()
            self.stream.write(text)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        with self._lock:
            self.clear()
            self._paused += 1
        try:
            yield
        finally:
            with self._lock:
                self._paused -= 1

    def guard_prompter(self, prompter: Prompter) -> Prompter:
        def ask(prompt: str) -> str:
            with self.paused():
                return prompter(prompt)

        return ask

    @contextlib.contextmanager
    def guard_logging(self) -> Iterator[None]:
        """Route the root logger's stream handlers through ``write`` meanwhile."""
        handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
        previous = [h.setStream(_Through(self, h.stream)) for h in handlers]  # type: ignore[arg-type]
        try:
            yield
        finally:
            for handler, stream in zip(handlers, previous, strict=True):
                handler.setStream(stream)


class _Through:
    """A stream that writes through ``Progress.write`` when it targets the same stream."""

    def __init__(self, progress: Progress, stream: TextIO) -> None:
        self._progress = progress
        self._stream = stream

    def write(self, text: str) -> int:
        if self._stream is self._progress.stream:
            self._progress.write(text)
        else:
            self._stream.write(text)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


# ---------------------------------------------------------------------- data path


def collect(
    config: Any,
    *,
    at: float,
    prompter: Prompter | None,
    progress: Progress | None = None,
) -> tuple[list[TargetResult], dict[tuple[Target, str], Renewal]]:
    """One refresh cycle of the daemon's data path, evaluated as of ``at``; the
    results per target and the renewal coverage decided from them.

    ``at`` is the cycle's clock: the expired_lookback filter applies relative
    to it, as the exporter would at that moment.
    """
    from exporter.aws import ClientFactory
    from exporter.refresher import Refresher
    from exporter.store import SnapshotStore
    from exporter.telemetry import Telemetry

    telemetry = Telemetry()
    store = SnapshotStore()
    if progress is not None and prompter is not None:
        prompter = progress.guard_prompter(prompter)
    factory = ClientFactory(
        concurrency=config.concurrency,
        on_session=telemetry.hook_session,
        mfa_prompter=prompter,
    )
    refresher = Refresher(
        config, factory=factory, store=store, telemetry=telemetry, clock=lambda: at
    )
    try:
        if progress is not None:
            progress.describe = lambda: f"reading reservations: {len(store)} targets done"
            with progress, progress.guard_logging():
                refresher.run_cycle()
        else:
            refresher.run_cycle()
    finally:
        refresher.close()
    return store.results(), store.renewals()


@contextlib.contextmanager
def demo_fake() -> Iterator[Any]:
    """The demo's fake AWS and data (exporter.demo), for one command; yields its config.

    The process environment points at the fake only while inside, so nothing
    can reach real AWS. Raises ImportError naming the extra when moto is missing.
    """
    import os
    import tempfile

    from exporter.config import load_config
    from exporter.demo import start_demo_environment

    saved = dict(os.environ)
    try:
        with tempfile.TemporaryDirectory(prefix="aws-reservation-exporter-demo-") as folder:
            demo = start_demo_environment(folder)
            try:
                yield load_config(demo.config_file)
            finally:
                demo.stop()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def command_config(opts: argparse.Namespace, stack: contextlib.ExitStack, err: TextIO) -> Any:
    """The config a command runs on: the demo's (kept running in ``stack``) with
    ``--demo``, else ``--config.file``; None after printing why (exit 2)."""
    from exporter.commands.daemon import load_config_or_exit

    with one_shot_config_warnings():
        if not opts.demo:
            return load_config_or_exit(opts.config_file)
        try:
            return stack.enter_context(demo_fake())
        except ImportError as exc:
            print(f"--demo: {exc}", file=err)
            return None


def _daemon_only(record: logging.LogRecord) -> bool:
    """False for the config's warning about a short refresh_interval: it is about
    the daemon's schedule, and ``report`` and ``doctor`` run one cycle."""
    return "refresh_interval" not in str(record.msg)


@contextlib.contextmanager
def one_shot_config_warnings() -> Iterator[None]:
    """While loading the config for a one-shot command, drop the warnings that only
    concern the daemon (a filter on the ``exporter.config`` logger: its other
    warnings, such as an unknown region, still show)."""
    logger = logging.getLogger("exporter.config")
    logger.addFilter(_daemon_only)
    try:
        yield
    finally:
        logger.removeFilter(_daemon_only)


# ----------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    from exporter.commands.daemon import add_config_flag, add_logging_flags

    parser = argparse.ArgumentParser(
        prog="aws-reservation-exporter report",
        description="List every reservation across the configured accounts, soonest "
        "expiry first. Reads AWS once, through the same code as the exporter.",
        epilog="Exit status: 0 ok; 1 --fail-within matched; 2 bad flags or configuration; "
        "3 some targets could not be read (listed on stderr). Profiles with mfa_serial "
        "ask for a code once per source profile (from stdin when it is not a terminal).",
    )
    add_config_flag(parser)
    parser.add_argument(
        "--within",
        metavar="DURATION",
        help="only reservations ending within this window, e.g. 60d (ended ones included)",
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="table", help="output format (default: %(default)s)"
    )
    parser.add_argument(
        "--at",
        metavar="DATE",
        help="evaluate as of this UTC date or time (2025-06-01, 2025-06-01T12:00:00Z) "
        "instead of now",
    )
    parser.add_argument(
        "--fail-within",
        dest="fail_within",
        metavar="DURATION",
        help="exit 1 when a reservation that has not ended yet ends within this window and "
        "renewals do not fully cover it, e.g. 7d (for cron and CI)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="report on the embedded fake AWS with demo data (needs the [demo] extra)",
    )
    add_logging_flags(parser)
    # Warnings name each failed target with AWS's reason; info would be noise here.
    parser.set_defaults(log_level="warning")
    return parser


def parse_at(text: str) -> float:
    """``2025-06-01`` (midnight UTC) or an ISO 8601 time; naive means UTC.

    Raises ValueError for people, also for a time whose UTC date falls outside
    the years 0001-9999 (``0001-01-01T00:00:00+01:00``).
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"--at: not a date or time: {text!r}; use 2025-06-01 or 2025-06-01T12:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        at = parsed.timestamp()
        iso(at)  # every output names the time in UTC
    except (OverflowError, ValueError, OSError):
        raise ValueError(
            f"--at: {text!r} is out of range: in UTC it must fall between 0001-01-01 and 9999-12-31"
        ) from None
    return at


def _window(flag: str, text: str | None) -> float | None:
    if text is None:
        return None
    from exporter.config import parse_duration

    if text.strip().startswith("-"):
        example = (
            f"{flag} 60d, or {flag} 0d for only what has already ended"
            if flag == "--within"
            else f"{flag} 7d"
        )
        raise ValueError(
            f"{flag}: the window must not be negative (got {text.strip()}); it is how far "
            f"ahead to look from now (or --at), e.g. {example}"
        )
    try:
        seconds = parse_duration(text, allow_zero=True)
    except ValueError as exc:
        raise ValueError(f"{flag}: {exc}") from None
    if not math.isfinite(seconds):
        raise ValueError(f"{flag}: too large: {text.strip()[:40]}...; e.g. {flag} 3650d")
    return seconds


_WINDOW_FLAGS = ("--within", "--fail-within")


def _glue_negative_windows(argv: Sequence[str]) -> list[str]:
    """``--within -3d`` as ``--within=-3d``: argparse takes ``-3d`` for a flag and
    says only "expected one argument"; glued, the value reaches ``_window``,
    which says what is wrong with it."""
    args = list(argv)
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        nxt = args[i + 1] if i + 1 < len(args) else ""
        if arg in _WINDOW_FLAGS and nxt[:1] == "-" and nxt[1:2].isdigit():
            out.append(f"{arg}={nxt}")
            i += 2
            continue
        if arg == "--":
            out.extend(args[i:])
            break
        out.append(arg)
        i += 1
    return out


def main(
    argv: Sequence[str] | None = None,
    *,
    prompter: Prompter | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the report; returns the exit status. ``prompter`` asks for MFA codes
    (default: the terminal, or a line of stdin when it is not one)."""
    from exporter.aws.profiles import terminal_prompter
    from exporter.logs import setup_logging

    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    opts = parser.parse_args(_glue_negative_windows(sys.argv[2:] if argv is None else argv))
    try:
        at = parse_at(opts.at) if opts.at else time.time()
        within = _window("--within", opts.within)
        fail_within = _window("--fail-within", opts.fail_within)
    except ValueError as exc:
        parser.error(str(exc))
    setup_logging(opts.log_level, opts.log_format)
    log_to(err)

    with contextlib.ExitStack() as stack:
        config = command_config(opts, stack, err)
        if config is None:
            return EXIT_USAGE
        progress = Progress(err, lambda: "", enabled=is_tty(err))
        try:
            results, renewals = collect(
                config, at=at, prompter=prompter or terminal_prompter, progress=progress
            )
        except KeyboardInterrupt:
            print("interrupted", file=err)
            return EXIT_INTERRUPTED

    every_row = report_rows(results, at, renewals=renewals)
    rows = report_rows(results, at, within, renewals)
    failed = failed_targets(results)
    if opts.format == "json":
        out.write(render_json(rows, failed, at, within))
    elif opts.format == "csv":
        out.write(render_csv(rows))
    elif rows:
        out.write(render_table(rows))
    else:
        scope = "" if within is None else f" ending within {opts.within}"
        out.write(f"no reservations{scope} as of {iso(at)}\n")
    out.flush()
    return _exit_status(every_row, failed, fail_within, err, len(results))


def _exit_status(
    rows: Sequence[ReportRow],
    failed: Sequence[FailedTarget],
    fail_within: float | None,
    err: TextIO,
    total: int,
) -> int:
    if failed:
        print(
            f"{len(failed)} of {total} targets could not be read; the report is incomplete:",
            file=err,
        )
        for f in failed:
            print(
                printable(
                    f"  account={f.account} account_id={f.account_id or '?'} region={f.region} "
                    f"service={f.service}: {f.reason}"
                ),
                file=err,
            )
        for hint in failure_hints(f.reason for f in failed):
            print(hint, file=err)
    if fail_within is not None:
        expiring = expiring_within(rows, fail_within)
        if expiring:
            print(
                f"{len(expiring)} reservation(s) not fully renewed end within the --fail-within "
                "window: " + printable(", ".join(r.reservation_id for r in expiring)),
                file=err,
            )
            return EXIT_EXPIRING
    return EXIT_INCOMPLETE if failed else EXIT_OK


# What to do about each failure reason (exporter.aws.errors.failure_reason).
FAILURE_HINTS = {
    "denied": "denied: a permission is missing or a role cannot be assumed; run "
    "`aws-reservation-exporter doctor` to see which IAM actions are missing where",
    "throttled": "throttled: AWS still throttled the calls after the retries; run again "
    "later, or lower `concurrency` in the configuration",
    "timeout": "timeout: AWS did not answer in time or could not be reached; check the "
    "network, any proxy and the endpoint, then run again",
    "malformed": "malformed: AWS, or a proxy in between, returned an answer that could not "
    "be read; run again, and check the proxy if it persists",
    "error": "error: the call failed for another reason; the `refresh failed` warning "
    "logged above has AWS's message",
}


def failure_hints(reasons: Iterable[str]) -> list[str]:
    """One line per distinct reason, in FAILURE_HINTS order (unknown reasons last)."""
    seen = set(reasons)
    order = [*FAILURE_HINTS, *sorted(seen - FAILURE_HINTS.keys())]
    return [
        "  " + FAILURE_HINTS.get(reason, printable(f"{reason}: see the warnings above"))
        for reason in order
        if reason in seen
    ]


def log_to(stream: TextIO) -> None:
    """Send the root logger's output to ``stream`` (the command's stderr)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
