"""``aws-reservation-exporter`` (and ``python -m exporter``): the daemon by default,
or one of the commands for people.

    aws-reservation-exporter [--config.file=config.yaml] [--web.listen-address=:9725] ...
    aws-reservation-exporter --demo
    aws-reservation-exporter report ...   /   aws-reservation-exporter doctor ...

Exit status 2 for bad flags or a bad configuration (exporter.commands.exits).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from exporter.commands import daemon
from exporter.commands.daemon import SUBCOMMANDS, exit_zero_on_stop_signals


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:
        return run_subcommand(args[0], args[1:])
    if argv is None:  # the process's entry point, not a call from a test
        exit_zero_on_stop_signals()
    return daemon.main(args)


def run_subcommand(name: str, argv: list[str]) -> int:
    # Imported when asked for: the daemon starts without loading them.
    if name == "report":
        from exporter.commands.report import main as report_main

        return report_main(argv)
    from exporter.commands.doctor import main as doctor_main

    return doctor_main(argv)
