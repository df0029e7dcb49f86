"""Grounding of a claim's text: every entity it names must appear in structured fields of the evidence it cites
or of the incident. Payload free text (failure_reason, a message's note) never grounds anything, since a model
may parrot what was planted there; and text that reads like an instruction is never a verified fact."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from evidence import GATE_OBSERVATION, EvidenceRecord

_URN = re.compile(r"\b(?:svc|job|ds|kafka)://[^\s,;'\"`()\[\]<>{}]+")
_EVIDENCE_ID = re.compile(r"\bev_[0-9a-f]{6,}\b")
# v1.4.0, v9, 2.8.1, v2.9.0-canary, v4.2.0+c0ffee1; two-part numbers such as rates (0.18) are not versions.
_VERSION = re.compile(
    r"(?<![\w.])(?:[vV]\d+(?:\.\d+)*|\d+\.\d+\.\d+(?:\.\d+)*)(?:[-+][0-9A-Za-z]+(?:[.-][0-9A-Za-z]+)*)?(?![\w])"
)
_INSTRUCTIONS = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.]{0,40}\b(?:instructions?|prompts?|rules|guidelines|context)\b"
    r"|\bsystem prompt\b|\byou must\b|\byou are now\b|\bnew instructions?\b|\bas an ai\b"
    r"|<\|[a-z_]+\|>|\[/?INST\]",
    re.IGNORECASE,
)
# A model's own certainty is not evidence (DESIGN.md: confidence is computed, never taken from the model).
_CERTAINTY = re.compile(
    r"\b\d{1,3}(?:\.\d+)?\s?%\s*(?:certain(?:ty)?|sure|confiden(?:t|ce))\b"
    r"|\bwith\s+(?:absolute\s+|complete\s+|full\s+|total\s+|high\s+)?(?:certainty|confidence)\b"
    r"|\b(?:definitely|undoubtedly|unquestionably|certainly|guaranteed)\b|\bwithout\s+(?:a\s+|any\s+)?doubt\b"
    r"|\bno\s+(?:further|other|more)\s+(?:checks?|investigation|analysis)\s+(?:is\s+|are\s+)?(?:needed|required)\b",
    re.IGNORECASE,
)
SELF_ASSESSMENT_PARAMS = frozenset({"confidence", "certainty", "probability", "likelihood", "score"})
# Names that read like a service or job even when nothing in scope is called so ("payments-service", "fx_batch"):
# a claim may not introduce a producer the evidence never mentions.
_SERVICE_LIKE = re.compile(
    r"(?<![\w\-/.])[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*[-_](?:service|svc|api|app|worker|gateway|consumer|producer"
    r"|batch|job|ingest)(?![\w\-])",
    re.IGNORECASE,
)

# Data fields that are structured (ids, names, versions, times, counts) per record type. Anything else in a
# payload, known free text or an unknown field a producer added, grounds nothing.
_STRUCTURED_DATA = {
    "DeploymentEvent": ("service", "env", "version", "commit", "deploy_ref", "status", "source", "domain"),
    "JobRunStarted": ("run_id", "code_ref", "env", "cluster_id", "spark_app_id", "input_datasets", "scheduled_time",
                      "actual_start_time"),
    "JobRunCompleted": ("run_id", "duration_s", "retry_count", "exit_code", "executors", "executor_memory"),
    "JobRunFailed": ("run_id", "duration_s", "retry_count", "exit_code", "executors", "executor_memory"),
    "DatasetWriteCommitted": ("dataset_urn", "run_id", "commit_version", "commit_timestamp",
                              "output_partitions_written", "rows_written", "files_added"),
    GATE_OBSERVATION: ("topic", "partition", "offset", "schema_id", "declared_schema_id", "change_request_id"),
}
# Incident keys whose values are copied from payload free text or are prose; everything else an incident holds
# was built by a detector from structured values.
_FREE_TEXT_KEYS = frozenset({"failure_reason", "why", "note", "message", "detail", "description", "headers",
                             "value", "text", "summary", "statement", "runbook_url"})


def instruction_like(text: str) -> str | None:
    """The first phrase of `text` that reads like an instruction to a model, if any."""
    found = _INSTRUCTIONS.search(text)
    return found.group(0) if found else None


def certainty_like(text: str) -> str | None:
    """The first phrase of `text` in which a claim vouches for itself ("with 100% certainty"), if any."""
    found = _CERTAINTY.search(text)
    return found.group(0) if found else None


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key not in _FREE_TEXT_KEYS:
                yield from _leaves(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _leaves(inner)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def record_values(record: EvidenceRecord) -> list[str]:
    """The structured values of one evidence record."""
    values = [record.evidence_id, record.source, record.source_ref, record.type, record.dataset_urn,
              record.producer_urn, record.schema_id, record.deploy_ref, record.reason_code, record.field, record.run_id]
    out = [str(v) for v in values if v is not None]
    data = record.data
    for key in _STRUCTURED_DATA.get(record.type, ()):
        out += list(_leaves(data.get(key)))
    if record.type == GATE_OBSERVATION:
        for item in record.payload.get("violations") or []:
            if isinstance(item, dict):
                out += [str(item[k]) for k in ("reason_code", "field") if item.get(k)]
    return out


def incident_values(incident: dict[str, Any]) -> list[str]:
    """The structured values of an incident: ids, URNs, field, watermarks, deploys, run, facts minus free text."""
    return list(_leaves(incident))


def service_names(records: Iterable[EvidenceRecord]) -> set[str]:
    """Names a claim could blame: deployed services, and the producers behind records in scope."""
    names: set[str] = set()
    for record in records:
        service = record.data.get("service") if record.type == "DeploymentEvent" else None
        if isinstance(service, str) and service.strip():
            names.add(service.strip())
        for urn in (record.producer_urn, record.source):
            if urn and "://" in urn and not urn.startswith("kafka://"):
                names.add(urn.split("://", 1)[1])
    return {n for n in names if len(n) >= 3}


_EDGES = {  # what may not touch an entity on either side, so "ds://a" is not found inside "ds://a_b"
    "urn": (r"(?<![\w\-/])", r"(?![\w\-/.])", 0),
    "evidence id": (r"\b", r"\b", 0),
    "service": (r"(?<![\w\-])", r"(?![\w\-])", re.IGNORECASE),
}


def _bounded(kind: str, entity: str) -> re.Pattern[str]:
    before, after, flags = _EDGES[kind]
    return re.compile(f"{before}{re.escape(entity)}{after}", flags)


def _version_pattern(version: str) -> re.Pattern[str]:
    core = version[1:] if version[:1] in "vV" else version
    # "2.8.1" is grounded by "v2.8.1", and "v9" (no dots) only by a "v9" that is written so.
    prefix = "[vV]?" if "." in core.split("+")[0].split("-")[0] else "[vV]"
    return re.compile(rf"(?<![\w.]){prefix}{re.escape(core)}(?![0-9A-Za-z])")


def entities(text: str, services: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(kind, entity) named in `text`, in order of first appearance, without repeats."""
    found: list[tuple[int, str, str]] = []
    for match in _URN.finditer(text):
        found.append((match.start(), "urn", match.group(0).rstrip(".:!?")))
    urn_spans = [m.span() for m in _URN.finditer(text)]
    for match in _EVIDENCE_ID.finditer(text):
        found.append((match.start(), "evidence id", match.group(0)))
    for match in _VERSION.finditer(text):
        if not any(start <= match.start() < end for start, end in urn_spans):
            found.append((match.start(), "version", match.group(0).rstrip(".")))
    for name in sorted(set(services)):
        for match in _bounded("service", name).finditer(text):
            if not any(start <= match.start() < end for start, end in urn_spans):
                found.append((match.start(), "service", name))
                break
    known = {n.lower() for n in services}
    for match in _SERVICE_LIKE.finditer(text):
        if match.group(0).lower() not in known and not any(start <= match.start() < end for start, end in urn_spans):
            found.append((match.start(), "service", match.group(0)))
    seen: set[tuple[str, str]] = set()
    ordered = []
    for _, kind, entity in sorted(found):
        key = (kind, entity.lower() if kind == "service" else entity)
        if key not in seen:
            seen.add(key)
            ordered.append((kind, entity))
    return ordered


def supported(kind: str, entity: str, values: Iterable[str]) -> bool:
    pattern = _version_pattern(entity) if kind == "version" else _bounded(kind, entity)
    return any(pattern.search(value) for value in values)


def unsupported(text: str, values: list[str], services: Iterable[str] = ()) -> list[str]:
    """Entities named in `text` that no structured value in `values` supports."""
    return [entity for kind, entity in entities(text, services) if not supported(kind, entity, values)]
