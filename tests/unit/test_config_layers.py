"""exporter.config's modules import one way: each only from the layers below it.

errors, durations, reading -> fields -> model -> checks -> loading -> __init__; the web
config reads YAML and formats paths with the bottom layer only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

EXPORTER = ROOT / "exporter"
PACKAGE = EXPORTER / "config"

# The config modules each may import, besides modules outside the package.
ALLOWED = {
    "errors": set(),
    "durations": set(),
    "reading": {"errors"},
    "fields": {"errors", "durations"},
    "model": {"errors", "durations", "reading", "fields"},
    "checks": {"errors", "durations", "reading", "fields", "model"},
    "loading": {"errors", "durations", "reading", "fields", "model", "checks"},
    "__init__": {"errors", "durations", "reading", "fields", "model", "checks", "loading"},
}


def config_imports(path: Path) -> set[str]:
    """The config modules ``path`` imports, anywhere in it (a late import counts too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: write exporter.config imports in full"
            names = [node.module or ""]
            if node.module == "exporter.config":
                names = [f"exporter.config.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name == "exporter.config":
                found.add("__init__")
            elif name.startswith("exporter.config."):
                found.add(name.split(".")[2])
    return found


def test_every_module_of_the_package_has_its_layer() -> None:
    assert {p.stem for p in PACKAGE.glob("*.py")} == set(ALLOWED)


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_a_module_imports_only_from_the_layers_below_it(module: str) -> None:
    assert config_imports(PACKAGE / f"{module}.py") <= ALLOWED[module]


def test_the_web_config_shares_only_the_bottom_layer() -> None:
    assert config_imports(EXPORTER / "webconfig.py") == {"errors", "reading"}


def test_no_module_is_named_like_a_top_level_module_the_package_imports() -> None:
    # A config/yaml.py beside modules that import PyYAML would confuse readers and tools,
    # and shadow PyYAML whenever the directory itself is on sys.path.
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 0
        }
        assert not top & {p.stem for p in PACKAGE.glob("*.py")}, path.name
