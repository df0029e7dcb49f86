"""Commands that run the service or write its database: serve, db, load, detect (ingest: rca/_ingest_cli.py,
token: rca/_token_cli.py; the local tools that need neither, replay, eval, openapi and slack: rca/_tools_cli.py)."""

from __future__ import annotations

import faulthandler
import functools
import gc
import ipaddress
import json
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson
import yaml

from rca._read_cli import json_option, print_incidents, print_json
from rca._source import open_store
from rca._terminal import USAGE, CliError, When, echo, working

if TYPE_CHECKING:
    from fastapi import FastAPI

    from rca._settings import Settings


def _store(*, create: bool = False) -> Any:
    store = open_store(create=create)
    click.get_current_context().call_on_close(store.close)
    return store


def _now() -> datetime:
    from rca.app import system_clock

    return system_clock()


# --- serve ----------------------------------------------------------------------------------------------------

@click.command()
@click.option("--host", metavar="HOST", help="Interface to bind (RCA_HOST, default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), metavar="PORT", help="Port (RCA_PORT, default 8080).")
@click.option("--insecure-no-auth", is_flag=True, help="Serve without tokens; refused unless bound to loopback.")
@click.option("--demo", is_flag=True, help="Load the reference stories (examples/scenarios) and serve them: auth off "
              "(loopback only), no scheduled detection, the clock at the stories' now.")
@click.option("--workers", type=click.IntRange(1, 64), metavar="N", help="Worker processes sharing the port "
              "(RCA_WORKERS, default 1); more than one needs PostgreSQL.")
def serve(host: str | None, port: int | None, insecure_no_auth: bool, demo: bool, workers: int | None) -> None:
    """Serve the API and the web console. Upgrades an empty database itself."""
    import uvicorn

    from rca._settings import Settings

    settings = Settings()
    updates: dict[str, Any] = {}
    if host:
        updates["host"] = host
    if port is not None:
        updates["port"] = port
    if insecure_no_auth or demo:
        updates["auth_disabled"] = True
    if workers is not None:
        updates["workers"] = workers
    settings = settings.model_copy(update=updates)
    if settings.auth_disabled and not _loopback(settings.host):
        raise CliError(f"refusing to serve without auth on {settings.host}: bind to 127.0.0.1, or use tokens", USAGE)
    if settings.workers > 1 and demo:
        raise CliError(f"--demo serves one process (its stories are in memory); drop --workers {settings.workers} "
                       "(or RCA_WORKERS)", USAGE)
    if settings.workers > 1 and not settings.database_url.startswith("postgresql"):
        raise CliError(f"--workers {settings.workers} (or RCA_WORKERS) needs PostgreSQL: SQLite takes one writer at a "
                       "time, so its processes would queue for the file, not share the work. Serve one process "
                       "(--workers 1), or set RCA_DATABASE_URL=postgresql://... (see 'Several processes on one "
                       "PostgreSQL' in the README).", USAGE)
    # Bind before anything else: a taken port is told at once, and "serving on" is printed only when it is true.
    sock = _bind(settings.host, settings.port)
    with working("Loading the demo stories" if demo else "Opening the database"):
        if demo:
            from rca._demo import demo_app

            application = demo_app(settings)
        else:
            from rca.app import create_app

            application = create_app(settings)
    _check_writable(application.state.store)
    bound_port = sock.getsockname()[1]
    processes = f", {settings.workers} worker processes" if settings.workers > 1 else ""
    echo(f"rca serving on http://{settings.host}:{bound_port}/ ({application.state.store.dialect}{processes}"
         f"{', auth OFF' if settings.auth_disabled else ''}); the console is at that address. Ctrl-C stops it.")
    options: dict[str, Any] = {"log_level": "warning", "access_log": False,
                               "timeout_graceful_shutdown": settings.shutdown_grace_s}
    if settings.workers == 1:
        _tune_process()
        uvicorn.Server(uvicorn.Config(application, **options)).run(sockets=[sock])
        return
    # Each worker (spawned: it starts from a fresh interpreter) builds its own app from these settings, opens its
    # own connections and runs the in-process loops as a replica does; this one checked them, and only supervises:
    # uvicorn's supervisor passes the socket on, starts a worker again if one dies, and on SIGTERM stops them all
    # with the same grace.
    application.state.store.close()
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(functools.partial(worker_app, settings), factory=True, workers=settings.workers,
                            **options)
    Multiprocess(config, sockets=[sock]).run()


def worker_app(settings: Settings) -> FastAPI:
    """The app of one `rca serve --workers N` worker process (a factory uvicorn calls in the worker)."""
    from rca.app import create_app

    _tune_process()
    return create_app(settings)


def _tune_process() -> None:
    """What an `rca serve` process sets before it serves (each worker its own)."""
    # A fatal signal in C code (SQLite's memory-mapped -shm file can raise SIGBUS) is logged with a traceback
    # instead of killing the process silently.
    faulthandler.enable()
    # Ingestion allocates a dict per event; the default GC thresholds ran a collection every few hundred
    # events in a 1,000-event batch. Fewer, larger collections measured ~10% more events/s (benchmarks/).
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    # Requests share one interpreter. A thread back from the database (a round trip answered, a COPY chunk taken)
    # waits for the one validating another batch to let go of the GIL, up to the switch interval each time: at
    # CPython's 5 ms a batch's few round trips stalled behind the next batch's validation and the two ran one after
    # the other. At 1 ms they overlap more (benchmarks/ingest_bench.py, paired runs at load 6-7: PostgreSQL API/COPY
    # median 0.509 at 5 ms, 0.551 at 1 ms; SQLite API/insert 0.908 and 0.998).
    sys.setswitchinterval(SWITCH_INTERVAL_S)


SWITCH_INTERVAL_S = 0.001


def _check_writable(store: Any) -> None:
    """A database that cannot take writes stops the server here, with the reason, not on the first request."""
    from sqlalchemy.exc import SQLAlchemyError

    from evidence import RcaError

    try:
        store.check_writable(_now())
    except (SQLAlchemyError, RcaError) as exc:
        raise CliError(f"the database cannot take writes: {str(getattr(exc, 'orig', None) or exc).strip()}") from None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # listening now: a second `rca serve` on this port fails here, not after loading
    except OSError as exc:
        sock.close()
        reason = "already in use" if exc.errno == 98 else exc.strerror or str(exc)
        raise CliError(f"cannot listen on {host}:{port}: {reason}; pick another with --port (or RCA_PORT), or stop "
                       "what is listening there") from None
    sock.set_inheritable(True)
    return sock


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- db and load ----------------------------------------------------------------------------------------------

@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the database, or migrate it to the newest schema."""
    store = open_store(create=True)
    try:
        with working("Migrating"):
            store.upgrade()
        echo(f"database {store.engine.url.render_as_string(hide_password=True)} is at the newest schema")
    finally:
        store.close()


@db.command("prune")
@click.option("--older-than-days", type=click.IntRange(1, 100_000), metavar="DAYS",
              help="Retention in days (default RCA_RETENTION_DAYS).")
@json_option
def db_prune(older_than_days: int | None, as_json: bool) -> None:
    """Drop evidence older than the retention period: whole months on PostgreSQL, rows on SQLite."""
    from datetime import timedelta

    from rca._settings import Settings

    days = older_than_days or Settings().retention_days
    if not days:
        raise CliError("no retention period: pass --older-than-days DAYS or set RCA_RETENTION_DAYS.")
    store = _store()
    before = _now() - timedelta(days=days)
    with working("Pruning"):
        gone = store.prune(before)
    if as_json:
        print_json({"before": before.isoformat(), **gone})
        return
    dropped = gone.get("dropped_partitions")
    what = (f"{len(dropped)} month partition(s) dropped" if isinstance(dropped, list)
            else f"{gone['deleted_records']} record(s) deleted")
    echo(f"evidence before {before.isoformat()}: {what}")


@click.command()
@click.argument("scenarios", nargs=-1, required=True, metavar="SCENARIO...",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--no-detect", is_flag=True, help="Store the stories without a detector pass at their clocks.")
@json_option
def load(scenarios: tuple[Path, ...], no_detect: bool, as_json: bool) -> None:
    """Load scenario stories into the database: policies, contracts, mappings, lineage, events and Kafka messages,
    then detect at each story's clock. `rca incidents`, `explain`, `ask` and the console then see them."""
    from detectors import ScenarioError, load_scenario
    from evidence import to_json
    from rca._demo import load_stories

    try:
        stories = [load_scenario(path) for path in scenarios]
    except ScenarioError as exc:
        raise CliError(str(exc)) from None
    store = _store(create=True)
    with working("Loading", total=len(stories)) as advance:
        loaded = load_stories(store, stories, detect=not no_detect, on_story=lambda _: advance())
    if as_json:
        print_json({"stories": loaded.counts, "incidents": [to_json(i) for i in loaded.incidents],
                    "rejected": loaded.rejected})
    else:
        for name, counts in loaded.counts.items():
            echo(f"loaded {name}: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n))
        if not no_detect:
            print_incidents([to_json(i) for i in loaded.incidents],
                            "Open incidents, each detected at its story's clock")
        for problem in loaded.rejected[:20]:
            echo(f"rejected {problem}")
    if loaded.rejected:
        raise CliError(f"{len(loaded.rejected)} item(s) were rejected (listed above); the rest is stored")


# --- ingest ---------------------------------------------------------------------------------------------------

def load_events(path: Path) -> list[Any]:
    """Events from a JSON file (one event or a list), JSON Lines, or YAML (a list, or a scenario's `events:`)."""
    return read_items(path, "events")[0]


def read_items(path: Path, key: str) -> tuple[list[Any], list[dict[str, Any]]]:
    """(items, problems): items of a file, and a rejection naming file and line for each JSON Lines line that is
    not JSON (the other lines still go). A JSON or YAML file that does not parse is an error."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    problems: list[dict[str, Any]] = []
    if path.suffix in (".yaml", ".yml"):
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise CliError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    elif path.suffix in (".jsonl", ".ndjson"):
        doc = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                doc.append(json.loads(line))
            except json.JSONDecodeError as exc:
                problems.append({"file": str(path), "line": number, "status": "rejected", "field": None,
                                 "error": f"{path} line {number}: not JSON ({exc.msg} at column {exc.colno})"})
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CliError(f"{path} line {exc.lineno}: not JSON ({exc.msg} at column {exc.colno}); JSON Lines files "
                           "end in .jsonl") from None
    if isinstance(doc, dict) and "specversion" not in doc and ("events" in doc or "messages" in doc):
        doc = doc.get(key) or []
    elif key == "messages":
        return [], []
    items = doc if isinstance(doc, list) else [doc]
    # YAML turns unquoted timestamps into datetimes; the wire format is JSON text.
    return [orjson.loads(orjson.dumps(e, default=_jsonable)) for e in items], problems


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value))


def _story_parts(path: Path) -> list[str]:
    """The configuration a scenario file carries, which `ingest` does not send (`rca load` does)."""
    if path.suffix not in (".yaml", ".yml"):
        return []
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return []
    if not isinstance(doc, dict):
        return []
    return [k for k in ("policies", "contracts", "mappings", "lineage") if doc.get(k)]


@click.command()
@click.option("--at", type=When(), metavar="TIME", help="The clock for this pass: 2026-01-19T02:15:00-05:00, a date, "
              "or now (default).")
@json_option
def detect(at: datetime | None, as_json: bool) -> None:
    """Run the detectors once at a given clock and store the incidents."""
    from evidence import to_json
    from rca._metrics import BackboneMetrics
    from rca._settings import Settings

    store = _store()
    settings = Settings()
    with working("Detecting"):  # on PostgreSQL, shares the pass with `rca serve` replicas through leases
        metrics = BackboneMetrics(store, _now, settings.detect_settings(), leases=settings.detect_leases)
        result = metrics.detector_pass(at or _now(), settings.detect_settings(), "cli")
    incidents = [to_json(i) for i in result.incidents]
    if as_json:
        print_json({"incidents": incidents, "opened": result.opened, "resolved": result.resolved,
                    "paused": result.paused, "drift": result.drift, "shards": result.shards})
        return
    print_incidents(incidents, f"Open incidents ({len(result.opened)} opened, {len(result.resolved)} resolved)")


# --- tokens ---------------------------------------------------------------------------------------------------
