"""Operator configuration as the detectors use it: validated again on every load, one bad row skipped.

A stored policy or contract can stop validating (written by an older version, by hand, or before a bound
existed). It is skipped with a finding (logged, listed under `invalid` by GET /v1/policies and friends, and
returned by a detector pass) instead of stopping detection or the gate for every other dataset (issue 13).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from detectors._contract import ContractValidator, compile_contract
from evidence import (
    CONTRACT,
    LINEAGE,
    MAPPING,
    POLICY,
    ConfigError,
    ConfigFinding,
    ConfigKind,
    Configs,
    Contract,
    FreshnessPolicy,
    LineageEdge,
    Mapping,
    Store,
    Stored,
)

log = logging.getLogger("rca.configs")


@dataclass
class ActiveConfigs:
    policies: list[FreshnessPolicy] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)
    mappings: list[Mapping] = field(default_factory=list)
    lineage: list[LineageEdge] = field(default_factory=list)
    findings: list[ConfigFinding] = field(default_factory=list)


def _load(configs: Configs, kind: ConfigKind[Any], findings: list[ConfigFinding]) -> list[Any]:
    valid, invalid = configs.load(kind)
    findings.extend(invalid)
    return valid


def compile_stored(stored: list[Stored[Contract]], findings: list[ConfigFinding]) -> dict[str, ContractValidator]:
    """The gate's validator per dataset of these stored contracts; one that does not compile adds a finding."""
    validators: dict[str, ContractValidator] = {}
    for item in stored:
        try:
            validators[item.spec.dataset_urn] = compile_contract(item.spec)
        except ConfigError as exc:
            log.warning("skipping contract %s: %s; fix it with PUT /v1/contracts/%s", item.id, exc, item.id)
            findings.append(ConfigFinding("contract", item.id, item.spec.dataset_urn, str(exc)))
    return validators


def active_configs(store: Store) -> ActiveConfigs:
    """Everything a detector pass reads, each row validated; contracts also compiled."""
    active = ActiveConfigs()
    configs = Configs(store)
    active.policies = [s.spec for s in _load(configs, POLICY, active.findings)]
    contracts = _load(configs, CONTRACT, active.findings)
    compiled = compile_stored(contracts, active.findings)
    active.contracts = [s.spec for s in contracts if s.spec.dataset_urn in compiled]
    active.mappings = [s.spec for s in _load(configs, MAPPING, active.findings)]
    active.lineage = [s.spec for s in _load(configs, LINEAGE, active.findings)]
    return active
