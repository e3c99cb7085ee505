"""A brand-new moto service: Savings Plans (moto 5.2 has none).

moto finds a service by importing ``moto.<name>`` and reading
``<name>_backends``; ``install()`` registers this package under that name.
"""

from __future__ import annotations

from exporter.fake.savingsplans.models import SavingsPlansBackend, savingsplans_backends

__all__ = ["SavingsPlansBackend", "install", "savingsplans_backends"]


def install() -> None:
    """Make moto's server route ``savingsplans`` requests here (idempotent)."""
    import re
    import sys

    import moto.backend_index

    sys.modules.setdefault("moto.savingsplans", sys.modules[__name__])
    patterns = moto.backend_index.backend_url_patterns
    if not any(name == "savingsplans" for name, _ in patterns):
        # First, so no broader pattern claims the host.
        patterns.insert(
            0, ("savingsplans", re.compile(r"https?://savingsplans\.(.+)\.amazonaws\.com"))
        )
