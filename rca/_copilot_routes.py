"""The structured RCA of an incident and chat with the copilot (JSON, or SSE of verified sentences)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool

from copilot import ChatError, ChatReply, ask, build_rca
from evidence import Rca, load_incident
from rca._auth import ReaderDep
from rca._errors import ApiError, JSONBody

router = APIRouter()


@router.get("/v1/incidents/{incident_id}/rca", tags=["copilot"],
            summary="The structured RCA: verified claims with evidence ids, verdict, confidence, next checks",
            responses={200: {"model": Rca, "description": "The RCA"}})
async def incident_rca(request: Request, incident_id: Annotated[str, Path(max_length=64)], _: ReaderDep) -> JSONBody:
    state = request.app.state

    def run() -> dict[str, Any]:
        rca = build_rca(state.store, load_incident(state.store, incident_id), state.composer)
        state.metrics.rejected_claims(rca["rejected_claims"])
        return rca

    return JSONBody(await run_in_threadpool(run))


class ChatRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    incident_id: str | None = Field(default=None, pattern=r"^inc_[0-9a-f]{16}$")
    session_id: str | None = Field(default=None, pattern=r"^chat_[0-9a-f]{20}$")

    @field_validator("question")
    @classmethod
    def _printable(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("must not contain a NUL character")
        return value


@router.post("/v1/chat", tags=["copilot"], summary="Ask the copilot; every sentence carries its evidence ids. "
             "Send 'Accept: text/event-stream' for server-sent events, one verified sentence per event",
             response_model=None, responses={200: {
                 "model": ChatReply, "description": "The answer (JSON), or with 'Accept: text/event-stream' one "
                 "`sentence` event per sentence, then a `done` event with the rest",
                 "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
async def chat(request: Request, body: ChatRequest, _: ReaderDep) -> Any:
    state = request.app.state

    def run() -> dict[str, Any]:
        try:
            return ask(state.store, state.composer, body.question, state.clock(), incident_id=body.incident_id,
                       session_id=body.session_id, search=state.search).as_json()
        except ChatError as exc:
            raise ApiError(422, "invalid_request", str(exc)) from None

    answer = await run_in_threadpool(run)
    if "text/event-stream" not in request.headers.get("accept", ""):
        return JSONBody(answer)
    return StreamingResponse(_events(answer), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _events(answer: dict[str, Any]) -> Iterator[bytes]:
    # Only verified sentences are streamed: the model's raw tokens never reach the user.
    for sentence in answer["answer"]:
        yield b"event: sentence\ndata: " + orjson.dumps(sentence) + b"\n\n"
    done = {k: answer[k] for k in ("session_id", "incident_id", "has_evidence", "next_checks", "composer",
                                   "related_incidents")}
    yield b"event: done\ndata: " + orjson.dumps(done) + b"\n\n"
