"""`autopilot deploy-event` from CI: idempotent, and a down backend never fails the deploy unless --strict."""

from __future__ import annotations

import os
import subprocess
import sys

from autopilot.cli import main

ARGS = ["deploy-event", "--service", "checkout-service", "--version", "v2.8.1", "--commit", "3f9c2ab", "--env", "prod"]


def test_the_deploy_event_is_delivered(backend, validate_event, capsys):
    assert main([*ARGS, "--endpoint", backend.url, "--token", "t", "--domain", "orders"]) == 0
    [event] = backend.events
    validate_event(event)
    assert event["id"] == "deploy-checkout-service-prod-v2.8.1-3f9c2ab"
    assert event["data"] == {
        "service": "checkout-service",
        "env": "prod",
        "version": "v2.8.1",
        "commit": "3f9c2ab",
        "deploy_ref": "checkout-service@v2.8.1+3f9c2ab",
        "status": "succeeded",
        "source": "ci",
        "domain": "orders",
    }
    assert backend.headers[0]["authorization"] == "Bearer t"
    assert "delivered" in capsys.readouterr().out


def test_rerunning_the_step_sends_the_same_id(backend):
    assert main([*ARGS, "--endpoint", backend.url]) == 0
    assert main([*ARGS, "--endpoint", backend.url]) == 0
    assert len({e["id"] for e in backend.events}) == 1


def test_a_down_backend_exits_0_unless_strict(closed_port_url, capsys):
    assert main([*ARGS, "--endpoint", closed_port_url, "--timeout", "0.5"]) == 0
    assert "continuing" in capsys.readouterr().err
    assert main([*ARGS, "--endpoint", closed_port_url, "--timeout", "0.5", "--strict"]) == 1


def test_a_500_is_retried_within_the_timeout_then_given_up(backend_factory):
    backend = backend_factory("500")
    assert main([*ARGS, "--endpoint", backend.url, "--timeout", "1"]) == 0
    assert main([*ARGS, "--endpoint", backend.url, "--timeout", "1", "--strict"]) == 1


def test_a_rejection_is_reported(backend_factory, capsys):
    backend = backend_factory("401")
    assert main([*ARGS, "--endpoint", backend.url]) == 0
    assert "rejected" in capsys.readouterr().err
    assert main([*ARGS, "--endpoint", backend.url, "--strict"]) == 1


def test_no_endpoint_is_not_an_error_unless_strict(monkeypatch):
    monkeypatch.delenv("AUTOPILOT_ENDPOINT", raising=False)
    assert main(ARGS) == 0
    assert main([*ARGS, "--strict"]) == 1


def test_python_dash_m_autopilot_works_like_the_command(closed_port_url, backend):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPILOT_")}
    down = subprocess.run(
        [sys.executable, "-m", "autopilot", *ARGS, "--endpoint", closed_port_url, "--timeout", "0.3"],
        env=env, capture_output=True, text=True, timeout=30,
    )
    assert down.returncode == 0, down.stderr
    up = subprocess.run(
        [sys.executable, "-m", "autopilot", *ARGS, "--endpoint", backend.url], env=env, capture_output=True, text=True,
        timeout=30,
    )
    assert up.returncode == 0 and len(backend.events) == 1


def test_dry_run_prints_the_event(capsys):
    assert main([*ARGS, "--dry-run"]) == 0
    assert '"deploy_ref": "checkout-service@v2.8.1+3f9c2ab"' in capsys.readouterr().out
