"""The offline default composer: the same structured claims an LLM would propose, written from the detector
findings. It needs no model and is what on-call reads when none is configured, so it must read well."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from copilot._composer import EvidenceItem, Question
from guardrails import Claim, ClaimKind, Draft

# How many of the baseline runs a slowness claim cites: enough to show the habit, not the whole week.
_BASELINE_CITED = 3


def _hhmm(value: str | None) -> str:
    if not value:
        return "unknown"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "an unknown time"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _item_at(items: list[EvidenceItem], kind: str, time: str | None) -> EvidenceItem | None:
    return next((i for i in items if i.type == kind and time and i.time == time), None)


class TemplateComposer:
    """Claims from the incident's structured fields; every sentence names its evidence."""

    name = "default"

    def compose(self, question: Question) -> Draft:
        incident = question.incident
        if incident is None:
            return Draft()
        kind = incident["kind"]
        if kind == "contract":
            claims = _contract(incident)
        elif kind == "freshness":
            claims = _freshness(incident, list(question.evidence))
        else:
            claims = _drift(incident)
        if incident.get("impacted_downstream") and incident.get("evidence_ids"):
            datasets = incident["impacted_downstream"]
            claims.append(
                Claim(
                    kind=ClaimKind.IMPACT,
                    evidence_ids=[incident["evidence_ids"][0]],
                    params={"datasets": datasets},
                    text=f"Downstream datasets hit through lineage: {', '.join(datasets)}.",
                )
            )
        return Draft(claims=claims)


def _contract(incident: dict[str, Any]) -> list[Claim]:
    facts = incident["facts"]
    first_bad, last_good = facts.get("first_bad_evidence_id"), facts.get("last_good_evidence_id")
    reason, field = incident["reason_code"], incident.get("field")
    what = f"{reason} on '{field}'" if field else reason
    breaking = _breaking(incident)
    # Several producers write the dataset and more than one broke: say whose records broke first (issue 24).
    whose = f" from {incident['producer_urn']}" if len(breaking) > 1 and incident.get("producer_urn") else ""
    claims = [
        Claim(
            kind=ClaimKind.CONTRACT_BREAK,
            evidence_ids=[first_bad],
            params={"reason_code": reason, "field": field},
            text=f"Records of {incident['dataset_urn']}{whose} fail the contract with {what} since "
            f"{_hhmm(incident['first_bad_time'])} (first bad record {facts.get('first_bad_ref')}).",
        )
    ]
    if last_good:
        claims.append(
            Claim(
                kind=ClaimKind.LAST_GOOD,
                evidence_ids=[last_good],
                text=f"The last good record before the break was {facts.get('last_good_ref')} at "
                f"{_hhmm(incident['last_good_time'])}.",
            )
        )
    rate = incident.get("bad_rate")
    if rate:
        claims.append(
            Claim(
                kind=ClaimKind.RATE_SHIFT,
                evidence_ids=[first_bad],
                params={"before": rate["before"], "after": rate["after"]},
                text=f"The share of records failing with {what} went from {rate['before']:.0%} before "
                f"the boundary to {rate['after']:.0%} after it.",
            )
        )
    if len(breaking) < 2:
        return [*claims, *_deploy_claims(incident, "first bad record")]
    # Each producer's deploys before its own first bad record, citing that record: whose deploy, whose break.
    for producer in breaking:
        for deploy in incident.get("correlated_deploys") or []:
            if deploy.get("evidence_id") in producer["correlated_deploy_ids"]:
                claim = _deploy_claim(deploy, f"{_minutes(deploy.get('seconds_before_first_bad'))} before the first "
                                              f"bad record of {producer['producer_urn']} "
                                              f"({producer['first_bad_ref']})")
                claim.evidence_ids.append(producer["first_bad_evidence_id"])
                claims.append(claim)
    return claims


def _breaking(incident: dict[str, Any]) -> list[dict[str, Any]]:
    listed = (incident.get("facts") or {}).get("breaking_producers") or []
    return [p for p in listed if isinstance(p, dict) and p.get("producer_urn") and p.get("first_bad_evidence_id")]


def _deploy_claims(incident: dict[str, Any], boundary: str) -> list[Claim]:
    return [_deploy_claim(deploy, f"{_minutes(deploy.get('seconds_before_first_bad'))} before the {boundary}")
            for deploy in incident.get("correlated_deploys") or []]


def _deploy_claim(deploy: dict[str, Any], when: str) -> Claim:
    return Claim(kind=ClaimKind.DEPLOY_CORRELATED, evidence_ids=[deploy["evidence_id"]],
                 params={"version": deploy.get("version")},
                 text=f"{deploy.get('service')} {deploy.get('version')} was deployed at "
                      f"{_hhmm(deploy.get('time'))}, {when}.")


def _freshness(incident: dict[str, Any], items: list[EvidenceItem]) -> list[Claim]:
    facts, run = incident["facts"], incident.get("correlated_run") or {}
    dataset, reason = incident["dataset_urn"], incident["reason_code"]
    claims: list[Claim] = []
    last_commit = _item_at(items, "DatasetWriteCommitted", incident.get("last_good_time"))
    if last_commit:
        watermark = (
            f"its watermark is {incident['current_watermark']}, expected {incident['expected_watermark']}"
            if incident.get("expected_watermark")
            else "no commit landed since"
        )
        claims.append(
            Claim(
                kind=ClaimKind.FRESHNESS_BREACH,
                evidence_ids=[last_commit.evidence_id],
                params={
                    "current_watermark": incident.get("current_watermark"),
                    "expected_watermark": incident.get("expected_watermark"),
                },
                text=f"{dataset} missed its deadline of {_hhmm(incident['first_bad_time'])}: {watermark}.",
            )
        )
        claims.append(
            Claim(
                kind=ClaimKind.LAST_GOOD,
                evidence_ids=[last_commit.evidence_id],
                text=f"The last good commit was {last_commit.source_ref} at {_hhmm(incident['last_good_time'])}.",
            )
        )
    producer = facts.get("producer_urn") or incident.get("producer_urn")
    if reason == "JOB_NOT_TRIGGERED":
        habit = [
            i.evidence_id for i in items if i.type == "JobRunStarted" and i.evidence_id in incident["evidence_ids"]
        ]
        claims.append(
            Claim(
                kind=ClaimKind.JOB_NOT_TRIGGERED,
                evidence_ids=habit,
                text=f"No run of {producer} started after today's scheduled time "
                f"{_hhmm(facts.get('scheduled_time'))}, although it starts one every scheduled day "
                f"(most recently at {_hhmm(facts.get('previous_run_started_at'))}).",
            )
        )
    elif reason == "JOB_FAILED" and run.get("terminal_evidence_id"):
        failure = incident.get("failure_class") or "other"
        claims.append(
            Claim(
                kind=ClaimKind.JOB_FAILED,
                evidence_ids=[run["terminal_evidence_id"]],
                params={"failure_class": failure},
                text=f"Run {run.get('run_id')} failed ({failure.replace('_', ' ')}) at {_hhmm(run.get('ended_at'))}.",
            )
        )
    elif reason == "JOB_RUNNING_SLOW" and run.get("evidence_id"):
        claims.append(
            Claim(
                kind=ClaimKind.JOB_RUNNING,
                evidence_ids=[run["evidence_id"]],
                text=f"Run {run.get('run_id')} started at {_hhmm(run.get('started_at'))} and has "
                "neither completed nor failed.",
            )
        )
        baseline = (facts.get("baseline_evidence_ids") or [])[-_BASELINE_CITED:]
        if facts.get("baseline_duration_s") and baseline:
            claims.append(
                Claim(
                    kind=ClaimKind.JOB_SLOW,
                    evidence_ids=[run["evidence_id"], *baseline],
                    params={
                        "running_for_s": facts.get("running_for_s"),
                        "baseline_s": facts.get("baseline_duration_s"),
                    },
                    text=f"It has been running for {_minutes(facts.get('running_for_s'))} against a "
                    f"baseline of {_minutes(facts.get('baseline_duration_s'))}, the median of "
                    f"{facts.get('baseline_runs')} recent successful runs.",
                )
            )
    elif reason in ("WRONG_PARTITION", "PARTIAL_WRITE"):
        claims += _commit_claims(incident, items, reason)
    elif reason == "UPSTREAM_DATA_LATE":
        claims += _upstream_claims(incident, items)
    for deploy in incident.get("correlated_deploys") or []:
        cited = next((i for i in items if i.evidence_id == deploy.get("evidence_id")), None)
        if cited is not None and cited.type == "JobRunStarted":
            claims.append(
                Claim(
                    kind=ClaimKind.CODE_CHANGED,
                    evidence_ids=[deploy["evidence_id"]],
                    text=f"The job's code changed since the last good run: today's run uses "
                    f"{deploy.get('deploy_ref') or deploy.get('version')}.",
                )
            )
        else:
            claims.append(_deploy_claim(deploy, "after the last good run"))
    return claims


def _commit_claims(incident: dict[str, Any], items: list[EvidenceItem], reason: str) -> list[Claim]:
    run = incident.get("correlated_run") or {}
    scheduled = incident["facts"].get("scheduled_time") or ""
    commits = [
        i
        for i in items
        if i.type == "DatasetWriteCommitted" and i.evidence_id in incident["evidence_ids"] and i.time >= scheduled
    ]
    expected = incident.get("expected_watermark")
    if reason == "WRONG_PARTITION" and not commits and run.get("terminal_evidence_id"):
        return [
            Claim(
                kind=ClaimKind.WRONG_PARTITION,
                evidence_ids=[run["terminal_evidence_id"]],
                text=f"Run {run.get('run_id')} completed without committing {expected}.",
            )
        ]
    if not commits:
        return []
    ids = [c.evidence_id for c in commits]
    if reason == "WRONG_PARTITION":
        return [
            Claim(
                kind=ClaimKind.WRONG_PARTITION,
                evidence_ids=ids,
                text=f"Today's commit {commits[-1].source_ref} landed but did not write {expected}: check the "
                "partition date derivation and its time zone.",
            )
        ]
    facts = incident["facts"]
    return [
        Claim(
            kind=ClaimKind.PARTIAL_WRITE,
            evidence_ids=ids,
            params={"rows_written": facts.get("rows_written"), "baseline_rows": facts.get("baseline_rows")},
            text=f"Today's commit to {expected} wrote {facts.get('rows_written')} rows against a baseline of "
            f"{facts.get('baseline_rows')} rows.",
        )
    ]


def _upstream_claims(incident: dict[str, Any], items: list[EvidenceItem]) -> list[Claim]:
    facts, claims = incident["facts"], []
    present = {i.evidence_id for i in items}
    for late in facts.get("upstream_late") or []:
        ids = [i for i in (late.get("last_commit_evidence_id"), facts.get("inputs_named_by")) if i in present]
        if not ids:
            continue
        where = (
            f"its watermark is {late.get('current_watermark')}, expected {late.get('expected_watermark')}"
            if late.get("expected_watermark")
            else "it has not landed today"
        )
        claims.append(
            Claim(
                kind=ClaimKind.UPSTREAM_LATE,
                evidence_ids=ids,
                params={"dataset_urn": late.get("dataset_urn")},
                text=f"The job's input {late.get('dataset_urn')} is itself late: {where}.",
            )
        )
    return claims


def _drift(incident: dict[str, Any]) -> list[Claim]:
    facts = incident["facts"]
    if not incident.get("evidence_ids"):
        return []
    return [
        *_deploy_claims(incident, "first unmapped record"),
        Claim(
            kind=ClaimKind.SCHEMA_DRIFT,
            evidence_ids=incident["evidence_ids"][:1],
            text=f"Records on topic {facts.get('topic')} arrive with schema id {facts.get('schema_id')}, which "
            f"no approved rule maps to a dataset ({incident['reason_code']}); {facts.get('held_records')} "
            f"are held, unattributed, in change request {facts.get('change_request_id')}.",
        ),
    ]
