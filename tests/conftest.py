"""Fixtures shared by the test modules that talk to the fake AWS over HTTP
(tests/integration has its own, session-wide ones)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from exporter.fake import FakeAws
from tests.support import OWN_ACCOUNT


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAws]:
    """One fake AWS server per test module."""
    with FakeAws() as running:
        yield running


@pytest.fixture
def isolated_fake(server: FakeAws, monkeypatch: pytest.MonkeyPatch) -> FakeAws:
    """A clean fake; the environment reaches only it, as OWN_ACCOUNT."""
    server.reset()
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in server.env(OWN_ACCOUNT).items():
        monkeypatch.setenv(key, value)
    return server
