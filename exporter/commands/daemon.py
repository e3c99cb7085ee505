"""Command line: the daemon (default) and the commands for people.

    aws-reservation-exporter [--config.file=config.yaml] [--web.listen-address=:9725] ...
    aws-reservation-exporter --demo
    aws-reservation-exporter report ...   /   aws-reservation-exporter doctor ...

Exit status 2 for bad flags or a bad configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import signal
import socket
import sys
from collections.abc import Mapping, Sequence

from exporter import __version__
from exporter.logs import LEVELS, setup_logging

log = logging.getLogger("exporter")

EXIT_USAGE = 2
SUBCOMMANDS = ("report", "doctor")


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aws-reservation-exporter",
        description="Prometheus exporter for AWS reserved capacity: days until each "
        "reservation expires, across accounts, regions and services. "
        f"Subcommands: {', '.join(SUBCOMMANDS)} (see `<subcommand> --help`).",
    )
    add_config_flag(parser)
    parser.add_argument(
        "--web.listen-address",
        dest="listen_address",
        default=":9725",
        metavar="[HOST]:PORT",
        help="address to serve /metrics on (default: %(default)s)",
    )
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        default=None,
        metavar="PATH",
        help="TLS and basic auth settings (exporter-toolkit format subset)",
    )
    parser.add_argument(
        "--web.enable-lifecycle",
        dest="enable_lifecycle",
        action="store_true",
        help="allow POST /-/reload (SIGHUP always reloads)",
    )
    add_logging_flags(parser)
    parser.add_argument(
        "--shard",
        type=parse_shard,
        default=0,
        help="this replica's shard (0-based), or `auto`: $POD_INDEX, else the number "
        "ending the hostname (StatefulSet pod name-N)",
    )
    parser.add_argument(
        "--total-shards",
        dest="total_shards",
        type=int,
        default=1,
        help="number of shards accounts are split into (default: %(default)s)",
    )
    parser.add_argument(
        "--check-config",
        dest="check_config",
        action="store_true",
        help="validate the configuration and exit (0: valid, 2: invalid)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run against an embedded fake AWS with demo data (needs the [demo] extra)",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"aws-reservation-exporter {__version__} (python {platform.python_version()})",
    )
    return parser


def parse_shard(text: str, environ: Mapping[str, str] | None = None) -> int:
    """An integer, or ``auto`` for a StatefulSet pod: its index label or hostname suffix."""
    if text.isdigit():
        return int(text)
    if text != "auto":
        raise argparse.ArgumentTypeError(f"expected a shard number or `auto`, got {text!r}")
    env = os.environ if environ is None else environ
    index = env.get("POD_INDEX", "").strip()
    if index.isdigit():
        return int(index)
    match = re.search(r"-(\d+)$", env.get("HOSTNAME") or socket.gethostname())
    if match is None:
        raise argparse.ArgumentTypeError(
            "--shard=auto: neither $POD_INDEX nor a hostname ending in -<number>"
        )
    return int(match.group(1))


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


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:
        return run_subcommand(args[0], args[1:])
    if argv is None:  # the process's entry point, not a call from a test
        exit_zero_on_stop_signals()
    parser = serve_parser()
    opts = parser.parse_args(args)
    if not 0 <= opts.shard < max(opts.total_shards, 1) or opts.total_shards < 1:
        parser.error("--shard must be in [0, --total-shards)")
    setup_logging(opts.log_level, opts.log_format)
    if opts.demo:
        from exporter.demo import run_demo

        return run_demo(opts)
    return serve(opts)


def exit_zero_on_stop_signals() -> None:
    """SIGTERM/SIGINT during start-up exit 0 at once (DESIGN §5), not 143 or a traceback.

    Installed before the slow imports and the config are loaded; the running exporter
    replaces it with its own (stop scheduling, finish or abandon tasks, exit 0).
    """

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def load_config_or_exit(path: str):  # type: ignore[no-untyped-def]
    """The validated config, or None after printing every error (caller exits 2)."""
    from exporter.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"{path}: invalid configuration:\n{exc}", file=sys.stderr)
        return None


def serve(opts: argparse.Namespace) -> int:
    from exporter.app import Exporter, ServeOptions, parse_listen_address

    config = load_config_or_exit(opts.config_file)
    if config is None:
        return EXIT_USAGE
    web_config = None
    if opts.web_config_file:
        from exporter.webconfig import WebConfigError, load_web_config

        try:
            web_config = load_web_config(opts.web_config_file)
        except WebConfigError as exc:
            print(f"{opts.web_config_file}: invalid web configuration:\n{exc}", file=sys.stderr)
            return EXIT_USAGE
    if opts.check_config:
        print(f"{opts.config_file}: configuration is valid", file=sys.stderr)
        return 0
    try:
        parse_listen_address(opts.listen_address)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    options = ServeOptions(
        config_file=opts.config_file,
        listen_address=opts.listen_address,
        web_config_file=opts.web_config_file,
        enable_lifecycle=opts.enable_lifecycle,
        shard=opts.shard,
        total_shards=opts.total_shards,
    )
    try:
        exporter = Exporter(options, config, web_config=web_config)
    except OSError as exc:
        print(f"cannot listen on {opts.listen_address}: {exc}", file=sys.stderr)
        return 1
    return exporter.run()


def run_subcommand(name: str, argv: list[str]) -> int:
    if name == "report":
        from exporter.commands.report import main as report_main

        return report_main(argv)
    from exporter.commands.doctor import main as doctor_main

    return doctor_main(argv)
