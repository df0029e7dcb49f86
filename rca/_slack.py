"""The Slack bot (the only slack_bolt importer): `@rca why ...` mentions and `/rca` answered in a thread with the
copilot's verified chat answer, and new incidents posted to a channel.

HTTP mode is mounted at POST /slack/events when RCA_SLACK_SIGNING_SECRET is set; Bolt's request verification
answers 401 to a missing, wrong or more than five minutes old signature before any listener runs
(https://api.slack.com/authentication/verifying-requests-from-slack). Socket Mode: `rca slack --socket-mode`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from starlette.concurrency import run_in_threadpool

from copilot import ChatError, Composer, SemanticSearch, ask
from evidence import Store
from guardrails import identifier, inert
from rca._announce import PostFailed

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


class SlackSettings(BaseSettings):
    """RCA_SLACK_* (and RCA_CONSOLE_URL for the links in every message)."""

    model_config = SettingsConfigDict(env_prefix="RCA_SLACK_", extra="ignore")

    signing_secret: str = ""
    bot_token: str = ""
    # Socket Mode only: an app-level token (xapp-...).
    app_token: str = ""
    # New incidents are announced here (rca/_announce.py); empty: no announcements are posted.
    channel: str = ""
    # An announcement not posted this long after its incident opened is given up (counted, logged): a Slack outage
    # longer than this, or a Slack configured later, never posts the backlog in bulk.
    announce_max_age_s: float = Field(default=6 * 3600.0, gt=0)
    # The Web API base; tests point it at a local fake.
    api_url: str = "https://slack.com/api/"
    console_url: str = ""


class _ConsoleUrl(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCA_", extra="ignore")

    console_url: str = "http://127.0.0.1:8080"


def _escape(text: object) -> str:
    """Outside text as inert mrkdwn: NFKC, control characters (newlines too) as visible escapes, and Slack's
    control characters escaped (https://api.slack.com/reference/surfaces/formatting#escaping), so no text can
    open a link, mention a channel or start a forged line."""
    return inert(str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackBot:
    """Bolt listeners over the same store, composer and verifier as the API."""

    def __init__(self, settings: SlackSettings, store: Store, composer: Composer, clock: Callable[[], datetime],
                 search: SemanticSearch | None = None, console_url: str | None = None,
                 client: WebClient | None = None) -> None:
        self.settings, self.store, self.composer, self.clock, self.search = settings, store, composer, clock, search
        self.console_url = (console_url or settings.console_url or _ConsoleUrl().console_url).rstrip("/")
        self.client = client or WebClient(token=settings.bot_token or None, base_url=settings.api_url)
        # The bot token rides on the client; Bolt checks it with auth.test on the first request, not at start-up.
        self.app = App(signing_secret=settings.signing_secret, client=self.client, token_verification_enabled=False)
        self.app.event("app_mention")(self._on_mention)
        self.app.command("/rca")(self._on_command)

    # -- rendering -------------------------------------------------------------------------------------------

    def evidence_link(self, evidence_id: str) -> str:
        if identifier(evidence_id) is None:
            return _escape(evidence_id)
        return f"<{self.console_url}/evidence/{evidence_id}|{evidence_id}>"

    def incident_link(self, incident_id: str, label: str | None = None) -> str:
        if identifier(incident_id) is None:
            return _escape(label or incident_id)
        return f"<{self.console_url}/incidents/{incident_id}|{_escape(label or incident_id)}>"

    def answer_text(self, question: str) -> str:
        """The verified chat answer as mrkdwn: every sentence with its citations linked to the console."""
        try:
            answer = ask(self.store, self.composer, question, self.clock(), search=self.search).as_json()
        except ChatError as exc:
            return _escape(str(exc))
        lines = []
        for sentence in answer["answer"]:
            cites = " ".join(f"[{self.evidence_link(i)}]" for i in sentence["evidence_ids"])
            lines.append(f"{_escape(sentence['text'])} {cites}".rstrip())
        if answer["next_checks"]:
            lines.append("*Next checks:* " + "; ".join(_escape(c) for c in answer["next_checks"]))
        if answer["incident_id"]:
            lines.append("Incident: " + self.incident_link(answer["incident_id"]))
        return "\n".join(lines)

    # -- listeners -------------------------------------------------------------------------------------------

    def _on_mention(self, event: dict[str, Any], client: WebClient) -> None:
        question = _MENTION.sub("", event.get("text", "")).strip()
        client.chat_postMessage(channel=event["channel"], thread_ts=event.get("thread_ts") or event["ts"],
                                text=self.answer_text(question) if question else
                                "Ask me about a dataset, e.g. `@rca why is orders_enriched stale?`")

    def _on_command(self, ack: Callable[..., None], command: dict[str, Any], client: WebClient) -> None:
        ack()
        question = (command.get("text") or "").strip()
        if not question:
            client.chat_postEphemeral(channel=command["channel_id"], user=command["user_id"],
                                      text="Usage: `/rca why is orders_enriched stale?`")
            return
        # A slash command has no thread: post the question, then answer in its thread.
        opened = client.chat_postMessage(channel=command["channel_id"],
                                         text=f"<@{command['user_id']}> asked: {_escape(question)}")
        client.chat_postMessage(channel=command["channel_id"], thread_ts=opened["ts"], text=self.answer_text(question))

    # -- notifications ---------------------------------------------------------------------------------------

    def incident_text(self, incident: dict[str, Any]) -> str:
        """An incident's announcement: what broke, since when, who owns it, the console link; and, when it was
        resolved before the announcement went out, that it is over (on-call would rather know it happened)."""
        owner = incident.get("owner_team") or "no owner on record"
        tier = f", tier {incident['tier']}" if incident.get("tier") is not None else ""
        deploys = incident.get("correlated_deploys") or []
        change = f" Correlated deploy: {_escape(deploys[0].get('deploy_ref') or '')}." if deploys else ""
        over = (f" *Resolved* at {_escape(incident.get('resolved_at') or incident.get('updated_at') or '')}."
                if incident.get("status") == "resolved" else "")
        return (f":rotating_light: *{_escape(incident['dataset_urn'])}* {_escape(incident['kind'])} incident "
                f"`{_escape(incident['reason_code'])}` since {_escape(incident['first_bad_time'])} "
                f"({_escape(owner)}{tier}).{change}{over} {self.incident_link(incident['id'], 'Open the incident')}")

    def post_incident(self, incident: dict[str, Any]) -> None:
        """One message in RCA_SLACK_CHANNEL for this incident (rca/_announce.py delivers the outbox through it);
        PostFailed when Slack did not take it, with Slack's Retry-After when it said to wait."""
        try:
            self.client.chat_postMessage(channel=self.settings.channel, text=self.incident_text(incident))
        except SlackApiError as exc:
            response = exc.response
            wait = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None) \
                if response.status_code == 429 else None
            raise PostFailed(f"Slack answered {response.status_code}: {response.get('error') or 'not ok'}",
                             _seconds(wait)) from exc
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections, an unreadable answer
            raise PostFailed(f"Slack could not be reached: {exc}") from exc


def _seconds(value: object) -> float | None:
    try:
        seconds = float(str(value))
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86_400 else None


def bot_for(app: FastAPI, settings: SlackSettings | None = None) -> SlackBot:
    state = app.state
    return SlackBot(settings or SlackSettings(), state.store, state.composer, state.clock, search=state.search)


def mount(app: FastAPI, settings: SlackSettings | None = None) -> SlackBot:
    """POST /slack/events on the FastAPI app (events and the /rca command share the request URL)."""
    bot = bot_for(app, settings)
    app.state.slack = bot

    # What slack_bolt's SlackRequestHandler does, with the dispatch (signature check, ack, and for commands the
    # wait for ack) on a worker thread instead of the event loop.
    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        # Bolt reads the timestamp with int() and fails on anything else: refuse those as unsigned ourselves.
        stamp = request.headers.get("x-slack-request-timestamp", "")
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            return JSONResponse({"error": "unauthorized", "message": "X-Slack-Request-Timestamp must be the Unix "
                                 "time Slack signed the request at; this request is not from Slack."}, 401)
        body = await request.body()
        response = await run_in_threadpool(bot.app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(response)

    return bot


def run_socket_mode(app: FastAPI, settings: SlackSettings | None = None) -> None:
    """`rca slack --socket-mode`: the same listeners over a WebSocket (RCA_SLACK_APP_TOKEN), no public URL."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    settings = settings or SlackSettings()
    if not settings.app_token:
        raise SystemExit("Socket Mode needs RCA_SLACK_APP_TOKEN (an app-level xapp- token with connections:write).")
    SocketModeHandler(bot_for(app, settings).app, settings.app_token).start()
