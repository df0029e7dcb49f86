"""The facts of a freshness finding that move with the clock alone (issue 23, the incremental pass).

A breached dataset's finding is a function of its visible evidence, its policy's local day, the state of the upstream
datasets its job reads, and the clock. While the first three stay as they were, so do its reason code, boundaries,
run, deploys and cited evidence; only these facts move, per reason code:

- every reason code (JOB_NOT_TRIGGERED, JOB_FAILED, JOB_RUNNING_SLOW, WRONG_PARTITION, PARTIAL_WRITE,
  UPSTREAM_DATA_LATE, INSUFFICIENT_EVIDENCE): late_by_s, the clock minus the deadline (`Lateness`);
- JOB_RUNNING_SLOW also: running_for_s, duration_ratio, exceeds_slow_factor, and since_last_heartbeat_s when the
  run sent a heartbeat (`RunningLateness`).

The classifier (detectors/_classifier.py) computes these facts with `facts(now)` at its clock, and keeps the anchors
in the finding; an incremental pass (detectors/_incremental.py) calls the same `facts` at a later clock, without
reading evidence or classifying again. One formula, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from detectors._runs import number

# The facts each reason code's finding recomputes at a new clock (what the incremental pass may change).
LATENESS_FACTS = ("late_by_s",)
RUNNING_FACTS = (*LATENESS_FACTS, "running_for_s", "duration_ratio", "exceeds_slow_factor", "since_last_heartbeat_s")


@dataclass(frozen=True)
class Lateness:
    """What every freshness finding's moving facts are computed from: today's deadline (its first_bad_time)."""

    deadline: datetime

    def facts(self, now: datetime) -> dict[str, Any]:
        """The moving facts at `now` (late_by_s)."""
        return {"late_by_s": number((now - self.deadline).total_seconds())}


@dataclass(frozen=True)
class RunningLateness(Lateness):
    """JOB_RUNNING_SLOW: also the run's start, the baseline duration it is measured against (exact, not the rounded
    fact), the policy's slow factor and the run's latest heartbeat."""

    start: datetime
    baseline_s: float
    slow_factor: float
    heartbeat: datetime | None = None

    def facts(self, now: datetime) -> dict[str, Any]:
        """late_by_s, running_for_s, duration_ratio, exceeds_slow_factor, since_last_heartbeat_s (with a heartbeat)."""
        running_for = (now - self.start).total_seconds()
        facts = super().facts(now)
        facts.update(running_for_s=number(running_for), duration_ratio=round(running_for / self.baseline_s, 2),
                     exceeds_slow_factor=running_for > self.slow_factor * self.baseline_s)
        if self.heartbeat is not None:
            facts["since_last_heartbeat_s"] = number((now - self.heartbeat).total_seconds())
        return facts


__all__ = ["LATENESS_FACTS", "RUNNING_FACTS", "Lateness", "RunningLateness"]
