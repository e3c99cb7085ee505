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
import math
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

from exporter.aws.profiles import Prompter
from exporter.commands.configs import command_config
from exporter.commands.console import Progress, is_tty, log_to
from exporter.commands.exits import (
    EXIT_EXPIRING,
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
)
from exporter.commands.flags import add_config_flag, add_demo_flag, add_logging_flags
from exporter.commands.prompter import terminal_prompter
from exporter.commands.report_rows import (
    FailedTarget,
    ReportRow,
    expiring_within,
    failed_targets,
    iso,
    render_csv,
    render_json,
    render_table,
    report_rows,
)
from exporter.model import Target, TargetResult
from exporter.renewal import Renewal
from exporter.terminal import printable

FORMATS = ("table", "json", "csv")
TEAM_LABEL = "team"  # the owner label --team filters on


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


# ----------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
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
        "--team",
        metavar="TEAM",
        help="only reservations whose `team` owner label (config owner_labels) is TEAM; "
        "--team '' for those no team owns. --fail-within then counts only these",
    )
    add_demo_flag(parser, "report on the embedded fake AWS")
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
        if opts.team is not None and TEAM_LABEL not in config.owner_label_names:
            print(
                "--team: the configuration has no owner label named team; add "
                "`owner_labels: {team: Team}` (the tag key that names the owning team)",
                file=err,
            )
            return EXIT_USAGE
        progress = Progress(err, lambda: "", enabled=is_tty(err))
        try:
            results, renewals = collect(
                config, at=at, prompter=prompter or terminal_prompter, progress=progress
            )
        except KeyboardInterrupt:
            print("interrupted", file=err)
            return EXIT_INTERRUPTED

    ce = config.cost_explorer
    thresholds = (ce.renew_above, ce.let_lapse_below)
    every_row = report_rows(results, at, renewals=renewals, advice=thresholds)
    rows = report_rows(results, at, within, renewals, advice=thresholds)
    if opts.team is not None:
        every_row = [r for r in every_row if r.owner(TEAM_LABEL) == opts.team]
        rows = [r for r in rows if r.owner(TEAM_LABEL) == opts.team]
    failed = failed_targets(results)
    owner_labels = config.owner_label_names
    if opts.format == "json":
        out.write(render_json(rows, failed, at, within))
    elif opts.format == "csv":
        out.write(render_csv(rows, owner_labels))
    elif rows:
        out.write(render_table(rows, owner_labels, advice=ce.enabled))
    else:
        scope = "" if within is None else f" ending within {opts.within}"
        team = "" if opts.team is None else f" of team {printable(repr(opts.team))}"
        out.write(f"no reservations{team}{scope} as of {iso(at)}\n")
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
