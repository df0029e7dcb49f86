"""`rca policies suggest|list` and `rca readiness`: the control plane in the terminal, readable or --json."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from rca._read_cli import json_option, print_json, server_options, source
from rca._source import open_store
from rca._terminal import When, console, working


@click.group()
def policies() -> None:
    """Baseline policies and contracts drafted from evidence."""


def _zones(pairs: tuple[str, ...]) -> dict[str, str]:
    zones = {}
    for pair in pairs:
        urn, sep, zone = pair.rpartition("=")
        if not sep or not urn or not zone:
            raise click.BadParameter(f"{pair!r}: write DATASET_URN=IANA_ZONE, e.g. ds://orders=America/New_York",
                                     param_hint="--timezone")
        zones[urn] = zone
    return zones


def _print_drafts(drafts: list[dict[str, Any]], title: str) -> None:
    from rich.table import Table

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
    console().print(table)


@policies.command("suggest")
@click.option("--at", type=When(), metavar="TIME", help="The clock: 2026-01-19T02:15:00-05:00, a date, or now "
              "(default).")
@click.option("--timezone", "timezones", multiple=True, metavar="URN=ZONE",
              help="A dataset's IANA zone, e.g. ds://orders=America/New_York (default UTC); repeatable.")
@click.option("--accept", "accept_all", is_flag=True, help="Accept every draft at once.")
@json_option
def suggest_command(at: datetime | None, timezones: tuple[str, ...], accept_all: bool, as_json: bool) -> None:
    """Draft baseline policies and contracts for datasets that have none, from their evidence (database)."""
    from detectors import accept, suggest
    from rca.app import system_clock

    zones = _zones(timezones)
    store = open_store()
    click.get_current_context().call_on_close(store.close)
    now = at or system_clock()
    with working("Drafting from evidence"):
        suggested = suggest(store, now, timezones=zones)
        decided = [accept(store, d.id, now, "cli") for d in suggested] if accept_all else suggested
    drafts = [d.model_dump(mode="json") for d in decided]
    if as_json:
        print_json({"items": drafts})
        return
    _print_drafts(drafts, f"Policy drafts ({'accepted' if accept_all else 'suggested'}: {len(drafts)})")


@policies.command("list")
@click.option("--status", type=click.Choice(("draft", "accepted", "dismissed")), help="Only drafts in this state.")
@server_options
@json_option
def list_command(status: str | None, url: str | None, token: str | None, profile: str | None, as_json: bool) -> None:
    """List stored policy drafts."""
    drafts = source(url, token, profile).drafts(status)
    if as_json:
        print_json({"items": drafts})
        return
    _print_drafts(drafts, f"Policy drafts ({status or 'all'})")


@click.command()
@click.option("--dataset", metavar="URN", help="One dataset.")
@click.option("--producer", metavar="URN", help="One producer.")
@click.option("--at", type=When(), metavar="TIME", help="The clock (database only): a time, a date, or now (default).")
@server_options
@json_option
def readiness(dataset: str | None, producer: str | None, at: datetime | None, url: str | None, token: str | None,
              profile: str | None, as_json: bool) -> None:
    """Readiness per dataset and producer: each criterion, and the backlog that would raise the score."""
    reader = source(url, token, profile)
    with working("Measuring readiness"):
        items = reader.readiness(dataset, producer, at)
    if as_json:
        print_json({"items": items})
        return
    out = console()
    for item in items:
        score = "n/a (nothing measured yet)" if item["score"] is None else f"{item['score']}%"
        out.print(f"{item['subject']} ({item['kind']}) readiness is {score}", style="bold", markup=False)
        for criterion in item["criteria"]:
            mark = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "[dim]n/a[/dim]"}[criterion["met"]]
            out.print(f"  {mark} ", end="")
            out.print(f"{criterion['name']}: {criterion['detail']}", markup=False)
        for line in item["backlog"]:
            out.print(f"  -> {line}", markup=False)
