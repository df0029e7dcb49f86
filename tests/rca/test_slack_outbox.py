"""The Slack outbox (rca/_announce.py, evidence/_announcements.py) on the real app, on SQLite and PostgreSQL, with
a local fake Slack Web API: a new incident is posted once, survives a Slack outage, a 429 and a process that died
after its pass committed, is given up (and counted) past its bound, and an upgrade posts no backlog."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from detectors import run_detectors, store_incidents
from detectors._scenario import load_into, load_scenario
from evidence import Store, load_incidents, mark_false_positive, stored_announcements
from rca import Settings, create_app
from rca._announce import Announcer
from rca._slack import SlackBot, SlackSettings
from support import FakeSlack, FixedClock

SCENARIO = load_scenario(Path(__file__).resolve().parents[2] / "examples" / "scenarios"
                         / "spring_missing_customer_id.yaml")
CONSOLE = "http://console.test"
UNAVAILABLE = (503, {}, "service_unavailable")


@pytest.fixture
def story(store: Store) -> Store:
    load_into(store, SCENARIO)
    return store


@pytest.fixture
def story_clock() -> FixedClock:
    return FixedClock(SCENARIO.now)


@pytest.fixture
def serve(story: Store, story_clock: FixedClock, slack: FakeSlack, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., TestClient]]:
    """`rca serve` with the Slack bot configured (RCA_SLACK_* at the fake); each call is another process."""
    clients: list[TestClient] = []

    def make(**slack_settings: str) -> TestClient:
        for name, value in {"RCA_SLACK_SIGNING_SECRET": "secret", "RCA_SLACK_BOT_TOKEN": "xoxb-test",
                            "RCA_SLACK_API_URL": slack.url, "RCA_SLACK_CHANNEL": "C-ONCALL",
                            "RCA_CONSOLE_URL": CONSOLE, **slack_settings}.items():
            monkeypatch.setenv(name, value)
        settings = Settings(database_url="sqlite://", detect_interval_s=0, auth_disabled=True,
                            chroma_path=str(tmp_path / "chroma"))
        client = TestClient(create_app(settings, store=story, clock=story_clock))
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def counted(client: TestClient, outcome: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'rca_slack_announcements_total{{outcome="{outcome}"}}'):
            return float(line.split()[-1])
    return 0.0


def posted_ids(slack: FakeSlack) -> list[str]:
    return [m["text"].split(f"{CONSOLE}/incidents/")[1].split("|")[0] for _, m in slack.calls]


def _bot(store: Store, url: str, clock: Callable[[], datetime]) -> SlackBot:
    """The bot's posting half alone (no composer: it answers no questions here)."""
    return SlackBot(SlackSettings(bot_token="xoxb-test", api_url=url, channel="C-ONCALL"), store,
                    None, clock, console_url=CONSOLE)  # type: ignore[arg-type]


def test_slack_down_for_one_pass_posts_the_incident_exactly_once_on_the_next(
        serve: Callable[..., TestClient], slack: FakeSlack, story: Store, story_clock: FixedClock) -> None:
    client = serve()
    slack.failures.append(UNAVAILABLE)
    [opened] = client.post("/v1/detect").json()["opened"]
    assert slack.calls == [] and len(slack.refused) == 1
    [row] = stored_announcements(story)
    assert (row.incident_id, row.state, row.attempts) == (opened, "pending", 1)
    assert "503" in (row.last_error or "") and row.next_attempt_at == SCENARIO.now + timedelta(seconds=60)
    assert counted(client, "retried") == 1
    story_clock.advance(seconds=30)  # a pass inside the backoff does not post
    client.post("/v1/detect")
    assert slack.calls == []
    story_clock.advance(seconds=31)
    assert client.post("/v1/detect").json()["opened"] == []
    story_clock.advance(seconds=600)
    client.post("/v1/detect")
    assert posted_ids(slack) == [opened]  # exactly once
    [row] = stored_announcements(story)
    assert (row.state, row.attempts, row.sent_at) == ("sent", 2, SCENARIO.now + timedelta(seconds=61))
    assert counted(client, "sent") == 1


def test_a_429_is_not_retried_before_its_retry_after(serve: Callable[..., TestClient], slack: FakeSlack,
                                                    story: Store, story_clock: FixedClock) -> None:
    client = serve()
    slack.failures.append((429, {"Retry-After": "300"}, "ratelimited"))
    [opened] = client.post("/v1/detect").json()["opened"]
    [row] = stored_announcements(story)
    assert row.next_attempt_at == SCENARIO.now + timedelta(seconds=300)  # not the 60 s backoff
    for seconds in (61, 120, 299):  # passes after the backoff, before Retry-After
        story_clock.now = SCENARIO.now + timedelta(seconds=seconds)
        client.post("/v1/detect")
    assert len(slack.refused) == 1 and slack.calls == []
    story_clock.now = SCENARIO.now + timedelta(seconds=300)
    client.post("/v1/detect")
    assert posted_ids(slack) == [opened]


def test_a_process_that_dies_after_its_pass_committed_leaves_the_post_to_the_next_pass(
        serve: Callable[..., TestClient], slack: FakeSlack, story: Store, story_clock: FixedClock) -> None:
    client = serve()

    def killed(_: object) -> None:
        raise SystemExit("killed between the pass's commit and the post")

    metrics = client.app.state.metrics  # type: ignore[attr-defined]
    with pytest.raises(SystemExit):
        metrics.detector_pass(story_clock(), client.app.state.detect_settings, "api",  # type: ignore[attr-defined]
                              timedelta(0), killed)
    [incident] = load_incidents(story)
    assert slack.calls == [] and [r.state for r in stored_announcements(story)] == ["pending"]
    story_clock.advance(seconds=5)
    other = serve()  # another process (or this one restarted): its pass opens nothing and posts what was left
    assert other.post("/v1/detect").json()["opened"] == []
    assert posted_ids(slack) == [incident.id]


def test_an_upgrade_with_incidents_already_open_posts_nothing(serve: Callable[..., TestClient], slack: FakeSlack,
                                                              story: Store, story_clock: FixedClock) -> None:
    from alembic import command

    from evidence._migrate import alembic_config

    run_detectors(story, story_clock())  # a pass before the outbox existed: an incident, never announced
    config = alembic_config(story.engine)
    with story.engine.begin() as conn:  # back to the schema before 0012, then up again, as an upgrade does
        config.attributes["connection"] = conn
        command.downgrade(config, "0011")
        command.upgrade(config, "head")
    assert stored_announcements(story) == [] and len(load_incidents(story)) == 1
    client = serve()
    story_clock.advance(seconds=60)
    assert client.post("/v1/detect").json()["opened"] == []
    assert slack.calls == [] and slack.refused == []


def test_an_announcement_past_its_bound_is_given_up_counted_and_logged(
        serve: Callable[..., TestClient], slack: FakeSlack, story: Store, story_clock: FixedClock,
        caplog: pytest.LogCaptureFixture) -> None:
    client = serve(RCA_SLACK_ANNOUNCE_MAX_AGE_S="900")
    slack.failures.extend([UNAVAILABLE] * 10)
    [opened] = client.post("/v1/detect").json()["opened"]
    for _ in range(6):  # every minute for six: each due attempt fails
        story_clock.advance(seconds=60)
        client.post("/v1/detect")
    assert len(slack.refused) == 3  # at 0, 60 s, 180 s (backoff 60, 120, 240 s): not one a pass
    story_clock.now = SCENARIO.now + timedelta(seconds=901)
    slack.failures.clear()  # Slack is back, too late for this one
    with caplog.at_level(logging.WARNING, "rca.slack"):
        client.post("/v1/detect")
    assert slack.calls == []
    [row] = stored_announcements(story)
    assert (row.incident_id, row.state) == (opened, "given_up") and "RCA_SLACK_ANNOUNCE_MAX_AGE_S" in row.last_error
    assert counted(client, "given_up") == 1 and counted(client, "retried") == 3
    assert any("gave up announcing 1 incident" in r.getMessage() and opened in r.getMessage() for r in caplog.records)


def test_slack_configured_later_posts_only_incidents_within_the_bound(
        serve: Callable[..., TestClient], slack: FakeSlack, story: Store, story_clock: FixedClock) -> None:
    run_detectors(story, story_clock())  # `rca serve` without Slack: the incident waits in the outbox
    [old] = stored_announcements(story)
    story_clock.advance(hours=7)
    client = serve()  # the default bound: 6 h
    client.post("/v1/detect")
    assert slack.calls == []
    assert [(r.incident_id, r.state) for r in stored_announcements(story)] == [(old.incident_id, "given_up")]
    assert counted(client, "given_up") == 1


def test_resolved_before_the_announcement_is_posted_with_its_state_and_a_false_positive_is_skipped(
        story: Store, story_clock: FixedClock, slack: FakeSlack) -> None:
    [incident] = run_detectors(story, story_clock()).incidents
    other = incident.model_copy(update={"id": "inc_00000000000000ff", "dataset_urn": "ds://other"})
    store_incidents(story, [incident, other], story_clock())
    story_clock.advance(minutes=10)
    store_incidents(story, [other], story_clock())  # the first break is over before Slack heard of it
    mark_false_positive(story, other.id, "a test table", story_clock(), "oncall")
    bot = _bot(story, slack.url, story_clock)
    outcomes: dict[str, int] = {}
    announcer = Announcer(story, bot.post_incident, timedelta(hours=6),
                          lambda outcome, n: outcomes.update({outcome: outcomes.get(outcome, 0) + n}))
    assert announcer.deliver(story_clock()) == {"sent": 1, "skipped": 1} == outcomes
    [(_, message)] = slack.calls
    assert incident.id in message["text"] and "*Resolved* at" in message["text"]
    assert {r.incident_id: r.state for r in stored_announcements(story)} == {incident.id: "sent", other.id: "skipped"}
    assert announcer.deliver(story_clock()) == {}


def test_concurrent_deliveries_post_each_announcement_once(database_url: str, slack: FakeSlack) -> None:
    """PostgreSQL: two processes' stores and announcers on one database; SQLite (one process): its announcer on two
    threads at once, as the schedule's pass and POST /v1/detect's can be."""
    postgres = database_url.startswith("postgresql")
    with Store.open(database_url) as first, Store.open(database_url) as second:
        first.upgrade()
        load_into(first, SCENARIO)
        [incident] = run_detectors(first, SCENARIO.now).incidents
        copies = [incident.model_copy(update={"id": f"inc_{n:016x}", "dataset_urn": f"ds://copy_{n}"})
                  for n in range(24)]
        store_incidents(first, [incident, *copies], SCENARIO.now)
        slack.delay = 0.1  # posts overlap: both claim while the other holds rows
        start = threading.Barrier(2)
        outcomes: list[dict[str, int]] = []
        shared = Announcer(first, _bot(first, slack.url, lambda: SCENARIO.now).post_incident, timedelta(hours=6))

        def deliver(store: Store) -> None:
            announcer = Announcer(store, _bot(store, slack.url, lambda: SCENARIO.now).post_incident,
                                  timedelta(hours=6)) if postgres else shared
            start.wait()
            outcomes.append(announcer.deliver(SCENARIO.now))

        threads = [threading.Thread(target=deliver, args=(s,)) for s in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert sorted(posted_ids(slack)) == sorted([incident.id, *(c.id for c in copies)])  # each once
    assert sum(o.get("sent", 0) for o in outcomes) == 25
    if postgres:
        assert all(o.get("sent", 0) > 0 for o in outcomes), outcomes  # both shared the outbox

def test_an_unreachable_slack_is_retried_and_a_reopened_incident_announced_again(
        story: Store, story_clock: FixedClock, slack: FakeSlack) -> None:
    import socket

    with socket.socket() as closed:  # a port nothing listens on: connection refused
        closed.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{closed.getsockname()[1]}/api/"
    bot = _bot(story, down, story_clock)
    announcer = Announcer(story, bot.post_incident, timedelta(hours=6))
    [incident] = run_detectors(story, story_clock()).incidents
    assert announcer.deliver(story_clock()) == {"retried": 1}
    [row] = stored_announcements(story)
    assert row.state == "pending" and "could not be reached" in (row.last_error or "")
    bot.client.base_url = slack.url  # Slack is back
    story_clock.advance(seconds=60)
    assert announcer.deliver(story_clock()) == {"sent": 1}
    story_clock.advance(minutes=5)
    store_incidents(story, [], story_clock())  # resolved ...
    story_clock.advance(minutes=5)
    store_incidents(story, [incident], story_clock())  # ... and back: the same incident, reopened
    assert announcer.deliver(story_clock()) == {"sent": 1}
    assert posted_ids(slack) == [incident.id, incident.id]
    [row] = stored_announcements(story)
    assert (row.state, row.attempts, row.pending_since) == ("sent", 1, story_clock())
