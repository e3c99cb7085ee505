"""The one exception the fake's handlers raise for an AWS error."""

from __future__ import annotations

from moto.core.exceptions import ServiceException


class FakeServiceError(ServiceException):
    """An AWS error raised inside a handler; moto serialises it per protocol.

    Defined in this project, not used from moto directly: moto looks up a
    model from an exception's module and answers HTTP 500 for its own base
    class. A module of its own so every handler module can import it without
    importing another handler module.
    """
