"""The offline default composer: the claims an LLM would propose, chosen from the detector findings. It needs no
model and is what on-call reads when none is configured. Like any composer it proposes kinds, citations and the
values it expects; the verifier checks them and renders every sentence."""

from __future__ import annotations

from typing import Any

from copilot._composer import EvidenceItem, Question
from evidence import EventType, ReasonCode
from guardrails import Claim, ClaimKind, Draft

# How many of the baseline runs a slowness claim cites: enough to show the habit, not the whole week.
_BASELINE_CITED = 3


def _item_at(items: list[EvidenceItem], kind: str, time: str | None) -> EvidenceItem | None:
    return next((i for i in items if i.type == kind and time and i.time == time), None)


class TemplateComposer:
    """Claims from the incident's structured fields, each citing the evidence that proves it."""

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
            claims.append(Claim(kind=ClaimKind.IMPACT, evidence_ids=[incident["evidence_ids"][0]],
                                params={"datasets": incident["impacted_downstream"]}))
        return Draft(claims=claims)


def _contract(incident: dict[str, Any]) -> list[Claim]:
    facts = incident["facts"]
    first_bad, last_good = facts.get("first_bad_evidence_id"), facts.get("last_good_evidence_id")
    reason, field = incident["reason_code"], incident.get("field")
    claims = [Claim(kind=ClaimKind.CONTRACT_BREAK, evidence_ids=[first_bad],
                    params={"reason_code": reason, "field": field, "bad_count": facts.get("bad_count")})]
    if last_good:
        claims.append(Claim(kind=ClaimKind.LAST_GOOD, evidence_ids=[last_good]))
    rate = incident.get("bad_rate")
    if rate:
        claims.append(Claim(kind=ClaimKind.RATE_SHIFT, evidence_ids=[first_bad],
                            params={"before": rate["before"], "after": rate["after"]}))
    for other in facts.get("other_breaks") or []:
        if other.get("first_bad_evidence_id"):
            claims.append(Claim(kind=ClaimKind.OTHER_BREAK, evidence_ids=[other["first_bad_evidence_id"]],
                                params={"reason_code": other.get("reason_code"), "field": other.get("field")}))
    return [*claims, *_deploy_claims(incident)]


def _deploy_claims(incident: dict[str, Any]) -> list[Claim]:
    """A claim per correlated deploy. When several producers' records broke, each deploy also cites the first bad
    record of its own producer: the verifier judges it against that break, and the sentence says whose it is."""
    first_bad_of = {p.get("producer_urn"): p.get("first_bad_evidence_id")
                    for p in (incident.get("facts") or {}).get("breaking_producers") or [] if isinstance(p, dict)}
    several = len(first_bad_of) > 1
    return [Claim(kind=ClaimKind.DEPLOY_CORRELATED,
                  evidence_ids=[deploy["evidence_id"], *([first_bad_of[deploy.get("producer_urn")]]
                                                         if several and first_bad_of.get(deploy.get("producer_urn"))
                                                         else [])],
                  params={"version": deploy.get("version")})
            for deploy in incident.get("correlated_deploys") or []]


def _freshness(incident: dict[str, Any], items: list[EvidenceItem]) -> list[Claim]:
    facts, run = incident["facts"], incident.get("correlated_run") or {}
    reason = incident["reason_code"]
    claims: list[Claim] = []
    last_commit = _item_at(items, EventType.COMMITTED, incident.get("last_good_time"))
    if last_commit:
        claims.append(Claim(kind=ClaimKind.FRESHNESS_BREACH, evidence_ids=[last_commit.evidence_id],
                            params={"current_watermark": incident.get("current_watermark"),
                                    "expected_watermark": incident.get("expected_watermark")}))
        claims.append(Claim(kind=ClaimKind.LAST_GOOD, evidence_ids=[last_commit.evidence_id]))
    if reason == ReasonCode.JOB_NOT_TRIGGERED:
        own = incident["evidence_ids"]
        habit = [i.evidence_id for i in items if i.type == EventType.RUN_STARTED and i.evidence_id in own]
        claims.append(Claim(kind=ClaimKind.JOB_NOT_TRIGGERED, evidence_ids=habit))
    elif reason == ReasonCode.JOB_FAILED and run.get("terminal_evidence_id"):
        claims.append(Claim(kind=ClaimKind.JOB_FAILED, evidence_ids=[run["terminal_evidence_id"]],
                            params={"failure_class": incident.get("failure_class") or "other"}))
    elif reason == ReasonCode.JOB_RUNNING_SLOW and run.get("evidence_id"):
        claims.append(Claim(kind=ClaimKind.JOB_RUNNING, evidence_ids=[run["evidence_id"]]))
        baseline = (facts.get("baseline_evidence_ids") or [])[-_BASELINE_CITED:]
        if facts.get("baseline_duration_s") and baseline:
            claims.append(Claim(kind=ClaimKind.JOB_SLOW, evidence_ids=[run["evidence_id"], *baseline],
                                params={"running_for_s": facts.get("running_for_s"),
                                        "baseline_s": facts.get("baseline_duration_s")}))
    elif reason in (ReasonCode.WRONG_PARTITION, ReasonCode.PARTIAL_WRITE):
        claims += _commit_claims(incident, items, reason)
    elif reason == ReasonCode.UPSTREAM_DATA_LATE:
        claims += _upstream_claims(incident, items)
    for deploy in incident.get("correlated_deploys") or []:
        cited = next((i for i in items if i.evidence_id == deploy.get("evidence_id")), None)
        if cited is not None and cited.type == EventType.RUN_STARTED:
            claims.append(Claim(kind=ClaimKind.CODE_CHANGED, evidence_ids=[deploy["evidence_id"]]))
        else:
            claims += _deploy_claims({"correlated_deploys": [deploy]})
    return claims


def _commit_claims(incident: dict[str, Any], items: list[EvidenceItem], reason: str) -> list[Claim]:
    run = incident.get("correlated_run") or {}
    scheduled = incident["facts"].get("scheduled_time") or ""
    commits = [i.evidence_id for i in items if i.type == EventType.COMMITTED
               and i.evidence_id in incident["evidence_ids"] and i.time >= scheduled]
    if reason == ReasonCode.WRONG_PARTITION and not commits and run.get("terminal_evidence_id"):
        return [Claim(kind=ClaimKind.WRONG_PARTITION, evidence_ids=[run["terminal_evidence_id"]])]
    if not commits:
        return []
    if reason == ReasonCode.WRONG_PARTITION:
        return [Claim(kind=ClaimKind.WRONG_PARTITION, evidence_ids=commits)]
    facts = incident["facts"]
    return [Claim(kind=ClaimKind.PARTIAL_WRITE, evidence_ids=commits,
                  params={"rows_written": facts.get("rows_written"), "baseline_rows": facts.get("baseline_rows")})]


def _upstream_claims(incident: dict[str, Any], items: list[EvidenceItem]) -> list[Claim]:
    facts, claims = incident["facts"], []
    present = {i.evidence_id for i in items}
    for late in facts.get("upstream_late") or []:
        ids = [i for i in (late.get("last_commit_evidence_id"), facts.get("inputs_named_by")) if i in present]
        if ids:
            claims.append(Claim(kind=ClaimKind.UPSTREAM_LATE, evidence_ids=ids,
                                params={"dataset_urn": late.get("dataset_urn")}))
    return claims


def _drift(incident: dict[str, Any]) -> list[Claim]:
    if not incident.get("evidence_ids"):
        return []
    return [*_deploy_claims(incident), Claim(kind=ClaimKind.SCHEMA_DRIFT, evidence_ids=incident["evidence_ids"][:1])]
