"""Promotion gates: whether a ring's flag may go from off to staging, or from staging to prod, judged from evidence
only (pull request records, the evidence store's records and incidents). Each gate names the repositories that
fail it, so a refused promotion says what to fix and where. Gates are judged per environment and per service: to
prod, each service's evidence is read from when its own flag turned on in staging."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evidence import Store, incidents_detected_between, maybe_time, sdk_health, stored_incidents, utc

Flag = str  # off | staging | prod


class GateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_drop_rate: float = Field(0.01, ge=0, le=1, description="SDK drops / events handled, per service")
    health_window_hours: float = Field(24.0, gt=0, description="SdkHealth events this recent count")
    require_sdk_health: bool = Field(True, description="a service with no SdkHealth in the window fails the gate")
    error_window_hours: float = Field(72.0, gt=0, description="the windows before and after the flag compared")
    error_rate_tolerance: float = Field(0.02, ge=0, le=1, description="how much the error rate may rise")
    staging_env: str = "staging"


@dataclass(frozen=True)
class GateRepo:
    """What a gate knows of one repository of the ring."""

    repo: str
    producer_urn: str | None
    merged_at: datetime | None
    pr_state: str | None  # open | merged | closed | None (no pull request yet)
    flags: Mapping[str, datetime] = field(default_factory=dict)  # environment -> when its flag turned on there

    def on_since(self, environment: str, ring_since: datetime) -> datetime:
        """When this service's flag turned on in `environment` (its ring's time when it has no flag of its own)."""
        return self.flags.get(environment, ring_since)


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    detail: str
    repos: tuple[str, ...] = ()


GATE_NAMES = ("prs_merged", "staging_signal", "sdk_drop_rate", "no_instrumentation_incident", "error_rate_not_up")


def evaluate(store: Store, repos: Sequence[GateRepo], target: Flag, since: dict[Flag, datetime],
             settings: GateSettings, now: datetime) -> list[GateResult]:
    """The gates of promoting these repositories to `target`; `since[flag]` is when the ring's flag became `flag`
    (for a repository without flags of its own). To staging: every pull request merged. To prod: that, and the
    staging signal, the SDK's drop rate, no incident attributed to the instrumentation, and an error rate not up,
    each since the service's flag went on in staging."""
    results = [prs_merged(repos)]
    if target == "prod":
        flag_on = since.get("staging", now)
        results += [staging_signal(store, repos, flag_on, settings, now), drop_rate(store, repos, settings, now),
                    instrumentation_incidents(store, repos, flag_on, now),
                    error_rate(store, repos, flag_on, settings, now)]
    return results


def prs_merged(repos: Sequence[GateRepo]) -> GateResult:
    unmerged = tuple(r.repo for r in repos if r.merged_at is None)
    if unmerged:
        return GateResult("prs_merged", False, f"{len(unmerged)} of {len(repos)} onboarding pull requests not merged",
                          unmerged)
    return GateResult("prs_merged", True, f"all {len(repos)} onboarding pull requests merged")


def staging_signal(store: Store, repos: Sequence[GateRepo], flag_on: datetime, settings: GateSettings,
                   now: datetime) -> GateResult:
    """Evidence from each service in the staging environment (data.env), timed after its flag turned on there."""
    producers = {r.producer_urn: r for r in repos if r.producer_urn}
    first = min((r.on_since("staging", flag_on) for r in producers.values()), default=flag_on)
    seen: set[str] = set()
    for record in store.records(producer_urns=list(producers), since=utc(first), until=utc(now)):
        data = record.payload.get("data") or {}
        producer = record.producer_urn or record.source
        if isinstance(data, dict) and data.get("env") == settings.staging_env and producer in producers \
                and utc(record.event_time) >= utc(producers[producer].on_since("staging", flag_on)):
            seen.add(producer)
    missing = tuple(repo.repo for producer, repo in producers.items() if producer not in seen)
    missing += tuple(r.repo for r in repos if not r.producer_urn)
    if missing:
        return GateResult("staging_signal", False, f"no {settings.staging_env} signal since the flag turned on "
                          f"({flag_on:%Y-%m-%d %H:%M}Z) from {len(missing)} of {len(repos)}", missing)
    return GateResult("staging_signal", True, f"a {settings.staging_env} signal from each of {len(repos)}")


def drop_rate(store: Store, repos: Sequence[GateRepo], settings: GateSettings, now: datetime) -> GateResult:
    producers = {r.producer_urn: r.repo for r in repos if r.producer_urn}
    found = {s.producer_urn: s for s in sdk_health(store, now, timedelta(hours=settings.health_window_hours),
                                                    list(producers))}
    failing: list[str] = []
    reasons: list[str] = []
    for producer, repo in producers.items():
        summary = found.get(producer)
        if summary is None:
            if settings.require_sdk_health:
                failing.append(repo)
                reasons.append(f"{repo}: no SdkHealth in {settings.health_window_hours:g} h")
            continue
        rate = summary.drop_rate
        if rate is not None and rate > settings.max_drop_rate:
            failing.append(repo)
            worst = max(summary.dropped.items(), key=lambda kv: kv[1], default=("", 0))
            reasons.append(f"{repo}: drop rate {rate:.1%} > {settings.max_drop_rate:.1%} "
                           f"({summary.dropped_total} dropped, most {worst[0]})")
    if failing:
        return GateResult("sdk_drop_rate", False, "; ".join(reasons), tuple(failing))
    return GateResult("sdk_drop_rate", True, f"every SDK drops at most {settings.max_drop_rate:.1%}")


def instrumentation_incidents(store: Store, repos: Sequence[GateRepo], flag_on: datetime,
                              now: datetime) -> GateResult:
    """An incident is attributed to the instrumentation when it is a ring service's, detected since the flag turned
    on, and correlated with a deploy of that service made after its onboarding pull request merged (the deploy that
    shipped the SDK, or a later one)."""
    by_producer = {r.producer_urn: r for r in repos if r.producer_urn}
    attributed: dict[str, list[str]] = {}
    first = min((r.on_since("staging", flag_on) for r in by_producer.values()), default=flag_on)
    for incident in incidents_since(store, first, now):
        repo = by_producer.get(str(incident.get("producer_urn") or ""))
        if repo is None or repo.merged_at is None:
            continue
        detected = maybe_time(incident.get("detected_at"))
        if detected is not None and detected < utc(repo.on_since("staging", flag_on)):
            continue  # before this service's own flag turned on
        for deploy in incident.get("correlated_deploys") or []:
            when = maybe_time(deploy.get("time"))
            if when is not None and when >= repo.merged_at and deploy.get("producer_urn") in (None, repo.producer_urn):
                attributed.setdefault(repo.repo, []).append(str(incident["id"]))
                break
    if attributed:
        detail = "; ".join(f"{repo}: {', '.join(ids)}" for repo, ids in sorted(attributed.items()))
        return GateResult("no_instrumentation_incident", False, f"incidents correlated with the SDK's deploy: {detail}",
                          tuple(sorted(attributed)))
    return GateResult("no_instrumentation_incident", True, "no incident correlated with a deploy that shipped the SDK")


def error_rate(store: Store, repos: Sequence[GateRepo], flag_on: datetime, settings: GateSettings,
               now: datetime) -> GateResult:
    """Failed runs and failed or rolled-back deploys over all runs and deploys, in the window after the flag turned
    on against the same length before it."""
    window = timedelta(hours=settings.error_window_hours)
    types = ["JobRunCompleted", "JobRunFailed", "DeploymentEvent"]
    by_start: dict[datetime, list[GateRepo]] = {}  # services whose flag turned on together share their queries
    for repo in repos:
        if repo.producer_urn:
            by_start.setdefault(utc(repo.on_since("staging", flag_on)), []).append(repo)
    up = []
    for start, group in sorted(by_start.items()):
        after_end = min(utc(now), start + window)
        span = after_end - start
        producers = {str(r.producer_urn): r.repo for r in group}
        before = _failure_rates(store.records(producer_urns=list(producers), types=types, since=start - span,
                                              until=start))
        after = _failure_rates(store.records(producer_urns=list(producers), types=types, since=start,
                                             until=after_end))
        for producer, name in producers.items():
            was, now_rate = before.get(producer, 0.0), after.get(producer, 0.0)
            if now_rate > was + settings.error_rate_tolerance:
                up.append((name, was, now_rate))
    if up:
        return GateResult("error_rate_not_up", False, "; ".join(f"{repo}: {was:.1%} -> {rate:.1%}" for repo, was, rate
                                                                 in up), tuple(r for r, _, _ in up))
    return GateResult("error_rate_not_up", True, "no service's error rate rose by more than "
                      f"{settings.error_rate_tolerance:.1%}")


def _failure_rates(records: Sequence[Any]) -> dict[str, float]:
    totals: dict[str, list[int]] = {}
    for record in records:
        failed = record.type == "JobRunFailed" or (record.type == "DeploymentEvent" and (record.payload.get("data")
                                                   or {}).get("status") in ("failed", "rolled_back"))
        counts = totals.setdefault(record.producer_urn or record.source, [0, 0])
        counts[0] += int(failed)
        counts[1] += 1
    return {producer: failed / total for producer, (failed, total) in totals.items() if total}


def incidents_since(store: Store, since: datetime, now: datetime) -> list[dict[str, Any]]:
    return incidents_detected_between(store, since, now)


def all_incidents(store: Store) -> list[dict[str, Any]]:
    return stored_incidents(store, status=None)
