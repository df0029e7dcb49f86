"""Adoption: the fleet rollout's figures and the platform's own KPIs, one report (rollout.adoption_report) served
as GET /v1/adoption, GET /v1/sdk-health, the console's /adoption page and rca_adoption_* / rca_platform_* metrics
on /metrics (a collector of its own, registered beside the backbone's)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from copilot import TemplateComposer, build_rca
from evidence import Incident, SdkHealthPage, Store, load_incidents, sdk_health
from rca._auth import ReaderDep
from rca._metrics import OffScrape
from rca._responses import documented
from rollout import AdoptionReport, adoption_report

Clock = Callable[[], datetime]
log = logging.getLogger("rca")


def verdicts(store: Store) -> Callable[[Mapping[str, Any]], str]:
    """The RCA verdict of an incident from the offline composer: deterministic, and a report never calls a paid
    model (as GET /v1/quality)."""
    composer = TemplateComposer()
    typed: dict[str, Incident] = {}  # the stored incidents with their detectors' windows, read once when first asked

    def verdict(incident: Mapping[str, Any]) -> str:
        try:
            if not typed:
                typed.update((i.id, i) for i in load_incidents(store, status=None))
            return str(build_rca(store, typed[incident["id"]], composer)["verdict"])
        except Exception:  # one odd incident must not take the report (or /metrics) down; it is logged to be fixed
            log.exception("no RCA verdict for incident %s", incident.get("id"))
            return "unavailable"

    return verdict


def report(store: Store, now: datetime) -> AdoptionReport:
    return adoption_report(store, now, verdicts(store))


router = APIRouter()


@router.get("/v1/adoption", tags=["adoption"], summary="Fleet adoption and the platform's KPIs (reader)",
            response_model=None, responses=documented(AdoptionReport))
def adoption(request: Request, token: ReaderDep) -> dict[str, Any]:
    state = request.app.state
    return report(state.store, state.clock()).as_json()


@router.get("/v1/sdk-health", tags=["adoption"],
            summary="SdkHealth per producer: the latest event of each SDK instance in the window, summed (reader)")
def sdk_health_route(request: Request, token: ReaderDep,
                     hours: Annotated[float, Query(gt=0, le=24 * 90, description="the window, in hours")] = 24.0,
                     producer: Annotated[list[str] | None, Query(description="only these producer URNs")] = None,
                     ) -> SdkHealthPage:
    state = request.app.state
    return SdkHealthPage(items=sdk_health(state.store, state.clock(), timedelta(hours=hours), producer or ()))


class AdoptionCollector(Collector):
    """The report as gauges, computed off the scrape path at most every CACHE_S (an RCA per incident is not free:
    under load it took seconds, and the scrape timed out, issue 13); rca_platform_report_age_seconds says how old
    the report served is."""

    CACHE_S = 30.0

    def __init__(self, store: Store, clock: Clock) -> None:
        self.report = OffScrape("adoption-report", lambda: report(store, clock()), max_age_s=self.CACHE_S)

    def collect(self) -> Iterable[Metric]:
        found, age = self.report.get()
        reading = _gauge("rca_platform_report_age_seconds", "Age of the adoption and platform report these gauges "
                         "come from (computed off the scrape path, at most every 30 s)")
        if found is None or age is None:
            return [reading]
        reading.add_metric([], round(age, 3))
        return [*metric_families(found), reading]


def _gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels or [])


def metric_families(found: AdoptionReport) -> list[Metric]:
    onboarded = _gauge("rca_adoption_onboarded_services", "Services onboarded (onboarding PR merged), running total "
                       "by language, at the latest week", ["language"])
    latest: dict[str, int] = {}
    for week in found.onboarding:
        latest[week.language] = week.total
    for language, total in sorted(latest.items()):
        onboarded.add_metric([language], total)
    ttm = _gauge("rca_adoption_pr_time_to_merge_hours", "Median hours from opening to merge of onboarding PRs")
    if found.median_time_to_merge_hours is not None:
        ttm.add_metric([], found.median_time_to_merge_hours)
    revert = _gauge("rca_adoption_revert_rate", "Onboarded services reverted (removal PR merged or deploy rolled "
                    "back), over onboarded services")
    if found.reverts.rate is not None:
        revert.add_metric([], found.reverts.rate)
    # the current ISO week's bucket of the Adoption page's charts over time (Prometheus keeps each scrape's value,
    # so the all-time gauges above are charted over time by Grafana as they are)
    ttm_week = _gauge("rca_adoption_pr_time_to_merge_hours_week", "Median hours from opening to merge of the "
                      "onboarding PRs merged this ISO week (no sample when none merged)")
    this_week = found.time_to_merge_weekly[-1] if found.time_to_merge_weekly else None
    if this_week is not None and this_week.median_hours is not None:
        ttm_week.add_metric([], this_week.median_hours)
    reverts_week = _gauge("rca_adoption_reverts_week", "Onboarded services first reverted this ISO week")
    if found.reverts_weekly:
        reverts_week.add_metric([], found.reverts_weekly[-1].reverted)
    drop = _gauge("rca_adoption_sdk_drop_rate", "SDK drops over events handled, per service (SdkHealth)", ["producer"])
    error = _gauge("rca_adoption_sdk_error_rate", "SDK events the service rejected over events handled, per service",
                   ["producer"])
    for sdk in found.sdk:
        if sdk.drop_rate is not None:
            drop.add_metric([sdk.producer_urn], sdk.drop_rate)
        if sdk.error_rate is not None:
            error.add_metric([sdk.producer_urn], sdk.error_rate)
    rings = _gauge("rca_adoption_ring_repositories", "Repositories per campaign, ring and state",
                   ["campaign", "ring", "state"])
    flags = _gauge("rca_adoption_ring_flag", "A ring's flag: 0 off, 1 staging, 2 prod", ["campaign", "ring"])
    on = _gauge("rca_adoption_ring_services_on", "A ring's services whose flag is on, per environment",
                ["campaign", "ring", "environment"])
    for ring in found.rings:
        for state in ("pending", "opened", "merged", "declined", "other"):
            rings.add_metric([ring.campaign, ring.ring, state], getattr(ring, state))
        flags.add_metric([ring.campaign, ring.ring], ("off", "staging", "prod").index(ring.flag))
        on.add_metric([ring.campaign, ring.ring, "staging"], ring.staging_on)
        on.add_metric([ring.campaign, ring.ring, "prod"], ring.prod_on)
    platform = found.platform
    kpis = [
        ("rca_platform_incidents", "Incidents the KPIs below are computed over", platform.incidents),
        ("rca_platform_evidence_backed_boundaries_ratio", "Incidents with a first-bad and a last-good boundary and "
         "cited evidence", platform.evidence_backed_boundaries),
        ("rca_platform_correlated_deploy_ratio", "Incidents with a correlated deploy", platform.correlated_deploy),
        ("rca_platform_drift_remediation_hours", "Median hours from detection to resolution of drift incidents",
         platform.drift_remediation_hours),
        ("rca_platform_false_positive_ratio", "Incidents marked false positive", platform.false_positive_rate),
        ("rca_platform_inconclusive_ratio", "RCAs whose verdict is inconclusive", platform.inconclusive_rate),
    ]
    families: list[Metric] = [onboarded, ttm, ttm_week, revert, reverts_week, drop, error, rings, flags, on]
    for name, documentation, value in kpis:
        gauge = _gauge(name, documentation)
        if value is not None:
            gauge.add_metric([], float(value))
        families.append(gauge)
    return families
