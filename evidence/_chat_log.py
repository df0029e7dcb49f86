"""Copilot chat sessions in the store: a session (its incident, once one is known) and its turns, in order. The
copilot decides what is said; this module only keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select

from evidence._schema import chat_sessions, chat_turns
from evidence._store import Store


@dataclass(frozen=True)
class ChatTurn:
    role: str  # user | assistant
    body: Any  # {"text"} for the user, the verified answer for the assistant


def open_session(store: Store, session_id: str, incident_id: str | None, now: datetime) -> None:
    """Create the session unless it exists (a session id is derived from its first question: asking again is a
    no-op)."""
    with store.writing() as conn:
        if conn.execute(select(chat_sessions.c.id).where(chat_sessions.c.id == session_id)).first() is None:
            conn.execute(chat_sessions.insert().values(id=session_id, incident_id=incident_id, created_at=now))


def session_turns(store: Store, session_id: str) -> tuple[list[ChatTurn], str | None] | None:
    """The session's turns in order and its incident id; None when there is no such session."""
    with store.engine.connect() as conn:
        session = conn.execute(select(chat_sessions).where(chat_sessions.c.id == session_id)).first()
        if session is None:
            return None
        turns = conn.execute(select(chat_turns.c.role, chat_turns.c.body).where(chat_turns.c.session_id == session_id)
                             .order_by(chat_turns.c.seq)).all()
    return [ChatTurn(role, orjson.loads(body)) for role, body in turns], session.incident_id


def add_turns(store: Store, session_id: str, question: str, answer: dict[str, Any], incident_id: str | None,
              now: datetime) -> None:
    """The question and its answer as the session's next two turns; the session takes the answer's incident when
    it had none."""
    with store.writing() as conn:
        seq = conn.execute(select(func.coalesce(func.max(chat_turns.c.seq), 0))
                           .where(chat_turns.c.session_id == session_id)).scalar_one()
        user = orjson.dumps({"text": question}).decode()
        assistant = orjson.dumps(answer).decode()
        conn.execute(chat_turns.insert(), [
            {"session_id": session_id, "seq": seq + 1, "role": "user", "body": user, "at": now},
            {"session_id": session_id, "seq": seq + 2, "role": "assistant", "body": assistant, "at": now},
        ])
        if incident_id:
            conn.execute(chat_sessions.update().where(chat_sessions.c.id == session_id,
                                                      chat_sessions.c.incident_id.is_(None))
                         .values(incident_id=incident_id))
