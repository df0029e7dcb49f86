"""OpenLineage RunEvents -> envelope v1, so teams already running openlineage-spark need no new code.

Spec: https://openlineage.io/spec/2-0-2/OpenLineage.json. START -> JobRunStarted; COMPLETE -> JobRunCompleted
plus one DatasetWriteCommitted per output carrying a `version` or `outputStatistics` facet (a write is only
committed once the run completes); FAIL / ABORT -> JobRunFailed. RUNNING and OTHER carry nothing we need.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from evidence._errors import ConfigError, InvalidEvent
from evidence._policy import LineageEdge

_RUN_TYPES = {"START": "JobRunStarted", "COMPLETE": "JobRunCompleted", "FAIL": "JobRunFailed", "ABORT": "JobRunFailed"}


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


def _code_ref(job_facets: dict[str, Any]) -> str | None:
    location = job_facets.get("sourceCodeLocation") or {}
    version = location.get("version") or location.get("tag")
    url = location.get("repoUrl") or location.get("url")
    if version and url:
        return f"{url}@{version}"
    return version or url


def _failure_reason(run_facets: dict[str, Any]) -> str | None:
    # The standard facet, then openlineage-spark's own (`spark.exception`: message + stackTrace).
    for name in ("errorMessage", "spark.exception"):
        facet = run_facets.get(name)
        if isinstance(facet, dict):
            text = facet.get("message") or facet.get("exception") or facet.get("stackTrace")
            if text:
                return str(text).strip().splitlines()[0][:2000]
    return None


def _require(run_event: dict[str, Any], path: str, position: int | None) -> Any:
    node: Any = run_event
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node in (None, ""):
        run_id = (run_event.get("run") or {}).get("runId") if isinstance(run_event.get("run"), dict) else None
        raise InvalidEvent(run_id, path, "is required in an OpenLineage RunEvent", position=position)
    return node


def map_run_event(run_event: Any, position: int | None = None, naming: DatasetNaming = DEFAULT_NAMING
                  ) -> MappedRunEvent:
    if not isinstance(run_event, dict):
        raise InvalidEvent(None, "", "must be a JSON object (an OpenLineage RunEvent)", position=position)
    event_type = str(run_event.get("eventType") or "").upper()
    event_time = _require(run_event, "eventTime", position)
    run_id = _require(run_event, "run.runId", position)
    job = run_event.get("job") or {}
    _require(run_event, "job.name", position)
    run_facets = (run_event.get("run") or {}).get("facets") or {}
    job_facets = job.get("facets") or {}
    source = job_urn(job)
    base = {"specversion": "1.0", "source": source, "time": event_time, "datacontenttype": "application/json"}
    lineage_meta = {"namespace": job.get("namespace")}
    if run_event.get("producer"):
        lineage_meta["producer"] = run_event["producer"]
    parent = run_facets.get("parent")
    if isinstance(parent, dict):
        lineage_meta["parent_job"] = (parent.get("job") or {}).get("name")
        lineage_meta["parent_run_id"] = (parent.get("run") or {}).get("runId")
    out = MappedRunEvent()
    envelope_type = _RUN_TYPES.get(event_type)
    if envelope_type is None:
        return out
    inputs = [d for d in run_event.get("inputs") or [] if isinstance(d, dict) and d.get("name")]
    outputs = [d for d in run_event.get("outputs") or [] if isinstance(d, dict) and d.get("name")]
    data: dict[str, Any] = {"run_id": run_id, "openlineage": lineage_meta}
    if envelope_type == "JobRunStarted":
        nominal = run_facets.get("nominalTime") or {}
        app = run_facets.get("spark_applicationDetails") or {}
        data.update(code_ref=_code_ref(job_facets), input_datasets=[naming(d) for d in inputs],
                    scheduled_time=nominal.get("nominalStartTime"), actual_start_time=event_time,
                    spark_app_id=app.get("applicationId"))
    elif envelope_type == "JobRunFailed":
        data.update(failure_reason=_failure_reason(run_facets) or f"OpenLineage {event_type}")
    out.events.append({**base, "id": f"openlineage:{run_id}:{event_type}", "type": envelope_type,
                       "data": {k: v for k, v in data.items() if v is not None}})
    if event_type == "COMPLETE":
        for dataset in outputs:
            out.events.extend(_commit(base, run_id, event_type, event_time, dataset, naming(dataset)))
            out.lineage.extend(LineageEdge(upstream=naming(i), downstream=naming(dataset))
                               for i in inputs if naming(i) != naming(dataset))
    return out


def _commit(base: dict[str, Any], run_id: str, event_type: str, event_time: str,
            dataset: dict[str, Any], urn: str) -> list[dict[str, Any]]:
    facets = dataset.get("facets") or {}
    stats = (dataset.get("outputFacets") or {}).get("outputStatistics") or {}
    version = (facets.get("version") or {}).get("datasetVersion")
    if version is None and not stats:
        return []
    data: dict[str, Any] = {"dataset_urn": urn, "run_id": run_id, "commit_timestamp": event_time,
                            "namespace": dataset.get("namespace"), "name": dataset.get("name")}
    if version is not None:
        if str(version).isdigit():
            data["commit_version"] = int(version)
        data["dataset_version"] = str(version)
    if stats.get("rowCount") is not None:
        data["rows_written"] = stats["rowCount"]
    if stats.get("fileCount") is not None:
        data["files_added"] = stats["fileCount"]
    if stats.get("size") is not None:
        data["bytes_written"] = stats["size"]
    return [{**base, "id": f"openlineage:{run_id}:{event_type}:{dataset.get('namespace')}/{dataset['name']}",
             "type": "DatasetWriteCommitted", "subject": urn, "data": data}]
