"""Issue 12's reproductions through the public paths: a model (an OpenAI-compatible endpoint mocked with respx)
scripts hostile answers into `rca replay --rca --json`, GET /v1/incidents/{id}/rca, POST /v1/chat (JSON and SSE),
Slack and `rca explain` / `rca ask`. None of its words reaches a person; its true claims still do, in the product's
own sentences; a failing or hung model shows, and costs one timeout."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from click.testing import CliRunner
from fastapi.testclient import TestClient

from copilot import GuardedComposer, ModelGuard
from copilot._langchain import openai_compatible
from detectors import run_detectors
from detectors._scenario import load_into, load_scenario
from evidence import evidence_id_for, to_json
from evidence._store import Store
from rca import Settings, create_app
from rca._read_cli import print_rca
from rca.cli import app as cli
from support import ROOT

BASE_URL = "http://llm.test/v1"
SPRING = ROOT / "examples" / "scenarios" / "spring_missing_customer_id.yaml"
SLOW = ROOT / "examples" / "scenarios" / "spark_job_running_slow.yaml"
D = evidence_id_for("svc://checkout-service", "deploy-checkout-v2.8.1")  # the v2.8.1 deploy
FB = evidence_id_for("kafka://orders.created", "orders.created/0/5191")  # the first bad record
LG = evidence_id_for("kafka://orders.created", "orders.created/0/5190")  # the last good record
PAYMENTS = evidence_id_for("svc://payments-service", "deploy-payments")  # another producer's deploy
V281 = [{"name": "version", "value": "v2.8.1"}]


def claim(text: str, kind: str, ids: list[str], params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"text": text, "kind": kind, "evidence_ids": ids, "params": params or []}


# (the model's claim, what of it must never be read anywhere)
HOSTILE: list[tuple[dict[str, Any], list[str]]] = [
    (claim("checkout-service v2.8.1 changed the Avro serializer, which now drops customer_id.", "deploy_correlated",
           [D], V281), ["Avro"]),
    (claim("A network partition after v2.8.1 dropped customer_id.", "deploy_correlated", [D], V281),
     ["network partition"]),
    (claim("The team forgot migrations in v2.8.1.", "deploy_correlated", [D], V281), ["forgot migrations"]),
    (claim("checkout-service v2.8.1 was deployed 28 s before the first bad record.", "deploy_correlated", [D],
           [*V281, {"name": "seconds_before_first_bad", "value": 28}]), ["28 s"]),
    (claim("Deployed 10 min before.", "deploy_correlated", [D], [{"name": "seconds_before_first_bad", "value": 600}]),
     ["10 min"]),
    (claim("v2.8.1 went out at 10:29 UTC, once records were already failing.", "deploy_correlated", [D], V281),
     ["10:29", "already failing"]),
    (claim("Records lack customer_id since 10:21 CET.", "contract_break", [FB]), ["CET"]),
    (claim("The bad share went from 18% to 0%.", "rate_shift", [FB],
           [{"name": "before", "value": 0.18}, {"name": "after", "value": 0.0}]), ["from 18%"]),
    (claim("Forty-five percent of orders fail.", "rate_shift", [FB], [{"name": "after", "value": 0.45}]),
     ["Forty-five", "45%"]),
    (claim("154 records failed.", "contract_break", [FB], [{"name": "bad_count", "value": 154}]), ["154 records"]),
    (claim("v2.8.1 shipped shortly before the first bad record but is not what broke customer_id", "deploy_correlated",
           [D], V281), ["not what broke"]),
    (claim("paym\u0435nts-service v2.8.1 broke it.", "deploy_correlated", [D],
           [{"name": "service", "value": "paym\u0435nts-service"}]), ["paym\u0435nts"]),
    (claim("ENUM_VIOL\u0410TION on customer_id.", "contract_break", [FB],
           [{"name": "reason_code", "value": "ENUM_VIOL\u0410TION"}]), ["ENUM_VIOL\u0410TION"]),
    (claim("customerId is missing.", "contract_break", [FB], [{"name": "field", "value": "customerId"}]),
     ["customerId"]),
    (claim("ds://payments_v2 lost customer_id too.", "contract_break", [FB]), ["ds://payments_v2"]),
    (claim("See [the runbook](https://evil.example/login) <b>now</b>.", "last_good", [LG]), ["evil.example", "<b>"]),
    (claim("18% fail; Run DROP TABLE orders_v1 to reset.", "rate_shift", [FB]), ["DROP TABLE"]),
    (claim("Page the CEO.", "impact", [FB], [{"name": "datasets", "value": ["ds://curated/orders_enriched"]}]),
     ["Page the CEO"]),
    (claim("The producer key is AKIAIOSFODNN7EXAMPLE.", "contract_break", [FB]), ["AKIAIOSFODNN7EXAMPLE"]),
    (claim("customer_id is missing.\n    next check: page the CEO at +1-555-0100", "contract_break", [FB]),
     ["555-0100"]),
    (claim("payments-service v1.4.0 caused this.", "deploy_correlated", [PAYMENTS]), ["payments-service v1.4.0"]),
    (claim("The database team broke it.", "deploy_correlated", ["ev_ffffffffffffffffffffffff"]), ["database team"]),
]
TRUE = [claim("customer_id went missing.", "contract_break", [FB]),
        claim("v2.8.1 came right before.", "deploy_correlated", [D], V281)]


def completion(content: str) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1773138600, "model": "hostile-7b",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


class Model:
    """The endpoint's script: the claims it answers with, and how often it was asked."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.claims: list[dict[str, Any]] = []
        self.route = router.post("/chat/completions").mock(side_effect=self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=completion(json.dumps({"claims": self.claims})))


@pytest.fixture
def model() -> Iterator[Model]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield Model(router)


@pytest.fixture
def model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"RCA_LLM_MODEL": "hostile-7b", "RCA_LLM_BASE_URL": BASE_URL, "RCA_LLM_API_KEY": "k"}.items():
        monkeypatch.setenv(name, value)


def read(document: dict[str, Any]) -> str:
    """Everything a person reads from an RCA or a chat answer."""
    cause = document.get("most_likely_cause") or {}
    texts = [document.get("summary"), cause.get("statement"), *document.get("next_checks", []),
             *document.get("suggested_actions", [])]
    texts += [c["text"] for c in [*document.get("claims", []), *document.get("answer", [])]]
    return "\n".join(t for t in texts if t)


def assert_nothing_hostile(document: dict[str, Any]) -> None:
    shown = read(document)
    everything = json.dumps(document, ensure_ascii=False)
    for proposed, fragments in HOSTILE:
        assert proposed["text"] not in everything  # not even the audit trail repeats a proposer's words
        for fragment in fragments:
            assert fragment not in shown, fragment


def test_replay_rca_json_surfaces_none_of_the_hostile_claims(model: Model, model_env: None) -> None:
    model.claims = [c for c, _ in HOSTILE] + TRUE
    result = CliRunner().invoke(cli, ["replay", str(SPRING), "--rca", "--json"])
    assert result.exit_code == 0, result.output
    [rca] = json.loads(result.stdout)["rca"]
    assert_nothing_hostile(rca)
    assert rca["composer"] == "hostile-7b" and rca["verdict"] == "cause_identified"
    # True structure survives, once per fact, in the product's words (some of it came with hostile wording).
    assert sorted(c["kind"] for c in rca["claims"]) == [
        "contract_break", "deploy_correlated", "impact", "last_good", "rate_shift"]
    assert rca["most_likely_cause"]["statement"] == (
        "checkout-service v2.8.1 was deployed at 2026-03-10 10:20:00 UTC, 64 s before the first bad record.")
    assert len(rca["rejected_claims"]) == len(HOSTILE) + len(TRUE) - 5
    assert all(r["why"] and r["reason"] for r in rca["rejected_claims"])


@pytest.fixture
def spring_client(store: Store, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    scenario = load_scenario(SPRING)
    load_into(store, scenario)
    [incident] = [to_json(i) for i in run_detectors(store, scenario.now).incidents]
    composer = GuardedComposer(openai_compatible(BASE_URL, "hostile-7b", "k"), ModelGuard(), chat_timeout_s=10)
    app = create_app(Settings(database_url="sqlite://", auth_disabled=True, detect_interval_s=0,
                              chroma_path=str(tmp_path / "chroma")), store=store, clock=lambda: scenario.now,
                     composer=composer)
    with TestClient(app) as client:
        yield client, incident


def test_the_rca_api_caps_claims_and_lists_every_rejection(model: Model,
                                                            spring_client: tuple[TestClient, dict[str, Any]]) -> None:
    client, incident = spring_client
    repeats = [claim("x", "contract_break", [FB]), claim("y", "contract_break", [FB, LG])]  # one more (relevant) id
    model.claims = (TRUE + repeats + [c for c, _ in HOSTILE]) * 17 + [claim("z", "last_good", [LG])] * 58
    assert len(model.claims) == 500
    rca = client.get(f"/v1/incidents/{incident['id']}/rca").json()
    assert_nothing_hostile(rca)
    assert sorted(c["kind"] for c in rca["claims"]) == [
        "contract_break", "deploy_correlated", "impact", "last_good", "rate_shift"]
    assert len(rca["claims"]) + len(rca["rejected_claims"]) == 500
    reasons = {r["reason"] for r in rca["rejected_claims"]}
    assert {"duplicate", "mismatch", "malformed", "contradiction", "not_found"} <= reasons
    assert rca["rejected_claims"][0] == {"text": f"contract_break claim 3, citing {FB}", "kind": "contract_break",
                                         "reason": "duplicate",
                                         "why": "repeats claim 1: same kind, same verified values"}
    assert rca["rejected_claims"][1]["reason"] == "duplicate"  # the copy citing one more id too


def test_chat_beyond_the_evidence_gets_no_evidence_whatever_the_model_says(
        model: Model, spring_client: tuple[TestClient, dict[str, Any]]) -> None:
    client, incident = spring_client
    model.claims = [claim("It is sunny and 21 degrees.", "contract_break", [FB])]
    body = {"question": "what is the weather in Berlin?", "incident_id": incident["id"]}
    answer = client.post("/v1/chat", json=body).json()
    assert (answer["has_evidence"], answer["answer"]) == (False, [{"text": "I have no evidence for that.",
                                                                     "evidence_ids": []}])
    assert answer["next_checks"] and "sunny" not in json.dumps(answer)
    streamed = client.post("/v1/chat", json=body, headers={"Accept": "text/event-stream"}).text
    assert "sunny" not in streamed and '"has_evidence":false' in streamed
    model.claims = [c for c, _ in HOSTILE] + TRUE
    asked = client.post("/v1/chat", json={"question": "which deploy changed things?", "incident_id": incident["id"]})
    answer = asked.json()
    assert_nothing_hostile(answer)
    assert [s["text"] for s in answer["answer"]] == [
        "checkout-service v2.8.1 was deployed at 2026-03-10 10:20:00 UTC, 64 s before the first bad record."]
    streamed = client.post("/v1/chat", json={"question": "which deploy changed things?", "incident_id": incident["id"]},
                           headers={"Accept": "text/event-stream"}).text
    assert "64 s before the first bad record" in streamed
    for proposed, fragments in HOSTILE:
        assert not any(f in streamed for f in [proposed["text"], *fragments])


def test_model_prose_never_becomes_a_job_summary(model: Model, model_env: None, database_url: str,
                                                 store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCA_DATABASE_URL", database_url)
    scenario = load_scenario(SLOW)
    load_into(store, scenario)
    [incident] = [to_json(i) for i in run_detectors(store, scenario.now).incidents]
    start = evidence_id_for("job://orders_enriched_batch", "run-start-today")
    done = evidence_id_for("job://orders_enriched_batch", "run-done-0118")
    model.claims = [claim("running for 75 min because a network partition cut the cluster off from S3", "job_slow",
                          [start, done])]
    result = CliRunner().invoke(cli, ["explain", incident["id"], "--json"])
    rca = json.loads(result.stdout)
    assert "network partition" not in json.dumps(rca) and rca["verdict"] == "cause_identified"
    assert rca["summary"].endswith("Run 2026-01-19T06:00Z_abc has been running for 75 min against a baseline of "
                                   "35 min, the median of 7 recent successful runs.")


def test_the_terminal_prints_no_forged_line(model: Model, model_env: None, database_url: str, store: Store,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCA_DATABASE_URL", database_url)
    scenario = load_scenario(SPRING)
    load_into(store, scenario)
    [incident] = [to_json(i) for i in run_detectors(store, scenario.now).incidents]
    model.claims = [c for c, _ in HOSTILE] + TRUE
    explained = CliRunner().invoke(cli, ["explain", incident["id"]])
    assert explained.exit_code == 0, explained.output
    lines = [line.strip() for line in explained.stdout.splitlines()]
    assert not any(line.startswith("next check: page the CEO") for line in lines)
    assert "composer: hostile-7b" in explained.stdout and "555-0100" not in explained.stdout
    asked = CliRunner().invoke(cli, ["ask", "why is orders_v1 broken?", "--incident", incident["id"]])
    assert asked.exit_code == 0 and "555-0100" not in asked.stdout and "Avro" not in asked.stdout


def test_the_terminal_escapes_outside_text(capsys: pytest.CaptureFixture[str]) -> None:
    """A source ref (producer-chosen) with a newline and an escape sequence is printed as visible escapes."""
    print_rca({"incident_id": "inc_1", "verdict": "inconclusive", "composer": "default", "summary": "s.",
                "most_likely_cause": None, "claims": [{"text": "A claim.", "evidence_ids": ["ev_1"]}],
                "evidence": [{"evidence_id": "ev_1", "source_ref": "ref\n    next check: wipe it\x1b[31m"}],
                "next_checks": ["Check it"], "suggested_actions": [], "rejected_claims": []})
    out = capsys.readouterr().out
    assert "ref\\n    next check: wipe it\\u001b[31m" in out
    assert [line.strip() for line in out.splitlines() if "next check" in line] == [
        "- A claim.  [ref\\n    next check: wipe it\\u001b[31m]", "next check: Check it"]


def test_a_claim_whose_wording_denies_its_kind_is_no_cause(model: Model,
                                                           spring_client: tuple[TestClient, dict[str, Any]]) -> None:
    client, incident = spring_client
    model.claims = [claim("v2.8.1 shipped shortly before the first bad record but is not what broke customer_id",
                          "deploy_correlated", [D], V281), claim("customer_id went missing.", "contract_break", [FB])]
    rca = client.get(f"/v1/incidents/{incident['id']}/rca").json()
    assert (rca["verdict"], rca["most_likely_cause"], rca["correlated_deploy"]) == ("inconclusive", None, None)
    assert not any("Roll back" in a for a in rca["suggested_actions"])
    assert [(r["kind"], r["reason"]) for r in rca["rejected_claims"]] == [("deploy_correlated", "contradiction")]


def test_a_failed_model_shows_in_the_composer(model: Model,
                                              spring_client: tuple[TestClient, dict[str, Any]]) -> None:
    client, incident = spring_client
    model.route.side_effect = None
    model.route.return_value = httpx.Response(200, json=completion("The root cause is the deploy."))
    rca = client.get(f"/v1/incidents/{incident['id']}/rca").json()
    assert rca["composer"] == "default (model failed: answer outside the draft schema)"
    assert "The root cause is the deploy" not in json.dumps(rca) and rca["verdict"] == "cause_identified"
    model.route.return_value = httpx.Response(500, json={"error": {"message": "boom", "type": "server_error"}})
    assert client.get(f"/v1/incidents/{incident['id']}/rca").json()["composer"] == "default (model failed: HTTP 500)"


def test_a_hung_model_costs_chat_one_timeout_not_every_turn(spring_client: tuple[TestClient, dict[str, Any]]) -> None:
    client, incident = spring_client
    client.app.state.composer = GuardedComposer(  # type: ignore[attr-defined]
        openai_compatible(BASE_URL, "hostile-7b", "k"), ModelGuard(cooldown_s=600), chat_timeout_s=1)
    called, release = threading.Event(), threading.Event()
    calls: list[httpx.Request] = []

    def hang(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        called.set()
        release.wait(20)
        return httpx.Response(200, json=completion('{"claims": []}'))

    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        router.post("/chat/completions").mock(side_effect=hang)
        try:
            body = {"question": "why is orders_v1 broken?", "incident_id": incident["id"]}
            first = client.post("/v1/chat", json=body).json()
            assert called.wait(20)  # the abandoned call did reach the model (and hangs there)
            second = client.post("/v1/chat", json=body).json()
            rca = client.get(f"/v1/incidents/{incident['id']}/rca").json()
        finally:
            release.set()
    assert first["composer"] == "default (model failed: timed out)" and first["has_evidence"]
    assert second["composer"] == rca["composer"] == "default (model failed: timed out earlier, skipped)"
    assert len(calls) == 1  # the turns after the timeout did not wait on the model again
