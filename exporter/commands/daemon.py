"""The daemon: ``aws-reservation-exporter [--config.file=config.yaml] ...``, its
flags, and ``--demo``, the same daemon run in the demo environment."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import re
import signal
import socket
import sys
from collections.abc import Mapping, Sequence

from exporter import __version__
from exporter.commands.configs import load_config_or_exit
from exporter.commands.exits import EXIT_CANNOT_LISTEN, EXIT_OK, EXIT_USAGE
from exporter.commands.flags import add_config_flag, add_demo_flag, add_logging_flags
from exporter.logs import setup_logging

# The demo's lines have always been logged under this name.
demo_log = logging.getLogger("exporter.demo")

# The commands for people (exporter.commands.main runs them), named in --help.
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
    add_demo_flag(parser, "run against an embedded fake AWS")
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


def main(argv: Sequence[str]) -> int:
    """Parse the daemon's flags and run it (with ``--demo``, in the demo environment)."""
    parser = serve_parser()
    opts = parser.parse_args(argv)
    if not 0 <= opts.shard < max(opts.total_shards, 1) or opts.total_shards < 1:
        parser.error("--shard must be in [0, --total-shards)")
    setup_logging(opts.log_level, opts.log_format)
    if opts.demo:
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
        return EXIT_OK
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
        return EXIT_CANNOT_LISTEN
    return exporter.run()


def run_demo(opts: argparse.Namespace) -> int:
    """``--demo``: serve real metrics from the fake AWS until SIGTERM/SIGINT."""
    from exporter.demo import demo_environment

    with contextlib.ExitStack() as stack:
        try:
            demo = stack.enter_context(demo_environment())
        except ImportError as exc:
            print(f"--demo: {exc}", file=sys.stderr)
            return EXIT_USAGE
        accounts = ", ".join(a.name for a in demo.layout.accounts)
        demo_log.info(
            "demo: fake AWS at %s with accounts %s; config %s",
            demo.fake.endpoint_url,
            accounts,
            demo.config_file,
        )
        host, _, port = opts.listen_address.rpartition(":")
        demo_log.info("demo: open http://%s:%s/ (metrics at /metrics)", host or "localhost", port)
        opts.config_file = str(demo.config_file)
        return serve(opts)
