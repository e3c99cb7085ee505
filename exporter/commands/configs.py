"""How the daemon and the commands get their configuration: the file, or the
demo's with ``--demo``, its errors printed for people (the caller exits 2)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any, TextIO


def load_config_or_exit(path: str):  # type: ignore[no-untyped-def]
    """The validated config, or None after printing every error (caller exits 2)."""
    from exporter.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"{path}: invalid configuration:\n{exc}", file=sys.stderr)
        return None


@contextlib.contextmanager
def demo_fake() -> Iterator[Any]:
    """The demo's fake AWS and data (exporter.demo), for one command; yields its config.

    The process environment points at the fake only while inside, so nothing
    can reach real AWS. Raises ImportError naming the extra when moto is missing.
    """
    import tempfile

    from exporter.config import load_config
    from exporter.demo import demo_environment

    with (
        tempfile.TemporaryDirectory(prefix="aws-reservation-exporter-demo-") as folder,
        demo_environment(folder) as demo,
    ):
        yield load_config(demo.config_file)


def command_config(opts: argparse.Namespace, stack: contextlib.ExitStack, err: TextIO) -> Any:
    """The config a command runs on: the demo's (kept running in ``stack``) with
    ``--demo``, else ``--config.file``; None after printing why (exit 2)."""
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
