"""Package faces: a package uses another only through what that package exports in `__all__`, and the usage
example that opens evidence/__init__.py runs as written."""

from __future__ import annotations

import ast
import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("evidence", "detectors", "guardrails", "copilot", "evals", "rca", "rollout")


def _imports(package: str, root: Path) -> list[tuple[str, int, str, list[str]]]:
    """(file, line, module, names) of every `from <module> import names` and `import <module>` in a package."""
    found = []
    for path in sorted((root / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(root)), node.lineno, node.module, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                found += [(str(path.relative_to(root)), node.lineno, a.name, []) for a in node.names]
    return found


def _private_reaches(package: str, root: Path = ROOT) -> list[str]:
    reaches = []
    for file, line, module, names in _imports(package, root):
        owner, *rest = module.split(".")
        if owner not in PACKAGES or owner == package:
            continue
        if any(part.startswith("_") for part in rest):
            reaches.append(f"{file}:{line}: {module}")
        elif not rest:  # from <other package> import names: each must be on that package's face
            face = set(importlib.import_module(owner).__all__)
            reaches += [f"{file}:{line}: {owner}.{name} is not in {owner}.__all__" for name in names
                        if name not in face]
    return reaches


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_reaches_into_another_ones_private_modules(package: str) -> None:
    assert _private_reaches(package) == []


def test_the_check_catches_a_private_reach(tmp_path: Path) -> None:
    (tmp_path / "detectors").mkdir()
    (tmp_path / "detectors" / "_x.py").write_text(
        "from evidence._store import Store\nfrom evidence import parse_event, not_exported\nimport guardrails._view\n")
    assert _private_reaches("detectors", tmp_path) == [
        "detectors/_x.py:1: evidence._store", "detectors/_x.py:2: evidence.not_exported is not in evidence.__all__",
        "detectors/_x.py:3: guardrails._view"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_exists(package: str) -> None:
    module = importlib.import_module(package)
    assert [name for name in module.__all__ if not hasattr(module, name)] == []


def test_the_evidence_usage_example_runs() -> None:
    import evidence

    result = doctest.testmod(evidence, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0
