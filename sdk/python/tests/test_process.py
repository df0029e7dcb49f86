"""Process life: restart after fork, flush at exit, and an exit that a dead backend cannot hold up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

PYTHON = sys.executable


def run_python(code: str, env: dict[str, str], timeout: float = 20.0) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPILOT_")}
    return subprocess.run(
        [PYTHON, "-c", textwrap.dedent(code)], env={**clean, **env}, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_restarts_the_worker_and_nothing_is_sent_twice(backend, make_client):
    client = make_client(backend.url, flush_interval=30.0)  # nothing leaves before an explicit flush
    client.emit("JobRunStarted", {"run_id": "queued-before-fork"})
    pid = os.fork()
    if pid == 0:  # the child: exit without running the parent's pytest machinery
        code = 3
        try:
            if client.emit("JobRunStarted", {"run_id": "from-child"}) and client.flush(5.0):
                code = 0 if client.stats()["delivered"] == 1 else 4
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.flush(5.0)
    runs = [e["data"]["run_id"] for e in backend.events]
    assert sorted(runs) == ["from-child", "queued-before-fork"]


def test_events_queued_at_exit_are_flushed(backend):
    result = run_python(
        """
        import autopilot
        autopilot.configure(flush_interval=60)  # only the exit hook can send it
        autopilot.emit("JobRunStarted", {"run_id": "at-exit"})
        """,
        {"AUTOPILOT_ENABLED": "true", "AUTOPILOT_ENDPOINT": backend.url, "AUTOPILOT_SERVICE": "s",
         "AUTOPILOT_STARTUP_EVENT": "false"},
    )
    assert result.returncode == 0, result.stderr
    assert [e["data"]["run_id"] for e in backend.events] == ["at-exit"]


def test_a_sleeping_backend_cannot_hold_up_the_exit(backend_factory):
    backend = backend_factory("sleep", sleep_s=5.0)
    began = time.monotonic()
    result = run_python(
        """
        import autopilot
        for i in range(100):
            autopilot.emit("JobRunStarted", {"run_id": str(i)})
        """,
        {"AUTOPILOT_ENABLED": "true", "AUTOPILOT_ENDPOINT": backend.url, "AUTOPILOT_SERVICE": "s",
         "AUTOPILOT_TIMEOUT": "10", "AUTOPILOT_SHUTDOWN_TIMEOUT": "0.5"},
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - began < 4.0  # the server sleeps 5 s; exit waits 0.5 s at most


def test_the_startup_event_is_sent_once_by_a_process_that_only_configures(backend):
    result = run_python(
        """
        import autopilot
        autopilot.configure()
        autopilot.configure()
        """,
        {"AUTOPILOT_ENABLED": "true", "AUTOPILOT_ENDPOINT": backend.url, "AUTOPILOT_SERVICE": "payments-service",
         "AUTOPILOT_VERSION": "v1.4.0", "AUTOPILOT_COMMIT": "9e1f00d"},
    )
    assert result.returncode == 0, result.stderr
    [event] = backend.events
    assert (event["type"], event["source"], event["data"]["source"], event["data"]["deploy_ref"]) == (
        "DeploymentEvent",
        "svc://payments-service",
        "startup",
        "payments-service@v1.4.0+9e1f00d",
    )


def test_disabled_in_a_real_process_starts_no_thread():
    result = run_python(
        """
        import threading, autopilot
        autopilot.configure()
        autopilot.emit("JobRunStarted", {"run_id": "r"})
        print(threading.active_count(), autopilot.get_client().active)
        """,
        {},
    )
    assert result.stdout.split() == ["1", "False"], result.stderr
