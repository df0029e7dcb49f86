import json

import pytest
from click.testing import CliRunner

from evidence._store import Store
from rca.cli import app
from support import ROOT, deployment

runner = CliRunner()
SCENARIOS = sorted((ROOT / "examples" / "scenarios").glob("*.yaml"))


@pytest.fixture
def db(database_url, monkeypatch) -> str:
    monkeypatch.setenv("RCA_DATABASE_URL", database_url)
    return database_url


def test_db_upgrade_then_ingest_scenarios_into_the_database(db) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["ingest", "--json", *map(str, SCENARIOS)])
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)["files"]
    assert [f["events"] for f in files] == [22, 23, 3]
    # the two Spark scenarios share 22 events: the second file's copies are duplicates
    assert [f["duplicate"] for f in files] == [0, 22, 0]
    # no rule maps orders.created in this database: its records are held as drift, not attributed
    assert (files[-1]["records"], files[-1]["held"]) == (345, 345)
    with Store.open(db) as store:
        assert store.count() == 26 + 1  # the events, and the drift's first held record


def test_ingest_reads_json_and_jsonl_and_reports_rejects(db, tmp_path) -> None:
    (tmp_path / "one.json").write_text(json.dumps(deployment("j-1")))
    (tmp_path / "many.jsonl").write_text(
        "\n".join(json.dumps(deployment(f"l-{i}")) for i in range(3))
        + "\n"
        + json.dumps({**deployment("bad"), "time": "soon"})
        + "\n"
    )
    result = runner.invoke(app, ["ingest", "--json", str(tmp_path / "one.json"), str(tmp_path / "many.jsonl")])
    assert result.exit_code == 1  # a rejected event makes the command fail, after storing the good ones
    doc = json.loads(result.stdout)
    assert [(f["accepted"], f["rejected"]) for f in doc["files"]] == [(1, 0), (3, 1)]
    assert doc["rejected"][0]["id"] == "bad" and doc["rejected"][0]["field"] == "time"
    with Store.open(db) as store:
        assert store.count() == 4


def test_evidence_query_and_tokens(db) -> None:
    runner.invoke(app, ["ingest", str(SCENARIOS[-1])])
    out = runner.invoke(app, ["evidence", "--type", "DeploymentEvent", "--json"])
    assert [r["source_ref"] for r in json.loads(out.stdout)] == [
        "deploy-checkout-v2.8.0",
        "deploy-payments",
        "deploy-checkout-v2.8.1",
    ]
    created = runner.invoke(app, ["token", "create", "--name", "ci", "--producer", "svc://checkout-*"])
    assert created.exit_code == 0 and created.stdout.strip().startswith("rca_w_")
    refused = runner.invoke(app, ["token", "create", "--name", "ci", "--producer", "checkout"])
    assert refused.exit_code != 0 and "must be a URN pattern such as svc://checkout-*" in str(refused.exception)
    listed = runner.invoke(app, ["token", "list"])
    assert "svc://checkout-*" in listed.stdout and "rca_w_" not in listed.stdout


def test_the_console_script_turns_errors_into_a_message_and_exit_2(db, tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    rca = Path(sys.executable).with_name("rca")
    run = subprocess.run(
        [str(rca), "token", "create", "--name", "x", "--role", "writer"],
        capture_output=True,
        text=True,
        env={"RCA_DATABASE_URL": db, "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 2
    assert "a writer token needs at least one producer pattern" in run.stderr


def test_reference_scenarios_pass_the_independent_checker() -> None:
    import subprocess
    import sys

    from support import CHECKER, REFERENCE

    scenarios = sorted(str(p) for p in REFERENCE.glob("*.yaml"))
    run = subprocess.run(
        [sys.executable, str(CHECKER), *scenarios],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1] == f"{len(scenarios)} passed, 0 failed"


def test_replay_json_is_one_document(db) -> None:
    result = runner.invoke(
        app, ["replay", "--json", str(ROOT / "examples" / "scenarios" / "spring_missing_customer_id.yaml")]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"incidents", "drift"}
    assert [i["reason_code"] for i in doc["incidents"]] == ["REQUIRED_FIELD_MISSING"]


def test_detect_at_a_clock_stores_incidents(db) -> None:
    runner.invoke(app, ["db", "upgrade"])
    from detectors._scenario import load_into, load_scenario

    with Store.open(db) as store:
        load_into(store, load_scenario(ROOT / "examples" / "scenarios" / "spark_job_running_slow.yaml"))
    result = runner.invoke(app, ["detect", "--at", "2026-01-19T02:15:00-05:00", "--json"])
    assert result.exit_code == 0, result.output
    assert [i["reason_code"] for i in json.loads(result.stdout)["incidents"]] == ["JOB_RUNNING_SLOW"]
    listed = runner.invoke(app, ["incidents", "--json"])
    assert [i["reason_code"] for i in json.loads(listed.stdout)["incidents"]] == ["JOB_RUNNING_SLOW"]
    assert runner.invoke(app, ["detect", "--at", "2026-01-19T02:15:00"]).exit_code != 0


def test_the_published_openapi_description_is_current() -> None:
    from rca.cli import openapi_text

    published = (ROOT / "docs" / "openapi.json").read_text()
    assert published == openapi_text(), "docs/openapi.json is stale: run `make spec`"


def test_load_stores_stories_and_detects_each_at_its_clock_without_touching_others(db) -> None:
    spring, slow = (str(ROOT / "examples" / "scenarios" / n) for n in ("spring_missing_customer_id.yaml",
                                                                       "spark_job_running_slow.yaml"))
    assert runner.invoke(app, ["incidents"]).exit_code == 1  # no database yet: reading does not create one
    first = runner.invoke(app, ["load", spring, "--json"])
    assert first.exit_code == 0, first.output
    assert [i["id"] for i in json.loads(first.stdout)["incidents"]] == ["inc_c52b773e5970e8ea"]
    # A pass at January's clock would resolve March's break (its records are in the future): loading is scoped.
    second = runner.invoke(app, ["load", slow, "--json"])
    assert [i["reason_code"] for i in json.loads(second.stdout)["incidents"]] == ["JOB_RUNNING_SLOW"]
    listed = json.loads(runner.invoke(app, ["incidents", "--json"]).stdout)["incidents"]
    assert sorted(i["reason_code"] for i in listed) == ["JOB_RUNNING_SLOW", "REQUIRED_FIELD_MISSING"]
    explained = runner.invoke(app, ["explain", "inc_c52b773e5970e8ea", "--json"])
    assert json.loads(explained.stdout)["verdict"] == "cause_identified"


def test_the_client_follows_next_cursor_and_works_without_it() -> None:
    import httpx

    from rca._client import ApiClient

    def server(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        assert request.headers["authorization"] == "Bearer t"
        if request.url.path == "/v1/incidents":
            pages = {None: ([{"id": "a"}, {"id": "b"}], "c1"), "c1": ([{"id": "c"}], None)}
            items, after = pages[cursor]
            return httpx.Response(200, json={"items": items, **({"next_cursor": after} if after else {})})
        return httpx.Response(200, json={"items": [{"id": "x"}]})  # an endpoint that does not page

    client = ApiClient("http://rca.test", "t", transport=httpx.MockTransport(server))
    assert [i["id"] for i in client.pages("/v1/incidents")] == ["a", "b", "c"]
    assert [i["id"] for i in client.pages("/v1/incidents", at_most=2)] == ["a", "b"]
    assert [i["id"] for i in client.pages("/v1/policy-drafts")] == ["x"]
