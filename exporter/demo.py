"""The demo environment: an embedded fake AWS seeded with demo data, and this
process pointed at it.

The fake (moto's server plus this project's reservation APIs) runs in this
process on a loopback port; whatever runs inside the environment (the daemon
with ``--demo``, ``report --demo``, ``doctor --demo``) reaches it through the
real STS, signing and HTTP code paths via ``AWS_ENDPOINT_URL``. Every variable
that could point boto3 at real AWS is cleared first (exporter.aws.environment).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporter.aws.environment import isolate_from_real_aws

INSTALL_HINT = "pip install 'aws-reservation-exporter[demo]' (or run `make demo`)"


@dataclass
class DemoEnvironment:
    """A running fake AWS seeded with demo data, and a config file that reads it."""

    fake: Any
    layout: Any
    config_file: Path


@contextlib.contextmanager
def demo_environment(directory: str | Path | None = None) -> Iterator[DemoEnvironment]:
    """Start the fake, seed it and point this process's AWS environment at it; on
    exit, stop the fake and put ``os.environ`` back as it was.

    The config file is written to ``directory`` (default: a new temporary
    folder, not removed on exit). Raises ImportError (with the install hint)
    without the ``demo`` extra.
    """
    try:
        from exporter.fake import FakeAws
        from exporter.fake.demo_data import demo_config_yaml, seed_demo
    except ImportError as exc:
        raise ImportError(f"demo mode needs the 'demo' extra: {INSTALL_HINT} ({exc})") from exc

    saved = dict(os.environ)
    try:
        isolate_from_real_aws()
        fake = FakeAws()
        fake.start()
        try:
            layout = seed_demo(fake)
            # Clears AWS_PROFILE, AWS_ENDPOINT_URL_*, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS and
            # the shared config files: nothing can reach real AWS from here on.
            fake.apply_env(account_id=layout.own_account_id)
            folder = Path(directory or tempfile.mkdtemp(prefix="aws-reservation-exporter-demo-"))
            config_file = folder / "demo-config.yaml"
            config_file.write_text(demo_config_yaml(layout))
            yield DemoEnvironment(fake, layout, config_file)
        finally:
            fake.stop()
    finally:
        os.environ.clear()
        os.environ.update(saved)
