"""Exit statuses of the daemon and the commands, in one place (docs/commands.md
and each command's --help epilog say them for people)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_EXPIRING = 1  # report: --fail-within matched a reservation renewals do not fully cover
EXIT_MISSING = 1  # doctor: an account cannot be reached or a read call is not allowed
EXIT_CANNOT_LISTEN = 1  # daemon: the listen address cannot be bound
EXIT_USAGE = 2  # bad flags or configuration, as argparse's own errors
EXIT_INCOMPLETE = 3  # report: some targets could not be read
EXIT_INTERRUPTED = 130  # report, doctor: Ctrl-C (128 + SIGINT, as a shell reports it)
