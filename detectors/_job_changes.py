"""The changes of a job before a freshness breach: its producer's deploys, and runs on new code (a code_ref that
changed), one entry per change, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from detectors._deploys import shipped
from detectors._runs import Run
from evidence import CorrelatedDeploy, EventType, EvidenceRecord


def job_changes(evidence: list[EvidenceRecord], runs: list[Run], producer: str, good_run: Run | None,
                since: datetime, until: datetime) -> list[CorrelatedDeploy]:
    """The job's own changes in (since, until]: after the last good run began and before the run in question
    started (or the deadline).

    A deploy during the last good run still counts (that run had already loaded its code); one after
    the run in question started, or after the deadline, cannot have caused it. What counts as a change is
    what contract correlation counts (`shipped`): a failed deploy shipped nothing, a rollback shipped older code.
    Other producers' deploys are never correlated.
    """
    changes: list[dict[str, Any]] = []
    deployed: dict[str, EvidenceRecord] = {}
    # Restarts and replicas of a version CI (or an earlier start-up) reported fold away first.
    for record in shipped(r for r in evidence if r.type == EventType.DEPLOYMENT and r.producer_urn == producer):
        if since < record.event_time <= until:
            deployed[record.evidence_id] = record
            changes.append({
                "service": record.data.get("service"),
                "version": record.data.get("version"),
                "deploy_ref": record.deploy_ref,
                "evidence_id": record.evidence_id,
                "time": record.event_time,
            })
    before = [run for run in runs if run.start <= since and run.code_ref is not None]
    base = good_run.code_ref if good_run is not None and good_run.code_ref else (
        before[-1].code_ref if before else None)
    if base is not None:
        # A run on new code: the job changed. With a deploy of that code it is the same change, listed once
        # as the deploy (the stronger evidence) with the run's code_ref cited beside it; without one it is
        # a change of its own (Team A's pack may carry deploy_ref only in JobRunStarted.code_ref).
        for run in runs:
            if since < run.start <= until and run.code_ref not in (None, base) and run.started is not None:
                same = next((c for c in changes if same_change(run.code_ref, deployed[c["evidence_id"]])), None)
                if same is not None:
                    same.update(code_ref=run.code_ref, code_ref_evidence_id=run.started.evidence_id)
                else:
                    changes.append({
                        "service": _service(producer),
                        "version": run.code_ref,
                        "deploy_ref": run.code_ref,
                        "evidence_id": run.started.evidence_id,
                        "time": run.start,
                    })
                break
    ranked = sorted(changes, key=lambda c: (c["time"], c["evidence_id"]), reverse=True)
    return [CorrelatedDeploy(**change) for change in ranked]


def same_change(code_ref: str | None, deploy: EvidenceRecord) -> bool:
    """Whether a run's code_ref names the code a deploy shipped: its deploy_ref or version as written, or its
    commit (`slug@4f2a9c1` is the deploy of commit 4f2a9c1, whatever its deploy_ref says; short and full hashes
    of one commit match)."""
    if not code_ref:
        return False
    data = deploy.data
    if code_ref in (deploy.deploy_ref, data.get("version")):
        return True
    commit = code_ref.rpartition("@")[2]
    named = {str(data["commit"])} if data.get("commit") else set()
    if deploy.deploy_ref:
        named.add(deploy.deploy_ref.rpartition("@")[2])
        if "+" in deploy.deploy_ref:
            named.add(deploy.deploy_ref.rpartition("+")[2])  # semver build metadata: service@v3.2.0+<commit>
    return any(_same_commit(commit, other) for other in named)


def _same_commit(one: str, other: str) -> bool:
    if one == other:
        return True
    short, full = sorted((one.lower(), other.lower()), key=len)
    return len(short) >= 7 and all(c in "0123456789abcdef" for c in full) and full.startswith(short)


def _service(producer: str) -> str:
    """job://orders_enriched_batch -> orders_enriched_batch."""
    return producer.split("://", 1)[-1]
