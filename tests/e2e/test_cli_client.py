"""The `rca` reading commands as clients of a real `rca serve`: the same answers as the database gives an admin, a
saved profile like gh's, and a refused token told to a person."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from detectors import load_scenario
from evidence._store import Store
from evidence._tokens import create_token
from support import ROOT

pytestmark = pytest.mark.e2e
RCA = Path(sys.executable).with_name("rca")
SPRING = ROOT / "examples" / "scenarios" / "spring_missing_customer_id.yaml"
SPRING_NOW = load_scenario(SPRING).now


def rca(*args: str, home: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), **env}
    return subprocess.run([str(RCA), *args], env=environment, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_reading_commands_answer_the_same_through_the_server_and_from_the_database(serve, tmp_path: Path) -> None:
    database = {"RCA_DATABASE_URL": f"sqlite:///{tmp_path / 'rca.db'}"}
    assert rca("load", str(SPRING), home=tmp_path, env=database).returncode == 0
    with Store.open(database["RCA_DATABASE_URL"]) as store:
        reader = create_token(store, "oncall", "reader", [], SPRING_NOW)[1]
    server = serve(database["RCA_DATABASE_URL"], env={"RCA_DETECT_INTERVAL_S": "0",
                                                      "RCA_CHROMA_PATH": str(tmp_path / "chroma")})
    client = {"RCA_URL": server.url, "RCA_TOKEN": reader}
    for command in (["incidents", "--json"], ["incidents", "--status", "all", "--json"],
                    ["explain", "inc_c52b773e5970e8ea", "--json"],
                    ["evidence", "--producer", "svc://checkout-service", "--limit", "1500", "--json"],
                    ["policies", "list", "--json"], ["readiness", "--dataset", "ds://orders_v1", "--json"]):
        direct = rca(*command, home=tmp_path, env=database)
        through = rca(*command, home=tmp_path, env=client)
        assert direct.returncode == through.returncode == 0, (command, direct.stderr, through.stderr)
        assert json.loads(direct.stdout) == json.loads(through.stdout), command
    asked = rca("ask", "why is ds://orders_v1 missing customer_id?", "--json", home=tmp_path, env=client)
    answer = json.loads(asked.stdout)
    assert answer["has_evidence"] and all(s["evidence_ids"] for s in answer["answer"])

    # A profile, like `gh auth login`: checked against the server, then used without --url
    profile = {"RCA_CONFIG_DIR": str(tmp_path / "cfg")}
    refused = rca("login", "--url", server.url, "--token", "rca_r_wrong", home=tmp_path, env=profile)
    assert refused.returncode == 1 and not (tmp_path / "cfg" / "profiles.yml").exists()
    assert "the token was not accepted (unknown or revoked)" in refused.stderr
    assert rca("login", "--url", server.url, "--token", reader, home=tmp_path, env=profile).returncode == 0
    who = json.loads(rca("whoami", "--json", home=tmp_path, env=profile).stdout)
    assert (who["via"], who["where"], who["name"], who["role"]) == ("server", server.url, "oncall", "reader")
    listed = rca("incidents", home=tmp_path, env=profile)
    assert f"Incidents (open) from {server.url}" in listed.stdout and "inc_c52b773e5970e8ea" in listed.stdout
    # An admin's RCA_DATABASE_URL wins over the saved profile
    assert f"from {database['RCA_DATABASE_URL']}" in rca("incidents", home=tmp_path, env={**profile, **database}).stdout

