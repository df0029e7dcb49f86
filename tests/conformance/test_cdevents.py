"""The CDEvents spec's conformance folder (spec main, 0.6.0-draft, and the v0.4.1 release), every file sent to
/v1/events: each event's outcome is asserted, then the folder's shared identities are checked as the spec defines
identity, (context.source, context.id)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conformance._payloads import load

from evidence import evidence_id_for
from evidence._ingest import to_record
from support import CONFORMANCE

FOLDERS = ("main", "v0.4.1")
SVC, PIPE, TASK, CD, TICKETS = "svc://myapp", "job://myPipeline", "job://myTask", "cdevents://event/source/123", \
    "cdevents://ticketing/system"

# file -> (envelope type, source, what it says): the status of a deployment, the outcome of a run, the CDEvents type
# (without its version) of a kept event. Written by hand from the spec's own descriptions of each event.
EXPECTED: dict[str, tuple[str, str, str]] = {
    "service_deployed": ("DeploymentEvent", SVC, "succeeded"),
    "service_upgraded": ("DeploymentEvent", SVC, "succeeded"),
    "service_rolledback": ("DeploymentEvent", SVC, "rolled_back"),
    # service.removed names no artifact: the subject id is the service
    "service_removed": ("DeploymentEvent", "svc://mySubject123", "removed"),
    "pipelinerun_started": ("JobRunStarted", PIPE, "mySubject123"),
    "pipelinerun_finished": ("JobRunFailed", PIPE, "failure"),
    "taskrun_started": ("JobRunStarted", TASK, "mySubject123"),
    "taskrun_finished": ("JobRunFailed", TASK, "failure"),
    # builds, incidents about an artifact or a service speak for that service
    "build_finished": ("ExternalEvent", SVC, "dev.cdevents.build.finished"),
    "incident_detected": ("ExternalEvent", SVC, "dev.cdevents.incident.detected"),
    "incident_reported": ("ExternalEvent", SVC, "dev.cdevents.incident.reported"),
    "incident_resolved": ("ExternalEvent", SVC, "dev.cdevents.incident.resolved"),
    "change_merged": ("ExternalEvent", CD, "dev.cdevents.change.merged"),
    **{name: ("ExternalEvent", CD, "dev.cdevents." + name.replace("_", ".")) for name in (
        "approval_closed", "approval_created", "approval_updated", "artifact_deleted", "artifact_downloaded",
        "artifact_packaged", "artifact_published", "artifact_signed", "branch_created", "branch_deleted",
        "build_queued", "build_started", "change_abandoned", "change_created", "change_reviewed", "change_updated",
        "environment_created", "environment_deleted", "environment_modified", "pipelinerun_queued",
        "repository_created", "repository_deleted", "repository_modified", "service_published",
        "testcaserun_finished", "testcaserun_queued", "testcaserun_skipped", "testcaserun_started",
        "testoutput_published", "testsuiterun_finished", "testsuiterun_queued", "testsuiterun_started")},
    **{name: ("ExternalEvent", TICKETS, "dev.cdevents." + name.replace("_", "."))
       for name in ("ticket_closed", "ticket_created", "ticket_updated")},
}
ABSENT_FROM_0_4_1 = {"approval_closed", "approval_created", "approval_updated"}  # added after the v0.4.1 release


def files(folder: str) -> list[Path]:
    return sorted((CONFORMANCE / "cdevents" / folder).glob("*.json"))


def test_every_file_of_both_folders_has_an_expected_outcome() -> None:
    assert sorted(p.stem for p in files("main")) == sorted(EXPECTED)
    assert sorted(p.stem for p in files("v0.4.1")) == sorted(set(EXPECTED) - ABSENT_FROM_0_4_1)
    assert len(files("main")) == 48


@pytest.mark.parametrize("folder", FOLDERS)
def test_each_conformance_event_is_stored_as_expected(make_client, folder: str) -> None:
    client = make_client()
    for path in files(folder):
        kind, source, says = EXPECTED[path.stem]
        raw = load(f"cdevents/{folder}/{path.name}")
        context = raw["context"]
        response = client.post("/v1/events", json=raw)
        # The folder reuses one (source, id) for most of its files: the first is stored, the others are conflicts,
        # because CDEvents' identity is (context.source, context.id). The mapping is asserted either way.
        assert response.status_code in (200, 409), (path.name, response.text)
        [result] = response.json()["results"]
        assert result["evidence_id"] == evidence_id_for(f"cdevents:{context['source']}", context["id"]), path.name
        record = to_record(raw, None)
        assert (record.type, record.source) == (kind, source), path.name
        detail = {"DeploymentEvent": record.data.get("status"), "JobRunStarted": record.run_id,
                  "JobRunFailed": record.data.get("outcome")}.get(kind, record.data.get("kind"))
        assert str(detail).startswith(says), (path.name, detail)
        assert record.payload["original"] == raw  # the CDEvent as sent, beside the mapping


@pytest.mark.parametrize("folder", FOLDERS)
def test_the_folder_as_one_batch_is_keyed_on_context_source_and_id(client, folder: str) -> None:
    raws = [load(f"cdevents/{folder}/{p.name}") for p in files(folder)]
    response = client.post("/v1/events", json=raws)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    seen: set[tuple[str, str]] = set()
    for raw, result in zip(raws, results, strict=True):
        identity = (raw["context"]["source"], raw["context"]["id"])
        assert result["status"] == ("conflict" if identity in seen else "accepted"), (identity, result)
        if result["status"] == "conflict":
            assert result["field"] == "id"
        seen.add(identity)
    assert response.json()["rejected"] == 0
    # two identities in each folder: /event/source/123 (or /monitoring/prod1 for incidents) and /ticketing/system
    assert response.json()["accepted"] == len(seen)
    stored = client.get("/v1/evidence", params={"limit": 1000}).json()["items"]
    assert len(stored) == len(seen)


def test_the_same_id_from_two_sources_is_two_events(client) -> None:
    raw = load("cdevents/main/service_deployed.json")
    other = {**raw, "context": {**raw["context"], "source": "/another/cd-system"}}
    results = client.post("/v1/events", json=[raw, other]).json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted"]
