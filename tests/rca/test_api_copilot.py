import json

from click.testing import CliRunner

from detectors import run_detectors
from detectors._scenario import load_into, load_scenario
from evidence import to_json
from support import REFERENCE, bearer

SLOW = REFERENCE / "spark_job_running_slow.yaml"


def _incident(client, store):
    scenario = load_scenario(SLOW)
    load_into(store, scenario)
    run_detectors(store, scenario.now)
    [incident] = client.get("/v1/incidents").json()["items"]
    return incident


def test_the_rca_endpoint_returns_the_verified_rca(client, store) -> None:
    incident = _incident(client, store)
    rca = client.get(f"/v1/incidents/{incident['id']}/rca").json()
    assert (rca["incident_id"], rca["verdict"], rca["reason_code"]) == (incident["id"], "cause_identified",
                                                                        "JOB_RUNNING_SLOW")
    assert rca["correlated_deploy"] is None
    refs = {e["evidence_id"]: e["source_ref"] for e in rca["evidence"]}
    assert "run-start-today" in {refs[i] for c in rca["claims"] for i in c["evidence_ids"]}
    assert client.get(f"/v1/incidents/{incident['id']}/rca").content == client.get(
        f"/v1/incidents/{incident['id']}/rca").content
    assert client.get("/v1/incidents/inc_nope/rca").status_code == 404


def test_chat_answers_with_evidence_and_refuses_to_guess(client, store) -> None:
    incident = _incident(client, store)
    answer = client.post("/v1/chat", json={"question": "why is orders_enriched stale?"}).json()
    assert answer["incident_id"] == incident["id"] and answer["has_evidence"]
    assert all(s["evidence_ids"] for s in answer["answer"])
    follow = client.post("/v1/chat", json={"question": "is it still running?", "session_id": answer["session_id"]})
    kinds = {s["kind"] for s in follow.json()["answer"]}
    assert kinds <= {"job_running", "job_slow"} and "job_running" in kinds
    beyond = client.post("/v1/chat", json={"question": "what is the CEO's favourite colour?",
                                           "incident_id": incident["id"]}).json()
    assert beyond["answer"] == [{"text": "I have no evidence for that.", "evidence_ids": []}]
    assert beyond["next_checks"] and not beyond["has_evidence"]
    unknown = client.post("/v1/chat", json={"question": "why is the moon late?"}).json()
    assert unknown["incident_id"] is None and unknown["next_checks"]


def test_chat_streams_verified_sentences_as_server_sent_events(client, store) -> None:
    _incident(client, store)
    response = client.post("/v1/chat", json={"question": "why is orders_enriched stale?"},
                           headers={"Accept": "text/event-stream"})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block for block in response.text.split("\n\n") if block]
    assert events[-1].startswith("event: done")
    sentences = [json.loads(e.split("data: ", 1)[1]) for e in events if e.startswith("event: sentence")]
    assert sentences and all(s["evidence_ids"] for s in sentences)


def test_readers_may_ask_writers_may_not(make_client, tokens, store) -> None:
    client = make_client(auth=True)
    assert client.post("/v1/chat", json={"question": "why?"}, headers=bearer(tokens["checkout"])).status_code == 403
    assert client.post("/v1/chat", json={"question": "why?"}, headers=bearer(tokens["reader"])).status_code == 200


def test_explain_and_ask_in_the_terminal(database_url, monkeypatch, store) -> None:
    from rca.cli import app

    monkeypatch.setenv("RCA_DATABASE_URL", database_url)
    scenario = load_scenario(SLOW)
    load_into(store, scenario)
    [incident] = [to_json(i) for i in run_detectors(store, scenario.now).incidents]
    runner = CliRunner()
    explained = runner.invoke(app, ["explain", incident["id"], "--json"])
    assert explained.exit_code == 0, explained.output
    assert json.loads(explained.stdout)["verdict"] == "cause_identified"
    readable = runner.invoke(app, ["explain", incident["id"]])
    assert "most likely cause" in readable.stdout
    asked = runner.invoke(app, ["ask", "why is orders_enriched stale?"])
    assert asked.exit_code == 0 and "run-start" not in asked.stdout  # ids, not refs, are printed
    assert "ev_" in asked.stdout
