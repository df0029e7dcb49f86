"""The PR-bot's fixtures: copies of examples/fleet, settings whose SDK artifacts are built once per session."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rollout import RolloutSettings

FLEET = Path(__file__).resolve().parents[2] / "examples" / "fleet"
REPOS = sorted(p.name for p in FLEET.iterdir() if p.is_dir())


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and npm tarball of this checkout's SDKs: built on first use, shared by every test."""
    return tmp_path_factory.mktemp("rollout-artifacts")


@pytest.fixture
def settings(tmp_path: Path, artifacts: Path) -> RolloutSettings:
    return RolloutSettings(forge_root=tmp_path / "forge", workdir=tmp_path / "work", artifacts_dir=artifacts)


@pytest.fixture
def fleet_copy(tmp_path: Path) -> Callable[..., Path]:
    """A copy of one example repository (a plain folder), to change before the bot sees it."""

    def copy(name: str, as_name: str | None = None) -> Path:
        target = tmp_path / "sources" / (as_name or name)
        shutil.copytree(FLEET / name, target, ignore=shutil.ignore_patterns("node_modules", "target", ".venv",
                                                                            "__pycache__", "*.egg-info"))
        return target

    return copy
