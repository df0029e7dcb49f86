"""OpenLineage -> envelope v1, so teams already running an OpenLineage integration need no new code.

Spec: https://openlineage.io/spec/2-0-2/OpenLineage.json. Every event the spec defines is accepted:

- RunEvent START -> JobRunStarted; RUNNING -> JobRunHeartbeat (what JOB_RUNNING_SLOW reads beside the start);
  COMPLETE -> JobRunCompleted plus one DatasetWriteCommitted per output carrying a `version` or `outputStatistics`
  facet (a write is only committed once the run completes); FAIL / ABORT -> JobRunFailed with the first line of
  the error as failure_reason and the stack trace kept; OTHER (or no eventType) -> ExternalEvent.
- DatasetEvent and JobEvent (OpenLineage 2) -> ExternalEvent plus static lineage edges.
- dataQualityAssertions with a failed assertion -> DataQualityFailed for that dataset, whatever the event type.
- schema facets -> a schema fingerprint (SHA-256 of the ordered field names and types); columnLineage -> lineage
  edges from every input dataset a column comes from.

Errors name OpenLineage's own fields (eventTime, run.runId, run.facets.nominalTime.nominalStartTime). A facet that
does not parse is dropped with a warning and the event is kept: only the event's own structure can sink it. The
event as sent is stored beside the mapped one (the first mapped record's `original`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from evidence._bounds import MAX_ID, urn_error
from evidence._envelope import parse_event
from evidence._errors import InvalidEvent
from evidence._openlineage_parts import (
    DEFAULT_JOB_NAMING,
    DEFAULT_NAMING,
    Naming,
    _code_ref,
    _column_lineage,
    _failure,
    _fingerprint,
    _nominal,
    _require,
    _time,
    _Where,
)
from evidence._policy import LineageEdge
from evidence._vocab import EventType

_RUN_TYPES = {"START": EventType.RUN_STARTED, "RUNNING": EventType.HEARTBEAT, "COMPLETE": EventType.RUN_COMPLETED,
              "FAIL": EventType.RUN_FAILED, "ABORT": EventType.RUN_FAILED, "OTHER": EventType.EXTERNAL}


@dataclass
class MappedRunEvent:
    """What one OpenLineage event becomes: envelope v1 events, lineage edges, and the facets dropped on the way."""

    events: list[dict[str, Any]] = field(default_factory=list)
    lineage: list[LineageEdge] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kind: str = "RunEvent"  # RunEvent | JobEvent | DatasetEvent




def _event_time(event: dict[str, Any], where: _Where) -> str:
    value, problem = _time(_require(event, "eventTime", where), "eventTime")
    if problem is not None:
        raise where.fail("eventTime", problem)
    assert value is not None
    return value


def map_openlineage(event: Any, position: int | None = None, naming: Naming = DEFAULT_NAMING,
                    jobs: Naming = DEFAULT_JOB_NAMING) -> MappedRunEvent:
    """Map one OpenLineage event (RunEvent, JobEvent or DatasetEvent) onto envelope v1 events and lineage.

    Raises InvalidEvent naming the OpenLineage field when the event's structure is wrong.
    """
    if not isinstance(event, dict):
        raise InvalidEvent(None, "", "must be a JSON object (an OpenLineage event)", position=position)
    if "run" in event or "eventType" in event:
        return _run_event(event, position, naming, jobs)
    if "job" in event:
        return _static(event, "JobEvent", position, naming, jobs)
    if "dataset" in event:
        return _static(event, "DatasetEvent", position, naming, jobs)
    raise InvalidEvent(None, "run", "is required: an OpenLineage RunEvent has run, job and eventTime (a JobEvent "
                       "has job, a DatasetEvent has dataset)", position=position)


map_run_event = map_openlineage


def _job(event: dict[str, Any], where: _Where, jobs: Naming) -> tuple[dict[str, Any], str]:
    job = where.object(event.get("job"), "job")
    _require(event, "job.name", where)
    if not isinstance(job["name"], str):
        raise where.fail("job.name", "must be a string (OpenLineage spec)")
    if jobs.uses_namespace and not isinstance(_require(event, "job.namespace", where), str):
        raise where.fail("job.namespace", "must be a string (OpenLineage spec)")
    source = jobs(job)
    if (problem := urn_error(source)) is not None:
        raise where.fail("job.name", f"gives the job URN {source[:80]!r}: it {problem}")
    return job, source


def _run_event(event: dict[str, Any], position: int | None, naming: Naming, jobs: Naming) -> MappedRunEvent:
    _require(event, "eventTime", _Where(None, position))
    run_id = _require(event, "run.runId", _Where(None, position))
    where = _Where(run_id if isinstance(run_id, str) else None, position)
    if not isinstance(run_id, str) or len(run_id) > MAX_ID:
        raise where.fail("run.runId", "must be a UUID string (OpenLineage spec)")
    try:
        uuid.UUID(run_id)
    except ValueError:
        raise where.fail("run.runId", f"is {run_id[:80]!r}; it must be a UUID (OpenLineage spec), such as "
                         "01890f1a-2d5e-7c3b-9a4e-8b1f2c3d4e5f") from None
    event_type = event.get("eventType") or "OTHER"
    if not isinstance(event_type, str) or event_type.upper() not in _RUN_TYPES:
        raise where.fail("eventType", f"is {str(event_type)[:40]!r}; it must be one of {', '.join(_RUN_TYPES)}")
    event_type = event_type.upper()
    event_time = _event_time(event, where)
    job, source = _job(event, where, jobs)
    run_facets = where.facets(where.object(event.get("run"), "run").get("facets"), "run.facets")
    job_facets = where.facets(job.get("facets"), "job.facets")
    inputs = where.datasets(event.get("inputs"), "inputs", naming)
    outputs = where.datasets(event.get("outputs"), "outputs", naming)
    meta = _meta(event, job, run_facets, where)
    base = {"specversion": "1.0", "source": source, "time": event_time, "datacontenttype": "application/json"}
    envelope_type = _RUN_TYPES[event_type]
    ident = f"openlineage:{run_id}:{event_type}"
    if event_type in ("RUNNING", "OTHER"):  # a run says these many times: each one is its own event
        ident += f":{event_time}"
    data: dict[str, Any] = {"run_id": run_id, "openlineage": meta}
    origins = dict(_RUN_ORIGINS)
    if envelope_type == EventType.RUN_STARTED:
        nominal = run_facets.get("nominalTime", {})
        app = run_facets.get("spark_applicationDetails", {})
        data.update(code_ref=_code_ref(job_facets, where), input_datasets=[urn for _, urn in inputs],
                    scheduled_time=_nominal(nominal, where), actual_start_time=event_time,
                    spark_app_id=where.text(app, "applicationId", "run.facets.spark_applicationDetails"))
    elif envelope_type == EventType.RUN_FAILED:
        reason, trace, origin = _failure(run_facets, where)
        data["failure_reason"] = reason or f"OpenLineage {event_type}"
        if trace:
            data["stack_trace"] = trace
        origins["data.failure_reason"] = (origin, True)
    elif envelope_type == EventType.EXTERNAL:
        data.update(standard="openlineage", kind=event_type)
    schemas = {urn: fp for dataset, urn in (*inputs, *outputs)
               if (fp := _fingerprint(dataset, urn, where)) is not None}
    if schemas:
        data["schemas"] = schemas
    out = MappedRunEvent()
    columns = _column_lineage(outputs, where, naming)
    if columns:
        data["column_lineage"] = {urn: fields for urn, (fields, _) in columns.items()}
    out.events.append(_checked({**base, "id": ident, "type": envelope_type, "original": event,
                                "data": {k: v for k, v in data.items() if v is not None}}, origins, where))
    if event_type == "COMPLETE":
        for n, (dataset, urn) in enumerate(outputs):
            commit = _commit(base, run_id, event_type, event_time, dataset, urn, where, n, schemas.get(urn))
            if commit is not None:
                out.events.append(commit)
            upstreams = {u for _, u in inputs} | columns.get(urn, ({}, set()))[1]
            out.lineage.extend(LineageEdge(upstream=u, downstream=urn) for u in sorted(upstreams) if u != urn)
    out.events.extend(_quality(base, run_id, event_type, inputs, outputs, where))
    out.warnings = where.warnings
    return out


def _static(event: dict[str, Any], kind: str, position: int | None, naming: Naming, jobs: Naming) -> MappedRunEvent:
    """A JobEvent or DatasetEvent: no run, so no run evidence; kept, and its lineage recorded."""
    where = _Where(None, position)
    event_time = _event_time(event, where)
    out = MappedRunEvent(kind=kind)
    data: dict[str, Any] = {"standard": "openlineage", "kind": kind}
    if kind == "JobEvent":
        job, source = _job(event, where, jobs)
        where.facets(job.get("facets"), "job.facets")
        inputs = where.datasets(event.get("inputs"), "inputs", naming)
        outputs = where.datasets(event.get("outputs"), "outputs", naming)
        columns = _column_lineage(outputs, where, naming)
        for _, urn in outputs:
            upstreams = {u for _, u in inputs} | columns.get(urn, ({}, set()))[1]
            out.lineage.extend(LineageEdge(upstream=u, downstream=urn) for u in sorted(upstreams) if u != urn)
        ident, subject = f"openlineage:JobEvent:{event_time}", None
        datasets = [*inputs, *outputs]
        data["openlineage"] = {"namespace": job.get("namespace"), "producer": event.get("producer")}
    else:
        dataset = where.object(event.get("dataset"), "dataset")
        subject = source = where.dataset_urn(dataset, "dataset", naming)
        columns = _column_lineage([(dataset, source)], where, naming, path="dataset")
        out.lineage.extend(LineageEdge(upstream=u, downstream=source)
                           for u in sorted(columns.get(source, ({}, set()))[1]) if u != source)
        ident = f"openlineage:DatasetEvent:{dataset.get('namespace')}/{dataset['name']}:{event_time}"
        datasets = [(dataset, source)]
        data.update(dataset_urn=source, openlineage={"namespace": dataset.get("namespace"),
                                                     "producer": event.get("producer")})
    schemas = {urn: fp for node, urn in datasets if (fp := _fingerprint(node, urn, where)) is not None}
    if schemas:
        data["schemas"] = schemas
    if columns:
        data["column_lineage"] = {urn: fields for urn, (fields, _) in columns.items()}
    envelope = {"specversion": "1.0", "id": ident, "source": source, "type": EventType.EXTERNAL, "time": event_time,
                "datacontenttype": "application/json", "original": event, "data": data}
    if subject:
        envelope["subject"] = subject
    out.events.append(_checked(envelope, _RUN_ORIGINS, where))
    out.warnings = where.warnings
    return out


def _meta(event: dict[str, Any], job: dict[str, Any], run_facets: dict[str, dict[str, Any]],
          where: _Where) -> dict[str, Any]:
    meta: dict[str, Any] = {"namespace": job.get("namespace")}
    if event.get("producer"):
        meta["producer"] = event["producer"]
    parent = run_facets.get("parent")
    if parent:
        parent_job, parent_run = parent.get("job"), parent.get("run")
        if isinstance(parent_job, dict):
            meta["parent_job"] = parent_job.get("name")
        if isinstance(parent_run, dict):
            meta["parent_run_id"] = parent_run.get("runId")
        if not isinstance(parent_job, dict) and not isinstance(parent_run, dict):
            where.drop("run.facets.parent", "has neither a job nor a run object")
    return meta



def _commit(base: dict[str, Any], run_id: str, event_type: str, event_time: str, dataset: dict[str, Any],
            urn: str, where: _Where, n: int, fingerprint: str | None) -> dict[str, Any] | None:
    facets = where.facets(dataset.get("facets"), f"outputs[{n}].facets")
    output_facets = where.facets(dataset.get("outputFacets"), f"outputs[{n}].outputFacets")
    stats = output_facets.get("outputStatistics", {})
    version = facets.get("version", {}).get("datasetVersion")
    if version is None and not stats:
        return None
    data: dict[str, Any] = {"dataset_urn": urn, "run_id": run_id, "commit_timestamp": event_time,
                            "namespace": dataset.get("namespace"), "name": dataset.get("name")}
    origins = {**_RUN_ORIGINS, "data.dataset_urn": (f"outputs[{n}].name", False),
               "subject": (f"outputs[{n}].name", False)}
    if version is not None:
        if str(version).isascii() and str(version).isdigit() and len(str(version)) <= 19:
            data["commit_version"] = int(version)
            origins["data.commit_version"] = (f"outputs[{n}].facets.version.datasetVersion", True)
        data["dataset_version"] = str(version)[:MAX_ID]
    for key, stat in (("rows_written", "rowCount"), ("files_added", "fileCount"), ("bytes_written", "size")):
        if stats.get(stat) is not None:
            data[key] = stats[stat]
            origins[f"data.{key}"] = (f"outputs[{n}].outputFacets.outputStatistics.{stat}", True)
    if fingerprint is not None:
        data["schema_fingerprint"] = fingerprint
    envelope = {**base, "id": f"openlineage:{run_id}:{event_type}:{dataset.get('namespace')}/{dataset['name']}",
                "type": EventType.COMMITTED, "subject": urn, "data": data}
    return _checked(envelope, origins, where)


def _quality(base: dict[str, Any], run_id: str, event_type: str, inputs: list[tuple[dict[str, Any], str]],
             outputs: list[tuple[dict[str, Any], str]], where: _Where) -> list[dict[str, Any]]:
    """A DataQualityFailed per dataset whose dataQualityAssertions facet holds a failed assertion."""
    out = []
    for path, datasets in (("inputs", inputs), ("outputs", outputs)):
        for n, (dataset, urn) in enumerate(datasets):
            for group in ("inputFacets", "outputFacets", "facets"):
                facets = dataset.get(group)
                facet = facets.get("dataQualityAssertions") if isinstance(facets, dict) else None
                if facet is None:
                    continue
                assertions = facet.get("assertions") if isinstance(facet, dict) else None
                if not isinstance(assertions, list):
                    where.drop(f"{path}[{n}].{group}.dataQualityAssertions", "has no assertions list")
                    continue
                checked = [a for a in assertions if isinstance(a, dict) and isinstance(a.get("success"), bool)
                           and isinstance(a.get("assertion"), str) and a["assertion"]]
                failed = [{k: a[k] for k in ("assertion", "column", "success", "severity", "actual", "expected")
                           if a.get(k) is not None} for a in checked if not a["success"]]
                if not failed:
                    continue
                data = {"dataset_urn": urn, "run_id": run_id, "failed": len(failed), "checked": len(checked),
                        "assertions": failed}
                envelope = {**base, "id": f"openlineage:{run_id}:{event_type}:dq:{dataset.get('namespace')}/"
                            f"{dataset['name']}", "type": EventType.QUALITY_FAILED, "subject": urn, "data": data}
                origins = {**_RUN_ORIGINS, "data.assertions": (f"{path}[{n}].{group}.dataQualityAssertions", False)}
                out.append(_checked(envelope, origins, where))
    return out


# Envelope field -> (the OpenLineage field it came from, whether it is a facet that may be dropped).
_RUN_ORIGINS: dict[str, tuple[str, bool]] = {
    "id": ("run.runId", False), "time": ("eventTime", False), "source": ("job.name", False),
    "data.run_id": ("run.runId", False), "data.scheduled_time": ("run.facets.nominalTime.nominalStartTime", True),
    "data.code_ref": ("job.facets.sourceCodeLocation", True),
    "data.spark_app_id": ("run.facets.spark_applicationDetails.applicationId", True),
    "data.input_datasets": ("inputs", False), "subject": ("dataset.name", False),
    "data.dataset_urn": ("dataset.name", False),
}


def _checked(envelope: dict[str, Any], origins: dict[str, tuple[str, bool]], where: _Where) -> dict[str, Any]:
    """The envelope, once it validates: a field from a facet that does not is dropped with a warning; any other
    error is raised naming the OpenLineage field it came from."""
    while True:
        try:
            parse_event(envelope)
            return envelope
        except InvalidEvent as exc:
            head = ".".join(exc.field.split(".")[:2])
            origin, droppable = origins.get(head, (exc.field, False))
            data = envelope.get("data")
            key = head.removeprefix("data.")
            if droppable and head.startswith("data.") and isinstance(data, dict) and key in data:
                where.drop(origin, exc.reason)
                envelope = {**envelope, "data": {k: v for k, v in data.items() if k != key}}
                continue
            raise where.fail(origin, exc.reason) from None
