"""CDEvents service.deployed / upgraded / rolledback -> DeploymentEvent, so a CD system needs no new code.

CDEvents spec v0.4: https://github.com/cdevents/spec/blob/v0.4.0/continuous-deployment-pipeline-events.md
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from evidence._errors import InvalidEvent
from evidence._vocab import EventType

CDEVENT_PREFIX = "dev.cdevents."
_STATUS = {"deployed": "succeeded", "upgraded": "succeeded", "rolledback": "rolled_back"}


def _purl(artifact_id: str) -> tuple[str | None, str | None]:
    """(name, version) from a package URL such as pkg:oci/myapp@sha256%3A0b31... (https://github.com/package-url/purl-spec)."""
    if not artifact_id.startswith("pkg:"):
        return None, None
    path = artifact_id[4:].split("?", 1)[0].split("#", 1)[0]
    path, _, version = path.partition("@")
    name = path.rsplit("/", 1)[-1]
    return (unquote(name) or None), (unquote(version) or None)


def cdevent_to_envelope(cdevent: Any, position: int | None = None) -> dict[str, Any]:
    """Map a CDEvents service deployment event onto an envelope v1 DeploymentEvent (a dict, validated later)."""
    if not isinstance(cdevent, dict) or not isinstance(cdevent.get("context"), dict):
        raise InvalidEvent(None, "context", "is required: a CDEvent has context and subject objects", position=position)
    context = cdevent["context"]
    event_id = context.get("id") if isinstance(context.get("id"), str) else None

    def member(node: Any, path: str) -> dict[str, Any]:
        if node is None:
            return {}
        if not isinstance(node, dict):
            raise InvalidEvent(event_id, path, "must be an object (CDEvents spec v0.4)", position=position)
        return node

    subject = member(cdevent.get("subject"), "subject")
    kind = str(context.get("type", ""))
    parts = kind.removeprefix(CDEVENT_PREFIX).split(".")
    if len(parts) < 2 or parts[0] != "service" or parts[1] not in _STATUS:
        raise InvalidEvent(event_id, "context.type", f"is {kind[:100]!r}; only service.deployed, service.upgraded and "
                           "service.rolledback CDEvents are deploy evidence", position=position)
    content = member(subject.get("content"), "subject.content")
    artifact = content.get("artifactId")
    if artifact is not None and not isinstance(artifact, str):
        raise InvalidEvent(event_id, "subject.content.artifactId", "must be a package URL string", position=position)
    name, version = _purl(artifact or "")
    service = name or subject.get("id")
    if not service or not isinstance(service, str):
        raise InvalidEvent(event_id, "subject.content.artifactId", "is required to name the deployed service",
                           position=position)
    environment = member(content.get("environment"), "subject.content.environment")
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": f"svc://{service}",
        "type": EventType.DEPLOYMENT,
        "time": context.get("timestamp"),
        "datacontenttype": "application/json",
        "data": {
            "service": service,
            "version": version or artifact or "unknown",
            "env": environment.get("id"),
            "deploy_ref": artifact,
            "status": _STATUS[parts[1]],
            "source": "ci",
            "cdevents": {"type": kind, "source": context.get("source"), "subject_id": subject.get("id"),
                         "chain_id": context.get("chainId")},
        },
    }
