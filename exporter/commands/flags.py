"""Flags the daemon and the commands share, spelled the same everywhere."""

from __future__ import annotations

import argparse

from exporter.logs import LEVELS


def add_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config.file",
        dest="config_file",
        default="config.yaml",
        metavar="PATH",
        help="configuration file (default: %(default)s)",
    )


def add_logging_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log.level",
        dest="log_level",
        default="info",
        choices=LEVELS,
        help="log level (default: %(default)s)",
    )
    parser.add_argument(
        "--log.format",
        dest="log_format",
        default="text",
        choices=("text", "json"),
        help="log format (default: %(default)s)",
    )


def add_demo_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """``--demo``; ``what`` says what the command does, e.g. "check the embedded fake AWS"."""
    parser.add_argument(
        "--demo",
        action="store_true",
        help=f"{what} with demo data (needs the [demo] extra)",
    )
