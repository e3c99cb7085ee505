"""Every invalid config fixture fails with exactly the messages written on its first lines.

A fixture ``tests/configs/<case>.bad.yaml`` starts with one ``# error: ...`` line
per expected error, in order; ``{file}`` stands for the path the loader was given and
``{botocore}`` for the installed botocore's version (named in unknown-region errors).
"""

from __future__ import annotations

from pathlib import Path

import botocore
import pytest

from exporter.config import ConfigError, load_config
from tests.support import CONFIGS

BAD = sorted(CONFIGS.glob("*.bad.yaml"))
ERROR_PREFIX = "# error: "


def expected_errors(path: Path) -> list[str]:
    """The leading ``# error:`` lines of a fixture, with ``{file}`` and ``{botocore}`` filled in."""
    errors = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith(ERROR_PREFIX):
            break
        error = line[len(ERROR_PREFIX) :].replace("{file}", str(path))
        errors.append(error.replace("{botocore}", botocore.__version__))
    return errors


def test_there_is_a_bad_fixture_for_each_kind_of_mistake() -> None:
    assert len(BAD) >= 25
    for path in BAD:
        assert expected_errors(path), f"{path.name} names no expected error"


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name.removesuffix(".bad.yaml"))
def test_bad_config_reports_exactly_the_expected_errors(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.errors == expected_errors(path)
    assert str(caught.value) == "\n".join(expected_errors(path))


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name.removesuffix(".bad.yaml"))
def test_bad_config_messages_never_show_pydantic_internals(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    for internal in ("pydantic", "Extra inputs", "Input should", "type=", "For further info"):
        assert internal not in text


def test_access_key_id_value_is_rejected_without_echoing_it() -> None:
    path = CONFIGS / "access-key-id-value.bad.yaml"
    assert "AKIAIOSFODNN7EXAMPLE" in path.read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "AKIAIOSFODNN7EXAMPLE" not in str(caught.value)
    assert "looks like an AWS access key id" in str(caught.value)


def test_credential_key_value_is_not_echoed() -> None:
    path = CONFIGS / "credential-key-top-level.bad.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "wJalrXUtnFEMI" not in str(caught.value)
