"""Shared helper for tests that need an external tool."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    """Path of the executable ``name``.

    When it is missing the test fails under CI=true (a missing tool must not
    pass silently there) and is skipped elsewhere.
    """
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} not found on PATH (run `make tools`)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
