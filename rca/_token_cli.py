"""`rca token create|list|revoke`: API tokens in the database (shown once when created)."""

from __future__ import annotations

import sys

import click

from rca._admin_cli import _now, _store
from rca._terminal import console, echo


@click.group()
def token() -> None:
    """API tokens: writers scoped to producers, readers, admins."""


@token.command("create")
@click.option("--name", required=True, metavar="NAME", help="Who holds it, e.g. checkout-service-ci.")
@click.option("--role", type=click.Choice(("writer", "reader", "admin")), default="writer", show_default=True,
              help="What it may do.")
@click.option("--producer", "producers", multiple=True, metavar="PATTERN",
              help="URN pattern a writer may write, e.g. 'svc://checkout-*' (repeatable).")
@click.option("--dataset", "datasets", multiple=True, metavar="PATTERN",
              help="Dataset URN pattern a writer's events may name, e.g. 'ds://orders*' (repeatable; none: deploys "
              "and runs only).")
def token_create(name: str, role: str, producers: tuple[str, ...], datasets: tuple[str, ...]) -> None:
    """Create a token and print its secret once (on stdout; the note goes to stderr)."""
    from evidence import create_token

    store = _store(create=True)
    created, secret = create_token(store, name, role, list(producers), _now(),  # type: ignore[arg-type]
                                   datasets=list(datasets))
    scope = ", ".join(created.producers) or "all"
    if created.role == "writer":
        scope += f" (datasets: {', '.join(created.datasets) or 'none'})"
    echo(f"created {created.role} token {created.id} ({created.name}) for {scope}; the secret is shown once:",
         stderr=True)
    sys.stdout.write(secret + "\n")


@token.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    from rich.table import Table

    from evidence import list_tokens

    table = Table()
    for column in ("id", "name", "role", "producers", "datasets", "created", "revoked"):
        table.add_column(column)
    for t in list_tokens(_store()):
        table.add_row(str(t["id"]), str(t["name"]), str(t["role"]), ", ".join(t["producers"]),  # type: ignore[arg-type]
                      ", ".join(t["datasets"]), str(t["created_at"]), str(t["revoked_at"] or ""))  # type: ignore[arg-type]
    console().print(table)


@token.command("revoke")
@click.argument("token_id", type=int, metavar="TOKEN_ID")
def token_revoke(token_id: int) -> None:
    """Revoke a token; servers stop honouring it within their token cache time (30 s by default)."""
    from evidence import revoke_token

    revoke_token(_store(), token_id, _now())
    echo(f"revoked token {token_id}")
