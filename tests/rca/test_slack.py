"""The Slack bot on the real FastAPI app: signed requests answered in threads at a fake Slack Web API, badly
signed ones refused with 401 before any work, and new incidents posted with a link to the console."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from detectors import stored_incidents
from evidence._store import Store
from rca import Settings, create_app
from rca._demo import load_demo
from support import FakeSlack

SECRET = "test-signing-secret"
CONSOLE = "http://console.test"
DEMO_NOW = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)


@pytest.fixture
def demo_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'rca.db'}")
    load_demo(store)
    yield store
    store.engine.dispose()


@pytest.fixture
def client(slack: FakeSlack, demo_store: Store, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for name, value in {"RCA_SLACK_SIGNING_SECRET": SECRET, "RCA_SLACK_BOT_TOKEN": "xoxb-test",
                        "RCA_SLACK_API_URL": slack.url, "RCA_SLACK_CHANNEL": "C-ONCALL",
                        "RCA_CONSOLE_URL": CONSOLE}.items():
        monkeypatch.setenv(name, value)
    settings = Settings(database_url="sqlite://", detect_interval_s=0, chroma_path=str(tmp_path / "chroma"))
    app = create_app(settings, store=demo_store, clock=lambda: DEMO_NOW)
    with TestClient(app) as client:
        yield client


def signed(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": str(timestamp), "x-slack-signature": f"v0={digest}"}


def mention(text: str = "<@U0RCA> why is orders_enriched stale?") -> str:
    return json.dumps({"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": "Ev1", "event_time": int(time.time()),
                       "event": {"type": "app_mention", "user": "U1", "text": text, "ts": "1700000000.000100",
                                 "channel": "C-INCIDENTS", "event_ts": "1700000000.000100"}})


def command(text: str = "why is orders_enriched stale?") -> str:
    return urlencode({"token": "legacy", "team_id": "T1", "channel_id": "C-INCIDENTS", "user_id": "U1",
                      "command": "/rca", "text": text, "response_url": "http://127.0.0.1:9/unused",
                      "trigger_id": "t1", "api_app_id": "A1"})


JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_a_signed_mention_is_answered_in_its_thread_with_linked_citations(client: TestClient,
                                                                          slack: FakeSlack) -> None:
    body = mention()
    response = client.post("/slack/events", content=body, headers={**JSON, **signed(body)})
    assert response.status_code == 200
    [(method, message)] = slack.wait_for(1)
    assert method == "chat.postMessage"
    assert (message["channel"], message["thread_ts"]) == ("C-INCIDENTS", "1700000000.000100")
    assert "running for 75 min" in message["text"]
    assert f"<{CONSOLE}/evidence/ev_" in message["text"] and f"<{CONSOLE}/incidents/inc_" in message["text"]


def test_a_signed_slash_command_answers_in_the_thread_of_the_question(client: TestClient, slack: FakeSlack) -> None:
    body = command()
    response = client.post("/slack/events", content=body, headers={**FORM, **signed(body)})
    assert response.status_code == 200
    question, answer = slack.wait_for(2)
    assert question[0] == answer[0] == "chat.postMessage"
    assert question[1]["text"] == "<@U1> asked: why is orders_enriched stale?"
    assert answer[1]["thread_ts"] == "1700000000.000001" and answer[1]["channel"] == "C-INCIDENTS"
    assert "JOB_RUNNING_SLOW" in answer[1]["text"] or "running for 75 min" in answer[1]["text"]
    assert f"<{CONSOLE}/evidence/ev_" in answer[1]["text"]


@pytest.mark.parametrize("kind", ["event", "command"])
@pytest.mark.parametrize("headers", ["missing", "wrong", "old", "other secret"])
def test_badly_signed_requests_get_401_and_no_work_is_done(client: TestClient, slack: FakeSlack,
                                                           monkeypatch: pytest.MonkeyPatch, kind: str,
                                                           headers: str) -> None:
    asked: list[str] = []
    import rca._slack

    real_ask = rca._slack.ask
    monkeypatch.setattr(rca._slack, "ask", lambda *a, **k: asked.append(a[2]) or real_ask(*a, **k))
    body, content_type = (mention(), JSON) if kind == "event" else (command(), FORM)
    signature = {
        "missing": {},
        "wrong": {**signed(body), "x-slack-signature": "v0=" + "0" * 64},
        "old": signed(body, int(time.time()) - 6 * 60),
        "other secret": signed(body, secret="not-the-secret"),
    }[headers]
    response = client.post("/slack/events", content=body, headers={**content_type, **signature})
    assert response.status_code == 401
    _finish_listeners(client)
    assert (slack.calls, slack.identity_checks, asked) == ([], 0, [])


def _finish_listeners(client: TestClient) -> None:
    """Wait for every listener Bolt started in the background (it runs them on its executor after the ack)."""
    client.app.state.slack.app.listener_runner.listener_executor.shutdown(wait=True)  # type: ignore[attr-defined]


def test_new_incidents_are_posted_to_the_channel_with_a_link(client: TestClient, slack: FakeSlack,
                                                             demo_store: Store) -> None:
    incidents = stored_incidents(demo_store)
    assert len(incidents) == 2
    for incident in incidents:
        client.app.state.slack.post_incident(incident)  # type: ignore[attr-defined]
    posted = {m["text"] for _, m in slack.wait_for(2)}
    assert {m["channel"] for _, m in slack.calls} == {"C-ONCALL"}
    for incident in incidents:
        [text] = [t for t in posted if incident["dataset_urn"] in t]
        assert incident["reason_code"] in text and f"<{CONSOLE}/incidents/{incident['id']}|" in text


def test_without_a_signing_secret_there_is_no_slack_endpoint(demo_store: Store, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RCA_SLACK_SIGNING_SECRET", raising=False)
    app = create_app(Settings(database_url="sqlite://", detect_interval_s=0, chroma_path=str(tmp_path / "c")),
                     store=demo_store)
    with TestClient(app) as client:
        assert client.post("/slack/events", content=mention(), headers=JSON).status_code in (404, 405)


def test_socket_mode_needs_an_app_level_token(demo_store: Store, tmp_path: Path) -> None:
    from rca._slack import SlackSettings, run_socket_mode

    app = create_app(Settings(database_url="sqlite://", detect_interval_s=0, chroma_path=str(tmp_path / "c")),
                     store=demo_store)
    with pytest.raises(SystemExit, match="RCA_SLACK_APP_TOKEN"):
        run_socket_mode(app, SlackSettings(signing_secret=SECRET, bot_token="xoxb-test", app_token=""))


def test_a_detector_pass_that_opens_incidents_posts_them(slack: FakeSlack, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from detectors._scenario import load_into, load_scenario

    for name, value in {"RCA_SLACK_SIGNING_SECRET": SECRET, "RCA_SLACK_BOT_TOKEN": "xoxb-test",
                        "RCA_SLACK_API_URL": slack.url, "RCA_SLACK_CHANNEL": "C-ONCALL",
                        "RCA_CONSOLE_URL": CONSOLE}.items():
        monkeypatch.setenv(name, value)
    scenario = load_scenario(Path(__file__).resolve().parents[1].parent / "examples" / "scenarios"
                             / "spring_missing_customer_id.yaml")
    with Store.open(f"sqlite:///{tmp_path / 'fresh.db'}") as store:
        store.ensure_schema()
        load_into(store, scenario)
        settings = Settings(database_url="sqlite://", detect_interval_s=0, chroma_path=str(tmp_path / "chroma"),
                            auth_disabled=True)
        with TestClient(create_app(settings, store=store, clock=lambda: scenario.now)) as client:
            opened = client.post("/v1/detect").json()["opened"]
            assert len(opened) == 1
            [(_, message)] = slack.wait_for(1)
            assert message["channel"] == "C-ONCALL" and f"/incidents/{opened[0]}|" in message["text"]
            # POST /v1/detect announces before it answers: nothing new, nothing posted again
            assert client.post("/v1/detect").json()["opened"] == []
            assert len(slack.calls) == 1


# -- a hostile model, and hostile text in questions ---------------------------------------------------------------

LLM = "http://llm.test/v1"


@pytest.fixture
def hostile_client(slack: FakeSlack, demo_store: Store, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The Slack app answering with a model that scripts hostile claims (the first bad record of the Spring story,
    under sentences that say something else)."""
    import httpx
    import respx

    from copilot import GuardedComposer, ModelGuard
    from copilot._langchain import openai_compatible
    from evidence import evidence_id_for

    for name, value in {"RCA_SLACK_SIGNING_SECRET": SECRET, "RCA_SLACK_BOT_TOKEN": "xoxb-test",
                        "RCA_SLACK_API_URL": slack.url, "RCA_CONSOLE_URL": CONSOLE}.items():
        monkeypatch.setenv(name, value)
    first_bad = evidence_id_for("kafka://orders.created", "orders.created/0/5191")
    draft = {"claims": [
        {"text": "It is sunny and 21 degrees.", "kind": "contract_break", "evidence_ids": [first_bad], "params": []},
        {"text": "customer_id is gone <!channel> see <https://evil.example|runbook>\nnext check: page the CEO",
         "kind": "contract_break", "evidence_ids": [first_bad], "params": []}]}
    body = {"id": "c1", "object": "chat.completion", "created": 1, "model": "hostile-7b",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(draft), "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    settings = Settings(database_url="sqlite://", detect_interval_s=0, chroma_path=str(tmp_path / "chroma"))
    composer = GuardedComposer(openai_compatible(LLM, "hostile-7b", "k"), ModelGuard(), chat_timeout_s=10)
    with respx.mock(base_url=LLM, assert_all_called=False) as router:
        router.post("/chat/completions").mock(return_value=httpx.Response(200, json=body))
        app = create_app(settings, store=demo_store, clock=lambda: DEMO_NOW, composer=composer)
        with TestClient(app) as client:
            yield client


def test_a_question_beyond_the_evidence_gets_no_evidence_in_slack(hostile_client: TestClient,
                                                                  slack: FakeSlack) -> None:
    body = mention("<@U0RCA> what is the weather in Berlin for orders_v1?")
    assert hostile_client.post("/slack/events", content=body, headers={**JSON, **signed(body)}).status_code == 200
    [(_, message)] = slack.wait_for(1)
    assert message["text"].startswith("I have no evidence for that.")
    assert "sunny" not in message["text"] and "*Next checks:*" in message["text"]


def test_slack_shows_only_the_products_sentences_and_inert_question_text(hostile_client: TestClient,
                                                                         slack: FakeSlack) -> None:
    body = command("why is orders_v1 broken?\n*next check:* <!channel> <https://evil.example|runbook> \u202eok")
    assert hostile_client.post("/slack/events", content=body, headers={**FORM, **signed(body)}).status_code == 200
    question, answer = slack.wait_for(2)
    echoed = question[1]["text"]
    assert echoed == ("<@U1> asked: why is orders_v1 broken?\\n*next check:* &lt;!channel&gt; "
                      "&lt;https://evil.example|runbook&gt; \\u202eok")
    text = answer[1]["text"]
    assert text.startswith("Records of ds://orders_v1 fail the contract with REQUIRED_FIELD_MISSING on 'customer_id' "
                           "since 2026-03-10 10:21:04 UTC")
    assert not any(bad in text for bad in ("sunny", "<!channel>", "evil.example", "page the CEO"))
    assert [line for line in text.splitlines() if line.startswith("next check")] == []
