"""CDEvents service.deployed / upgraded / rolledback -> DeploymentEvent, so a CD system needs no new code.

CDEvents spec v0.4: https://github.com/cdevents/spec/blob/v0.4.0/continuous-deployment-pipeline-events.md
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from evidence._errors import InvalidEvent

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
    context, subject = cdevent["context"], cdevent.get("subject") or {}
    event_id = context.get("id") if isinstance(context.get("id"), str) else None
    kind = str(context.get("type", ""))
    parts = kind.removeprefix(CDEVENT_PREFIX).split(".")
    if len(parts) < 2 or parts[0] != "service" or parts[1] not in _STATUS:
        raise InvalidEvent(event_id, "context.type", f"is {kind!r}; only service.deployed, service.upgraded and "
                           "service.rolledback CDEvents are deploy evidence", position=position)
    content = subject.get("content") or {}
    name, version = _purl(str(content.get("artifactId", "")))
    service = name or subject.get("id")
    if not service:
        raise InvalidEvent(event_id, "subject.content.artifactId", "is required to name the deployed service",
                           position=position)
    environment = content.get("environment") or {}
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": f"svc://{service}",
        "type": "DeploymentEvent",
        "time": context.get("timestamp"),
        "datacontenttype": "application/json",
        "data": {
            "service": service,
            "version": version or content.get("artifactId") or "unknown",
            "env": environment.get("id"),
            "deploy_ref": content.get("artifactId"),
            "status": _STATUS[parts[1]],
            "source": "ci",
            "cdevents": {"type": kind, "source": context.get("source"), "subject_id": subject.get("id"),
                         "chain_id": context.get("chainId")},
        },
    }
