"""Adoption and platform KPIs: pure functions of hand-checkable inputs (pull request records, SdkHealth summaries,
campaign states, incident documents), and `adoption_report` which reads those inputs from the rca database and
puts the figures together. The console page, /metrics, the Grafana dashboard and `rca rollout status` all show
this report, so they always agree.

Definitions:
- onboarding rate by language: onboarding pull requests merged per language per ISO week (and the running total);
- time to merge: median hours from a merged onboarding pull request's opening to its merge; per ISO week, the
  median of those merged in the week (None for a week with none);
- revert rate: onboarded services whose SDK was taken out again (a merged removal pull request) or whose deploy
  was rolled back after the onboarding merged, over onboarded services; per ISO week, the services reverted in the
  week and the rate as it stood at the week's end (the last week's is the overall rate);
- SDK error / drop rate per service: `rejected` drops / all dropped over events handled (SdkHealth);
- ring progress: per campaign and ring, repositories by state, the ring's flag and its services on in staging and
  in prod; and each service's flag per environment;
- % incidents with evidence-backed boundaries: a first-bad and a last-good time, and evidence cited;
- % incidents with a correlated deploy; drift remediation time: median hours from detection to resolution of
  resolved drift incidents; false-positive rate: incidents marked so, over incidents; inconclusive rate: RCAs whose
  verdict is inconclusive, over incidents not marked false positive.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import orjson
from pydantic import Field

from evidence import SdkHealthSummary, Store, campaign_rows, maybe_time, sdk_health, utc
from rollout._gates import all_incidents
from rollout._model import PullRequestRecord
from rollout._program import CampaignState
from rollout._records import PullRequestLog


@dataclass(frozen=True)
class WeekCount:
    week: Annotated[str, Field(description="the Monday of the ISO week, YYYY-MM-DD")]
    language: str
    onboarded: int
    total: Annotated[int, Field(description="running total of the language up to and including the week")]


@dataclass(frozen=True)
class RevertFigures:
    onboarded: int
    reverted_prs: int
    rolled_back: int
    rate: float | None


@dataclass(frozen=True)
class WeekMerge:
    week: Annotated[str, Field(description="the Monday of the ISO week, YYYY-MM-DD")]
    merged: Annotated[int, Field(description="onboarding pull requests merged in the week")]
    median_hours: Annotated[float | None, Field(description="their median time to merge; null when none merged")]


@dataclass(frozen=True)
class WeekReverts:
    week: str
    reverted: Annotated[int, Field(description="services first reverted in the week")]
    onboarded: Annotated[int, Field(description="services onboarded by the week's end")]
    rate: Annotated[float | None, Field(description="services reverted by the week's end over `onboarded`")]


@dataclass(frozen=True)
class ServiceSdk:
    producer_urn: str
    language: str
    sdk_version: str
    delivered: int
    dropped: int
    rejected: int
    drop_rate: Annotated[float | None, Field(description="dropped over events handled (SdkHealth)")]
    error_rate: Annotated[float | None, Field(description="`rejected` drops over events handled")]
    circuit: str


@dataclass(frozen=True)
class RingProgress:
    campaign: str
    ring: str
    flag: str
    repos: int
    pending: int
    opened: int
    merged: int
    declined: int
    other: Annotated[int, Field(description="skipped or failed")]
    staging_on: Annotated[int, Field(description="its services whose flag is on in staging")] = 0
    prod_on: Annotated[int, Field(description="its services whose flag is on in prod")] = 0


@dataclass(frozen=True)
class ServiceFlag:
    """One service's rollout flag per environment: when it turned on there (RFC 3339), None while off."""

    campaign: str
    repo: str
    ring: str
    producer_urn: str | None
    status: str
    staging: str | None
    prod: str | None


@dataclass(frozen=True)
class PlatformKpis:
    incidents: int
    evidence_backed_boundaries: float | None
    correlated_deploy: float | None
    drift_remediation_hours: float | None
    false_positive_rate: float | None
    inconclusive_rate: float | None


@dataclass(frozen=True)
class AdoptionReport:
    """GET /v1/adoption: the fleet rollout's figures and the platform's KPIs (see the module's definitions)."""

    at: datetime
    onboarding: list[WeekCount] = field(default_factory=list)
    median_time_to_merge_hours: float | None = None
    reverts: RevertFigures = RevertFigures(0, 0, 0, None)
    time_to_merge_weekly: list[WeekMerge] = field(default_factory=list)
    reverts_weekly: list[WeekReverts] = field(default_factory=list)
    sdk: list[ServiceSdk] = field(default_factory=list)
    rings: list[RingProgress] = field(default_factory=list)
    flags: list[ServiceFlag] = field(default_factory=list)
    platform: PlatformKpis = PlatformKpis(0, None, None, None, None, None)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = utc(self.at).isoformat().replace("+00:00", "Z")
        return out


# -- adoption -------------------------------------------------------------------------------------------------------
def _monday(moment: datetime) -> date:
    day = utc(moment).date()
    return day - timedelta(days=day.weekday())


def onboarding_by_language(merged: Iterable[tuple[str, datetime]]) -> list[WeekCount]:
    """(language, merged_at) of merged onboarding pull requests -> per ISO week and language, with running totals;
    every week from the first to the last appears for every language (zeros included), so a chart has no gaps."""
    counts: dict[tuple[date, str], int] = {}
    for language, when in merged:
        key = (_monday(when), language)
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return []
    weeks = sorted({w for w, _ in counts})
    every = _weeks(weeks[0], weeks[-1])
    out: list[WeekCount] = []
    for language in sorted({lang for _, lang in counts}):
        total = 0
        for week in every:
            n = counts.get((week, language), 0)
            total += n
            out.append(WeekCount(week.isoformat(), language, n, total))
    return out


def median_time_to_merge_hours(records: Iterable[PullRequestRecord]) -> float | None:
    hours = [(r.merged_at - r.created_at).total_seconds() / 3600 for r in records
             if r.kind == "onboard" and r.merged_at is not None]
    return round(statistics.median(hours), 3) if hours else None


def _weeks(first: date, last: date) -> list[date]:
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


def time_to_merge_by_week(records: Iterable[PullRequestRecord], until: datetime | None = None) -> list[WeekMerge]:
    """Merged onboarding pull requests by the ISO week of their merge: how many, and their median hours from
    opening to merge. Every week from the first merge's to `until`'s (else the last merge's) appears, an empty one
    with median None, so a chart shows the gap rather than joining over it."""
    by_week: dict[date, list[float]] = {}
    for r in records:
        if r.kind == "onboard" and r.merged_at is not None:
            by_week.setdefault(_monday(r.merged_at), []).append((r.merged_at - r.created_at).total_seconds() / 3600)
    if not by_week:
        return []
    last = max([*by_week, *([_monday(until)] if until is not None else [])])
    return [WeekMerge(week.isoformat(), len(by_week.get(week, [])),
                      round(statistics.median(by_week[week]), 3) if week in by_week else None)
            for week in _weeks(min(by_week), last)]


def _reverted_at(records: Sequence[PullRequestRecord], rollbacks: Mapping[str, Sequence[datetime]],
                 services: Mapping[str, str]) -> tuple[dict[str, datetime], set[str], set[str], dict[str, datetime]]:
    """Onboarded repository -> its onboarding merge; those with a merged removal after it; those with a rolled-back
    deploy after it; and each reverted one -> its first revert (a removal merge or a rollback)."""
    onboarded = {r.pull_request.repo: r.merged_at for r in records if r.kind == "onboard" and r.merged_at}
    removals: dict[str, list[datetime]] = {}
    for r in records:
        if r.kind == "remove" and r.merged_at is not None and r.pull_request.repo in onboarded \
                and r.merged_at >= onboarded[r.pull_request.repo]:
            removals.setdefault(r.pull_request.repo, []).append(r.merged_at)
    rolled: dict[str, list[datetime]] = {}
    for repo, merged_at in onboarded.items():
        after = [t for t in rollbacks.get(services.get(repo, ""), ()) if t >= merged_at]
        if after:
            rolled[repo] = after
    first = {repo: min([*removals.get(repo, []), *rolled.get(repo, [])]) for repo in set(removals) | set(rolled)}
    return onboarded, set(removals), set(rolled), first


def revert_figures(records: Sequence[PullRequestRecord], rollbacks: Mapping[str, Sequence[datetime]],
                   services: Mapping[str, str]) -> RevertFigures:
    """`records`: pull requests; `rollbacks`: producer URN -> times of its rolled-back deploys; `services`: forge
    repository -> producer URN. A service counts once however many reverts it had."""
    onboarded, removed, rolled, reverted = _reverted_at(records, rollbacks, services)
    return RevertFigures(len(onboarded), len(removed), len(rolled),
                         round(len(reverted) / len(onboarded), 4) if onboarded else None)


def reverts_by_week(records: Sequence[PullRequestRecord], rollbacks: Mapping[str, Sequence[datetime]],
                    services: Mapping[str, str], until: datetime | None = None) -> list[WeekReverts]:
    """The revert rate over time, per ISO week from the first onboarding merge's to `until`'s (else the last
    merge's or revert's): services first reverted in the week, services onboarded by the week's end, and the rate
    at the week's end. Inputs as revert_figures."""
    onboarded, _, _, reverted = _reverted_at(records, rollbacks, services)
    if not onboarded:
        return []
    ends = [*onboarded.values(), *reverted.values(), *([until] if until is not None else [])]
    out: list[WeekReverts] = []
    for week in _weeks(min(_monday(t) for t in onboarded.values()), max(_monday(t) for t in ends)):
        end = datetime.combine(week + timedelta(weeks=1), datetime.min.time(), tzinfo=UTC)
        by_end = sum(1 for t in onboarded.values() if utc(t) < end)
        gone = sum(1 for t in reverted.values() if utc(t) < end)
        out.append(WeekReverts(week.isoformat(), sum(1 for t in reverted.values() if _monday(t) == week), by_end,
                               round(gone / by_end, 4) if by_end else None))
    return out


def sdk_rates(summaries: Iterable[SdkHealthSummary]) -> list[ServiceSdk]:
    out = []
    for s in summaries:
        handled = s.delivered + s.dropped_total
        rejected = s.dropped.get("rejected", 0)
        out.append(ServiceSdk(s.producer_urn, s.language, s.sdk_version, s.delivered, s.dropped_total, rejected,
                              round(s.dropped_total / handled, 6) if handled else None,
                              round(rejected / handled, 6) if handled else None, s.circuit))
    return out


def ring_progress(campaign: str, rings: Sequence[tuple[str, str]], repos: Iterable[tuple[str, str]],
                  flags: Iterable[tuple[str, Iterable[str]]] = ()) -> list[RingProgress]:
    """`rings`: (ring, flag) in order; `repos`: (ring, status) of each repository; `flags`: (ring, environments
    its flag is on in) of each repository."""
    counts: dict[str, dict[str, int]] = {name: {} for name, _ in rings}
    for ring, status in repos:
        bucket = counts.setdefault(ring, {})
        bucket[status] = bucket.get(status, 0) + 1
    for ring, environments in flags:
        bucket = counts.setdefault(ring, {})
        for environment in environments:
            bucket[f"on:{environment}"] = bucket.get(f"on:{environment}", 0) + 1
    out = []
    for name, flag in rings:
        c = counts.get(name, {})
        statuses = sum(v for k, v in c.items() if not k.startswith("on:"))
        out.append(RingProgress(campaign, name, flag, statuses, c.get("pending", 0), c.get("opened", 0),
                                c.get("merged", 0), c.get("declined", 0), c.get("skipped", 0) + c.get("failed", 0),
                                c.get("on:staging", 0), c.get("on:prod", 0)))
    return out


def _iso(moment: datetime | None) -> str | None:
    return utc(moment).isoformat().replace("+00:00", "Z") if moment is not None else None


def service_flags(campaign: str, state: CampaignState) -> list[ServiceFlag]:
    """Each repository's flag per environment, in ring then name order."""
    return [ServiceFlag(campaign, r.repo, r.ring, r.producer_urn, r.status, _iso(r.flags.get("staging")),
                        _iso(r.flags.get("prod")))
            for r in sorted(state.repos.values(), key=lambda r: (r.ring, r.repo))]


# -- the platform's own KPIs ------------------------------------------------------------------------------------------
def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def evidence_backed_boundaries(incidents: Sequence[Mapping[str, Any]]) -> float | None:
    backed = sum(1 for i in incidents if i.get("first_bad_time") and i.get("last_good_time") and i.get("evidence_ids"))
    return _share(backed, len(incidents))


def correlated_deploy_rate(incidents: Sequence[Mapping[str, Any]]) -> float | None:
    return _share(sum(1 for i in incidents if i.get("correlated_deploys")), len(incidents))


def drift_remediation_hours(incidents: Sequence[Mapping[str, Any]]) -> float | None:
    hours = []
    for i in incidents:
        detected, resolved = maybe_time(i.get("detected_at")), maybe_time(i.get("resolved_at"))
        if i.get("kind") == "drift" and i.get("status") == "resolved" and detected and resolved:
            hours.append((resolved - detected).total_seconds() / 3600)
    return round(statistics.median(hours), 3) if hours else None


def false_positive_rate(incidents: Sequence[Mapping[str, Any]]) -> float | None:
    return _share(sum(1 for i in incidents if i.get("status") == "false_positive"), len(incidents))


def inconclusive_rate(incidents: Sequence[Mapping[str, Any]],
                      verdict: Callable[[Mapping[str, Any]], str]) -> float | None:
    judged = [i for i in incidents if i.get("status") != "false_positive"]
    return _share(sum(1 for i in judged if verdict(i) == "inconclusive"), len(judged))


def platform_kpis(incidents: Sequence[Mapping[str, Any]], verdict: Callable[[Mapping[str, Any]], str]) -> PlatformKpis:
    return PlatformKpis(len(incidents), evidence_backed_boundaries(incidents), correlated_deploy_rate(incidents),
                        drift_remediation_hours(incidents), false_positive_rate(incidents),
                        inconclusive_rate(incidents, verdict))


# -- the report -----------------------------------------------------------------------------------------------------
LANGUAGE_OF_ARCHETYPE = {"spring-boot-maven": "java", "go-module": "go", "node-service": "node",
                         "python-service": "python", "pyspark-job": "python"}


def adoption_report(store: Store, now: datetime, verdict: Callable[[Mapping[str, Any]], str],
                    health_window: timedelta = timedelta(days=7)) -> AdoptionReport:
    """Every figure, from what the rca database holds at `now`. `verdict(incident)` is the RCA's verdict (the rca
    layer passes the offline composer's, as GET /v1/quality does)."""
    records = [r for r in PullRequestLog(store).records() if r.created_at <= now]
    merged = [(LANGUAGE_OF_ARCHETYPE.get(r.archetype.value, r.archetype.value), r.merged_at) for r in records
              if r.kind == "onboard" and r.merged_at is not None and r.merged_at <= now]
    campaigns = [(row["name"], CampaignState.model_validate(orjson.loads(row["state"])))
                 for row in campaign_rows(store)]
    services: dict[str, str] = {}
    rings: list[RingProgress] = []
    flags: list[ServiceFlag] = []
    for name, state in campaigns:
        state.settle()
        flags += service_flags(name, state)
        for repo in state.repos.values():
            if repo.forge_repo and repo.producer_urn:
                services[repo.forge_repo] = repo.producer_urn
        rings += ring_progress(name, [(r.name, r.flag) for r in state.rings],
                               [(r.ring, r.status) for r in state.repos.values()],
                               [(r.ring, [e for e, at in r.flags.items() if at <= now]) for r in state.repos.values()])
    rollbacks: dict[str, list[datetime]] = {}
    if services:
        for record in store.records(producer_urns=sorted(set(services.values())), types=["DeploymentEvent"],
                                    until=now):
            if (record.payload.get("data") or {}).get("status") == "rolled_back":
                rollbacks.setdefault(record.producer_urn or record.source, []).append(record.event_time)
    incidents = [i for i in all_incidents(store) if (maybe_time(i.get("detected_at")) or now) <= now]
    return AdoptionReport(
        at=now,
        onboarding=onboarding_by_language(merged),
        median_time_to_merge_hours=median_time_to_merge_hours(r for r in records
                                                              if r.merged_at and r.merged_at <= now),
        reverts=revert_figures(records, rollbacks, services),
        time_to_merge_weekly=time_to_merge_by_week((r for r in records if r.merged_at and r.merged_at <= now), now),
        reverts_weekly=reverts_by_week(records, rollbacks, services, now),
        sdk=sdk_rates(sdk_health(store, now, health_window)),
        rings=rings,
        flags=flags,
        platform=platform_kpis(incidents, verdict),
    )
