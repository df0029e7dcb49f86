"""The `rca` command line: serve, db, ingest, evidence, token, detect, incidents, replay, eval, explain, ask."""

from __future__ import annotations

import faulthandler
import gc
import ipaddress
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import click
import httpx
import orjson
import typer
import yaml
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from detectors import intake_records
from evidence import RcaError
from evidence._ingest import ingest_events
from evidence._store import EvidenceQuery, Store
from evidence._tokens import ROLES, create_token, list_tokens, revoke_token
from rca._control_cli import policies_app, readiness
from rca._settings import Settings
from rca.app import system_clock

app = typer.Typer(help="Evidence-grounded root-cause copilot for data producers.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (writers scoped to producers, readers, admins).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(policies_app, name="policies")
app.command()(readiness)
console = Console()
err = Console(stderr=True)


def _store() -> Store:
    store = Store.open(Settings().database_url)
    context = click.get_current_context(silent=True)
    if context is not None:  # release pooled connections when the command ends
        context.call_on_close(store.close)
    return store


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (RCA_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (RCA_PORT).")] = None,
    insecure_no_auth: Annotated[bool, typer.Option(
        "--insecure-no-auth", help="Serve without tokens; refused unless bound to loopback.")] = False,
    demo: Annotated[bool, typer.Option(
        "--demo", help="Load the reference stories (examples/scenarios) and serve them: auth off (loopback only), "
        "no scheduled detection, the clock at the stories' now.")] = False,
) -> None:
    """Serve the API (uvicorn). Upgrades an empty database itself."""
    import uvicorn

    from rca.app import create_app

    settings = Settings()
    updates: dict[str, Any] = {}
    if host:
        updates["host"] = host
    if port:
        updates["port"] = port
    if insecure_no_auth or demo:
        updates["auth_disabled"] = True
    settings = settings.model_copy(update=updates)
    if settings.auth_disabled and not _loopback(settings.host):
        err.print(f"[red]Refusing to serve without auth on {settings.host}[/red]: bind to 127.0.0.1 or use tokens.")
        raise typer.Exit(2)
    if demo:
        from rca._demo import demo_app

        application = demo_app(settings)
    else:
        application = create_app(settings)
    try:  # a database that cannot take writes stops the server here, with the reason, not on the first request
        application.state.store.check_writable(system_clock())
    except (SQLAlchemyError, RcaError) as exc:
        err.print(f"[red]The database cannot take writes[/red]: {str(getattr(exc, 'orig', None) or exc).strip()}",
                  soft_wrap=True)
        raise typer.Exit(1) from None
    # A fatal signal in C code (SQLite's memory-mapped -shm file can raise SIGBUS) is logged with a traceback
    # instead of killing the process silently.
    faulthandler.enable()
    # Ingestion allocates a dict per event; the default GC thresholds ran a collection every few hundred
    # events in a 1,000-event batch. Fewer, larger collections measured ~10% more events/s (benchmarks/).
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    console.print(f"rca serving on http://{settings.host}:{settings.port} "
                  f"({application.state.store.dialect}{', auth OFF' if settings.auth_disabled else ''})")
    uvicorn.run(application, host=settings.host, port=settings.port, log_level="warning", access_log=False)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest revision."""
    store = _store()
    store.upgrade()
    console.print(f"database {store.engine.url.render_as_string(hide_password=True)} is at the newest schema")


def load_events(path: Path) -> list[Any]:
    """Events from a JSON file (one event or a list), JSON Lines, or YAML (a list, or a scenario's `events:`)."""
    return _load(path, "events")


def load_messages(path: Path) -> list[Any]:
    """Kafka records from a scenario file's `messages:` (other files carry none)."""
    return _load(path, "messages") if path.suffix in (".yaml", ".yml") else []


def _load(path: Path, key: str) -> list[Any]:
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        doc = yaml.safe_load(text)
    elif path.suffix == ".jsonl":
        doc = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        doc = json.loads(text)
    if isinstance(doc, dict) and "specversion" not in doc and ("events" in doc or "messages" in doc):
        doc = doc.get(key) or []
    elif key == "messages":
        return []
    events = doc if isinstance(doc, list) else [doc]
    # YAML turns unquoted timestamps into datetimes; the wire format is JSON text.
    return [orjson.loads(orjson.dumps(e, default=_jsonable)) for e in events]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value))


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="JSON, JSONL or YAML files.")],
    url: Annotated[str | None, typer.Option(help="Send to a running `rca serve` instead of the database.")] = None,
    token: Annotated[str | None, typer.Option(envvar="RCA_TOKEN", help="Bearer token for --url.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Ingest evidence events from files, into the database or through the API."""
    summary: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    store = None if url else _store()
    if store is not None:
        store.ensure_schema()
    client = httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"} if token else {}) \
        if url else None
    with Progress(console=err, transient=True, disable=as_json) as progress:
        for path in files:
            events = load_events(path)
            task = progress.add_task(path.name, total=len(events))
            counts = {"file": str(path), "events": len(events), "accepted": 0, "duplicate": 0, "conflict": 0,
                      "rejected": 0}
            for start in range(0, len(events), batch_size):
                batch = events[start : start + batch_size]
                result = _send(client, batch) if client else ingest_events(store, batch, system_clock()).as_json()  # type: ignore[arg-type]
                for key in ("accepted", "duplicate", "conflict", "rejected"):
                    counts[key] += result.get(key, 0)
                # A conflict (the id was sent before with another payload) is refused like a rejection.
                rejected += [dict(r, file=str(path)) for r in result["results"] if r["status"] in ("rejected",
                                                                                                  "conflict")]
                progress.advance(task, len(batch))
            messages = load_messages(path)
            if messages:
                counts.update(records=len(messages), held=0)
                for start in range(0, len(messages), batch_size):
                    batch = messages[start : start + batch_size]
                    result = _send(client, batch, "/v1/gate/records") if client else \
                        intake_records(store, batch, system_clock()).as_json()  # type: ignore[arg-type]
                    for key in ("accepted", "duplicate", "rejected", "held"):
                        counts[key] += result[key]
                    rejected += [dict(r, file=str(path)) for r in result["results"] if r["status"] == "rejected"]
            summary.append(counts)
    if as_json:
        console.print_json(data={"files": summary, "rejected": rejected})
    else:
        table = Table(title="Ingested")
        columns = ("file", "events", "records", "accepted", "duplicate", "conflict", "held", "rejected")
        for column in columns:
            table.add_column(column, justify="left" if column == "file" else "right")
        for row in summary:
            table.add_row(*(str(row.get(c, "")) for c in columns))
        console.print(table)
        for r in rejected[:20]:
            err.print(f"[red]rejected[/red] {r['error']}")
    if rejected:
        raise typer.Exit(1)


def _send(client: httpx.Client, batch: list[Any], path: str = "/v1/events") -> dict[str, Any]:
    kind = "application/cloudevents-batch+json" if path == "/v1/events" else "application/json"
    response = client.post(path, content=orjson.dumps(batch), headers={"Content-Type": kind})
    if response.status_code != 200:
        err.print(f"[red]{response.status_code}[/red] {response.text}")
        raise typer.Exit(1)
    return response.json()


@app.command()
def evidence(
    dataset: Annotated[str | None, typer.Option(help="dataset URN")] = None,
    producer: Annotated[str | None, typer.Option(help="producer URN")] = None,
    type_: Annotated[list[str] | None, typer.Option("--type", help="event type (repeatable)")] = None,
    since: Annotated[datetime | None, typer.Option(help="event_time >= since (with offset)",
                                                   formats=["%Y-%m-%dT%H:%M:%S%z"])] = None,
    until: Annotated[datetime | None, typer.Option(help="event_time < until (with offset)",
                                                   formats=["%Y-%m-%dT%H:%M:%S%z"])] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Query stored evidence."""
    from rca._ingest_routes import record_json

    store = _store()
    store.ensure_schema()
    page = store.page(EvidenceQuery(dataset, producer, tuple(type_ or ()), since, until, limit))
    if as_json:
        sys.stdout.write(orjson.dumps([record_json(r) for r in page.records], option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return
    table = Table(title=f"Evidence ({len(page.records)}{'+' if page.next_cursor else ''})")
    for column in ("event time", "type", "source ref", "dataset", "producer", "evidence id"):
        table.add_column(column)
    for r in page.records:
        table.add_row(r.event_time.isoformat(), r.type, r.source_ref, r.dataset_urn or "", r.producer_urn or "",
                      r.evidence_id)
    console.print(table)


def _at(value: str | None) -> datetime:
    if value is None:
        return system_clock()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not RFC 3339, e.g. 2026-01-19T02:15:00-05:00") from None
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{value!r} needs an offset, e.g. 2026-01-19T02:15:00-05:00")
    return moment


_TITLES = {"freshness": "Freshness SLO breach", "contract": "Contract break", "drift": "Unresolved records (drift)"}


def _print_incidents(items: list[dict[str, Any]], title: str) -> None:
    """One block per incident: readable on any terminal width, in the order on-call reads it."""
    console.print(f"[bold]{title}[/bold]" + ("" if items else ": none"))
    for i in items:
        reason = i["reason_code"] + (f"({i['field']})" if i.get("field") else "")
        console.print(f"\n  [bold]{_TITLES.get(i['kind'], i['kind'])}: {i['dataset_urn']}[/bold]  {i['id']}"
                      f"{'  [yellow]STALE EVIDENCE[/yellow]' if i['stale_evidence'] else ''}")
        lines = [("reason", reason), ("first bad", i["first_bad_time"]), ("last good", i["last_good_time"])]
        if i.get("current_watermark"):
            lines.append(("watermark", f"{i['current_watermark']} (expected {i['expected_watermark']})"))
        if i.get("bad_rate"):
            lines.append(("bad rate", f"{i['bad_rate']['before']:.1%} before, {i['bad_rate']['after']:.1%} since"))
        deploys = i.get("correlated_deploys") or []
        lines.append(("deploy", ", ".join(f"{d.get('service')} {d.get('version')} at {d.get('time')}"
                                          for d in deploys) or "none correlated"))
        if i.get("correlated_run"):
            run = i["correlated_run"]
            lines.append(("run", f"{run.get('run_id')} ({run.get('state')})"))
        if i.get("impacted_downstream"):
            lines.append(("downstream", ", ".join(i["impacted_downstream"])))
        if i.get("owner_team"):
            lines.append(("owner", f"{i['owner_team']} (tier {i.get('tier')})"))
        lines.append(("evidence", ", ".join(e["source_ref"] for e in i.get("evidence", [])) or "none"))
        for label, value in lines:
            console.print(f"    {label:<11}{value}", highlight=False, soft_wrap=True)


@app.command()
def detect(
    at: Annotated[str | None, typer.Option(help="The clock for this pass (RFC 3339); default: now.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the detectors once at a given clock and store the incidents."""
    from detectors import run_detectors

    store = _store()
    store.ensure_schema()
    result = run_detectors(store, _at(at), Settings().detect_settings())
    if as_json:
        _print_json({"incidents": result.incidents, "opened": result.opened, "resolved": result.resolved,
                     "paused": result.paused, "drift": result.drift})
        return
    _print_incidents(result.incidents, f"Open incidents ({len(result.opened)} opened, {len(result.resolved)} resolved)")


@app.command()
def incidents(
    status: Annotated[str, typer.Option(help="open, resolved or all")] = "open",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List stored incidents."""
    from detectors import stored_incidents

    store = _store()
    store.ensure_schema()
    items = stored_incidents(store, status=None if status == "all" else status)
    if as_json:
        _print_json({"incidents": items})
        return
    _print_incidents(items, f"Incidents ({status})")


@app.command()
def replay(
    scenario: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A scenario YAML file.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document: incidents and drift.")] = False,
    with_rca: Annotated[bool, typer.Option("--rca", help="Add the RCA of every incident.")] = False,
) -> None:
    """Replay a scenario into a fresh temporary store, detect at its `now`, print the incidents (and RCAs)."""
    from copilot import build_rca, default_composer
    from detectors import load_scenario, stored_incidents
    from detectors import replay as run_replay

    result = run_replay(load_scenario(scenario))
    document: dict[str, Any] = {"incidents": stored_incidents(result.store), "drift": [
        {k: d[k] for k in ("topic", "schema_id", "reason_code", "change_request_id")} for d in result.detection.drift]}
    if with_rca:
        composer = default_composer()
        document["rca"] = [build_rca(result.store, incident, composer) for incident in document["incidents"]]
    for problem in result.rejected:
        err.print(f"[yellow]rejected[/yellow] {problem}")
    if as_json:
        _print_json(document)
        return
    _print_incidents(document["incidents"], f"{result.scenario.name} at {result.scenario.now.isoformat()}")
    for d in document["drift"]:
        console.print(f"drift: {d['topic']} schema {d['schema_id']} {d['reason_code']} -> {d['change_request_id']}")
    for rca in document.get("rca", []):
        _print_rca(rca)


@app.command("eval")
def eval_(
    paths: Annotated[list[Path], typer.Argument(exists=True, help="Scenario files, or folders to search for them.")],
    composer: Annotated[str, typer.Option(help="default (offline), llm (RCA_LLM_*) or adversarial.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document: counts, scenarios, metrics.")] = False,
    report: Annotated[Path | None, typer.Option(help="Also write a report: FILE.md or FILE.html.")] = None,
) -> None:
    """Replay scenarios, RCA every incident, check every expectation, score grounding; exit 1 if any fails."""
    from evals._cli import eval_command

    raise typer.Exit(eval_command(paths, composer, as_json, report))


@app.command()
def explain(
    incident_id: Annotated[str, typer.Argument(help="An incident id (see `rca incidents`).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The structured RCA of an incident: verified claims, verdict, confidence, next checks."""
    from copilot import build_rca, default_composer
    from detectors import stored_incident

    store = _store()
    store.ensure_schema()
    rca = build_rca(store, stored_incident(store, incident_id), default_composer())
    if as_json:
        _print_json(rca)
    else:
        _print_rca(rca)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help='e.g. "why is orders_enriched stale?"')],
    incident: Annotated[str | None, typer.Option(help="Ask about this incident id.")] = None,
    session: Annotated[str | None, typer.Option(help="Continue a chat session.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ask the copilot in the terminal; every sentence comes with the evidence that supports it."""
    from copilot import ask as ask_copilot
    from copilot import default_composer

    store = _store()
    store.ensure_schema()
    answer = ask_copilot(store, default_composer(), question, system_clock(), incident_id=incident,
                         session_id=session).as_json()
    if as_json:
        _print_json(answer)
        return
    for sentence in answer["answer"]:
        cites = ", ".join(sentence["evidence_ids"])
        console.print(f"{sentence['text']}" + (f"  [{cites}]" if cites else ""), highlight=False, markup=False)
    for check in answer["next_checks"]:
        console.print(f"  next check: {check}", highlight=False, markup=False)
    console.print(f"session {answer['session_id']}", style="dim")


def _print_rca(rca: dict[str, Any]) -> None:
    verdict = "[green]cause identified[/green]" if rca["verdict"] == "cause_identified" else \
        "[yellow]INCONCLUSIVE[/yellow]"
    console.print(f"\n  [bold]RCA[/bold] {rca['incident_id']}: {verdict}  ({rca['composer']} composer)")
    console.print(f"    {rca['summary']}", highlight=False, markup=False)
    cause = rca.get("most_likely_cause")
    if cause:
        console.print(f"    most likely cause ({cause['confidence']:.0%}): {cause['statement']}", highlight=False,
                      markup=False)
    refs = {e["evidence_id"]: e["source_ref"] for e in rca["evidence"]}
    for claim in rca["claims"]:
        console.print(f"    - {claim['text']}  [{', '.join(refs.get(i, i) for i in claim['evidence_ids'])}]",
                      highlight=False, markup=False)
    for check in rca["next_checks"]:
        console.print(f"    next check: {check}", highlight=False, markup=False)
    for action in rca["suggested_actions"]:
        console.print(f"    suggested: {action}", highlight=False, markup=False)
    if rca["rejected_claims"]:
        console.print(f"    {len(rca['rejected_claims'])} proposed claim(s) rejected by the verifier", style="dim")


@app.command()
def slack(socket_mode: Annotated[bool, typer.Option("--socket-mode", help="Connect over a WebSocket "
          "(RCA_SLACK_APP_TOKEN) instead of Slack calling POST /slack/events.")] = False) -> None:
    """The Slack bot. HTTP mode needs no command: `rca serve` mounts /slack/events when RCA_SLACK_SIGNING_SECRET
    is set."""
    if not socket_mode:
        err.print("HTTP mode: set RCA_SLACK_SIGNING_SECRET and RCA_SLACK_BOT_TOKEN and run `rca serve`.")
        raise typer.Exit(2)
    from rca._slack import run_socket_mode
    from rca.app import create_app

    run_socket_mode(create_app(Settings()))


@app.command()
def openapi(output: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None) -> None:
    """Print (or write) the OpenAPI description of the API."""
    text = openapi_text()
    if output:
        output.write_text(text)
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text)


def openapi_text() -> str:
    from rca.app import create_app

    with Store.open("sqlite://") as store:
        application = create_app(Settings(database_url="sqlite://"), store=store)
        document = application.openapi()
    document["info"]["version"] = "v1"  # the API's version, not the package's: keeps docs/openapi.json stable
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _print_json(document: Any) -> None:
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who holds it, e.g. checkout-service-ci")],
    role: Annotated[str, typer.Option(help=f"one of {', '.join(ROLES)}")] = "writer",
    producer: Annotated[list[str] | None, typer.Option(help="URN pattern a writer may write (repeatable)")] = None,
    dataset: Annotated[list[str] | None, typer.Option(
        help="Dataset URN pattern a writer's events may name, e.g. 'ds://orders*' (repeatable; none: deploys and "
        "runs only)")] = None,
) -> None:
    """Create a token and print its secret once."""
    store = _store()
    store.ensure_schema()
    token, secret = create_token(store, name, role, list(producer or []), system_clock(),  # type: ignore[arg-type]
                                 datasets=list(dataset or []))
    scope = ", ".join(token.producers) or "all"
    if token.role == "writer":
        scope += f" (datasets: {', '.join(token.datasets) or 'none'})"
    err.print(f"created {token.role} token {token.id} ({token.name}) for {scope}; the secret is shown once:")
    console.print(secret, highlight=False)


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    store = _store()
    store.ensure_schema()
    table = Table()
    for column in ("id", "name", "role", "producers", "datasets", "created", "revoked"):
        table.add_column(column)
    for t in list_tokens(store):
        table.add_row(str(t["id"]), str(t["name"]), str(t["role"]), ", ".join(t["producers"]),  # type: ignore[arg-type]
                      ", ".join(t["datasets"]), str(t["created_at"]), str(t["revoked_at"] or ""))  # type: ignore[arg-type]
    console.print(table)


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token; servers stop honouring it within their token cache time (30 s by default)."""
    store = _store()
    revoke_token(store, token_id, system_clock())
    console.print(f"revoked token {token_id}")


def main() -> None:
    try:
        app()
    except RcaError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
