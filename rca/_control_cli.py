"""`rca policies suggest|list` and `rca readiness`: the control plane in the terminal, readable or --json."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import click
import orjson
import typer
from rich.console import Console
from rich.table import Table

from detectors._drafts import accept, list_drafts, suggest
from evidence import utc
from evidence._store import Store
from rca._control_routes import readiness as readiness_of
from rca._settings import Settings
from rca.app import system_clock

policies_app = typer.Typer(help="Baseline policies and contracts drafted from evidence.", no_args_is_help=True)
console = Console()


def _store() -> Store:
    store = Store.open(Settings().database_url)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(store.close)
    store.ensure_schema()
    return store


def _at(at: str | None) -> datetime:
    if at is None:
        return system_clock()
    moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise typer.BadParameter("--at needs an offset, e.g. 2026-01-19T02:15:00-05:00", param_hint="--at")
    return utc(moment)


def _print_json(body: Any) -> None:
    typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())


def _zones(pairs: list[str]) -> dict[str, str]:
    zones = {}
    for pair in pairs:
        urn, sep, zone = pair.rpartition("=")
        if not sep or not urn or not zone:
            raise typer.BadParameter(f"{pair!r}: write DATASET_URN=IANA_ZONE, e.g. ds://orders=America/New_York",
                                     param_hint="--timezone")
        zones[urn] = zone
    return zones


def _print_drafts(drafts: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for column in ("id", "kind", "dataset", "status", "proposes"):
        table.add_column(column)
    for draft in drafts:
        spec = draft["spec"]
        if draft["kind"] == "policy":
            proposes = f"update by {spec['expected_update_by']} {spec['timezone']}"
            proposes += f", cron {spec['schedule']}" if spec.get("schedule") else ""
        else:
            schema = spec["schema"]
            proposes = f"{len(schema.get('properties', {}))} fields, {len(schema.get('required', []))} required"
        proposes += f"; owner {spec.get('owner_team') or '?'}, tier {spec.get('tier')}"
        table.add_row(draft["id"], draft["kind"], draft["dataset_urn"], draft["status"], proposes)
    console.print(table)


@policies_app.command("suggest")
def suggest_command(
    at: Annotated[str | None, typer.Option(help="The clock (RFC 3339); default: now.")] = None,
    timezone: Annotated[list[str] | None, typer.Option(help="DATASET_URN=IANA_ZONE (default UTC); repeatable.")] = None,
    accept_all: Annotated[bool, typer.Option("--accept", help="Accept every draft at once.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Draft baseline policies and contracts for datasets that have none, from their evidence."""
    store = _store()
    now = _at(at)
    drafts = suggest(store, now, timezones=_zones(timezone or []))
    if accept_all:
        drafts = [accept(store, d["id"], now, "cli") for d in drafts]
    if as_json:
        _print_json({"items": drafts})
        return
    _print_drafts(drafts, f"Policy drafts ({'accepted' if accept_all else 'suggested'}: {len(drafts)})")


@policies_app.command("list")
def list_command(
    status: Annotated[str | None, typer.Option(help="draft, accepted or dismissed")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List stored policy drafts."""
    drafts = list_drafts(_store(), status)
    if as_json:
        _print_json({"items": drafts})
        return
    _print_drafts(drafts, f"Policy drafts ({status or 'all'})")


def readiness(
    dataset: Annotated[str | None, typer.Option(help="One dataset URN.")] = None,
    producer: Annotated[str | None, typer.Option(help="One producer URN.")] = None,
    at: Annotated[str | None, typer.Option(help="The clock (RFC 3339); default: now.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Readiness per dataset and producer: each criterion, and the backlog that would raise the score."""
    items = readiness_of(_store(), _at(at), dataset_urn=dataset, producer_urn=producer)
    if as_json:
        _print_json({"items": [r.as_json() for r in items]})
        return
    for item in items:
        console.print(f"[bold]{item.subject}[/bold] ({item.kind}) readiness is {item.score}%")
        for criterion in item.criteria:
            mark = "[green]yes[/green]" if criterion.met else "[red]no[/red]"
            console.print(f"  {mark} {criterion.name}: {criterion.detail}")
        for line in item.backlog:
            console.print(f"  -> {line}")
