"""The kill switch: GET /v1/control/{producer}, obeyed within one poll, last state kept when unreachable."""

from __future__ import annotations

import time
import urllib.parse

from autopilot._control import control_url
from autopilot.testing import FakeTransport, TransportError


def wait_until(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def control_gets(fake):
    return sum(1 for r in fake.requests if r.method == "GET")


def test_the_producer_is_one_percent_encoded_path_segment():
    assert control_url("https://rca", "svc://checkout-service") == "https://rca/v1/control/svc%3A%2F%2Fcheckout-service"


def test_a_killed_producer_stops_sending_and_counts_kills(make_client):
    fake = FakeTransport()
    fake.set_control(killed=True)
    client = make_client(transport=fake)
    assert wait_until(lambda: client.stats()["control"]["killed"])
    assert client.emit("JobRunStarted", {"run_id": "r"}) is False
    assert client.signals_dropped()["killed"] == 1
    assert fake.posts == []
    assert client.kafka_headers() == []


def test_disabled_by_the_control_plane_is_obeyed_like_a_kill(make_client):
    fake = FakeTransport()
    fake.set_control(enabled=False)
    client = make_client(transport=fake)
    assert wait_until(lambda: not client.stats()["control"]["enabled"])
    assert client.emit("JobRunStarted", {"run_id": "r"}) is False


def test_a_kill_applies_at_the_first_poll_after_it_is_set_and_a_revival_too(make_client):
    fake = FakeTransport()
    client = make_client(transport=fake, control_poll_interval=0.1)
    assert wait_until(lambda: control_gets(fake) >= 1)
    assert client.emit("JobRunStarted", {"run_id": "before"})
    fake.set_control(killed=True)
    polls_when_killed = control_gets(fake)
    assert wait_until(lambda: client.emit("JobRunStarted", {"run_id": "probe"}) is False)
    # Obeyed by the very next poll: within one poll interval.
    assert control_gets(fake) <= polls_when_killed + 2
    fake.set_control(killed=False)
    assert wait_until(lambda: client.emit("JobRunStarted", {"run_id": "after"}))
    assert client.flush(2.0)
    runs = [e["data"]["run_id"] for e in fake.events]
    assert "before" in runs and "after" in runs


def test_events_queued_before_a_kill_are_not_sent_after_it(make_client):
    fake = FakeTransport()
    client = make_client(transport=fake, flush_interval=60.0, control_poll_interval=0.05)
    assert wait_until(lambda: control_gets(fake) >= 1)
    client.emit("JobRunStarted", {"run_id": "queued"})
    fake.set_control(killed=True)
    assert wait_until(lambda: client.stats()["control"]["killed"])
    client.flush(1.0)
    assert fake.events == [] and client.signals_dropped()["killed"] == 1


def test_an_unreachable_control_plane_keeps_the_last_known_state(make_client):
    reachable = {"yes": True}

    def sometimes(request):
        if request.method == "GET" and not reachable["yes"]:
            raise TransportError("connect", "refused")
        return None

    fake = FakeTransport(sometimes)
    fake.set_control(killed=True)
    client = make_client(transport=fake, control_poll_interval=0.05)
    assert wait_until(lambda: client.stats()["control"]["killed"])
    reachable["yes"] = False
    fake.set_control(killed=False)  # the revival cannot be seen while unreachable
    polls = control_gets(fake)
    assert wait_until(lambda: control_gets(fake) >= polls + 3)
    assert client.stats()["control"]["killed"] is True


def test_no_entry_means_run_with_defaults(make_client):
    fake = FakeTransport()  # answers 404 to the control GET
    client = make_client(transport=fake)
    assert wait_until(lambda: control_gets(fake) >= 1)
    assert client.emit("JobRunStarted", {"run_id": "r"})
    assert client.flush(2.0) and len(fake.events) == 1


def test_the_real_endpoint_is_polled_with_the_token(make_client, backend):
    backend.control["svc://checkout-service"] = {"enabled": True, "killed": True}
    client = make_client(backend.url, token="tok", env="eu west")
    assert wait_until(lambda: client.stats()["control"] == {
        "enabled": True, "killed": True, "ring": 0, "domain": None, "source": "control-plane",
    })
    assert client.emit("JobRunStarted", {"run_id": "r"}) is False
    backend.control["svc://checkout-service"] = {"enabled": True, "killed": False}
    assert wait_until(lambda: client.emit("JobRunStarted", {"run_id": "r"}))
    assert client.flush(2.0) and backend.events[-1]["data"]["run_id"] == "r"
    assert set(backend.control_queries) == {"env=eu%20west"}  # a server that ignores env answers the producer switch


def test_the_environment_is_one_percent_encoded_query_parameter():
    assert control_url("https://rca", "svc://a", "staging") == "https://rca/v1/control/svc%3A%2F%2Fa?env=staging"
    assert control_url("https://rca", "svc://a", "eu west/1") == "https://rca/v1/control/svc%3A%2F%2Fa?env=eu%20west%2F1"
    assert control_url("https://rca", "svc://a", None) == "https://rca/v1/control/svc%3A%2F%2Fa"


def control_queries(fake):
    return [urllib.parse.parse_qs(urllib.parse.urlsplit(r.url).query) for r in fake.requests if r.method == "GET"]


def test_the_control_request_names_the_sdks_environment_when_it_has_one(make_client):
    named, unnamed = FakeTransport(), FakeTransport()
    make_client(transport=named, env="staging")
    make_client(transport=unnamed, env=None)
    assert wait_until(lambda: control_gets(named) >= 1 and control_gets(unnamed) >= 1)
    assert control_queries(named)[0] == {"env": ["staging"]}
    assert control_queries(unnamed)[0] == {}


def test_a_flag_off_in_this_environment_stops_emission_and_on_in_another_does_not(make_client):
    flags = {"staging": True, "prod": False}  # a ring promoted to staging, not yet to prod
    staging, prod = FakeTransport(), FakeTransport()
    staging.set_control(environments=flags)
    prod.set_control(environments=flags)
    in_staging = make_client(transport=staging, env="staging")
    in_prod = make_client(transport=prod, env="prod")
    assert wait_until(lambda: in_staging.stats()["control"]["source"] == "control-plane")
    assert wait_until(lambda: in_prod.stats()["control"]["source"] == "control-plane")
    assert in_prod.stats()["control"]["enabled"] is False
    assert in_prod.emit("JobRunStarted", {"run_id": "prod"}) is False
    assert in_prod.signals_dropped()["killed"] == 1 and in_prod.flush(1.0) and prod.posts == []
    assert in_staging.emit("JobRunStarted", {"run_id": "staging"})
    assert in_staging.flush(2.0) and [e["data"]["run_id"] for e in staging.events] == ["staging"]
