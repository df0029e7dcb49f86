"""The windows a detector applies to an incident (`Incident.windows`): one rule, used by the pass that finds the
incident and, for an incident stored before windows were recorded, by retrieval reading it."""

from __future__ import annotations

from datetime import datetime, timedelta

from detectors._watermark import policy_day
from evidence import Contract, FreshnessPolicy, Windows

# A change correlates with a break within this window before first bad when no contract names one (a freshness
# incident's verifier, a dataset without a contract), and always for drift.
DEFAULT_DEPLOY_WINDOW = timedelta(minutes=60)
DRIFT_DEPLOY_WINDOW = timedelta(minutes=60)


def deploy_window(contract: Contract | None) -> timedelta:
    return timedelta(minutes=contract.deploy_window_minutes) if contract is not None else DEFAULT_DEPLOY_WINDOW


def freshness_windows(policy: FreshnessPolicy, contract: Contract | None, at: datetime) -> Windows:
    """The policy's day at `at` (today's update from cycle_start, habits from lookback_start), its lookback, and the
    dataset's deploy window."""
    day = policy_day(policy, at)
    return Windows(deploy_window=deploy_window(contract), lookback=timedelta(days=policy.lookback_days),
                   cycle_start=day.cycle_start, lookback_start=day.lookback_start)


def contract_windows(contract: Contract | None, lookback_days: int) -> Windows:
    """The contract's deploy window and how far back the gate counters were read."""
    return Windows(deploy_window=deploy_window(contract), lookback=timedelta(days=lookback_days))


def drift_windows() -> Windows:
    return Windows(deploy_window=DRIFT_DEPLOY_WINDOW)
