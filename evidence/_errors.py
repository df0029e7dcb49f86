"""The error tree. Messages say what is wrong and what to do about it."""

from __future__ import annotations


class RcaError(Exception):
    """Base of every error this project raises on purpose."""


class InvalidEvent(RcaError):
    """An event that cannot be stored: names the event, the field and what was expected."""

    def __init__(self, event_id: str | None, field: str, message: str, *, source: str | None = None,
                 position: int | None = None) -> None:
        # Echoed back to the client and into logs: a hostile 10 MB id is shown by its first characters only.
        event_id, source, field = clip(event_id), clip(source), clip(field) or ""
        self.event_id = event_id
        self.field = field
        self.source = source
        self.position = position
        self.reason = message
        who = f"Event {event_id!r}" if event_id else f"Event #{position}" if position is not None else "Event"
        if source:
            who += f" (source {source})"
        super().__init__(f"{who}: '{field}' {message}" if field else f"{who}: {message}")


def clip(value: str | None, limit: int = 200) -> str | None:
    return value if value is None or len(value) <= limit else value[:limit] + "..."


class UnknownEvidence(RcaError):
    def __init__(self, evidence_id: str) -> None:
        self.evidence_id = evidence_id
        super().__init__(f"No evidence with id {evidence_id!r}; list evidence with GET /v1/evidence or `rca evidence`.")


class ConfigError(RcaError):
    """A usage mistake: says which setting and how to fix it."""
