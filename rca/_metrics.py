"""Operational SLOs of the backbone as Prometheus metrics on GET /metrics; the only prometheus_client importer.

Each app has its own registry (not the process-global one), so tests can build several apps side by side.
Lag is read from the store at scrape time; everything else is counted where it happens.
"""

from __future__ import annotations

import bisect
import collections
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from detectors import (
    DetectionResult,
    DetectSettings,
    find_stored_incidents,
    leased_pass,
    run_detectors,
    store_incidents,
)
from evidence import EvidenceRecord, Incident, Store, utc
from rca._detect_worker import DetectWorker, Found
from rca._errors import ApiError

log = logging.getLogger("rca")
T = TypeVar("T")
# Seconds, from a fast batch to a slow pass; lag and creation latency reach minutes when something is wrong.
_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SLOW = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0)

# Ingestion lag at arrival, from a second to the backfill boundary (RCA_BACKFILL_AFTER_S, 6 h by default).
_LAG = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0, 6 * 3600.0)
# What a refused request is counted as: a bounded label from its status.
REFUSALS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict",
            413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid"}


class OffScrape(Generic[T]):
    """A figure the scrape serves but never computes itself: `compute` runs in a thread of its own, one at a time,
    started by a scrape that finds the last value older than `max_age_s`; that scrape waits for it at most `wait_s`
    (`first_wait_s` while there is no value yet) and otherwise serves the last value computed, with its age. A
    scrape is then bounded however long the computation takes under load, and a slow computation is never run
    twice at once, whatever the scrape rate (issue 13: /metrics timed out after 30 s under write load). The two
    figures of a scrape (the lag, the adoption report) wait in turn: at most 4 s together (10 s on a server's first
    scrape, before either has a value)."""

    def __init__(self, name: str, compute: Callable[[], T], max_age_s: float = 0.0, wait_s: float = 2.0,
                 first_wait_s: float = 5.0) -> None:
        self.name, self.compute = name, compute
        self.max_age_s, self.wait_s, self.first_wait_s = max_age_s, wait_s, first_wait_s
        self._lock = threading.Lock()
        self._value: T | None = None
        self._read_at = 0.0  # monotonic time the last value's computation started: what it reflects
        self._running: threading.Event | None = None

    def get(self) -> tuple[T | None, float | None]:
        """The last value and its age in seconds (None, None before the first one is computed)."""
        with self._lock:
            due = self._value is None or time.monotonic() - self._read_at > self.max_age_s
            if due and self._running is None:
                self._running = threading.Event()
                threading.Thread(target=self._refresh, args=(self._running,), name=f"metrics-{self.name}",
                                 daemon=True).start()
            running, first = self._running, self._value is None
        if due and running is not None:
            running.wait(self.first_wait_s if first else self.wait_s)
        with self._lock:
            if self._value is None:
                return None, None
            return self._value, time.monotonic() - self._read_at

    def _refresh(self, done: threading.Event) -> None:
        started = time.monotonic()
        try:
            value = self.compute()
            with self._lock:
                self._value, self._read_at = value, started
        except Exception:  # a failed refresh leaves the last value (its age tells); the next scrape tries again
            log.exception("metrics: computing %s failed", self.name)
        finally:
            with self._lock:
                self._running = None
            done.set()


class _LagCollector(Collector):
    """The stale verdict, read from the store off the scrape path (OffScrape): the worst source's p95 of ingest time
    minus event time over the stale window, backfills left out (the number incidents are tagged stale by), with the
    age of that reading. The store computes it in SQL (evidence/_sql_reads.py ingestion_lag)."""

    def __init__(self, store: Store, clock: Any, settings: DetectSettings) -> None:
        self.settings = settings
        window, backfill = timedelta(seconds=settings.stale_window_s), timedelta(seconds=settings.backfill_after_s)
        self.worst95 = OffScrape("ingestion-lag", lambda: max(
            (s["p95_s"] for s in store.ingestion_lag(clock(), window, backfill_after=backfill).values()),
            default=0.0))

    def collect(self) -> Iterable[Metric]:
        worst95, age = self.worst95.get()
        gauge = GaugeMetricFamily("rca_ingestion_lag_p95_seconds", "p95 of ingest time minus event time of the "
                                  "worst source over the trailing stale window, backfills left out")
        alert = GaugeMetricFamily("rca_ingestion_lag_alert", "1 while the p95 ingestion lag of some source exceeds "
                                  "the stale threshold (RCA_STALE_THRESHOLD_S); incidents are then tagged stale. "
                                  "Backfills (older than RCA_BACKFILL_AFTER_S on arrival) never raise it")
        reading = GaugeMetricFamily("rca_ingestion_lag_age_seconds", "Age of the reading the two gauges above "
                                    "report: the lag is read from the store off the scrape path, and a scrape that "
                                    "finds the reading under way serves the last one after at most 2 s")
        if worst95 is not None and age is not None:
            gauge.add_metric([], worst95)
            alert.add_metric([], 1.0 if worst95 > self.settings.stale_threshold_s else 0.0)
            reading.add_metric([], round(age, 3))
        yield gauge
        yield alert
        yield reading
        threshold = GaugeMetricFamily("rca_ingestion_lag_threshold_seconds", "The stale-evidence threshold")
        threshold.add_metric([], self.settings.stale_threshold_s)
        yield threshold


class KafkaCollector(Collector):
    """The gate's consumer: what this process read, and the whole group's lag, asked of the brokers at scrape
    time (at most every LAG_CACHE_S; a broker that does not answer leaves rca_gate_consumer_lag_up at 0)."""

    LAG_CACHE_S = 5.0

    def __init__(self, stats: Any, lag: Any, group: str) -> None:
        self.stats, self.lag, self.group = stats, lag, group
        self._cached: tuple[float, dict[tuple[str, int], int] | None] = (0.0, None)

    def _lag(self) -> dict[tuple[str, int], int] | None:
        at, value = self._cached
        if time.monotonic() - at > self.LAG_CACHE_S:
            try:
                value = self.lag()
            except Exception as exc:
                log.warning("consumer lag of group %s unavailable: %s", self.group, exc)
                value = None
            self._cached = (time.monotonic(), value)
        return value

    def collect(self) -> Iterable[Metric]:
        stats = self.stats
        with stats.lock:
            families = [
                ("rca_gate_records", "Kafka records this process read and stored, by topic", stats.records),
                ("rca_gate_poison_records", "Records that could not be decoded (UNDECODABLE_MESSAGE), by topic",
                 stats.poison),
                ("rca_gate_dead_letter_records", "Quarantine copies produced, by destination topic",
                 stats.dead_lettered),
            ]
            rate, failures = stats.rate, stats.failures
        for name, documentation, values in families:
            family = CounterMetricFamily(name, documentation, labels=["topic"])
            for topic, count in sorted(values.items()):
                family.add_metric([topic], count)
            yield family
        gauge = GaugeMetricFamily("rca_gate_records_per_second", "Records stored per second over the last 10 s")
        gauge.add_metric([], rate)
        yield gauge
        failed = CounterMetricFamily("rca_gate_batch_failures", "Batches that could not be stored and were re-read")
        failed.add_metric([], failures)
        yield failed
        lag = self._lag()
        up = GaugeMetricFamily("rca_gate_consumer_lag_up", "1 when the brokers answered the last lag query")
        up.add_metric([], 0.0 if lag is None else 1.0)
        yield up
        behind_by = GaugeMetricFamily("rca_gate_consumer_lag", "Records of a partition not yet committed by the gate's "
                                   "consumer group (high watermark minus committed offset)",
                                   labels=["group", "topic", "partition"])
        for (topic, partition), behind in sorted((lag or {}).items()):
            behind_by.add_metric([self.group, topic, str(partition)], behind)
        yield behind_by


class BackboneMetrics:
    def __init__(self, store: Store, clock: Any, settings: DetectSettings, worker: DetectWorker | None = None,
                 leases: bool = False) -> None:
        self.store = store
        self.worker = worker
        self.leases = leases and store.dialect == "postgresql"
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.registry = CollectorRegistry()
        # endpoint: the route an item came in by; format: what it was (cloudevents, cdevents, openlineage, kafka).
        self.ingest = Counter("rca_ingest_events", "Items received by the ingestion endpoints, by outcome",
                              ["endpoint", "format", "status"], registry=self.registry)
        self.lag = Histogram("rca_ingestion_lag_seconds", "Arrival time minus event time of each stored evidence "
                             "item, observed as it arrives (backfills are counted apart)", ["endpoint"],
                             buckets=_LAG, registry=self.registry)
        self.backfills = Counter("rca_ingest_backfill_events", "Stored evidence items whose event time was older "
                                 "than RCA_BACKFILL_AFTER_S on arrival (replays, imports): not lag",
                                 ["endpoint"], registry=self.registry)
        self.refused = Counter("rca_http_refused_requests", "Requests refused before or by a route, by reason "
                               "(bad_request, unauthorized, forbidden, not_found, conflict, payload_too_large, "
                               "unsupported_media_type, invalid)", ["endpoint", "reason"], registry=self.registry)
        self.backfill_after_s = settings.backfill_after_s
        self.resolution = Histogram("rca_resolution_latency_seconds", "Wall time of one gate batch through "
                                    "offsets, rule resolution, the contract gate and the store", buckets=_FAST,
                                    registry=self.registry)
        self.drift = Histogram("rca_drift_detection_seconds", "From the first unmapped record's ingest time to the "
                               "detector pass that opened its drift incident", buckets=_SLOW, registry=self.registry)
        self.creation = Histogram("rca_incident_creation_latency_seconds", "From the ingest time of an incident's "
                                  "first bad evidence (or its deadline, for freshness) to the pass that opened it",
                                  ["kind"], buckets=_SLOW, registry=self.registry)
        self.passes = Histogram("rca_detector_pass_duration_seconds", "Wall time of one detector pass",
                                ["trigger"], buckets=_FAST, registry=self.registry)
        self.rejections = Counter("rca_verifier_rejections", "Claims the guardrail verifier rejected, by reason",
                                  ["reason"], registry=self.registry)
        self.announcements = Counter("rca_slack_announcements", "New incidents' Slack announcements, by outcome "
                                     "(sent, retried, given_up, skipped): rca/_announce.py", ["outcome"],
                                     registry=self.registry)
        self.registry.register(_LagCollector(store, clock, settings))

    def ingested(self, endpoint: str, format: str, counts: dict[str, int]) -> None:
        for status, count in counts.items():
            if count:
                self.ingest.labels(endpoint, format, status).inc(count)

    def arrived(self, endpoint: str, records: Iterable[EvidenceRecord]) -> None:
        """Lag measured at arrival, per stored item: what the item's own sender waited, not a rescan of the store."""
        limit = self.backfill_after_s
        lags = [max(0.0, (record.ingest_time - record.event_time).total_seconds()) for record in records]
        kept = [seconds for seconds in lags if seconds <= limit]
        observe_all(self.lag.labels(endpoint), kept)
        if backfills := len(lags) - len(kept):
            self.backfills.labels(endpoint).inc(backfills)

    def refusal(self, endpoint: str, status: int) -> None:
        if (reason := REFUSALS.get(status)) is not None:
            self.refused.labels(endpoint, reason).inc()

    def rejected_claims(self, rejected: Iterable[dict[str, Any]]) -> None:
        for claim in rejected:
            # The verifier gives each rejection a short reason (no_citation, not_found, mismatch, ...): a bounded label.
            self.rejections.labels(str(claim.get("reason") or "predicate")).inc()

    def detector_pass(self, now: datetime, settings: DetectSettings, trigger: str,
                      period: timedelta = timedelta(0),
                      announce: Callable[[datetime], object] | None = None) -> DetectionResult:
        """Run a pass, timing it, and observe how long each incident it opened took to be created; `announce` runs
        after it, at its clock (the Slack outbox's delivery, rca/_announce.py: the pass stored what to announce
        with the incidents). The finding
        half runs in the worker process when there is one (rca/_detect_worker.py), the writing half here. On
        PostgreSQL the pass leases shards of the datasets (detectors/_leases.py), so that several processes on one
        database share it; `period`: a shard finished by any process within it is not evaluated again."""
        started = time.perf_counter()
        if self.leases:
            result = leased_pass(self.store, now, settings, lambda shards: self._find(now, settings, shards),
                                 self.holder, period)
        else:
            if self.worker is not None:
                found, findings = self.worker.find(now, settings)
                result = store_incidents(self.store, found, now, settings, findings)
            else:
                result = run_detectors(self.store, now, settings)
        if announce is not None:
            announce(now)
        self.passes.labels(trigger).observe(time.perf_counter() - started)
        opened_ids = set(result.opened)
        opened = [i for i in result.incidents if i.id in opened_ids]
        for incident, latency in _creation_latencies(self.store, opened, utc(now)):
            self.creation.labels(incident.kind).observe(latency)
            if incident.kind == "drift":
                self.drift.observe(latency)
        return result

    def _find(self, now: datetime, settings: DetectSettings, shards: frozenset[int]) -> Found:
        if self.worker is not None:
            return self.worker.find(now, settings, shards)
        findings: list[dict[str, Any]] = []
        return find_stored_incidents(self.store, now, settings, findings, shards), findings

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _creation_latencies(store: Store, opened: list[Incident],
                        now: datetime) -> Iterator[tuple[Incident, float]]:
    records = store.get_many(i for incident in opened for i in incident.evidence_ids)
    for incident in opened:
        first_bad = incident.first_bad_time
        # The first bad evidence: what the incident cites at or after its boundary, first to arrive.
        arrived = [r.ingest_time for i in incident.evidence_ids
                   if (r := records.get(i)) is not None and r.event_time >= first_bad]
        start = min(arrived, default=first_bad)
        yield incident, max(0.0, (now - max(start, first_bad)).total_seconds())


def observe_all(histogram: Histogram, values: Sequence[float]) -> None:
    """`histogram.observe(value)` for each value, in one update a bucket and one of the sum.

    prometheus_client's observe takes a lock and walks the buckets once a value: 1.6 us, a tenth of what ingesting an
    event cost (benchmarks/ingest_bench.py). This does what observe does (metrics.py: the sum, then the count of the
    first bucket whose upper bound holds the value, buckets cumulated at scrape time) from its attributes; a test
    compares the two expositions, so a library that changes them fails it.
    """
    if not values:
        return
    bounds: list[float] = histogram._upper_bounds
    buckets = histogram._buckets
    histogram._sum.inc(sum(values))
    for index, count in collections.Counter(bisect.bisect_left(bounds, value) for value in values).items():
        buckets[index].inc(count)


class RefusalCounter:
    """ASGI middleware, outermost: counts every refused request by route template and reason, whoever refused it
    (the body limit before auth, auth, the content-type check, validation). The label is the route's template, or
    "unmatched", so a scan of random URLs adds no series."""

    def __init__(self, app: ASGIApp, metrics: BackboneMetrics, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app, self.metrics, self.routes = app, metrics, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in REFUSALS:
                self.metrics.refusal(self._endpoint(scope), message["status"])
            await send(message)

        await self.app(scope, receive, counting)

    def _endpoint(self, scope: Scope) -> str:
        route = next((r for r in _leaves(self.routes()) if r.matches(scope)[0] == Match.FULL), None)
        return str(getattr(route, "path", None) or "unmatched")


def _leaves(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes themselves, inside the routers FastAPI includes (it wraps each included router)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        yield from _leaves(inner.routes) if inner is not None else (route,)


router = APIRouter()


@router.get("/metrics", tags=["operations"], include_in_schema=True,
            summary="Prometheus metrics of the backbone (reader token unless RCA_METRICS_PUBLIC=true)",
            response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request) -> Response:
    state = request.app.state
    if not state.settings.metrics_public:
        token = state.authenticator(request)
        if not token.may_read:
            raise ApiError(403, "forbidden", f"Token {token.name!r} is a {token.role} token; metrics need a reader "
                           "token (or RCA_METRICS_PUBLIC=true).")
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
