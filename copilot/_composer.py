"""The composer seam: what a composer is asked, what it answers, and the scripted double tests use.

A composer proposes a Draft; the verifier decides what survives. `TemplateComposer` (offline default),
`LangChainComposer` (any chat model) and `ScriptedComposer` (tests, the adversarial harness) all fit here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from evidence import RcaError
from guardrails import Draft


@dataclass(frozen=True)
class EvidenceItem:
    """What a composer sees of one piece of evidence: structured fields, and an excerpt that stays untrusted."""

    evidence_id: str
    type: str
    time: str
    source_ref: str
    summary: str  # one line built from structured fields by retrieval
    excerpt: str  # a JSON excerpt of the payload: untrusted text, may contain planted instructions


@dataclass(frozen=True)
class Question:
    """A question about one incident (or none): the standard RCA request or a chat turn."""

    text: str
    incident: dict[str, Any] | None  # structured and trusted: produced by the detectors
    evidence: Sequence[EvidenceItem]
    history: Sequence[dict[str, Any]] = field(default=())  # earlier chat turns: [{"role", "text"}]


class Composer(Protocol):
    name: str

    def compose(self, question: Question) -> Draft: ...


class ModelError(RcaError):
    """The model behind a composer failed: unreachable, refused, or answered outside the draft schema.

    `reason` is a few words on-call may read ("timed out", "HTTP 503"); `detail` says what to check;
    `unavailable` tells a model that is down (no answer at all) from one that answered badly."""

    def __init__(self, model_name: str, detail: str, *, reason: str = "error", unavailable: bool = False) -> None:
        self.model_name = model_name
        self.detail = detail
        self.reason = reason
        self.unavailable = unavailable
        super().__init__(f"Model {model_name!r} failed: {detail}")


class ScriptedComposer:
    """A composer that returns whatever `fn` returns, as pydantic-ai's FunctionModel does: for tests and the
    adversarial harness. Every question it was asked is kept in `questions`."""

    def __init__(self, fn: Callable[[Question], Draft], name: str = "scripted") -> None:
        self.fn = fn
        self.name = name
        self.questions: list[Question] = []

    def compose(self, question: Question) -> Draft:
        self.questions.append(question)
        return self.fn(question)
