"""`rca ingest FILE...`: events (JSON lines, a JSON array, a scenario's events and messages) into the database, or to
a running `rca serve` with --url."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from rca._admin_cli import _now, _store, _story_parts, read_items
from rca._read_cli import json_option, print_json
from rca._terminal import CliError, Url, console, echo, working


@click.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", type=Url(), metavar="URL", help="Send to a running `rca serve` instead of the database.")
@click.option("--token", metavar="TOKEN", envvar="RCA_TOKEN", help="Writer token for --url (RCA_TOKEN).")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=1000, show_default=True, metavar="N",
              help="Events per request.")
@json_option
def ingest(files: tuple[Path, ...], url: str | None, token: str | None, batch_size: int, as_json: bool) -> None:
    """Send evidence events (JSON, JSON Lines or YAML) into the database, or through the API with --url."""
    from rca._client import ApiClient

    summary: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    parsed: list[tuple[Path, list[Any], list[Any]]] = []
    with working("Reading files", total=len(files)) as advance:
        for path in files:
            events, problems = read_items(path, "events")
            messages = read_items(path, "messages")[0] if path.suffix in (".yaml", ".yml") else []
            rejected += problems
            parsed.append((path, events, messages))
            advance()
            parts = _story_parts(path)
            if parts:
                echo(f"note: {path} is a story with {', '.join(parts)}; ingest sends only its events and messages "
                     f"(records no mapping claims are held). `rca load {path}` loads all of it.", stderr=True)
    client = ApiClient(url, token) if url else None
    store = None if client else _store(create=True)
    if client:
        click.get_current_context().call_on_close(client.close)
    total = sum(len(e) + len(m) for _, e, m in parsed)
    with working("Ingesting", total=total) as advance:
        for path, events, messages in parsed:
            counts: dict[str, Any] = {"file": str(path), "events": len(events), "accepted": 0, "duplicate": 0,
                                      "conflict": 0, "rejected": len([p for p in rejected if p["file"] == str(path)])}
            if messages:
                counts.update(records=len(messages), held=0)
            for items, endpoint in ((events, "/v1/events"), (messages, "/v1/gate/records")):
                for start in range(0, len(items), batch_size):
                    batch = items[start : start + batch_size]
                    result = _send(client, store, batch, endpoint)
                    for key in ("accepted", "duplicate", "conflict", "rejected", "held"):
                        if key in result:
                            counts[key] = counts.get(key, 0) + result[key]
                    # A conflict (the id was sent before with another payload) is refused like a rejection.
                    rejected += [dict(r, file=str(path)) for r in result["results"]
                                 if r["status"] in ("rejected", "conflict")]
                    advance(len(batch))
            summary.append(counts)
    if as_json:
        print_json({"files": summary, "rejected": rejected})
    else:
        from rich.table import Table

        table = Table(title="Ingested" + (f" through {url}" if url else ""))
        columns = ("file", "events", "records", "accepted", "duplicate", "conflict", "held", "rejected")
        for column in columns:
            table.add_column(column, justify="left" if column == "file" else "right")
        for row in summary:
            table.add_row(*(str(row.get(c, "")) for c in columns))
        console().print(table)
        for r in rejected[:20]:
            echo(f"rejected {r['error']}")
    if len(rejected) == 1:
        raise CliError(f"{rejected[0]['error']}; the other items were stored (sending the file again after fixing it "
                       "is safe: stored events come back as duplicate)")
    if rejected:
        raise CliError(f"{len(rejected)} items rejected (listed above), the others stored; fix them and send the file "
                       "again (stored events come back as duplicate)")


def _send(client: Any, store: Any, batch: list[Any], endpoint: str) -> dict[str, Any]:
    if client is None:
        from detectors import intake_records
        from evidence import ingest_events

        run = ingest_events if endpoint == "/v1/events" else intake_records
        return dict(run(store, batch, _now()).as_json())
    kind = "application/cloudevents-batch+json" if endpoint == "/v1/events" else "application/json"
    return dict(client.request("POST", endpoint, content=orjson.dumps(batch), headers={"Content-Type": kind}))


# --- detect ---------------------------------------------------------------------------------------------------
