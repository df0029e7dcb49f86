"""Running a small program on each SDK's real toolchain (a Java single-file source on sdk/java's classes, a Go main
package of sdk/go, an ES module importing @rca/autopilot, a Python script importing autopilot), for the end-to-end
tests that drive every SDK against a real `rca serve`. A missing toolchain skips locally and fails in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evidence._store import Store
from evidence._tokens import create_token
from support import ROOT, Server

JAVA_CLASSES = ROOT / "sdk" / "java" / "autopilot-core" / "target" / "classes"
NODE_SDK = ROOT / "sdk" / "node"
GO_SDK = ROOT / "sdk" / "go"


@dataclass(frozen=True)
class SdkProgram:
    """One check written once per SDK; each prints its findings as one JSON line last."""

    java: str  # a single-file source whose first class is `java_class`
    java_class: str
    go_package: str  # a main package of sdk/go, e.g. ./internal/sdkhealthcheck
    node: str  # an ES module
    python: str = ""  # a script, run with this interpreter (which has autopilot installed)


def required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("RCA_REQUIRE_KAFKA") == "1"


def unavailable(why: str) -> None:
    if required():
        pytest.fail(f"{why} (CI runs every SDK's toolchain)")
    pytest.skip(why)


def go_toolchain() -> str | None:
    found = subprocess.run([str(ROOT / "scripts" / "go-toolchain")], capture_output=True, text=True)
    return found.stdout.strip() or None if found.returncode == 0 else None


def node_built() -> bool:
    """dist/ is the package's build; rebuilt here when src/ is newer (make test builds it through node-install)."""
    dist = NODE_SDK / "dist" / "esm" / "index.js"
    if not (NODE_SDK / "node_modules").exists():
        return False
    newest = max(p.stat().st_mtime for p in (NODE_SDK / "src").glob("*.ts"))
    if not dist.exists() or dist.stat().st_mtime < newest:
        subprocess.run(["npm", "run", "--silent", "build"], cwd=NODE_SDK, check=True, capture_output=True, timeout=300)
    return True


def sdk_command(language: str, program: SdkProgram, tmp_path: Path) -> tuple[list[str], Path]:
    """The command (and its working directory) that runs `program` on `language`'s SDK; skips or fails (in CI) when
    that toolchain or the SDK's build is missing."""
    if language == "java":
        if not shutil.which("java"):
            unavailable("no java")
        if not (JAVA_CLASSES / "dev" / "rca" / "autopilot" / "AutopilotClient.class").exists():
            unavailable("sdk/java is not built: make test-java (make test runs it first)")
        source = tmp_path / f"{program.java_class}.java"
        source.write_text(program.java)
        return ["java", "-cp", str(JAVA_CLASSES), str(source)], tmp_path
    if language == "go":
        go = go_toolchain()
        if go is None:
            unavailable("no Go 1.22+ (scripts/go-toolchain)")
        return [str(go), "run", program.go_package], GO_SDK
    if language == "python":
        return [sys.executable, "-c", program.python], tmp_path
    if not shutil.which("node") or not node_built():
        unavailable("no node, or sdk/node has no node_modules: make node-install")
    return ["node", "--input-type=module", "-e", program.node], NODE_SDK


def sdk_environment(**settings: str) -> dict[str, str]:
    """This process's environment without its AUTOPILOT_*, plus `settings` (AUTOPILOT_ENDPOINT=..., ...)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPILOT_")}
    env.update(settings)
    return env


@dataclass(frozen=True)
class ServedRca:
    server: Server
    database: str
    writer: str  # may write the producers given to served_rca
    reader: str


@contextmanager
def served_rca(tmp: Path, writes: str, prepare: Callable[[Store, datetime], None] | None = None) -> Iterator[ServedRca]:
    """A real `rca serve` on a fresh SQLite database, with a writer token for the producers `writes` (a URN pattern,
    svc://health-*) and a reader token; `prepare` writes anything else the test needs before it starts."""
    url = f"sqlite:///{tmp / 'rca.db'}"
    with Store.open(url) as store:
        store.ensure_schema()
        now = datetime.now(UTC)
        writer = create_token(store, "fleet", "writer", [writes], now)[1]
        reader = create_token(store, "oncall", "reader", [], now)[1]
        if prepare is not None:
            prepare(store, now)
    server = Server(url, tmp / "serve.log", env={"RCA_DETECT_INTERVAL_S": "0", "RCA_CHROMA_PATH": str(tmp / "chroma")})
    try:
        yield ServedRca(server, url, writer, reader)
    finally:
        server.stop()
