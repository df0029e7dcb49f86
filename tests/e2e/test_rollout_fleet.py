"""examples/fleet end to end, one repository per archetype: the bot opens the onboarding pull request on the local
forge with its dry run against a real `rca serve`; the branch builds and its tests pass with the real toolchain;
the dry-run script fails when rca refuses the signal; after the merge, the removal branch builds too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e.conftest import Server

from evidence._store import Store
from evidence._tokens import create_token
from rollout import DryRunTarget, LocalForge, PullRequestLog, Rollout, RolloutSettings
from support import FixedClock

FLEET = Path(__file__).resolve().parents[2] / "examples" / "fleet"
TOOLS = {"payments-service": ("mvn", "java"), "inventory-api": ("go",), "notifications-service": ("npm", "node"),
         "pricing-service": (), "orders-rollup-job": ()}


@dataclass(frozen=True)
class Rca:
    url: str
    writers: dict[str, str]  # a staging producer token per service, scoped to it
    other: str  # a writer token of another producer
    reader: str


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rollout-artifacts")


@pytest.fixture(scope="module")
def rca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rca]:
    """One `rca serve` for the five repositories (a cold start costs tens of seconds on a loaded machine)."""
    folder = tmp_path_factory.mktemp("rollout-rca")
    url = f"sqlite:///{folder / 'rca.db'}"
    now = FixedClock()()
    with Store.open(url) as store:
        store.ensure_schema()
        writers = {name: create_token(store, f"{name}-staging", "writer", [f"svc://{name}"], now)[1] for name in TOOLS}
        other = create_token(store, "someone-else", "writer", ["svc://someone-else"], now)[1]
        reader = create_token(store, "on-call", "reader", [], now)[1]
    server = Server(url, folder / "serve.log", env={"RCA_DETECT_INTERVAL_S": "0",
                                                     "RCA_CHROMA_PATH": str(folder / "chroma")})
    try:
        yield Rca(server.url, writers, other, reader)
    finally:
        server.stop()


def sh(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], cwd=cwd, env={**os.environ, **(env or {})}, text=True,
                          capture_output=True, timeout=600, check=False)


def build(name: str, work: Path, scratch: Path) -> None:
    """The branch's own build and tests, as its CI would run them."""
    if name == "payments-service":
        done = sh("mvn", "-B", "-q", "-Dstyle.color=never", "verify", cwd=work)
    elif name == "inventory-api":
        done = sh("go", "test", "-count=1", "./...", cwd=work)
    elif name == "notifications-service":
        done = sh("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", cwd=work)
        if done.returncode == 0:
            done = sh("npm", "test", cwd=work)
    else:
        # The dependencies the branch declares (the SDK pinned to a wheel of this checkout, or none after removal)
        # go into a folder of their own; the rest (pyspark, confluent-kafka, pytest) are this environment's.
        site = scratch / "site"
        shutil.rmtree(site, ignore_errors=True)
        declared = tomllib.loads((work / "pyproject.toml").read_text())["project"]["dependencies"]
        ours = [d for d in declared if d.startswith("autopilot")]
        if ours:
            done = sh(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", site, *ours,
                      cwd=work)
            assert done.returncode == 0, done.stderr[-3000:]
        done = sh(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=work,
                  env={"PYTHONPATH": f"{site}{os.pathsep}{work / 'src'}", "PYTHONNOUSERSITE": "1"})
    assert done.returncode == 0, f"{name}: {done.stdout[-4000:]}\n{done.stderr[-4000:]}"


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_the_onboarding_and_removal_branches_build_and_the_dry_run_tells(
        name: str, rca: Rca, tmp_path: Path, artifacts: Path) -> None:
    missing = [tool for tool in TOOLS[name] if shutil.which(tool) is None]
    if missing:
        message = f"{name} builds with {', '.join(missing)}, which is not installed"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    clock = FixedClock()
    writer = rca.writers[name]

    bot_store = Store.open(f"sqlite:///{tmp_path / 'bot.db'}")
    bot_store.ensure_schema()
    log = PullRequestLog(bot_store)
    settings = RolloutSettings(forge_root=tmp_path / "forge", workdir=tmp_path / "work", artifacts_dir=artifacts,
                               staging_endpoint=rca.url)
    forge = LocalForge(settings.forge_root, log, clock)
    bot = Rollout(forge, log, clock, settings, dry_run=DryRunTarget(rca.url, writer, rca.reader))
    [opened] = bot.onboard([FLEET / name])
    assert opened.outcome == "opened" and opened.pull_request is not None, opened.reason
    record = log.get("local", name, opened.pull_request.number)
    assert record is not None
    assert record.dry_run == "passed", record.body
    assert "**Passed.**" in record.body

    work = settings.workdir / name
    build(name, work, tmp_path)

    # rca refuses a token that may not write this service's evidence: the dry run fails, and says so
    script = work / "deploy" / "autopilot" / "dry-run.sh"
    refused = sh("sh", script, cwd=work, env={"AUTOPILOT_ENDPOINT": rca.url, "AUTOPILOT_TOKEN": rca.other,
                                             "AUTOPILOT_COMMIT": "refused"})
    assert refused.returncode != 0, refused.stdout + refused.stderr

    forge.merge(name, opened.pull_request.number)
    [removal] = bot.remove([FLEET / name])
    assert removal.outcome == "opened" and removal.pull_request is not None, removal.reason
    assert not (work / "deploy" / "autopilot").exists()
    assert "autopilot" not in (work / {"payments-service": "pom.xml", "inventory-api": "go.mod",
                                       "notifications-service": "package.json"}.get(name, "pyproject.toml")).read_text()
    build(name, work, tmp_path)
    bot_store.close()
