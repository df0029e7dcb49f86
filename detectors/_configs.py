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
    ConfigSnapshot,
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


def compile_stored(stored: list[Stored[Contract]], findings: list[ConfigFinding]) -> dict[str, ContractValidator]:
    """The gate's validator per dataset of these stored contracts; one that does not compile adds a finding."""
    return _compiled([(item.id, item.spec) for item in stored], findings)


def _compiled(contracts: list[tuple[int, Contract]], findings: list[ConfigFinding]) -> dict[str, ContractValidator]:
    validators: dict[str, ContractValidator] = {}
    for config_id, spec in contracts:
        try:
            validators[spec.dataset_urn] = compile_contract(spec)
        except ConfigError as exc:
            log.warning("skipping contract %s: %s; fix it with PUT /v1/contracts/%s", config_id, exc, config_id)
            findings.append(ConfigFinding("contract", config_id, spec.dataset_urn, str(exc)))
    return validators


def config_snapshot(store: Store) -> ConfigSnapshot:
    """The stored configs a detector pass reads, in one read with their digest (`configs_of` derives them)."""
    return Configs(store).snapshot(POLICY, CONTRACT, MAPPING, LINEAGE)


def active_configs(store: Store) -> ActiveConfigs:
    """Everything a detector pass reads, each row validated; contracts also compiled."""
    return configs_of(config_snapshot(store))


def configs_of(snapshot: ConfigSnapshot) -> ActiveConfigs:
    """The active configuration of a snapshot of the stored configs (`config_snapshot`). One read of plain columns:
    reading whole rows made SQLAlchemy parse 20,000 timestamps for 10,000 policies, most of an incremental pass."""
    active = ActiveConfigs()

    def load(kind: ConfigKind[Any]) -> list[Any]:
        valid, invalid = snapshot.load(kind)
        active.findings.extend(invalid)
        return valid

    active.policies = [spec for _, spec in load(POLICY)]
    contracts = load(CONTRACT)
    compiled = _compiled(contracts, active.findings)
    active.contracts = [spec for _, spec in contracts if spec.dataset_urn in compiled]
    active.mappings = [spec for _, spec in load(MAPPING)]
    active.lineage = [spec for _, spec in load(LINEAGE)]
    return active
