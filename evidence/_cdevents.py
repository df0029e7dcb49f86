"""CDEvents -> envelope v1, so a CD system needs no new code. Every event type of the spec is accepted.

CDEvents spec v0.3-v0.5 and the 0.6 draft (https://github.com/cdevents/spec; conformance examples in
tests/fixtures/conformance/cdevents/). Each event is a `context` (specversion, id, source, type, timestamp) and a
`subject` (id, content), bare or as the `data` of its CloudEvents binding. What is evidence here is mapped:

- service.deployed / upgraded / rolledback / removed -> DeploymentEvent (status succeeded / rolled_back / removed)
- pipelinerun and taskrun started -> JobRunStarted; finished with an outcome -> JobRunCompleted (success) or
  JobRunFailed (failure, error, cancel; `errors` is the failure reason)
- anything else (builds, merged changes, incidents, artifacts, tests, tickets, a run finished without an outcome)
  -> ExternalEvent, kept with its subject so it can be searched and cited.

Only a malformed event is refused. Identity is (context.source, context.id), as the spec defines it: the evidence
id is derived from that pair, so two systems that reuse an id never collide.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from evidence._bounds import urn_error
from evidence._errors import InvalidEvent
from evidence._vocab import EventType

CDEVENT_PREFIX = "dev.cdevents."
# dev.cdevents.<subject>.<predicate>.<version>; custom ones (spec 0.4+): dev.cdeventsx.<tool>-<subject>.<predicate>.<v>
_TYPE = re.compile(r"^dev\.cdevents(x)?\.([a-z][a-z0-9-]*)\.([a-z][a-z0-9]*)\.(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$")
_DEPLOY_STATUS = {"deployed": "succeeded", "upgraded": "succeeded", "rolledback": "rolled_back", "removed": "removed"}
_RUN_SUBJECTS = {"pipelinerun": "pipelineName", "taskrun": "taskName"}
_FAILED_OUTCOMES = ("failure", "error", "cancel")
_REQUIRED_CONTEXT = ("id", "source", "type", "timestamp", "specversion")


def is_cdevent(raw: Any) -> bool:
    """A CDEvent in its CloudEvents binding (type dev.cdevents...), or a bare one (a context, no specversion)."""
    if not isinstance(raw, dict):
        return False
    kind = raw.get("type")  # (only a string can start so: no other JSON value's str() does)
    if isinstance(kind, str) and kind.startswith(("dev.cdevents.", "dev.cdeventsx.")):
        return True
    return "context" in raw and isinstance(raw["context"], dict) and "specversion" not in raw


def _bare(raw: dict[str, Any]) -> Any:
    return raw.get("data") if "specversion" in raw else raw


def cdevent_identity(raw: Any) -> tuple[str, str] | None:
    """("cdevents:" + context.source, context.id) of a CDEvent, None for anything else or a malformed one."""
    if not is_cdevent(raw):
        return None
    cdevent = _bare(raw)
    context = cdevent.get("context") if isinstance(cdevent, dict) else None
    if not isinstance(context, dict):
        return None
    source, ident = context.get("source"), context.get("id")
    if isinstance(source, str) and isinstance(ident, str) and source and ident:
        return f"cdevents:{source}", ident
    return None


def _purl(artifact_id: str) -> tuple[str | None, str | None]:
    """(name, version) from a package URL such as pkg:oci/myapp@sha256%3A0b31... (https://github.com/package-url/purl-spec)."""
    if not artifact_id.startswith("pkg:"):
        return None, None
    path = artifact_id[4:].split("?", 1)[0].split("#", 1)[0]
    path, _, version = path.partition("@")
    name = path.rsplit("/", 1)[-1]
    return (unquote(name) or None), (unquote(version) or None)


class _Reader:
    """Shape checks naming the CDEvent's own fields (context.type, subject.content...)."""

    def __init__(self, event_id: str | None, position: int | None) -> None:
        self.event_id, self.position = event_id, position

    def fail(self, path: str, message: str) -> InvalidEvent:
        return InvalidEvent(self.event_id, path, message, position=self.position)

    def object(self, node: Any, path: str, *, required: bool = False) -> dict[str, Any]:
        if node is None and not required:
            return {}
        if not isinstance(node, dict):
            raise self.fail(path, "is required: a JSON object (CDEvents spec)" if node is None
                            else "must be a JSON object (CDEvents spec)")
        return node

    def text(self, node: dict[str, Any], key: str, path: str) -> str | None:
        value = node.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(path, "must be a string (CDEvents spec)")
        return value or None


def cdevent_to_envelope(raw: Any, position: int | None = None) -> dict[str, Any]:
    """Map a CDEvent (bare, or in its CloudEvents binding) onto an envelope v1 event (a dict, validated later)."""
    cdevent = _bare(raw) if isinstance(raw, dict) else raw
    if not isinstance(cdevent, dict) or not isinstance(cdevent.get("context"), dict):
        where = "data.context" if isinstance(raw, dict) and "specversion" in raw else "context"
        raise InvalidEvent(None, where, "is required: a CDEvent has context and subject objects", position=position)
    context = cdevent["context"]
    read = _Reader(context.get("id") if isinstance(context.get("id"), str) else None, position)
    if "specversion" not in context and "version" in context:  # spec 0.1-0.2 called it context.version
        context = {**context, "specversion": context["version"]}
    for key in _REQUIRED_CONTEXT:
        if not read.text(context, key, f"context.{key}"):
            raise read.fail(f"context.{key}", "is required in a CDEvent context")
    kind = context["type"]
    match = _TYPE.match(kind)
    if match is None:
        raise read.fail("context.type", f"is {kind[:100]!r}; a CDEvent type reads dev.cdevents.<subject>.<predicate>."
                        "<version>, such as dev.cdevents.service.deployed.0.3.0")
    custom, subject_kind, predicate = bool(match.group(1)), match.group(2), match.group(3)
    subject = read.object(cdevent.get("subject"), "subject", required=True)
    if not read.text(subject, "id", "subject.id"):
        raise read.fail("subject.id", "is required in a CDEvent subject")
    content = read.object(subject.get("content"), "subject.content")
    meta = {"type": kind, "specversion": context["specversion"], "source": context["source"],
            "subject_id": subject["id"], "subject_source": read.text(subject, "source", "subject.source"),
            "chain_id": context.get("chainId")}
    base = {"specversion": "1.0", "id": context["id"], "time": context["timestamp"],
            "datacontenttype": "application/json", "original": raw}
    if not custom and subject_kind == "service" and predicate in _DEPLOY_STATUS:
        return {**base, **_deployment(read, subject, content, predicate, meta)}
    if not custom and subject_kind in _RUN_SUBJECTS and predicate in ("started", "finished"):
        mapped = _run(read, subject, content, subject_kind, predicate, meta)
        if mapped is not None:
            return {**base, **mapped}
    return {**base, **_kept(read, context, subject, content, meta)}


def _service(read: _Reader, subject: dict[str, Any], content: dict[str, Any]) -> tuple[str | None, str | None]:
    artifact = read.text(content, "artifactId", "subject.content.artifactId")
    name, version = _purl(artifact or "")
    service = read.object(content.get("service"), "subject.content.service")
    return name or read.text(service, "id", "subject.content.service.id"), version


def _deployment(read: _Reader, subject: dict[str, Any], content: dict[str, Any], predicate: str,
                meta: dict[str, Any]) -> dict[str, Any]:
    artifact = read.text(content, "artifactId", "subject.content.artifactId")
    name, version = _service(read, subject, content)
    service = name or subject["id"]
    environment = read.object(content.get("environment"), "subject.content.environment")
    return {"source": _urn(read, f"svc://{service}", "subject.content.artifactId"), "type": EventType.DEPLOYMENT,
            "data": {"service": service, "version": version or artifact or "unknown",
                     "env": read.text(environment, "id", "subject.content.environment.id"), "deploy_ref": artifact,
                     "status": _DEPLOY_STATUS[predicate], "source": "ci", "cdevents": meta}}


def _run(read: _Reader, subject: dict[str, Any], content: dict[str, Any], subject_kind: str, predicate: str,
         meta: dict[str, Any]) -> dict[str, Any] | None:
    name_key = _RUN_SUBJECTS[subject_kind]
    name = read.text(content, name_key, f"subject.content.{name_key}") or subject["id"]
    data: dict[str, Any] = {"run_id": subject["id"], "cdevents": meta}
    if predicate == "started":
        kind = EventType.RUN_STARTED
    else:
        outcome = read.text(content, "outcome", "subject.content.outcome")
        if outcome is None:  # finished, but how? Not evidence of success or failure: kept as it is
            return None
        kind = EventType.RUN_FAILED if outcome in _FAILED_OUTCOMES else EventType.RUN_COMPLETED
        data["outcome"] = outcome
        if kind == EventType.RUN_FAILED:
            errors = read.text(content, "errors", "subject.content.errors")
            lines = errors.strip().splitlines() if errors else []
            data["failure_reason"] = (lines[0][:2000] if lines else f"CDEvents {subject_kind} {outcome}")
            if errors:
                data["errors"] = errors[:16_000]
    return {"source": _urn(read, f"job://{name}", f"subject.content.{name_key}"), "type": kind, "data": data}


def _kept(read: _Reader, context: dict[str, Any], subject: dict[str, Any], content: dict[str, Any],
          meta: dict[str, Any]) -> dict[str, Any]:
    service, _ = _service(read, subject, content)
    if service:
        source, field = f"svc://{service}", "subject.content"
    else:
        source, field = "cdevents://" + context["source"].split("://", 1)[-1].lstrip("/"), "context.source"
    data: dict[str, Any] = {"standard": "cdevents", "kind": meta["type"], "cdevents": meta}
    if isinstance(content.get("outcome"), str):
        data["outcome"] = content["outcome"]
    return {"source": _urn(read, source, field), "type": EventType.EXTERNAL, "data": data}


# Where an envelope field came from, for errors found when the mapped event is validated.
_FIELDS = {"id": "context.id", "time": "context.timestamp", "source": "subject.content",
           "data.service": "subject.content.artifactId", "data.version": "subject.content.artifactId",
           "data.deploy_ref": "subject.content.artifactId", "data.env": "subject.content.environment.id",
           "data.run_id": "subject.id", "data.failure_reason": "subject.content.errors",
           "data.outcome": "subject.content.outcome", "data.kind": "context.type"}


def cdevent_field(envelope_field: str) -> str:
    """The CDEvent field an envelope field was mapped from (time -> context.timestamp), for error messages."""
    head = ".".join(envelope_field.split(".")[:2])
    return _FIELDS.get(head, envelope_field)


def _urn(read: _Reader, urn: str, field: str) -> str:
    if (problem := urn_error(urn)) is not None:
        raise read.fail(field, f"gives the producer URN {urn[:80]!r}: it {problem}")
    return urn
