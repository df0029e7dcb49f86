"""The FastAPI application: ingestion, evidence, configuration and control endpoints."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from copilot import Composer, SemanticSearch, default_composer
from detectors import DetectSettings
from evidence import ConfigError, DatasetNaming, EvidenceRecord, JobNaming, Store
from rca import (
    _adoption,
    _config_routes,
    _control_routes,
    _copilot_routes,
    _errors,
    _incident_routes,
    _ingest_routes,
    _metrics,
    _openapi,
    _reader_routes,
    console,
)
from rca._auth import Authenticator
from rca._detect_worker import DetectWorker, separable
from rca._errors import JSONBody
from rca._limits import INGESTION_PATHS, RequestLimits
from rca._responses import Health, documented
from rca._settings import Settings

if TYPE_CHECKING:
    from rca._slack import SlackBot

Clock = Callable[[], datetime]
log = logging.getLogger("rca")


def system_clock() -> datetime:
    """The only wall-clock read in the service: everything below the API takes `now` as an argument."""
    return datetime.now(UTC)


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    clock: Clock = system_clock,
    on_stored: Callable[[list[EvidenceRecord]], None] | None = None,
    composer: Composer | None = None,
) -> FastAPI:
    settings = settings or Settings()
    naming = DatasetNaming(settings.openlineage_dataset_urn)  # a bad template stops the server before it serves
    job_naming = JobNaming(settings.openlineage_job_urn)
    own_store = store is None
    store = store or Store.open(settings.database_url)
    store.ensure_schema()
    detect_settings = settings.detect_settings()
    # A pass's reading and computing runs in a worker process when the store is the configured database (not
    # one a test or the demo handed in) and another process can open it: see rca/_detect_worker.py.
    detect_worker = DetectWorker(settings.database_url) if own_store and separable(settings.database_url) \
        and settings.detect_in_worker else None
    metrics = _metrics.BackboneMetrics(store, clock, detect_settings, detect_worker, leases=settings.detect_leases)
    metrics.registry.register(_adoption.AdoptionCollector(store, clock))
    gate_member = gate_consumer(settings, store, clock, metrics) if settings.kafka_bootstrap else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        workers = []
        if settings.detect_interval_s > 0:
            workers.append(threading.Thread(target=_detect_loop, args=(
                metrics, clock, detect_settings, stop, settings.detect_interval_s, app.state.announce),
                name="rca-detectors", daemon=True))
        if settings.retention_days:
            workers.append(threading.Thread(target=_prune_loop, args=(
                store, clock, timedelta(days=settings.retention_days), stop), name="rca-retention", daemon=True))
        if gate_member is not None:
            workers.append(threading.Thread(target=_consume_loop, args=(gate_member, stop), name="rca-gate-consumer",
                                            daemon=True))
        for worker in workers:
            worker.start()
        yield
        stop.set()
        if detect_worker is not None:
            detect_worker.close()  # first: a pass in the worker ends now, and with it the loop's wait for it
        for worker in workers:
            worker.join(timeout=30)  # the consumer commits what it stored before it leaves its group

    app = FastAPI(
        lifespan=lifespan,
        title="rca",
        version=_version(),
        summary="Evidence-grounded root-cause copilot for data producers",
        description="Ingest producer evidence (envelope v1 CloudEvents, OpenLineage, CDEvents), read it back, "
        "and configure policies, contracts, resolution rules, lineage and SDK kill switches. All endpoints take "
        "'Authorization: Bearer <token>' (see `rca token create`).",
    )
    app.state.settings = settings
    app.state.store = store
    app.state.clock = clock
    app.state.on_stored = on_stored
    app.state.detect_settings = detect_settings
    app.state.openlineage_naming = naming
    app.state.openlineage_job_naming = job_naming
    app.state.metrics = metrics
    app.state.frames = frame_decoder(settings)
    app.state.composer = composer or default_composer(settings.model_environment())
    app.state.search = SemanticSearch(lambda: _vector_index(settings))
    app.state.announce = None  # the Slack outbox's delivery after each pass, when the bot is configured (below)
    app.state.authenticator = Authenticator(store, settings.auth_disabled, settings.token_cache_seconds)
    _errors.install(app)
    _openapi.install(app)
    app.add_middleware(RequestLimits, limit_for=lambda path: settings.max_body_bytes if path in INGESTION_PATHS
                       else settings.max_request_bytes)
    app.add_middleware(_metrics.RefusalCounter, metrics=metrics, routes=lambda: app.routes)  # outermost

    @app.get("/healthz", tags=["operations"], summary="Health: the database in use takes a write (503 when not)",
             response_model=None, responses={**documented(Health), 503: {
                 "description": "The database cannot take writes (down, read-only, disk full)", "model": Health}})
    def healthz() -> JSONBody:
        try:
            store.check_writable(clock())
        except (SQLAlchemyError, ConfigError) as exc:
            cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
            return JSONBody({"status": "unavailable", "database": store.dialect, "error": cause}, 503)
        return JSONBody({"status": "ok", "database": store.dialect})

    app.include_router(_ingest_routes.router)
    app.include_router(_config_routes.router)
    app.include_router(_incident_routes.router)
    app.include_router(_copilot_routes.router)
    app.include_router(_control_routes.router)
    app.include_router(_metrics.router)
    app.include_router(_reader_routes.router)
    app.include_router(_adoption.router)
    app.include_router(console.router)
    if settings.slack_signing_secret:
        from rca import _slack  # slack_bolt only when the bot is configured

        bot = _slack.mount(app)
        if bot.settings.channel:
            app.state.announce = _announcer(store, bot, metrics)
    return app


def _detect_loop(metrics: _metrics.BackboneMetrics, clock: Clock, settings: DetectSettings, stop: threading.Event,
                 interval_s: float, announce: Callable[[datetime], object] | None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
    """Detectors on a schedule inside `rca serve`; a failing pass is logged and the next one runs.

    Fixed rate: a pass starts every `interval_s` from the previous start, not `interval_s` after it ended (which
    lost a pass in every few to the passes' own length); one that overruns its slot is followed at once by the
    next, and the other slots it covered are skipped rather than queued. `monotonic` is the scheduling clock
    (never the domain clock, which is `clock`).
    """
    next_at = monotonic() + interval_s
    while not stop.wait(max(0.0, next_at - monotonic())):
        try:
            # A shard another replica finished less than half an interval ago is its, for this period.
            metrics.detector_pass(clock(), settings, "schedule", timedelta(seconds=interval_s / 2), announce)
        except Exception:
            if stop.is_set():
                break  # shutting down: the pass was cut short on purpose
            log.exception("detector pass failed; retrying in %s s", interval_s)
        next_at = max(next_at + interval_s, monotonic())


def _prune_loop(store: Store, clock: Clock, retention: timedelta, stop: threading.Event,
                every_s: float = 3600.0) -> None:
    """Retention inside `rca serve` (RCA_RETENTION_DAYS): evidence older than `retention` at the service's clock is
    dropped at start and then hourly; replicas doing it at once drop each month once (evidence/_partitions.py)."""
    while not stop.is_set():
        try:
            gone = store.prune(clock() - retention)
            if any(gone.values()):
                log.info("retention: %s", gone)
        except Exception:
            log.exception("pruning evidence failed; retrying in %s s", every_s)
        stop.wait(every_s)


def gate_consumer(settings: Settings, store: Store, clock: Clock, metrics: _metrics.BackboneMetrics) -> Any:
    """The contract gate's consumer-group member that `rca serve` runs when RCA_KAFKA_BOOTSTRAP is set."""
    from rca._kafka import ConsumerOptions, GateConsumer, GroupLag
    from rca._kafka_config import client_config

    topics = tuple(t.strip() for t in settings.kafka_topics.split(",") if t.strip())
    if not topics:
        raise ConfigError("RCA_KAFKA_BOOTSTRAP is set but RCA_KAFKA_TOPICS is empty: name the topics the gate reads "
                          "(comma-separated; a regular expression starts with ^), or unset RCA_KAFKA_BOOTSTRAP.")
    config = client_config(settings.kafka_bootstrap, environ=settings.families(),
                           config_file=Path(settings.kafka_config) if settings.kafka_config else None)
    member = GateConsumer(store, ConsumerOptions(config, settings.kafka_group, topics,
                                                 max_value_bytes=settings.kafka_max_value_bytes), clock,
                          frames=frame_decoder(settings))
    metrics.registry.register(_metrics.KafkaCollector(member.stats, GroupLag(config, settings.kafka_group),
                                                      settings.kafka_group))
    return member


def frame_decoder(settings: Settings) -> Any:
    """The schema registry's frame decoding when RCA_SCHEMA_REGISTRY_URL is set, else None (JSON payloads only)."""
    if not settings.schema_registry_url:
        return None
    from rca._registry import RegistryDecoder, client_config

    return RegistryDecoder(client_config(settings.schema_registry_url, settings.families()))


def _consume_loop(member: Any, stop: threading.Event) -> None:
    """The gate's consumer inside `rca serve`: a failure is logged and the member rejoins its group."""
    while not stop.is_set():
        try:
            member.run(stop)
        except Exception:
            log.exception("the gate's Kafka consumer failed; rejoining its group in 5 s")
            stop.wait(5)


def _announcer(store: Store, bot: SlackBot, metrics: _metrics.BackboneMetrics) -> Callable[[datetime], object]:
    """The Slack outbox's delivery (rca/_announce.py) through the bot; a failing delivery never fails a pass (what
    it did not post stays due for the next)."""
    from rca._announce import Announcer

    announcer = Announcer(store, bot.post_incident, timedelta(seconds=bot.settings.announce_max_age_s),
                          lambda outcome, n: metrics.announcements.labels(outcome).inc(n))

    def announce(now: datetime) -> None:
        try:
            announcer.deliver(now)
        except Exception:
            log.exception("delivering Slack announcements failed; the next pass tries again")

    return announce


def _vector_index(settings: Settings) -> Any:
    from evidence import VectorIndex

    return VectorIndex.from_settings(settings.model_environment(), default_path=settings.chroma_path)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rca")
    except PackageNotFoundError:
        return "0.0.0"
