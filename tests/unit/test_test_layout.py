"""The test layout README describes: no test module at the root of tests/,
and no test module importing another package's test module (shared pieces
live in helper modules)."""

from __future__ import annotations

import ast

from tests.support import TESTS

PACKAGES = ("unit", "integration", "process", "artefacts", "fake")


def test_every_test_module_is_in_a_package() -> None:
    assert sorted(p.name for p in TESTS.glob("test_*.py")) == []
    found = {p.parent.name for p in TESTS.glob("*/test_*.py")}
    assert found == set(PACKAGES)


def test_no_test_module_imports_another_packages_test_module() -> None:
    crossing = []
    for path in sorted(TESTS.glob("*/test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if (
                    len(parts) == 3
                    and parts[0] == "tests"
                    and parts[2].startswith("test_")
                    and parts[1] != path.parent.name
                ):
                    crossing.append(f"{path.relative_to(TESTS)} imports {node.module}")
    assert crossing == []
