"""DeploymentEvent, from a CI step (`autopilot deploy-event`) or, as a fallback, at process start."""

from __future__ import annotations

import re
from typing import Any

from ._config import Settings
from ._envelope import TimeLike, build_event

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._:@+-]+")


def deploy_ref(service: str, version: str, commit: str | None) -> str:
    """`service@version+commit`, the form the service correlates deploys by (sdk/spec/vectors)."""
    return f"{service}@{version}+{commit}" if commit else f"{service}@{version}"


def ci_event_id(service: str, env: str | None, version: str, commit: str | None) -> str:
    """Deterministic, so re-running the CI step is idempotent. The env is part of it: the same
    build deployed to staging and then to prod is two deploys, not one event sent twice."""
    parts = ["deploy", service, env or "-", version, commit or "-"]
    return _UNSAFE_ID.sub("_", "-".join(parts))


def ci_deployment_event(
    *,
    service: str,
    version: str,
    commit: str | None = None,
    env: str | None = None,
    domain: str | None = None,
    status: str = "succeeded",
    reference: str | None = None,
    event_id: str | None = None,
    time: TimeLike | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"service": service}
    if env:
        data["env"] = env
    data["version"] = version
    if commit:
        data["commit"] = commit
    data["deploy_ref"] = reference or deploy_ref(service, version, commit)
    data["status"] = status
    data["source"] = "ci"
    if domain:
        data["domain"] = domain
    return build_event(
        "DeploymentEvent",
        data,
        source=f"svc://{service}",
        event_id=event_id or ci_event_id(service, env, version, commit),
        time=time,
        now=now,
    )


def startup_deployment(settings: Settings) -> dict[str, Any] | None:
    """The data of the once-per-process fallback DeploymentEvent (`source: startup`).

    Without AUTOPILOT_VERSION the version is "unknown": the event still records that this service
    (re)started at this time, which is a change worth correlating, but set the version to make it
    a deploy the RCA can name.
    """
    if not settings.service:
        return None
    version = settings.version or "unknown"
    data: dict[str, Any] = {"service": settings.service, "version": version, "source": "startup"}
    if settings.env:
        data["env"] = settings.env
    if settings.commit:
        data["commit"] = settings.commit
    if settings.version:
        data["deploy_ref"] = deploy_ref(settings.service, version, settings.commit)
    data["status"] = "succeeded"
    if settings.domain:
        data["domain"] = settings.domain
    return data
