"""Every bad invocation from issue 15, through the real `rca` console script: one line on stderr that says what is
wrong and what to do, the conventional exit code (2 usage, 1 failure), and never a traceback."""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import ROOT, deployment

RCA = Path(sys.executable).with_name("rca")
SPRING = ROOT / "examples" / "scenarios" / "spring_missing_customer_id.yaml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "events.jsonl").write_text("\n".join([
        json.dumps(deployment("ok-1")), json.dumps(deployment("ok-2")), '{"specversion": "1.0", "id": ',
        json.dumps(deployment("ok-3"))]) + "\n")
    (tmp_path / "good.json").write_text(json.dumps(deployment("g-1")))
    (tmp_path / "empty.db").write_bytes(b"")  # a database file without the schema
    return tmp_path


@pytest.fixture
def listening() -> Iterator[int]:
    """A port something already listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def rca(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd),
                   "RCA_CONFIG_DIR": str(cwd / "cfg"), "RCA_DATABASE_URL": f"sqlite:///{cwd / 'rca.db'}", **(env or {})}
    return subprocess.run([str(RCA), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


DOWN = f"http://127.0.0.1:{_free_port()}"
# (arguments, environment, exit code, words the one line must contain)
CASES = [
    pytest.param(["incidents"], {"RCA_DATABASE_URL": "postgresql://rca:pw@127.0.0.1:1/rca"}, 1,
                 ["cannot use the database", "RCA_DATABASE_URL"], id="postgresql-unreachable"),
    pytest.param(["incidents"], {"RCA_DATABASE_URL": "sqlite:///typo.db"}, 1,
                 ["no database at typo.db", "rca db upgrade"], id="database-does-not-exist"),
    pytest.param(["incidents"], {"RCA_DATABASE_URL": "sqlite:///empty.db"}, 1,
                 ["has no rca schema", "rca db upgrade"], id="database-not-migrated"),
    pytest.param(["ingest", "--url", DOWN, "good.json"], {}, 1, ["cannot reach", "rca serve"], id="ingest-server-down"),
    pytest.param(["ingest", "--url", "localhost:9", "good.json"], {}, 2, ["--url", "http://localhost:9"],
                 id="ingest-url-without-scheme"),
    pytest.param(["incidents", "--url", DOWN], {}, 1, ["cannot reach", DOWN], id="incidents-server-down"),
    pytest.param(["readiness", "--at", "notatime"], {}, 2, ["--at", "'notatime' is not a time"],
                 id="readiness-at-not-a-time"),
    pytest.param(["policies", "suggest", "--at", "nope"], {}, 2, ["--at", "'nope' is not a time"],
                 id="policies-suggest-at-not-a-time"),
    pytest.param(["detect", "--at", "2026-01-19T02:15:00"], {}, 2, ["has no offset", "2026-01-19T02:15:00Z"],
                 id="detect-at-without-offset"),
    pytest.param(["ingest", "events.jsonl"], {}, 1, ["events.jsonl line 3: not JSON", "the other items were stored"],
                 id="jsonl-line-not-json"),
    pytest.param(["incidents", "--status", "bogus"], {}, 2, ["--status", "'bogus' is not one of"],
                 id="status-not-a-choice"),
    pytest.param(["incidents", "--tier", "high"], {}, 2, ["--tier", "'high'"], id="tier-not-a-number"),
    pytest.param(["explain", "inc_nope"], {}, 1, ["no incident 'inc_nope'", "rca incidents"], id="unknown-incident"),
    pytest.param(["replay", "missing.yaml"], {}, 2, ["'missing.yaml' does not exist"], id="missing-file"),
    pytest.param(["token", "create", "--name", "ci", "--role", "writer"], {}, 2, ["at least one producer pattern"],
                 id="writer-token-without-producer"),
    pytest.param(["bogus"], {}, 2, ["No such command 'bogus'"], id="unknown-command"),
    pytest.param(["serve", "--port", "0", "--workers", "2"], {}, 2,
                 ["--workers 2 (or RCA_WORKERS) needs PostgreSQL", "--workers 1", "RCA_DATABASE_URL=postgresql"],
                 id="serve-workers-on-sqlite"),
    pytest.param(["serve", "--port", "0", "--demo"], {"RCA_WORKERS": "3"}, 2, ["--demo serves one process",
                 "drop --workers 3 (or RCA_WORKERS)"], id="serve-demo-with-workers"),
    pytest.param(["ask", "   "], {}, 2, ["ask a question"], id="empty-question"),
]


@pytest.mark.parametrize(("args", "env", "code", "words"), CASES)
def test_a_bad_invocation_is_one_line_with_its_exit_code_and_no_traceback(workdir: Path, args: list[str],
                                                                          env: dict[str, str], code: int,
                                                                          words: list[str]) -> None:
    if args[0] in ("incidents", "explain", "readiness", "policies", "detect", "ask") and "RCA_DATABASE_URL" not in env:
        assert rca("db", "upgrade", cwd=workdir).returncode == 0
    run = rca(*args, cwd=workdir, env=env)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == code, run.stderr
    assert len(lines) == 1, run.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in run.stdout + run.stderr
    if args == ["incidents"] and env.get("RCA_DATABASE_URL") == "sqlite:///typo.db":
        assert not (workdir / "typo.db").exists()  # reading never creates a database


def test_serve_on_a_taken_port_fails_before_saying_it_serves(workdir: Path, listening: int) -> None:
    run = rca("serve", "--port", str(listening), cwd=workdir)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [f"error: cannot listen on 127.0.0.1:{listening}: already in use; pick "
                                               "another with --port (or RCA_PORT), or stop what is listening there"]
    assert "serving" not in run.stdout


def test_debug_shows_the_traceback(workdir: Path) -> None:
    run = rca("--debug", "incidents", cwd=workdir, env={"RCA_DATABASE_URL": "postgresql://rca:pw@127.0.0.1:1/rca"})
    assert run.returncode == 1 and "Traceback" in run.stderr


def test_version_help_without_python_types_and_dates_as_dates(workdir: Path) -> None:
    version = rca("--version", cwd=workdir)
    assert version.returncode == 0 and version.stdout.startswith("rca ")
    for command in (["--help"], ["ingest", "--help"], ["incidents", "--help"], ["evidence", "--help"],
                    ["eval", "--help"], ["load", "--help"]):
        shown = rca(*command, cwd=workdir).stdout
        for python_type in ("<bool>", "<str>", "<int", "list[", "<Path", "{files}", "<datetime"):
            assert python_type not in shown, (command, shown)
    assert "--status [open|resolved|false_positive|all]" in rca("incidents", "--help", cwd=workdir).stdout
    assert rca("load", str(SPRING), cwd=workdir).returncode == 0
    since = rca("evidence", "--since", "2026-03-10", "--until", "2026-03-10T10:10:05Z", "--json", cwd=workdir)
    assert since.returncode == 0, since.stderr
    # deploy-checkout-v2.8.0 (2026-03-09T15:00Z) is before the date; the first records of the day are in
    assert [r["source_ref"] for r in json.loads(since.stdout)] == ["deploy-payments", "orders.created/0/5000",
                                                                 "orders.created/0/5001"]


def test_piped_output_is_not_wrapped(workdir: Path) -> None:
    assert rca("load", str(SPRING), cwd=workdir).returncode == 0
    listed = rca("incidents", cwd=workdir).stdout.splitlines()
    [evidence] = [line for line in listed if line.strip().startswith("evidence")]
    assert len(evidence) > 150 and evidence.rstrip().endswith("deploy-checkout-v2.8.1")
    table = rca("evidence", "--producer", "svc://checkout-service", "--limit", "3", cwd=workdir).stdout
    assert "ev_9822fbb2c2c0d6e67713da82" in table  # a full id on one line, not folded at 80 columns


def test_a_long_ingest_shows_progress_on_a_terminal(workdir: Path) -> None:
    events = [deployment(f"p-{i}", time=f"2026-03-10T10:{i // 60 % 60:02d}:{i % 60:02d}+00:00") for i in range(3000)]
    (workdir / "many.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    leader, follower = pty.openpty()
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "TERM": "xterm", "COLUMNS": "100",
                   "RCA_DATABASE_URL": f"sqlite:///{workdir / 'rca.db'}"}
    process = subprocess.Popen([str(RCA), "ingest", "--batch-size", "100", "many.jsonl"], cwd=workdir, env=environment,
                               stdout=subprocess.DEVNULL, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert process.wait(60) == 0
    assert b"Ingesting" in seen and b"/3000" in seen  # rich's bar with its count, drawn on the terminal
