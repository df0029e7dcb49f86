"""GET /v1/whoami and GET /v1/incidents/{id}/series, against figures counted from the scenario files themselves."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from detectors import load_scenario
from rca._demo import load_stories
from support import ROOT, bearer

SPRING = load_scenario(ROOT / "examples" / "scenarios" / "spring_missing_customer_id.yaml")
SLOW = load_scenario(ROOT / "examples" / "scenarios" / "spark_job_running_slow.yaml")


def test_whoami_names_the_token_and_refuses_an_unknown_one(make_client, tokens) -> None:
    client = make_client(auth=True)
    assert client.get("/v1/whoami", headers=bearer(tokens["reader"])).json() == {
        "name": "oncall", "role": "reader", "producers": [], "datasets": []}
    checkout = client.get("/v1/whoami", headers=bearer(tokens["checkout"])).json()
    assert (checkout["producers"], checkout["datasets"]) == (["svc://checkout-*"], ["ds://orders*"])
    refused = client.get("/v1/whoami", headers=bearer("rca_r_nope"))
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"


def test_bad_rate_per_minute_matches_the_records_sent(client, store) -> None:
    [incident] = load_stories(store, [SPRING]).incidents
    series = client.get(f"/v1/incidents/{incident.id}/series").json()
    assert (series["kind"], series["field"], series["first_bad_time"]) == ("bad_rate", "customer_id",
                                                                          "2026-03-10T10:21:04Z")
    # Counted here from the story's Kafka records, apart from the gate: records and missing customer_id per minute.
    total: Counter[str] = Counter()
    bad: Counter[str] = Counter()
    for message in SPRING.messages:
        minute = datetime.fromisoformat(message["timestamp"]).strftime("%Y-%m-%dT%H:%M:00Z")
        total[minute] += 1
        bad[minute] += "customer_id" not in message["value"]
    measured = {p["minute"]: (p["total"], p["bad"]) for p in series["minutes"] if p["total"]}
    in_window = {m for m in total if series["start"] <= m < series["end"]}
    assert measured == {m: (total[m], bad[m]) for m in in_window}
    assert all(p["rate"] is None for p in series["minutes"] if not p["total"])  # no records: not measured, not 0%
    assert [(d["version"], d["correlated"]) for d in series["deploys"]] == [("v2.8.1", True)]


def test_watermark_by_day_from_the_commits(client, store) -> None:
    [incident] = load_stories(store, [SLOW]).incidents
    series = client.get(f"/v1/incidents/{incident.id}/series").json()
    assert (series["kind"], series["timezone"], series["deadline"]) == ("watermark", "America/New_York", "02:10")
    landed = {d["day"]: d["watermark"] for d in series["days"] if d["watermark"]}
    commits = [e for e in SLOW.events if e["type"] == "DatasetWriteCommitted"]
    assert landed == {e["time"][:10]: e["data"]["output_partitions_written"][0] for e in commits}
    assert series["days"][-1] == {"day": "2026-01-19", "watermark": None, "landed_at": None, "evidence_id": None}
    assert len(series["days"]) == 14
    assert client.get("/v1/incidents/inc_nope/series").status_code == 404
