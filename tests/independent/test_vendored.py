"""The vendored independent checker stays what it was written as: unedited, and apart from the product."""

from __future__ import annotations

import ast
import hashlib

import pytest

from support import CHECKER, ROOT

# SHA-256 of the original file (../shared/tools/check_replay.py in the development workspace) when it was vendored.
ORIGINAL_SHA256 = "5ebd85c3ea35ee229af117ebc491213c76f2cdc587cb28cc11c6370202583e73"
WORKSPACE_COPY = ROOT.parent / "shared" / "tools" / "check_replay.py"
PRODUCT = ("evidence", "detectors", "guardrails", "copilot", "evals", "rca")


def original_text() -> str:
    """The vendored file without the provenance comment block put after its first line."""
    first, *rest = CHECKER.read_text().splitlines(keepends=True)
    while rest and rest[0].startswith("#"):
        rest.pop(0)
    return first + "".join(rest)


def test_the_vendored_checker_is_unedited() -> None:
    assert hashlib.sha256(original_text().encode()).hexdigest() == ORIGINAL_SHA256, (
        f"{CHECKER} was edited below its header; it must stay the independent original")


@pytest.mark.skipif(not WORKSPACE_COPY.is_file(), reason=f"no workspace copy at {WORKSPACE_COPY} to compare with")
def test_the_vendored_checker_is_the_workspace_copy() -> None:
    assert original_text() == WORKSPACE_COPY.read_text(), (
        f"{WORKSPACE_COPY} changed: copy it over {CHECKER} below the header and update ORIGINAL_SHA256")


def imports(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_checker_and_the_product_do_not_import_each_other() -> None:
    theirs = {name.split(".")[0] for name in imports(CHECKER.read_text())}
    assert theirs and not theirs & set(PRODUCT), theirs
    for package in PRODUCT:
        for source in (ROOT / package).rglob("*.py"):
            ours = imports(source.read_text())
            assert not any("check_replay" in name or name.split(".")[0] == "tests" for name in ours), source
