"""The image's install steps, run without Docker.

The Dockerfile's build stage copies a few paths from the build context, builds
the wheel with ``pip wheel`` and installs it with docker/install.sh. This test
copies the same paths (read from the Dockerfile's COPY lines) into a fresh
context, runs the same two commands, and then runs the installed console
script the way the container's entrypoint would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import exporter
from tests.support import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def _build_stage_copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of each plain COPY in the first (build) stage."""
    copies: list[tuple[list[str], str]] = []
    stage = 0
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("FROM "):
            stage += 1
        elif stage == 1 and line.startswith("COPY ") and "--from" not in line:
            *sources, dest = line.split()[1:]
            copies.append((sources, dest))
    return copies


def _file_tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv built by docker/install.sh from a wheel of a Dockerfile-shaped context."""
    tmp = tmp_path_factory.mktemp("image")
    context = tmp / "src"
    context.mkdir()
    copies = _build_stage_copies()
    assert copies, "the Dockerfile's build stage copies nothing"
    for sources, dest in copies:
        target = context / dest.removeprefix("./")
        for source in sources:
            path = ROOT / source
            assert path.exists(), f"Dockerfile copies {source}, which does not exist"
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                dest_path = target / path.name if dest.endswith("/") else target
                dest_path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest_path)

    wheels = tmp / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            wheels,
            context,
        ],
        check=True,
        env={**os.environ, "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    built = sorted(wheels.glob("aws_reservation_exporter-*.whl"))
    assert len(built) == 1, built

    venv = tmp / "venv"
    result = subprocess.run(
        ["sh", context / "docker" / "install.sh", venv, built[0]],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert result.returncode == 0, result.stderr
    assert exporter.__version__ in result.stdout
    return venv


def _run(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The container's environment: bytecode writes off, HOME somewhere harmless,
    # no AWS settings leaking in from the developer's shell.
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": str(venv.parent),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return subprocess.run(
        ["aws-reservation-exporter", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=venv.parent,
        timeout=120,
    )


def test_wheel_is_named_after_the_package_version(installed: Path) -> None:
    wheels = list((installed.parent / "wheels").glob("*.whl"))
    assert [w.name.split("-")[1] for w in wheels] == [exporter.__version__]


def test_installed_console_script_reports_the_package_version(installed: Path) -> None:
    result = _run(installed, "--version")
    assert result.returncode == 0, result.stderr
    assert exporter.__version__ in result.stdout + result.stderr


def test_installed_exporter_accepts_the_example_config(installed: Path) -> None:
    example = ROOT / "config.example.yaml"
    assert example.is_file(), "config.example.yaml is missing from the repository root"
    result = _run(installed, f"--config.file={example}", "--check-config")
    assert result.returncode == 0, result.stdout + result.stderr


def test_installed_exporter_rejects_a_bad_config_with_status_2(installed: Path) -> None:
    bad = installed.parent / "bad.yaml"
    bad.write_text("regions: [us-east-1]\nno_such_key: 1\n")
    result = _run(installed, f"--config.file={bad}", "--check-config")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no_such_key" in result.stdout + result.stderr


def test_running_the_installed_exporter_writes_nothing_into_the_venv(installed: Path) -> None:
    # The image runs with a read-only root filesystem: the venv must stay as installed.
    before = _file_tree(installed)
    _run(installed, "--version")
    _run(installed, f"--config.file={ROOT / 'config.example.yaml'}", "--check-config")
    assert _file_tree(installed) == before


def test_install_script_leaves_no_pip_in_the_runtime_venv(installed: Path) -> None:
    assert not list((installed / "lib").glob("python3*/site-packages/pip"))
    assert not (installed / "bin" / "pip").exists()


def test_install_script_refuses_to_run_without_a_wheel(tmp_path: Path) -> None:
    result = subprocess.run(
        ["sh", ROOT / "docker" / "install.sh", tmp_path / "venv"], capture_output=True, text=True
    )
    assert result.returncode == 64
    assert "usage:" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_dockerfile_copies_only_paths_the_dockerignore_lets_through() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copied = {
        source.rstrip("/")
        for line in DOCKERFILE.read_text().splitlines()
        if re.match(r"COPY (?!--from)", line)
        for source in line.split()[1:-1]
    }
    assert copied and copied <= allowed, copied - allowed
