"""The MFA prompter of the commands for people (the daemon has none: a profile
that needs a code fails there instead of blocking on a terminal)."""

from __future__ import annotations

import getpass
import sys

from exporter.aws.errors import ProfileError


def terminal_prompter(prompt: str) -> str:
    """Ask for an MFA code: hidden input on a terminal, else one line of stdin.

    Reading stdin when it is not a terminal lets scripts pipe a code in
    (``oathtool ... | aws-reservation-exporter report``). The prompt goes to
    stderr so stdout stays clean for the report itself.
    """
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(prompt, stream=sys.stderr)
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline() if sys.stdin is not None else ""
    if not line:
        raise ProfileError("no MFA code: standard input is closed")
    return line
