"""OpenLineage RunEvents -> envelope v1, so teams already running openlineage-spark need no new code.

Spec: https://openlineage.io/spec/2-0-2/OpenLineage.json. START -> JobRunStarted; COMPLETE -> JobRunCompleted
plus one DatasetWriteCommitted per output carrying a `version` or `outputStatistics` facet (a write is only
committed once the run completes); FAIL / ABORT -> JobRunFailed. RUNNING and OTHER carry nothing we need.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from evidence._bounds import MAX_ID, identifier_error, time_error, urn_error
from evidence._errors import ConfigError, InvalidEvent
from evidence._policy import LineageEdge
from evidence._vocab import EventType, MissingOffset, parse_time

_RUN_TYPES = {"START": EventType.RUN_STARTED, "COMPLETE": EventType.RUN_COMPLETED, "FAIL": EventType.RUN_FAILED,
              "ABORT": EventType.RUN_FAILED}


@dataclass
class MappedRunEvent:
    events: list[dict[str, Any]] = field(default_factory=list)
    lineage: list[LineageEdge] = field(default_factory=list)


DEFAULT_DATASET_URN = "ds://{name}"
_PLACEHOLDERS = ("name", "namespace", "namespace_path")


class DatasetNaming:
    """How an OpenLineage dataset, named by (namespace, name), becomes the dataset URN policies use.

    A template over {name}, {namespace} and {namespace_path} (the namespace without its scheme: "s3://lake" ->
    "lake", "postgres://db:5432" -> "db:5432"). The default, ds://{name}, keeps the namespace in the data only;
    a platform whose namespaces hold tables of the same name sets RCA_OPENLINEAGE_DATASET_URN to, say,
    ds://{namespace_path}/{name}, so that two of them never become one dataset.
    """

    def __init__(self, template: str = DEFAULT_DATASET_URN) -> None:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        except ValueError as exc:
            raise ConfigError(f"RCA_OPENLINEAGE_DATASET_URN {template!r} is not a template ({exc}); use e.g. "
                              f"{DEFAULT_DATASET_URN} or ds://{{namespace_path}}/{{name}}.") from exc
        unknown = [f for f in fields if f not in _PLACEHOLDERS]
        if unknown or "name" not in fields or not template.startswith("ds://"):
            raise ConfigError(
                f"RCA_OPENLINEAGE_DATASET_URN {template!r} must start with ds:// and use {{name}}"
                + (f"; {', '.join(sorted(set(unknown)))} is not one of {', '.join(_PLACEHOLDERS)}" if unknown else "")
                + f" (e.g. {DEFAULT_DATASET_URN} or ds://{{namespace_path}}/{{name}}).")
        self.template = template

    def __call__(self, dataset: dict[str, Any]) -> str:
        namespace = str(dataset.get("namespace") or "")
        path = namespace.split("://", 1)[1] if "://" in namespace else namespace
        return self.template.format(name=dataset["name"], namespace=namespace, namespace_path=path.strip("/"))


DEFAULT_NAMING = DatasetNaming()


def job_urn(job: dict[str, Any]) -> str:
    return f"job://{job['name']}"


def _code_ref(job_facets: dict[str, Any], where: _Where) -> str | None:
    location = where.object(job_facets.get("sourceCodeLocation"), "job.facets.sourceCodeLocation")
    version = location.get("version") or location.get("tag")
    url = location.get("repoUrl") or location.get("url")
    if version and url:
        return f"{url}@{version}"
    return str(version or url) if version or url else None


def _failure_reason(run_facets: dict[str, Any], where: _Where) -> str | None:
    # The standard facet, then openlineage-spark's own (`spark.exception`: message + stackTrace).
    for name in ("errorMessage", "spark.exception"):
        facet = where.object(run_facets.get(name), f"run.facets.{name}")
        text = facet.get("message") or facet.get("exception") or facet.get("stackTrace")
        lines = str(text).strip().splitlines() if text else []
        if lines:
            return lines[0][:2000]
    return None


class _Where:
    """Shape checks that name the RunEvent's own field (run.facets, outputs[0].facets, ...) when it is not what
    the OpenLineage spec says, so that a malformed event is a 422 about that field, never a crash."""

    def __init__(self, run_id: str | None, position: int | None) -> None:
        self.run_id, self.position = run_id, position

    def fail(self, path: str, message: str) -> InvalidEvent:
        return InvalidEvent(self.run_id, path, message, position=self.position)

    def object(self, node: Any, path: str) -> dict[str, Any]:
        if node is None:
            return {}
        if not isinstance(node, dict):
            raise self.fail(path, "must be an object (OpenLineage spec)")
        return node

    def datasets(self, node: Any, path: str, naming: DatasetNaming) -> list[tuple[dict[str, Any], str]]:
        if node is None:
            return []
        if not isinstance(node, list):
            raise self.fail(path, "must be a list of datasets (OpenLineage spec)")
        out = []
        for n, dataset in enumerate(node):
            if not isinstance(dataset, dict) or not dataset.get("name"):
                continue
            if not isinstance(dataset["name"], str):
                raise self.fail(f"{path}[{n}].name", "must be a string")
            urn = naming(dataset)
            if (problem := urn_error(urn)) is not None:
                raise self.fail(f"{path}[{n}].name", f"gives the dataset URN {urn[:80]!r}: it {problem}")
            out.append((dataset, urn))
        return out


def _require(run_event: dict[str, Any], path: str, position: int | None) -> Any:
    node: Any = run_event
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node in (None, ""):
        run_id = (run_event.get("run") or {}).get("runId") if isinstance(run_event.get("run"), dict) else None
        raise InvalidEvent(run_id if isinstance(run_id, str) else None, path, "is required in an OpenLineage RunEvent",
                           position=position)
    return node


def _event_time(value: Any, where: _Where) -> str:
    try:
        moment = parse_time(str(value))
    except MissingOffset:
        raise where.fail("eventTime", "must carry a UTC offset (for example 2026-01-19T06:00:00Z)") from None
    except ValueError:
        raise where.fail("eventTime", "must be an RFC 3339 timestamp with an offset") from None
    if (problem := time_error(moment)) is not None:
        raise where.fail("eventTime", problem)
    return str(value)


def map_run_event(run_event: Any, position: int | None = None, naming: DatasetNaming = DEFAULT_NAMING
                  ) -> MappedRunEvent:
    if not isinstance(run_event, dict):
        raise InvalidEvent(None, "", "must be a JSON object (an OpenLineage RunEvent)", position=position)
    event_type = str(run_event.get("eventType") or "").upper()
    raw_time = _require(run_event, "eventTime", position)
    run_id = _require(run_event, "run.runId", position)
    where = _Where(run_id if isinstance(run_id, str) else None, position)
    if not isinstance(run_id, str):
        raise where.fail("run.runId", "must be a string (a UUID)")
    if (problem := identifier_error(run_id, MAX_ID)) is not None:
        raise where.fail("run.runId", problem)
    event_time = _event_time(raw_time, where)
    job = where.object(run_event.get("job"), "job")
    _require(run_event, "job.name", position)
    source = job_urn(job)
    if (problem := urn_error(source)) is not None:
        raise where.fail("job.name", f"gives the job URN {source[:80]!r}: it {problem}")
    run_facets = where.object(where.object(run_event.get("run"), "run").get("facets"), "run.facets")
    job_facets = where.object(job.get("facets"), "job.facets")
    base = {"specversion": "1.0", "source": source, "time": event_time, "datacontenttype": "application/json"}
    lineage_meta = {"namespace": job.get("namespace")}
    if run_event.get("producer"):
        lineage_meta["producer"] = run_event["producer"]
    parent = where.object(run_facets.get("parent"), "run.facets.parent")
    if parent:
        lineage_meta["parent_job"] = where.object(parent.get("job"), "run.facets.parent.job").get("name")
        lineage_meta["parent_run_id"] = where.object(parent.get("run"), "run.facets.parent.run").get("runId")
    out = MappedRunEvent()
    envelope_type = _RUN_TYPES.get(event_type)
    if envelope_type is None:
        return out
    inputs = where.datasets(run_event.get("inputs"), "inputs", naming)
    outputs = where.datasets(run_event.get("outputs"), "outputs", naming)
    data: dict[str, Any] = {"run_id": run_id, "openlineage": lineage_meta}
    if envelope_type == EventType.RUN_STARTED:
        nominal = where.object(run_facets.get("nominalTime"), "run.facets.nominalTime")
        app = where.object(run_facets.get("spark_applicationDetails"), "run.facets.spark_applicationDetails")
        data.update(code_ref=_code_ref(job_facets, where), input_datasets=[urn for _, urn in inputs],
                    scheduled_time=nominal.get("nominalStartTime"), actual_start_time=event_time,
                    spark_app_id=app.get("applicationId"))
    elif envelope_type == EventType.RUN_FAILED:
        data.update(failure_reason=_failure_reason(run_facets, where) or f"OpenLineage {event_type}")
    out.events.append({**base, "id": f"openlineage:{run_id}:{event_type}", "type": envelope_type,
                       "data": {k: v for k, v in data.items() if v is not None}})
    if event_type == "COMPLETE":
        for n, (dataset, urn) in enumerate(outputs):
            out.events.extend(_commit(base, run_id, event_type, event_time, dataset, urn, where, n))
            out.lineage.extend(LineageEdge(upstream=upstream, downstream=urn)
                               for _, upstream in inputs if upstream != urn)
    return out


def _commit(base: dict[str, Any], run_id: str, event_type: str, event_time: str,
            dataset: dict[str, Any], urn: str, where: _Where, n: int) -> list[dict[str, Any]]:
    facets = where.object(dataset.get("facets"), f"outputs[{n}].facets")
    output_facets = where.object(dataset.get("outputFacets"), f"outputs[{n}].outputFacets")
    stats = where.object(output_facets.get("outputStatistics"), f"outputs[{n}].outputFacets.outputStatistics")
    version = where.object(facets.get("version"), f"outputs[{n}].facets.version").get("datasetVersion")
    if version is None and not stats:
        return []
    data: dict[str, Any] = {"dataset_urn": urn, "run_id": run_id, "commit_timestamp": event_time,
                            "namespace": dataset.get("namespace"), "name": dataset.get("name")}
    if version is not None:
        if str(version).isascii() and str(version).isdigit() and len(str(version)) <= 19:
            data["commit_version"] = int(version)
        data["dataset_version"] = str(version)
    if stats.get("rowCount") is not None:
        data["rows_written"] = stats["rowCount"]
    if stats.get("fileCount") is not None:
        data["files_added"] = stats["fileCount"]
    if stats.get("size") is not None:
        data["bytes_written"] = stats["size"]
    return [{**base, "id": f"openlineage:{run_id}:{event_type}:{dataset.get('namespace')}/{dataset['name']}",
             "type": EventType.COMMITTED, "subject": urn, "data": data}]
