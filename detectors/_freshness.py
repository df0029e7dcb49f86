"""Freshness: is a dataset's update there by its deadline, and if not, which evidence says why.

A pure function of (policy, evidence, clock): records stamped after the clock do not exist yet, and the
result is the same whatever the order or duplication of the records (DESIGN.md, "Reason codes"). Where the dataset
stands: detectors/_freshness_state.py; why it is late: detectors/_classifier.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType

from detectors._classifier import Classifier
from detectors._freshness_state import DatasetFreshness, FreshnessFinding, assess, dataset_freshness
from detectors._runs import visible
from evidence import EvidenceRecord, FreshnessPolicy, utc

__all__ = ["DatasetFreshness", "FreshnessFinding", "dataset_freshness", "evaluate_freshness"]

_NO_UPSTREAM: Mapping[str, DatasetFreshness] = MappingProxyType({})


def evaluate_freshness(
    policy: FreshnessPolicy,
    records: Iterable[EvidenceRecord],
    now: datetime,
    upstream: Mapping[str, DatasetFreshness] = _NO_UPSTREAM,
) -> FreshnessFinding | None:
    """The finding for a dataset past its deadline and not fresh; None when fresh or not yet late.

    `records` are the dataset's and its producer's over the lookback; `upstream` holds the freshness of
    the job's input datasets, each against its own policy.
    """
    clock = utc(now)
    evidence = visible(records, clock)
    assessment = assess(policy, evidence, clock)
    if not assessment.state.breached:
        return None
    return Classifier(policy, evidence, clock, assessment, upstream).classify()
