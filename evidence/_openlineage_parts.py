"""OpenLineage's parts that evidence/_openlineage.py maps from: naming (dataset and job URNs), the checks that name
the event's own fields (`_Where`), times, and the facets read beside a run (nominal time, code ref, failure, schema
fingerprint, column lineage)."""

from __future__ import annotations

import hashlib
import string
from typing import Any

import orjson

from evidence._bounds import time_error, urn_error
from evidence._errors import ConfigError, InvalidEvent
from evidence._vocab import MissingOffset, parse_time

MAX_TRACE = 16_000  # characters of a stack trace kept


DEFAULT_DATASET_URN = "ds://{name}"
DEFAULT_JOB_URN = "job://{namespace_path}/{name}"
_PLACEHOLDERS = ("name", "namespace", "namespace_path")


class Naming:
    """How an OpenLineage dataset or job, named by (namespace, name), becomes a URN.

    A template over {name}, {namespace} and {namespace_path} (the namespace without its scheme: "s3://lake" ->
    "lake", "postgres://db:5432" -> "db:5432").
    """

    scheme = "ds://"
    setting = "RCA_OPENLINEAGE_DATASET_URN"
    default = DEFAULT_DATASET_URN

    def __init__(self, template: str | None = None) -> None:
        template = self.default if template is None else template
        example = f"{self.default} or {self.scheme}{{namespace_path}}/{{name}}"
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        except ValueError as exc:
            raise ConfigError(f"{self.setting} {template!r} is not a template ({exc}); use e.g. {example}.") from exc
        unknown = [f for f in fields if f not in _PLACEHOLDERS]
        if unknown or "name" not in fields or not template.startswith(self.scheme):
            raise ConfigError(
                f"{self.setting} {template!r} must start with {self.scheme} and use {{name}}"
                + (f"; {', '.join(sorted(set(unknown)))} is not one of {', '.join(_PLACEHOLDERS)}" if unknown else "")
                + f" (e.g. {example}).")
        self.template = template
        self.uses_namespace = any(f != "name" for f in fields)

    def __call__(self, node: dict[str, Any]) -> str:
        namespace = str(node.get("namespace") or "")
        path = namespace.split("://", 1)[1] if "://" in namespace else namespace
        return self.template.format(name=node["name"], namespace=namespace, namespace_path=path.strip("/"))


class DatasetNaming(Naming):
    """Datasets: ds://{name} by default keeps the namespace in the data only; a platform whose namespaces hold
    tables of the same name sets RCA_OPENLINEAGE_DATASET_URN to ds://{namespace_path}/{name}."""


class JobNaming(Naming):
    """Jobs: job://{namespace_path}/{name} by default, so that two schedulers' jobs of one name (dbt on PostgreSQL
    and dbt on Snowflake) stay two producers; RCA_OPENLINEAGE_JOB_URN=job://{name} drops the namespace."""

    scheme = "job://"
    setting = "RCA_OPENLINEAGE_JOB_URN"
    default = DEFAULT_JOB_URN


DEFAULT_NAMING = DatasetNaming()
DEFAULT_JOB_NAMING = JobNaming()


class _Where:
    """Checks that name the event's own fields. Structure that is wrong is an InvalidEvent (a 422 about that
    field); a facet that is wrong is dropped and noted in `warnings`."""

    def __init__(self, run_id: str | None, position: int | None) -> None:
        self.run_id, self.position = run_id, position
        self.warnings: list[str] = []

    def fail(self, path: str, message: str) -> InvalidEvent:
        return InvalidEvent(self.run_id, path, message, position=self.position)

    def drop(self, path: str, why: str) -> None:
        self.warnings.append(f"{path} {why}: dropped, the rest of the event is kept")

    def object(self, node: Any, path: str) -> dict[str, Any]:
        """A structural object (run, job): refused when it is not one."""
        if node is None:
            return {}
        if not isinstance(node, dict):
            raise self.fail(path, "must be an object (OpenLineage spec)")
        return node

    def facets(self, node: Any, path: str) -> dict[str, dict[str, Any]]:
        """A facets map: each facet that is not an object is dropped with a warning."""
        if node is None:
            return {}
        if not isinstance(node, dict):
            self.drop(path, "is not an object")
            return {}
        kept = {}
        for name, facet in node.items():
            if isinstance(facet, dict):
                kept[name] = facet
            elif facet is not None:
                self.drop(f"{path}.{name}", "is not an object")
        return kept

    def text(self, facet: dict[str, Any], key: str, path: str) -> str | None:
        value = facet.get(key)
        if value is None or isinstance(value, str):
            return value or None
        self.drop(f"{path}.{key}", "is not a string")
        return None

    def datasets(self, node: Any, path: str, naming: Naming) -> list[tuple[dict[str, Any], str]]:
        if node is None:
            return []
        if not isinstance(node, list):
            raise self.fail(path, "must be a list of datasets (OpenLineage spec)")
        out = []
        for n, dataset in enumerate(node):
            if not isinstance(dataset, dict) or not dataset.get("name"):
                self.drop(f"{path}[{n}]", "has no name")
                continue
            out.append((dataset, self.dataset_urn(dataset, f"{path}[{n}]", naming)))
        return out

    def dataset_urn(self, dataset: dict[str, Any], path: str, naming: Naming) -> str:
        if not isinstance(dataset.get("name"), str) or not dataset["name"]:
            raise self.fail(f"{path}.name", "is required: a string (OpenLineage spec)")
        if naming.uses_namespace and not isinstance(dataset.get("namespace"), str):
            raise self.fail(f"{path}.namespace", "is required: a string (OpenLineage spec)")
        urn = naming(dataset)
        if (problem := urn_error(urn)) is not None:
            raise self.fail(f"{path}.name", f"gives the URN {urn[:80]!r}: it {problem}")
        return urn


def _require(event: dict[str, Any], path: str, where: _Where) -> Any:
    node: Any = event
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node in (None, ""):
        raise where.fail(path, "is required (OpenLineage spec)")
    return node


def _time(value: Any, path: str) -> tuple[str | None, str | None]:
    """(the RFC 3339 string, None), or (None, why it is not one)."""
    try:
        moment = parse_time(str(value))
    except MissingOffset:
        return None, "must carry a UTC offset (for example 2026-01-19T06:00:00Z)"
    except ValueError:
        return None, "must be an RFC 3339 timestamp with an offset"
    if (problem := time_error(moment)) is not None:
        return None, problem
    return str(value), None


def _nominal(facet: dict[str, Any], where: _Where) -> str | None:
    value = facet.get("nominalStartTime")
    if value is None:
        return None
    moment, problem = _time(value, "nominalStartTime")
    if problem is not None:
        where.drop("run.facets.nominalTime.nominalStartTime", problem)
    return moment


def _code_ref(job_facets: dict[str, dict[str, Any]], where: _Where) -> str | None:
    location = job_facets.get("sourceCodeLocation", {})
    path = "job.facets.sourceCodeLocation"
    version = where.text(location, "version", path) or where.text(location, "tag", path)
    url = where.text(location, "repoUrl", path) or where.text(location, "url", path)
    if version and url:
        return f"{url}@{version}"
    return version or url


def _failure(run_facets: dict[str, dict[str, Any]], where: _Where) -> tuple[str | None, str | None, str]:
    """(first line of the error, the stack trace, which facet) from errorMessage, then openlineage-spark's own
    spark.exception (message + stackTrace)."""
    for name in ("errorMessage", "spark.exception"):
        facet = run_facets.get(name, {})
        path = f"run.facets.{name}"
        message = where.text(facet, "message", path) or where.text(facet, "exception", path)
        trace = where.text(facet, "stackTrace", path)
        lines = (message or trace or "").strip().splitlines()
        if lines:
            return lines[0][:2000], (trace[:MAX_TRACE] if trace else None), f"{path}.message"
    return None, None, "run.facets.errorMessage.message"


def _fingerprint(dataset: dict[str, Any], urn: str, where: _Where) -> str | None:
    """sha256:<hex> over the schema facet's (name, type, nested fields) in order, or None without one."""
    facets = dataset.get("facets")
    schema = facets.get("schema") if isinstance(facets, dict) else None
    if schema is None:
        return None
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if not isinstance(fields, list):
        where.drop(f"{urn} facets.schema", "has no fields list")
        return None

    def shape(items: list[Any]) -> list[Any]:
        return [[f.get("name"), f.get("type"), shape(f["fields"]) if isinstance(f.get("fields"), list) else None]
                for f in items if isinstance(f, dict)]

    return "sha256:" + hashlib.sha256(orjson.dumps(shape(fields))).hexdigest()


def _column_lineage(outputs: list[tuple[dict[str, Any], str]], where: _Where, naming: Naming,
                    path: str = "outputs") -> dict[str, tuple[dict[str, list[str]], set[str]]]:
    """Per output URN: {column: [upstream URN#field, ...]} and the upstream dataset URNs."""
    found: dict[str, tuple[dict[str, list[str]], set[str]]] = {}
    for n, (dataset, urn) in enumerate(outputs):
        facets = dataset.get("facets")
        facet = facets.get("columnLineage") if isinstance(facets, dict) else None
        if facet is None:
            continue
        where_facet = f"{path}[{n}].facets.columnLineage" if path == "outputs" else f"{path}.facets.columnLineage"
        if not isinstance(facet, dict) or not isinstance(facet.get("fields", {}), dict):
            where.drop(where_facet, "is not an object with a fields map")
            continue
        columns: dict[str, list[str]] = {}
        upstreams: set[str] = set()
        for column, spec in facet.get("fields", {}).items():
            sources = spec.get("inputFields") if isinstance(spec, dict) else None
            for source in sources if isinstance(sources, list) else []:
                if not isinstance(source, dict) or not isinstance(source.get("name"), str):
                    continue
                upstream = naming(source)
                if urn_error(upstream) is not None:
                    where.drop(f"{where_facet}.fields.{column}", f"names the dataset {upstream[:80]!r}, not a URN")
                    continue
                upstreams.add(upstream)
                columns.setdefault(str(column), []).append(f"{upstream}#{source.get('field')}")
        for source in facet.get("dataset") or [] if isinstance(facet.get("dataset"), list) else []:
            if isinstance(source, dict) and isinstance(source.get("name"), str) and \
                    urn_error(upstream := naming(source)) is None:
                upstreams.add(upstream)
        if columns or upstreams:
            found[urn] = ({c: sorted(set(v)) for c, v in sorted(columns.items())}, upstreams)
    return found
