"""Fixtures more than one test package uses: the fake AWS over HTTP, and an
environment that reaches only it as OWN_ACCOUNT. Fixtures one package alone
uses are in that package's conftest.py."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from exporter.fake import FakeAws
from tests.support import OWN_ACCOUNT


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """The root logger's level and handlers as each test found them: the
    commands' setup_logging (report, doctor at level error) must not silence
    the tests that run after them."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


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


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeAws]:
    """One fake AWS server for the whole session (tests/fake and some modules
    override ``fake`` with their module's ``server``)."""
    with FakeAws() as server:
        yield server


@pytest.fixture
def fake_env(fake: FakeAws) -> Iterator[FakeAws]:
    """A clean fake and an environment that reaches only it, as OWN_ACCOUNT."""
    fake.reset()
    saved = dict(os.environ)
    fake.apply_env(account_id=OWN_ACCOUNT)
    try:
        yield fake
    finally:
        os.environ.clear()
        os.environ.update(saved)
