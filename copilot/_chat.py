"""Chat with the copilot: a question (about an incident, or naming a dataset), answered only with verified
claims of the kinds the question asks about, each in the product's own sentence. A question beyond the evidence
gets "I have no evidence for that" and the next checks, whatever the model says."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import guardrails
from copilot._composer import Composer, Question
from copilot._rca import compose_verified, question_for
from copilot._retrieval import incident_scope
from copilot._semantic import SemanticSearch
from copilot._template import TemplateComposer
from evidence import (
    Incident,
    RcaError,
    RejectedRcaClaim,
    Store,
    Time,
    add_turns,
    iso,
    load_incident,
    load_incidents,
    open_session,
    session_turns,
)
from guardrails import ClaimKind, Draft, RejectedClaim, VerifiedClaim

NO_EVIDENCE = "I have no evidence for that."

# The offline composer answers a question with the claims whose kind the question asks about.
_INTENTS: list[tuple[re.Pattern[str], frozenset[ClaimKind]]] = [
    (re.compile(r"\b(deploy\w*|release\w*|version|ship\w*|rollout|change[ds]?|commit)\b"),
     frozenset({ClaimKind.DEPLOY_CORRELATED, ClaimKind.CODE_CHANGED, ClaimKind.NO_RECENT_DEPLOY})),
    (re.compile(r"\b(when|since|start\w*|begin\w*|first|last good|boundary)\b"),
     frozenset({ClaimKind.CONTRACT_BREAK, ClaimKind.LAST_GOOD, ClaimKind.FRESHNESS_BREACH, ClaimKind.JOB_RUNNING})),
    (re.compile(r"\b(running|still|slow\w*|long|duration|baseline|stuck)\b"),
     frozenset({ClaimKind.JOB_RUNNING, ClaimKind.JOB_SLOW})),
    (re.compile(r"\b(impact\w*|downstream|who|affect\w*|dashboards?|consumers?)\b"), frozenset({ClaimKind.IMPACT})),
    (re.compile(r"\b(rate|how many|how bad|percent\w*|share|ratio)\b"), frozenset({ClaimKind.RATE_SHIFT})),
    (re.compile(r"\b(fail\w*|error|oom|memory|crash\w*|timeout)\b"), frozenset({ClaimKind.JOB_FAILED})),
    (re.compile(r"\b(partition|watermark|dt|rows?|partial)\b"),
     frozenset({ClaimKind.FRESHNESS_BREACH, ClaimKind.WRONG_PARTITION, ClaimKind.PARTIAL_WRITE})),
    (re.compile(r"\b(schema|mapping|drift|unmapped|held)\b"), frozenset({ClaimKind.SCHEMA_DRIFT})),
    (re.compile(r"\b(upstream|input)\b"), frozenset({ClaimKind.UPSTREAM_LATE})),
    (re.compile(r"\b(also|else|other|another|second|more)\b"), frozenset({ClaimKind.OTHER_BREAK})),
    (re.compile(r"\b(why|cause\w*|reason|what happened|what went wrong|stale|late|broken|root|explain\w*"
                r"|summar\w*|overview|what'?s going on|what is going on)\b"), frozenset(ClaimKind)),
]


def asked_kinds(question: str) -> frozenset[ClaimKind]:
    """The claim kinds a question asks about, from its words (never from what a model answered)."""
    text = question.lower()
    return frozenset(kind for pattern, kinds in _INTENTS if pattern.search(text) for kind in kinds)


class ChatError(RcaError):
    pass


class IntentComposer:
    """The offline composer for chat: the incident's claims that the question asks about, nothing else."""

    name = "default"

    def __init__(self, inner: TemplateComposer | None = None) -> None:
        self.inner = inner or TemplateComposer()

    def compose(self, question: Question) -> Draft:
        wanted = asked_kinds(question.text)
        return Draft(claims=[c for c in self.inner.compose(question).claims if c.kind in wanted])


class ChatSentence(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str = Field(description="rendered by the product from values the verifier checked")
    kind: str | None = Field(None, description="the claim's kind (freshness_breach, last_good, ...); absent on the "
                             "no-evidence answer")
    evidence_ids: list[str] = Field(description="the evidence it rests on (empty only for the no-evidence answer)")


class RelatedIncident(BaseModel):
    """A past incident that reads like this one: a pointer for on-call, not a verified claim."""

    model_config = ConfigDict(frozen=True)

    id: str
    dataset_urn: str
    reason_code: str
    first_bad_time: Time | None
    similarity: float


class ChatReply(BaseModel):
    """POST /v1/chat's JSON answer (`ChatAnswer.as_json`); the event stream sends `answer` a sentence at a time."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    incident_id: str | None
    answer: list[ChatSentence] = Field(description="verified sentences only; without evidence, the one sentence "
                                       "saying so")
    has_evidence: bool
    next_checks: list[str]
    rejected_claims: list[RejectedRcaClaim] = Field(description="audit: what the verifier refused, never shown as a "
                                                    "finding")
    composer: str
    related_incidents: list[RelatedIncident]


@dataclass
class ChatAnswer:
    session_id: str
    incident_id: str | None
    sentences: list[dict[str, Any]] = field(default_factory=list)  # [{text, kind, evidence_ids}], verified only
    next_checks: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # audit: what the verifier dropped
    composer: str = "default"
    related_incidents: list[dict[str, Any]] = field(default_factory=list)

    @property
    def has_evidence(self) -> bool:
        return bool(self.sentences)

    def as_json(self) -> dict[str, Any]:
        sentences = self.sentences or [{"text": NO_EVIDENCE, "evidence_ids": []}]
        return {"session_id": self.session_id, "incident_id": self.incident_id, "answer": sentences,
                "has_evidence": self.has_evidence, "next_checks": self.next_checks,
                "rejected_claims": self.rejected, "composer": self.composer,
                "related_incidents": self.related_incidents}


def find_incident(store: Store, question: str) -> Incident | None:
    """An open incident whose dataset the question names ("why is orders_enriched stale?")."""
    text = question.lower()
    for incident in load_incidents(store):
        urn = incident.dataset_urn.lower()
        names = {urn, urn.split("://", 1)[-1], urn.rsplit("/", 1)[-1]}
        if any(len(n) >= 3 and n in text for n in names):
            return incident
    return None


def ask(store: Store, composer: Composer, question: str, now: datetime, *, incident_id: str | None = None,
        session_id: str | None = None, search: SemanticSearch | None = None) -> ChatAnswer:
    if not question.strip():
        raise ChatError("The question is empty; ask something like 'why is orders_enriched stale?'.")
    history, session_incident = _history(store, session_id) if session_id else ([], None)
    incident = load_incident(store, incident_id) if incident_id else None
    if incident is None and session_incident:
        incident = load_incident(store, session_incident)
    if incident is None:
        incident = find_incident(store, question)
    session_id = session_id or _new_session(store, question, incident, now)
    if incident is None:
        answer = ChatAnswer(session_id, None, next_checks=[
            "No open incident matches the question: name the dataset (e.g. orders_enriched) or pass an incident id.",
            "List open incidents with GET /v1/incidents or `rca incidents`.",
        ], composer=composer.name)
    else:
        scope = incident_scope(store, incident)
        asked = question_for(scope, question, tuple(history))
        related: list[dict[str, Any]] = []
        if search is not None:
            # Nearest evidence first, so a model with a bounded prompt sees what the question is about.
            order = {item: n for n, item in enumerate(search.rank(incident.id, scope.records.values(), question))}
            asked = dataclasses.replace(asked, evidence=sorted(asked.evidence,
                                                               key=lambda e: order.get(e.evidence_id, len(order))))
            related = search.related_incidents(store, incident)
        composed = compose_verified(_for_chat(composer), scope, asked, IntentComposer())
        wanted = asked_kinds(question)
        shown = [c for c in composed.accepted if c.kind in wanted]
        off = [RejectedClaim(text=f"{c.kind.value} claim citing {', '.join(c.evidence_ids)}", kind=c.kind.value,
                             reason="off_question", why=f"holds, but a {c.kind.value} claim does not answer the "
                             "question") for c in composed.accepted if c.kind not in wanted]
        answer = ChatAnswer(session_id, incident.id, [_sentence(c) for c in shown],
                            next_checks=[] if shown else guardrails.next_checks(scope, shown),
                            rejected=[r.model_dump() for r in [*composed.rejected, *off]],
                            composer=composed.composer, related_incidents=related)
    _record(store, session_id, question, answer, now)
    return answer


def _for_chat(composer: Composer) -> Composer:
    """The chat flavour of a composer: the offline one filtered by intent, a model with the chat prompt."""
    if isinstance(composer, TemplateComposer):
        return IntentComposer(composer)
    flavour = getattr(composer, "for_chat", None)
    return flavour() if callable(flavour) else composer


def _sentence(claim: VerifiedClaim) -> dict[str, Any]:
    return {"text": claim.text, "kind": str(claim.kind), "evidence_ids": claim.evidence_ids}


def _new_session(store: Store, question: str, incident: Incident | None, now: datetime) -> str:
    # Deterministic for a given first question, incident and clock; unique enough across them.
    seed = f"{question}\x00{incident.id if incident else ''}\x00{iso(now)}"
    session_id = "chat_" + hashlib.sha256(seed.encode()).hexdigest()[:20]
    open_session(store, session_id, incident.id if incident else None, now)
    return session_id


def _history(store: Store, session_id: str) -> tuple[list[dict[str, Any]], str | None]:
    found = session_turns(store, session_id)
    if found is None:
        raise ChatError(f"No chat session {session_id!r}; start one by asking without a session_id.")
    turns, incident_id = found
    history = []
    for turn in turns:
        value = turn.body
        text = value["text"] if turn.role == "user" else " ".join(s["text"] for s in value.get("answer", []))
        history.append({"role": turn.role, "text": text})
    return history, incident_id


def _record(store: Store, session_id: str, question: str, answer: ChatAnswer, now: datetime) -> None:
    add_turns(store, session_id, question, answer.as_json(), answer.incident_id, now)
