"""Grounding of a claim's text: every entity it names must appear in structured fields of the evidence it cites
or of the incident. Payload free text (failure_reason, a message's note) never grounds anything, since a model
may parrot what was planted there; and text that reads like an instruction is never a verified fact.

Entities are what on-call acts on: URNs, evidence ids, versions, services, field names and reason codes, and the
figures a sentence states (times, dates, percentages, durations, counts of rows, runs or records). A predicate
checks a claim's kind and params; this checks that the sentence on screen says nothing else.
"""

from __future__ import annotations

import bisect
import contextlib
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
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
# Figures. A time or date must appear in a structured value (a boundary, a deploy, a run, a record's time); a
# percentage must be a structured rate (0.1818 grounds 18% and 18.2%); a duration must be a structured number of
# seconds at the precision written (64 grounds "64 s" and "1 min"); a count of rows, runs or records must be a
# structured integer. A bare number (an offset, a schema id) is not checked: too many things are numbers.
_DATE = re.compile(r"(?<![\w.])(\d{4})-(\d{2})-(\d{2})(?!\d)")
_TIME = re.compile(r"(?<![\w:.])(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(?![\d:])(?:\s?([AaPp])\.?[Mm]\b\.?)?")
_TIME_IN_VALUE = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\d:])")
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_PERCENT = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d+)?)\s?%")
_SECONDS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "min": 60, "mins": 60, "minute": 60,
            "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600, "d": 86400,
            "day": 86400, "days": 86400}
_DURATION = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?(" + "|".join(sorted(_SECONDS, key=len, reverse=True))
                       + r")(?![\w])", re.IGNORECASE)
_COUNT = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)\s+(rows?|records?|runs?|files?|events?|messages?|commits?"
                    r"|partitions?|executors?)(?![\w])", re.IGNORECASE)
# Names: a snake_case identifier (a field, a run, a table) and an UPPER_SNAKE reason code must be a structured value.
_SNAKE = re.compile(r"(?<![\w\-@])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w\-])")
_CODE = re.compile(r"(?<![\w\-])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+(?![\w\-])")
# Every claim kind asserts something (a break, a deploy before it, a failed run); a sentence that clears a suspect
# says the opposite of what its kind was verified for. Only no_recent_deploy exists to clear deploys.
_DENIAL = re.compile(
    r"\b(?:did|does|do|could|can|would|will)(?:\s+not|n't)\s+(?:have\s+)?(?:be\s+)?(?:cause[ds]?|explain|trigger"
    r"|break|affect|responsible|related|involved|the\s+cause)\b|\bcannot\s+(?:have\s+)?(?:cause[ds]?|explain|be\s+the)"
    r"\b|\bnot\s+(?:the\s+|a\s+)?(?:cause|culprit|responsible|related|to\s+blame|involved|relevant)\b"
    r"|\bunrelated\b|\bruled\s+out\b|\bcoinciden(?:ce|tal|tally)\b|\binnocent\b|\bno\s+role\b|\birrelevant\b"
    r"|\bred\s+herring\b|\bexonerat",
    re.IGNORECASE,
)
# A correlated deploy or code change precedes the break; a sentence placing it after says the opposite.
_AFTER_THE_BREAK = re.compile(
    r"\b(?:after|following|since)\s+(?:the\s+)?(?:first[\s-]+bad|first[\s-]+unmapped|break(?:age)?|incident|outage"
    r"|failure|deadline|problem|errors?\s+began)\b",
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


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.search(text)
    return found.group(0) if found else None


def instruction_like(text: str) -> str | None:
    """The first phrase of `text` that reads like an instruction to a model, if any."""
    return _first(_INSTRUCTIONS, text)


def certainty_like(text: str) -> str | None:
    """The first phrase of `text` in which a claim vouches for itself ("with 100% certainty"), if any."""
    return _first(_CERTAINTY, text)


def denial_like(text: str) -> str | None:
    """The first phrase of `text` that clears a suspect ("did not cause", "unrelated"), if any."""
    return _first(_DENIAL, text)


def after_the_break(text: str) -> str | None:
    """The first phrase of `text` that places a change after the break ("after the first bad record"), if any."""
    return _first(_AFTER_THE_BREAK, text)


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
              record.producer_urn, record.schema_id, record.deploy_ref, record.reason_code, record.field, record.run_id,
              record.event_time.isoformat()]
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
    "name": (r"(?<![\w])", r"(?![\w])", 0),
}
_FIGURES = ("time", "date", "percentage", "duration", "count")


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
    service_spans = []
    for match in _SERVICE_LIKE.finditer(text):
        if not any(start <= match.start() < end for start, end in urn_spans):
            service_spans.append(match.span())
            if match.group(0).lower() not in known:
                found.append((match.start(), "service", match.group(0)))
    taken = [*urn_spans, *service_spans]
    for pattern in (_SNAKE, _CODE):
        for match in pattern.finditer(text):
            if not _EVIDENCE_ID.fullmatch(match.group(0)) and not any(s <= match.start() < e for s, e in taken):
                found.append((match.start(), "name", match.group(0)))
    for kind, pattern in (("date", _DATE), ("time", _TIME), ("percentage", _PERCENT), ("duration", _DURATION),
                          ("count", _COUNT)):
        for match in pattern.finditer(text):
            if not any(start <= match.start() < end for start, end in urn_spans):
                found.append((match.start(), kind, match.group(0).strip()))
    seen: set[tuple[str, str]] = set()
    ordered = []
    for _, kind, entity in sorted(found):
        key = (kind, entity.lower() if kind == "service" else entity)
        if key not in seen:
            seen.add(key)
            ordered.append((kind, entity))
    return ordered


class Figures:
    """The times, dates and numbers structured values hold, derived once per set of values."""

    def __init__(self, values: Iterable[str], base: Figures | None = None) -> None:
        """The figures of `values`, added to those of `base` (the incident's, derived once per verification)."""
        self.times: set[str] = set(base.times) if base else set()
        self.dates: set[str] = set(base.dates) if base else set()
        self.numbers: list[float] = list(base.numbers) if base else []
        moments: set[datetime] = set(base.moments) if base else set()
        for value in values:
            self.dates.update("-".join(m.groups()) for m in _DATE.finditer(value))
            if _MOMENT.match(value):
                with contextlib.suppress(ValueError):
                    moment = datetime.fromisoformat(value)
                    moments.add(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
            for m in _TIME_IN_VALUE.finditer(value):
                hh, mm, ss = f"{int(m[1]):02d}", m[2], m[3]
                self.times.add(f"{hh}:{mm}")
                if ss is not None:
                    self.times.add(f"{hh}:{mm}:{ss}")
            try:
                self.numbers.append(float(value))
            except ValueError:
                continue
        self.moments: list[datetime] = sorted(moments)
        self._gaps: list[float] | None = None

    @property
    def gaps(self) -> list[float]:
        """Every gap between two structured moments ("deployed 64 s before the first bad record" is a figure
        too), sorted; worked out only when a duration is not itself a structured number."""
        if self._gaps is None:
            ordered = self.moments
            self._gaps = sorted({(b - a).total_seconds() for i, a in enumerate(ordered) for b in ordered[i + 1:]})
        return self._gaps

    def supports(self, kind: str, entity: str) -> bool:
        if kind == "date":
            return entity in self.dates
        if kind == "time":
            m = _TIME.match(entity)
            if m is None:
                return False
            hour = int(m[1]) % 12 + (12 if m[4] in ("p", "P") else 0) if m[4] else int(m[1])
            hh = f"{hour:02d}"
            return (f"{hh}:{m[2]}:{m[3]}" if m[3] is not None else f"{hh}:{m[2]}") in self.times
        if kind == "percentage":
            written = _PERCENT.match(entity)
            if written is None:
                return False
            stated, slack = _stated(written[1])
            # Rates are fractions everywhere rca stores them; a count of 28 must not ground "28%".
            return any(abs(n * 100 - stated) <= slack for n in self.numbers if 0 <= n <= 1)
        if kind == "duration":
            written = _DURATION.match(entity)
            if written is None:
                return False
            stated, slack = _stated(written[1])
            unit = _SECONDS[written[2].lower()]
            return any(abs(n / unit - stated) <= slack for n in self.numbers if n >= 0) or \
                _near(self.gaps, stated * unit, slack * unit)
        if kind == "count":
            written = _COUNT.match(entity)
            return written is not None and float(written[1].replace(",", "")) in self.numbers
        return False


def _near(ordered: list[float], target: float, slack: float) -> bool:
    at = bisect.bisect_left(ordered, target - slack)
    return at < len(ordered) and ordered[at] <= target + slack


def _stated(number: str) -> tuple[float, float]:
    """A written number and how far the exact value may be from it, given the digits it was rounded to."""
    decimals = len(number.split(".", 1)[1]) if "." in number else 0
    return float(number), 0.5 * 10 ** -decimals + 1e-9


def supported(kind: str, entity: str, values: Iterable[str]) -> bool:
    if kind in _FIGURES:
        return Figures(values).supports(kind, entity)
    pattern = _version_pattern(entity) if kind == "version" else _bounded(kind, entity)
    return any(pattern.search(value) for value in values)


def unsupported(text: str, values: list[str], services: Iterable[str] = (), figures: Figures | None = None
                ) -> list[str]:
    """Entities named in `text` that no structured value in `values` supports; `figures`, when given, are those
    of `values`, derived by the caller (the verifier derives the incident's once for all its claims)."""
    missing = []
    for kind, entity in entities(text, services):
        if kind in _FIGURES:
            figures = figures or Figures(values)
            ok = figures.supports(kind, entity)
        else:
            ok = supported(kind, entity, values)
        if not ok:
            missing.append(entity)
    return missing
