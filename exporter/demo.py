"""Demo mode: the real exporter against an embedded fake AWS with demo data.

The fake (moto's server plus this project's reservation APIs) runs in this
process on a loopback port; the exporter reaches it through the real STS,
signing and HTTP code paths via ``AWS_ENDPOINT_URL``. Every variable that
could point boto3 at real AWS is cleared first.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporter.aws.environment import isolate_from_real_aws

log = logging.getLogger(__name__)

EXIT_USAGE = 2
INSTALL_HINT = "pip install 'aws-reservation-exporter[demo]' (or run `make demo`)"


@dataclass
class DemoEnvironment:
    """A running fake AWS seeded with demo data, and a config file that reads it."""

    fake: Any
    layout: Any
    config_file: Path

    def stop(self) -> None:
        self.fake.stop()


def start_demo_environment(directory: str | Path | None = None) -> DemoEnvironment:
    """Start the fake, seed it, point this process's AWS environment at it.

    Raises ImportError (with the install hint) without the ``demo`` extra.
    """
    try:
        from exporter.fake import FakeAws
        from exporter.fake.demo_data import demo_config_yaml, seed_demo
    except ImportError as exc:
        raise ImportError(f"demo mode needs the 'demo' extra: {INSTALL_HINT} ({exc})") from exc

    isolate_from_real_aws()
    fake = FakeAws()
    fake.start()
    layout = seed_demo(fake)
    # Clears AWS_PROFILE, AWS_ENDPOINT_URL_*, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS and
    # the shared config files: nothing can reach real AWS from here on.
    fake.apply_env(account_id=layout.own_account_id)
    folder = Path(directory or tempfile.mkdtemp(prefix="aws-reservation-exporter-demo-"))
    config_file = folder / "demo-config.yaml"
    config_file.write_text(demo_config_yaml(layout))
    return DemoEnvironment(fake, layout, config_file)


def run_demo(opts: argparse.Namespace) -> int:
    """``--demo``: serve real metrics from the fake AWS until SIGTERM/SIGINT."""
    from exporter.commands.daemon import serve

    try:
        env = start_demo_environment()
    except ImportError as exc:
        print(f"--demo: {exc}", file=sys.stderr)
        return EXIT_USAGE
    accounts = ", ".join(a.name for a in env.layout.accounts)
    log.info(
        "demo: fake AWS at %s with accounts %s; config %s",
        env.fake.endpoint_url,
        accounts,
        env.config_file,
    )
    host, _, port = opts.listen_address.rpartition(":")
    log.info("demo: open http://%s:%s/ (metrics at /metrics)", host or "localhost", port)
    opts.config_file = str(env.config_file)
    try:
        return serve(opts)
    finally:
        env.stop()
