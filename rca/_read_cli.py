"""Reading commands (incidents, explain, ask, evidence) and the client's profile (login, logout, whoami).

Each reads through a server with --url / --token (RCA_URL, RCA_TOKEN) or the profile `rca login` saved, and falls
back to the database for admins (RCA_DATABASE_URL): see `rca._source.open_source`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click
import orjson
from rich.markup import escape

from evidence import parse_time
from guardrails import inert
from rca._client import ApiClient, Profile, forget_profile, profile_path, save_profile, saved_profile
from rca._source import Source, open_source
from rca._terminal import CliError, Url, When, console, echo, working

F = TypeVar("F", bound=Callable[..., Any])
INCIDENT_STATUSES = ("open", "resolved", "false_positive", "all")
_TITLES = {"freshness": "Freshness SLO breach", "contract": "Contract break", "drift": "Unresolved records (drift)"}


def server_options(command: F) -> F:
    """--url, --token and --profile: where a reading command reads (see the module docstring)."""
    command = click.option("--profile", metavar="NAME", help="A profile saved by `rca login` (RCA_PROFILE).")(command)
    command = click.option("--token", metavar="TOKEN", envvar="RCA_TOKEN",
                           help="Bearer token for --url (RCA_TOKEN).")(command)
    return click.option("--url", type=Url(), metavar="URL", envvar="RCA_URL",
                        help="Read from a running `rca serve` (RCA_URL) instead of the database.")(command)


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(command)


def source(url: str | None, token: str | None, profile: str | None) -> Source:
    opened = open_source(url, token, profile)
    click.get_current_context().call_on_close(opened.close)
    return opened


def print_json(document: Any) -> None:
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")


# --- incidents ------------------------------------------------------------------------------------------------

def _age(incident: dict[str, Any]) -> str:
    """How long it has been bad: first bad to the last detector pass (or to resolution)."""
    end = incident.get("resolved_at") or incident.get("updated_at")
    if not (incident.get("first_bad_time") and end):
        return "n/a"
    seconds = (parse_time(end) - parse_time(incident["first_bad_time"])).total_seconds()
    return duration(seconds)


def duration(seconds: float) -> str:
    s = int(max(0, seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s // 86400} d"


def what_changed(incident: dict[str, Any]) -> str:
    deploys = incident.get("correlated_deploys") or []
    if deploys:
        d = deploys[0]
        more = f" (+{len(deploys) - 1} more)" if len(deploys) > 1 else ""
        return f"deploy {d.get('service') or ''} {d.get('version') or d.get('deploy_ref') or ''}".strip() + more
    run = incident.get("correlated_run")
    if run:
        return f"run {run.get('run_id')} ({run.get('state')})"
    return "nothing correlated"


def print_incidents(items: list[dict[str, Any]], title: str) -> None:
    """One block per incident: readable on any terminal width, in the order on-call reads it."""
    out = console()
    out.print(f"[bold]{title}[/bold]" + ("" if items else ": none"))
    for i in items:
        reason = i["reason_code"] + (f"({i['field']})" if i.get("field") else "")
        head = _plain(f"{_TITLES.get(i['kind'], i['kind'])}: {i['dataset_urn']}  {i['id']}")
        out.print()
        out.print(f"  {head}", style="bold", markup=False)
        if i.get("stale_evidence"):
            out.print("  STALE EVIDENCE: ingestion is lagging; what follows may be behind", style="yellow")
        downstream = i.get("impacted_downstream") or []
        lines = [("what", reason), ("status", f"{i.get('status', 'open')}, bad for {_age(i)}"),
                 ("first bad", i["first_bad_time"]), ("last good", i.get("last_good_time") or "n/a")]
        if i.get("current_watermark") or i.get("expected_watermark"):
            lines.append(("watermark", f"{i.get('current_watermark') or 'none'} "
                                       f"(expected {i.get('expected_watermark')})"))
        if i.get("bad_rate"):
            lines.append(("bad rate", f"{i['bad_rate']['before']:.1%} before, {i['bad_rate']['after']:.1%} since"))
        lines.append(("changed", what_changed(i)))
        lines.append(("downstream", f"{len(downstream)}: {', '.join(downstream)}" if downstream else "0"))
        if i.get("owner_team"):
            lines.append(("owner", f"{i['owner_team']} (tier {i.get('tier')})"))
        lines.append(("evidence", ", ".join(e["source_ref"] for e in i.get("evidence", [])) or "none"))
        for label, value in lines:
            out.print(f"    {label:<11}{_plain(value)}", markup=False)


def _plain(text: object) -> str:
    """Text for the terminal: NFKC, and control characters (newlines, escape sequences) as visible escapes, so no
    value can forge a line of its own."""
    return inert(str(text))


@click.command()
@click.option("--status", type=click.Choice(INCIDENT_STATUSES), default="open", show_default=True,
              help="Which incidents.")
@click.option("--dataset", metavar="URN", help="Only this dataset, e.g. ds://orders_v1.")
@click.option("--kind", type=click.Choice(("freshness", "contract", "drift")), help="Only this kind.")
@click.option("--team", metavar="TEAM", help="Only this owner team.")
@click.option("--tier", type=click.IntRange(0, 10), metavar="N", help="Only this tier.")
@server_options
@json_option
def incidents(status: str, dataset: str | None, kind: str | None, team: str | None, tier: int | None,
              url: str | None, token: str | None, profile: str | None, as_json: bool) -> None:
    """List incidents: what failed, since when, what changed, who is hit."""
    reader = source(url, token, profile)
    with working("Reading incidents"):
        items = reader.incidents(status=status, dataset_urn=dataset, kind=kind, owner_team=team, tier=tier)
    if as_json:
        print_json({"incidents": items})
        return
    print_incidents(items, f"Incidents ({status}) from {reader.where}")


# --- explain and ask ------------------------------------------------------------------------------------------

def print_rca(rca: dict[str, Any]) -> None:
    out = console()
    verdict = "[green]cause identified[/green]" if rca["verdict"] == "cause_identified" else \
        "[yellow]INCONCLUSIVE[/yellow]"
    out.print(f"\n  [bold]RCA[/bold] {escape(_plain(rca['incident_id']))}: {verdict}  "
              f"(composer: {escape(_plain(rca.get('composer', '?')))})")
    out.print(_plain(f"    {rca['summary']}"), markup=False)
    cause = rca.get("most_likely_cause")
    if cause:
        out.print(_plain(f"    most likely cause ({cause['confidence']:.0%}): {cause['statement']}"), markup=False)
    refs = {e["evidence_id"]: e["source_ref"] for e in rca.get("evidence", [])}
    for claim in rca["claims"]:
        out.print(_plain(f"    - {claim['text']}  [{', '.join(refs.get(i, i) for i in claim['evidence_ids'])}]"),
                  markup=False)
    for check in rca.get("next_checks", []):
        out.print(_plain(f"    next check: {check}"), markup=False)
    for action in rca.get("suggested_actions", []):
        out.print(_plain(f"    suggested: {action}"), markup=False)
    if rca.get("rejected_claims"):
        out.print(f"    {len(rca['rejected_claims'])} proposed claim(s) rejected by the verifier", style="dim")


@click.command()
@click.argument("incident_id", metavar="INCIDENT_ID")
@server_options
@json_option
def explain(incident_id: str, url: str | None, token: str | None, profile: str | None, as_json: bool) -> None:
    """The RCA of an incident (see `rca incidents`): verified claims, verdict, confidence, next checks."""
    reader = source(url, token, profile)
    with working(f"Building the RCA of {incident_id}"):
        rca = _known(lambda: reader.rca(incident_id), incident_id)
    if as_json:
        print_json(rca)
    else:
        print_rca(rca)


def _known(call: Callable[[], dict[str, Any]], incident_id: str) -> dict[str, Any]:
    from detectors import UnknownIncident

    try:
        return call()
    except UnknownIncident:
        raise CliError(f"no incident {incident_id!r}; list them with `rca incidents --status all`") from None


@click.command()
@click.argument("question", metavar="QUESTION")
@click.option("--incident", metavar="INCIDENT_ID", help="Ask about this incident.")
@click.option("--session", metavar="SESSION_ID", help="Continue a chat session.")
@server_options
@json_option
def ask(question: str, incident: str | None, session: str | None, url: str | None, token: str | None,
        profile: str | None, as_json: bool) -> None:
    """Ask the copilot; every sentence comes with the evidence that supports it."""
    if not question.strip():
        raise click.BadParameter("ask a question, e.g. \"why is orders_enriched stale?\"", param_hint="QUESTION")
    reader = source(url, token, profile)
    with working("Asking the copilot"):
        answer = _known(lambda: reader.ask(question, incident, session), incident or "")
    if as_json:
        print_json(answer)
        return
    out = console()
    for sentence in answer["answer"]:
        cites = ", ".join(sentence["evidence_ids"])
        out.print(_plain(f"{sentence['text']}" + (f"  [{cites}]" if cites else "")), markup=False)
    for check in answer.get("next_checks", []):
        out.print(_plain(f"  next check: {check}"), markup=False)
    out.print(_plain(f"session {answer['session_id']} (composer: {answer.get('composer', '?')}; continue with "
                     "--session)"), style="dim", markup=False)


# --- evidence -------------------------------------------------------------------------------------------------

@click.command()
@click.option("--dataset", metavar="URN", help="Dataset URN, e.g. ds://orders_v1.")
@click.option("--producer", metavar="URN", help="Producer URN, e.g. svc://checkout-service.")
@click.option("--type", "types", metavar="TYPE", multiple=True, help="Event type (repeatable), e.g. DeploymentEvent.")
@click.option("--since", type=When(), metavar="TIME", help="Event time at or after: 2026-03-10, 2026-03-10T10:00Z, 2h.")
@click.option("--until", type=When(), metavar="TIME", help="Event time before (same forms as --since).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True, metavar="N",
              help="At most this many records.")
@server_options
@json_option
def evidence(dataset: str | None, producer: str | None, types: tuple[str, ...], since: datetime | None,
             until: datetime | None, limit: int, url: str | None, token: str | None, profile: str | None,
             as_json: bool) -> None:
    """Stored evidence, oldest first."""
    from rich.table import Table

    reader = source(url, token, profile)
    with working("Reading evidence"):
        records = reader.evidence(limit=limit, dataset_urn=dataset, producer_urn=producer, type=list(types) or None,
                                  since=since, until=until)
    if as_json:
        sys.stdout.write(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table(title=f"Evidence ({len(records)}) from {reader.where}")
    for column in ("event time", "type", "source ref", "dataset", "producer", "evidence id"):
        table.add_column(column)
    for r in records:
        table.add_row(r["event_time"], r["type"], r["source_ref"], r.get("dataset_urn") or "",
                      r.get("producer_urn") or "", r["evidence_id"])
    console().print(table)


# --- the profile ----------------------------------------------------------------------------------------------

@click.command()
@click.option("--url", type=Url(), metavar="URL", required=True, envvar="RCA_URL", help="The server, e.g. "
              "http://127.0.0.1:8080 (RCA_URL).")
@click.option("--token", metavar="TOKEN", envvar="RCA_TOKEN", help="Your token (RCA_TOKEN); none for a server "
              "without auth.")
@click.option("--profile", metavar="NAME", default="default", show_default=True, help="Save under this name.")
def login(url: str, token: str | None, profile: str) -> None:
    """Check a server and token, then save them: reading commands use them without --url."""
    client = ApiClient(url, token)
    try:
        who = client.get("/v1/whoami")
    finally:
        client.close()
    path = save_profile(Profile(profile, url, token))
    echo(f"logged in to {url} as {who['name']} ({who['role']}); saved as profile {profile!r} in {path}")


@click.command()
@click.option("--profile", metavar="NAME", help="Which profile (default: the current one).")
def logout(profile: str | None) -> None:
    """Forget a saved server and token."""
    forgotten = forget_profile(profile)
    if forgotten is None:
        raise CliError(f"no saved profile{' ' + repr(profile) if profile else ''} in {profile_path()}")
    echo(f"forgot profile {forgotten!r}")


@click.command()
@server_options
@json_option
def whoami(url: str | None, token: str | None, profile: str | None, as_json: bool) -> None:
    """Where reading commands read, and as whom."""
    reader = source(url, token, profile)
    client = getattr(reader, "client", None)
    if client is None:
        doc = {"where": reader.where, "via": "database", "name": None, "role": "admin (database access)"}
    else:
        doc = {"where": reader.where, "via": "server", **client.get("/v1/whoami")}
        saved = saved_profile(profile) if not url else None
        doc["profile"] = saved.name if saved else None
    if as_json:
        print_json(doc)
    else:
        echo(f"{doc['via']} {doc['where']} as {doc.get('name') or 'the database user'} ({doc['role']})")
