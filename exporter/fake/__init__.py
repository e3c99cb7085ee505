"""A fake AWS for tests, the demo and benchmarks: moto's server plus the
reservation APIs moto lacks, strict STS, fault injection and a call log.

Test and demo support only: production code imports it from the demo path
alone. Importing it without the ``demo`` extra raises ImportError with the
install command in its message.
"""

from __future__ import annotations

try:
    import flask  # noqa: F401  (moto's server needs it)
    import moto  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        f"the fake AWS needs the 'demo' extra: pip install 'aws-reservation-exporter[demo]' ({exc})"
    ) from exc

from exporter.fake.catalog import SPECS
from exporter.fake.control import FakeAwsClient, FakeControls, FakeError
from exporter.fake.identity import DEFAULT_ACCOUNT_ID, credentials_for
from exporter.fake.recorder import Call
from exporter.fake.server import FakeAws

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "SPECS",
    "Call",
    "FakeAws",
    "FakeAwsClient",
    "FakeControls",
    "FakeError",
    "credentials_for",
]
