"""Everything the fake changes inside moto, installed once per process."""

from __future__ import annotations

import functools
import threading

from moto.core.responses import ActionResult

_lock = threading.Lock()
_installed = False


def install() -> None:
    """Add the reservation and tag APIs, Savings Plans, Cost Explorer's reservation
    reads, Organizations and STS fixes to moto (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        from exporter.fake import costexplorer, organizations, reservations, savingsplans, tagging

        reservations.install()
        costexplorer.install()
        tagging.install()
        organizations.install()
        savingsplans.install()
        _install_session_token()
        _cache_module_listing()
        _installed = True


def _install_session_token() -> None:
    """GetSessionToken keys that belong to the caller's account.

    moto answers with a fixed example key that maps to its default account;
    AWS issues keys of the caller's own account.
    """
    from moto.iam.models import iam_backends
    from moto.sts.responses import TokenResponse
    from moto.sts.utils import random_session_token

    def get_session_token(self: TokenResponse) -> ActionResult:
        duration = self._get_int_param("DurationSeconds", 43200)
        token = self.backend.get_session_token(duration=duration)
        key = iam_backends[self.current_account][self.partition].create_temp_access_key()
        return ActionResult(
            {
                "Credentials": {
                    "AccessKeyId": key.access_key_id,
                    "SecretAccessKey": key.secret_access_key,
                    "SessionToken": random_session_token(),
                    "Expiration": token.expiration,
                }
            }
        )

    TokenResponse.get_session_token = get_session_token  # type: ignore[method-assign]


def _cache_module_listing() -> None:
    """moto's dispatcher lists its package directory on every request, under a
    global lock; under concurrent load that, not the handlers, dominates the
    fake's CPU. The listing never changes while the process runs."""
    import moto.backends

    listing = moto.backends.list_of_moto_modules
    if not hasattr(listing, "cache_info"):
        cached = functools.cache(lambda: tuple(listing()))
        moto.backends.list_of_moto_modules = cached  # type: ignore[assignment]
