"""schemathesis against a real `rca serve` (uvicorn) and its served OpenAPI description, with real writer, reader
and admin tokens: no server error, no invalid input accepted, no status code the description does not list, and
every answer in the documented shape.

Bounded and reproducible: a fixed seed, at most EXAMPLES cases per operation and phase, in a subprocess (the CLI
runs schemathesis's coverage phase, which the pytest plugin does not). Positive-data acceptance is not asserted:
the description cannot say every rule (times between 1970 and 2200, a contract that must compile), so a
schema-valid request may still be refused with a 422 that says why.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evidence._store import Store
from evidence._tokens import create_token
from support import Server

pytestmark = pytest.mark.e2e

SEED = 16
EXAMPLES = {"admin": 20, "writer": 8, "reader": 8}
CHECKS = ("not_a_server_error,status_code_conformance,negative_data_rejection,content_type_conformance,"
          "response_schema_conformance,unsupported_method")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> tuple[Server, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'rca.db'}"
    with Store.open(url) as store:
        store.upgrade()
        now = datetime.now(UTC)
        tokens = {
            "writer": create_token(store, "fuzz-writer", "writer", ["svc://*", "job://*", "kafka://*"], now,
                                   ["ds://*"])[1],
            "reader": create_token(store, "fuzz-reader", "reader", [], now)[1],
            "admin": create_token(store, "fuzz-admin", "admin", [], now)[1],
        }
    running = Server(url, tmp / "serve.log", env={"RCA_DETECT_INTERVAL_S": "0", "RCA_CHROMA_PATH": str(tmp / "chroma")})
    yield running, tokens
    running.stop()


@pytest.mark.parametrize("role", ["admin", "writer", "reader"])
def test_schemathesis_finds_no_server_error_no_accepted_invalid_input_and_no_undocumented_status(
        server: tuple[Server, dict[str, str]], role: str, tmp_path: Path) -> None:
    running, tokens = server
    schemathesis = Path(sys.executable).with_name("schemathesis")
    command = [str(schemathesis), "run", f"{running.url}/openapi.json", "--url", running.url,
               "-H", f"Authorization: Bearer {tokens[role]}", "--seed", str(SEED), "-n", str(EXAMPLES[role]),
               "--phases", "examples,coverage,fuzzing", "--checks", CHECKS, "--workers", "1", "--no-color",
               "--generation-database", "none", "--request-timeout", "30", "--max-failures", "20"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    summary = done.stdout[-20_000:]
    assert done.returncode == 0, f"schemathesis ({role} token) found problems:\n{summary}\n{done.stderr[-2000:]}"
    assert " 0 generated" not in summary  # it ran cases, not nothing
