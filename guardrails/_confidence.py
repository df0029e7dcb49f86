"""Confidence in an RCA, computed from evidence and from which claims survived the verifier; never from what a
model said about itself."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime

from detectors import commit_time
from evidence import EventType, EvidenceRecord, ReasonCode
from guardrails._claims import CAUSE_FOR_REASON, ClaimKind, VerifiedClaim
from guardrails._scope import Scope
from guardrails._view import IncidentView, view_of

GAP_SCALE_S = 300.0  # contract: a last-good -> first-bad gap of 5 min keeps e^-1 of the boundary's sharpness
LATE_HALF_S = 600.0  # freshness: 10 min past the deadline is half-sharp; a breach is clearer the later it gets
STALE_FACTOR = 0.8  # evidence arriving late may still change the picture

# The habit a freshness reason is measured against: earlier starts (not triggered), earlier completions (slow).
_BASELINE_TYPES: dict[str, tuple[EventType, ...]] = {
    ReasonCode.JOB_NOT_TRIGGERED: (EventType.RUN_STARTED,), ReasonCode.JOB_RUNNING_SLOW: (EventType.RUN_COMPLETED,)}

Need = Callable[[IncidentView, Sequence[VerifiedClaim]], bool]


def confidence(scope: Scope, accepted: Sequence[VerifiedClaim]) -> float:
    """How strongly the verified evidence supports the RCA, in [0, 1], two decimals:

        confidence = coverage * (0.5 + 0.25 * sharpness + 0.25 * cause) * (0.8 if stale_evidence else 1)

    coverage: the share of the evidence this kind of incident needs that verified claims cite. Contract: first
      bad, last good, the rate shift, a correlated deploy. Freshness: the last good commit, run evidence of the
      reason code (the failed / slow / untriggered run, the commit, the late input), and the baseline that makes
      it meaningful (earlier runs or commits). Drift: the unattributed observation.
    sharpness: how clean the boundary is. Contract: rate contrast (after - before) / after times
      exp(-gap / 300 s) for the last good -> first bad gap (0.5 without a last good). Freshness: how far past
      the deadline, late / (late + 600 s). Drift: 1.
    cause: contract and drift: the proximity of the closest verified deploy, 1 - seconds_before_first_bad / window
      (drift is a symptom; a deploy of the producer is what explains it). Freshness: 1 when a verified cause claim
      explains the reason code, else the proximity of a verified deploy or code change within last good ->
      deadline. 0 without one.
    """
    if not accepted:
        return 0.0
    view = view_of(scope)
    needs = _needs(view)
    coverage = sum(1 for need in needs if need(view, accepted)) / len(needs)
    score = coverage * (0.5 + 0.25 * _sharpness(view) + 0.25 * _cause(view, accepted))
    if scope.incident.stale_evidence:
        score *= STALE_FACTOR
    return round(min(1.0, max(0.0, score)), 2)


def _kinds(accepted: Sequence[VerifiedClaim]) -> set[ClaimKind]:
    return {c.kind for c in accepted}


def _cited(view: IncidentView, accepted: Sequence[VerifiedClaim]) -> list[EvidenceRecord]:
    records = view.scope.records
    return [records[i] for c in accepted for i in c.evidence_ids if i in records]


def _has(*kinds: ClaimKind) -> Need:
    return lambda view, accepted: bool(_kinds(accepted) & set(kinds))


def _cites_last_good_commit(view: IncidentView, accepted: Sequence[VerifiedClaim]) -> bool:
    good = view.last_good_commit
    return good is not None and any(r.evidence_id == good.evidence_id for r in _cited(view, accepted))


def _run_evidence(view: IncidentView, accepted: Sequence[VerifiedClaim]) -> bool:
    return bool(_kinds(accepted) & set(CAUSE_FOR_REASON.get(view.reason, ())))


def _baseline(view: IncidentView, accepted: Sequence[VerifiedClaim]) -> bool:
    """Habit cited: earlier starts (not triggered), earlier completions (slow), else any earlier run or commit."""
    cycle = view.cycle_start
    if cycle is None:
        return False
    wanted = _BASELINE_TYPES.get(view.reason, (EventType.RUN_STARTED, EventType.RUN_COMPLETED, EventType.COMMITTED))
    for record in _cited(view, accepted):
        if record.type not in wanted:
            continue
        at = commit_time(record) if record.type == EventType.COMMITTED else record.event_time
        mine = view.is_producer(record.producer_urn) or record.evidence_id in {c.evidence_id for c in view.commits}
        if mine and at < cycle:
            return True
    return False


def _needs(view: IncidentView) -> list[Need]:
    if view.kind == "contract":
        return [_has(ClaimKind.CONTRACT_BREAK), _has(ClaimKind.LAST_GOOD), _has(ClaimKind.RATE_SHIFT),
                _has(ClaimKind.DEPLOY_CORRELATED)]
    if view.kind == "freshness":
        return [_cites_last_good_commit, _run_evidence, _baseline]
    return [_has(ClaimKind.SCHEMA_DRIFT)]


def _sharpness(view: IncidentView) -> float:
    if view.kind == "contract":
        rate = view.incident.bad_rate
        before, after = (rate.before, rate.after) if rate is not None else (0.0, 0.0)
        contrast = max(0.0, after - before) / after if after > 0 else 0.0
        if view.first_bad is None or view.last_good is None:
            return contrast * 0.5
        gap = max(0.0, (view.first_bad - view.last_good).total_seconds())
        return contrast * math.exp(-gap / GAP_SCALE_S)
    if view.kind == "freshness":
        if view.first_bad is None:
            return 0.0
        late = max(0.0, (view.now - view.first_bad).total_seconds())
        return late / (late + LATE_HALF_S)
    return 1.0


def _proximity(deploy_time: datetime, reference: datetime, span_s: float) -> float:
    if span_s <= 0:
        return 0.0
    return min(1.0, max(0.0, 1.0 - (reference - deploy_time).total_seconds() / span_s))


def _cause(view: IncidentView, accepted: Sequence[VerifiedClaim]) -> float:
    changes = [r for c in accepted if c.kind in (ClaimKind.DEPLOY_CORRELATED, ClaimKind.CODE_CHANGED)
               for r in _cited(view, [c]) if r.type in (EventType.DEPLOYMENT, EventType.RUN_STARTED)]
    if view.first_bad is None:
        return 0.0
    if view.kind != "freshness":
        window = view.deploy_window.total_seconds()
        return max((_proximity(r.event_time, view.first_bad, window) for r in changes
                    if r.type == EventType.DEPLOYMENT), default=0.0)
    if _run_evidence(view, accepted):
        return 1.0
    if view.last_good is not None:
        span = (view.first_bad - view.last_good).total_seconds()
        return max((_proximity(r.event_time, view.first_bad, span) for r in changes), default=0.0)
    return 0.0

