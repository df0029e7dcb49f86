"""The sentences on-call reads, one template per claim kind, filled only with the values the kind's check derived
from the cited evidence. Every figure a template prints is a named value (a gap in seconds, a count, rates before
and after, in that order); every name it prints must be shaped like an identifier, or the claim is not rendered
at all: a version such as "v5 (root cause confirmed by SRE)" never reaches a sentence we vouch for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evidence import Incident, ReasonCode, parse_utc
from guardrails._claims import ClaimKind, ParamValue, VerifiedClaim
from guardrails._text import identifier

Values = dict[str, ParamValue]
_NUMERIC = (int, float)
_WHEN = "%Y-%m-%d %H:%M:%S UTC"  # how on-call reads a moment: "2026-03-10 10:21:04 UTC"


class Unrenderable(ValueError):
    """A value the template needs is missing or not shaped like what it names."""


def _value(v: Values | dict[str, Any], key: str) -> ParamValue:
    if v.get(key) is None:
        raise Unrenderable(f"its {key} is missing")
    return v[key]


def _number(v: Values, key: str) -> float:
    value = _value(v, key)
    if isinstance(value, bool) or not isinstance(value, _NUMERIC) or value < 0:
        raise Unrenderable(f"its {key} is not a number")
    return float(value)


def when(v: Values | dict[str, Any], key: str) -> str:
    """An RFC 3339 value as on-call reads it: "2026-03-10 10:21:04 UTC"."""
    value = _value(v, key)
    try:
        moment = parse_utc(str(value))
    except ValueError as exc:
        raise Unrenderable(f"its {key} is not a time") from exc
    return moment.strftime(_WHEN)


def duration(v: Values, key: str) -> str:
    """64 -> "64 s", 4500 -> "75 min", 9000 -> "2.5 h": whole units, never more precise than the value."""
    seconds = _number(v, key)
    if seconds < 120:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{seconds / 3600:.1f} h"


def share(v: Values, key: str) -> str:
    rate = _number(v, key)
    if rate > 1:
        raise Unrenderable(f"its {key} is not a share between 0 and 1")
    return f"{rate:.0%}"


def count(v: Values, key: str) -> str:
    return f"{round(_number(v, key)):,}"


def name(v: Values, key: str) -> str:
    """A name for a sentence: an identifier, or the claim is not rendered."""
    shown = identifier(_value(v, key))
    if shown is None:
        raise Unrenderable(f"its {key} is not shaped like an identifier")
    return shown


def names(v: Values, key: str) -> str:
    listed = _value(v, key)
    shown = [identifier(item) for item in listed] if isinstance(listed, list) and listed else [None]
    if None in shown:
        raise Unrenderable(f"its {key} are not all shaped like identifiers")
    return ", ".join(str(item) for item in shown)


def _what(v: Values) -> str:
    return f"{name(v, 'reason_code')} on '{name(v, 'field')}'" if v.get("field") else name(v, 'reason_code')


def _break(v: Values, also: str) -> str:
    bad = f"; {count(v, 'bad_count')} bad records since" if v.get("bad_count") is not None else ""
    whose = f" from {name(v, 'producer_urn')}" if v.get("producer_urn") else ""
    return (f"Records of {name(v, 'dataset_urn')}{whose} {also}fail the contract with {_what(v)} since "
            f"{when(v, 'first_bad_time')} (first bad record {name(v, 'first_bad_ref')}{bad}).")


def _last_good(v: Values) -> str:
    what = "commit" if v.get("what") == "commit" else "record"
    return f"The last good {what} before the break was {name(v, 'last_good_ref')} at {when(v, 'last_good_time')}."


def _deploy(v: Values) -> str:
    head = f"{name(v, 'service')} {name(v, 'version')} was deployed at {when(v, 'deployed_at')}"
    if v.get("seconds_before_first_bad") is not None:
        boundary = "first unmapped record" if v.get("boundary") == "first unmapped record" else "first bad record"
        if v.get("producer_urn"):  # several producers broke: whose first bad record it preceded (issue 24)
            boundary += f" of {name(v, 'producer_urn')}" + (f" ({name(v, 'first_bad_ref')})"
                                                             if v.get("first_bad_ref") else "")
        return f"{head}, {duration(v, 'seconds_before_first_bad')} before the {boundary}."
    if v.get("last_good_time") is not None:
        return f"{head}, after the last good run at {when(v, 'last_good_time')}."
    return f"{head}."


def _freshness(v: Values) -> str:
    watermark = (f"its watermark is {name(v, 'current_watermark')}, expected {name(v, 'expected_watermark')}"
                 if v.get("expected_watermark") else "no commit landed since")
    return f"{name(v, 'dataset_urn')} missed its deadline of {when(v, 'deadline')}: {watermark}."


def _slow(v: Values) -> str:
    runs = f", the median of {count(v, 'baseline_runs')} recent successful runs" if v.get("baseline_runs") else ""
    return (f"Run {name(v, 'run_id')} has been running for {duration(v, 'running_for_s')} against a baseline of "
            f"{duration(v, 'baseline_s')}{runs}.")


def _wrong_partition(v: Values) -> str:
    if v.get("commit_ref"):
        return f"Today's commit {name(v, 'commit_ref')} landed but did not write {name(v, 'expected_watermark')}."
    return f"Run {name(v, 'run_id')} completed without committing {name(v, 'expected_watermark')}."


def _upstream(v: Values) -> str:
    where = (f": its watermark is {name(v, 'current_watermark')}, expected {name(v, 'expected_watermark')}"
             if v.get("current_watermark") and v.get("expected_watermark") else "")
    return f"The job's input {name(v, 'dataset_urn')} is itself late{where}."


def _drift(v: Values) -> str:
    unmapped = "which two approved rules claim" if v.get("reason_code") == ReasonCode.MAPPING_AMBIGUOUS else \
        "which no approved rule maps to a dataset"
    held = (f"; {count(v, 'held_records')} records are held, unattributed, in change request "
            f"{name(v, 'change_request_id')}") if v.get("change_request_id") and v.get("held_records") is not None \
        else ""
    return (f"Records on topic {name(v, 'topic')} arrive with schema id {name(v, 'schema_id')}, {unmapped} "
            f"({name(v, 'reason_code')}){held}.")


TEMPLATES: dict[ClaimKind, Callable[[Values], str]] = {
    ClaimKind.CONTRACT_BREAK: lambda v: _break(v, ""),
    ClaimKind.OTHER_BREAK: lambda v: _break(v, "also "),
    ClaimKind.LAST_GOOD: _last_good,
    ClaimKind.RATE_SHIFT: lambda v: (f"The share of records failing with {_what(v)} went from {share(v, 'before')} "
                                     f"before the boundary to {share(v, 'after')} after it."),
    ClaimKind.FRESHNESS_BREACH: _freshness,
    ClaimKind.IMPACT: lambda v: f"Downstream datasets hit through lineage: {names(v, 'datasets')}.",
    ClaimKind.DEPLOY_CORRELATED: _deploy,
    ClaimKind.CODE_CHANGED: lambda v: (f"The job's code changed since the last good run: run {name(v, 'run_id')} "
                                       f"uses {name(v, 'code_ref')}, the last good run used "
                                       f"{name(v, 'previous_code_ref')}."),
    ClaimKind.JOB_NOT_TRIGGERED: lambda v: (f"No run of {name(v, 'producer_urn')} started after today's scheduled "
                                            f"time {when(v, 'scheduled_time')}, although its earlier runs did (most "
                                            f"recently at {when(v, 'last_started_at')})."),
    ClaimKind.JOB_FAILED: lambda v: (f"Run {name(v, 'run_id')} failed ({name(v, 'failure_class').replace('_', ' ')})"
                                     f" at {when(v, 'failed_at')}."),
    ClaimKind.JOB_RUNNING: lambda v: (f"Run {name(v, 'run_id')} started at {when(v, 'started_at')} and has neither "
                                      "completed nor failed."),
    ClaimKind.JOB_SLOW: _slow,
    ClaimKind.WRONG_PARTITION: _wrong_partition,
    ClaimKind.PARTIAL_WRITE: lambda v: (f"Today's commit to {name(v, 'partition')} wrote {count(v, 'rows_written')} "
                                        f"rows against a baseline of {count(v, 'baseline_rows')} rows."),
    ClaimKind.UPSTREAM_LATE: _upstream,
    ClaimKind.SCHEMA_DRIFT: _drift,
    ClaimKind.NO_RECENT_DEPLOY: lambda v: (f"The latest deploy of {name(v, 'producer_urn')}, {name(v, 'service')} "
                                           f"{name(v, 'version')} at {when(v, 'deployed_at')}, predates the last "
                                           f"good time {when(v, 'last_good_time')}: nothing was deployed since."),
}


def render(kind: ClaimKind, values: Values) -> str:
    """The sentence of a verified claim; Unrenderable when a value it needs is missing or not an identifier."""
    try:
        return TEMPLATES[kind](values)
    except KeyError as exc:
        raise Unrenderable(f"{exc.args[0]} is missing") from exc


_TITLES = {"contract": "failing contract-lite", "freshness": "missed its freshness SLO",
           "drift": "has records no approved rule attributes"}


def summary(incident: Incident, cause: VerifiedClaim | None, also: list[VerifiedClaim]) -> str:
    """The RCA's first line, from the incident's structured values and verified sentences only: what broke and
    since when, then the verified cause (or "inconclusive"), then other breaks the verifier confirmed."""
    dataset = identifier(incident.dataset_urn) or "The dataset"
    reason = identifier(str(incident.reason_code)) or "a failure"
    field = identifier(incident.field)
    title = _TITLES.get(incident.kind, "is failing")
    since = f" since {incident.first_bad_time.strftime(_WHEN)}"
    head = f"{dataset} {title}: {reason}{f'({field})' if field else ''}{since}."
    breaking = [(identifier(p.get("producer_urn")), p) for p in incident.facts.get("breaking_producers") or []
                if isinstance(p, dict)]
    if len(breaking) > 1 and all(urn for urn, _ in breaking):  # several producers' records broke (issue 24)
        try:
            head += f" Records of {len(breaking)} producers broke: " + ", ".join(
                f"{urn} since {when(p, 'first_bad_time')}" for urn, p in breaking) + "."
        except Unrenderable:
            head += f" Records of {len(breaking)} producers broke: {', '.join(str(urn) for urn, _ in breaking)}."
    tail = cause.text if cause is not None else \
        "Inconclusive: no evidence of what changed behind it; see the next checks."
    others = [f"{c.params.get('reason_code')}({c.params['field']})" if c.params.get("field")
              else str(c.params.get("reason_code")) for c in also]
    return " ".join([head, tail, *([f"Also failing: {', '.join(others)}."] if others else [])])
