"""The pull request's title and body, rendered from templates (rollout/templates/*.md.j2) and the change's values:
what changed, why it is safe, how to roll back, the ring plan and the dry run's result."""

from __future__ import annotations

from rollout._model import Archetype, Change, DryRun, RingPlan
from rollout._workspace import ENV_DIR, render

_TITLES = {
    Archetype.SPRING_BOOT_MAVEN: "Spring Boot on Maven",
    Archetype.GO_MODULE: "Go module",
    Archetype.NODE_SERVICE: "Node service",
    Archetype.PYTHON_SERVICE: "Python service",
    Archetype.PYSPARK_JOB: "PySpark job",
}

_OFF = {
    Archetype.SPRING_BOOT_MAVEN: "While `autopilot.enabled` is not `true` the starter creates no bean, starts no "
                                 "thread and opens no socket.",
    Archetype.GO_MODULE: "While `AUTOPILOT_ENABLED` is not `true`, `autopilot.New()` starts no goroutine and opens "
                         "no socket; `Emit` is one atomic load and the wrapper adds no header.",
    Archetype.NODE_SERVICE: "While `AUTOPILOT_ENABLED` is not `true`, `configure()` starts no timer, socket or "
                            "listener, and the producer wrapper passes records through untouched.",
    Archetype.PYTHON_SERVICE: "While `AUTOPILOT_ENABLED` is not `true`, `configure()` starts no thread and opens no "
                              "socket, and the Producer adds no header.",
    Archetype.PYSPARK_JOB: "While `AUTOPILOT_ENABLED` is not `true`, `@job_run` emits nothing; the job's own "
                           "exceptions always propagate unchanged.",
}


def producer(change: Change) -> str:
    return f"job://{change.service}" if change.archetype is Archetype.PYSPARK_JOB else f"svc://{change.service}"


def title(change: Change) -> str:
    if change.kind == "remove":
        return f"Remove the autopilot SDK from {change.service}"
    return f"Add the autopilot SDK to {change.service} (off by default)"


def body(change: Change, plan: RingPlan, dry_run: DryRun, forge: str) -> str:
    values = {"change": change, "plan": plan, "forge": forge, "producer": producer(change),
              "archetype_title": _TITLES[change.archetype]}
    if change.kind == "remove":
        return render("remove.md.j2", **values)
    flag_where = ("`src/main/resources/application-<env>.yml` (or the deployment's environment)"
                  if change.archetype is Archetype.SPRING_BOOT_MAVEN
                  else f"`{ENV_DIR}/<env>.env` (or the deployment's environment)")
    return render("onboard.md.j2", off_means=_OFF[change.archetype], flag_where=flag_where,
                  dry_run_text=dry_run_text(dry_run), **values)


def dry_run_text(dry_run: DryRun) -> str:
    if dry_run.status == "passed":
        return f"**Passed.** {dry_run.detail}"
    if dry_run.status == "failed":
        return f"**Failed.** {dry_run.detail} Ring 0 waits until the dry run passes."
    return (f"**Not run yet.** {dry_run.detail} The `autopilot dry run` job on this pull request runs it against "
            "rca's staging endpoint; ring 0 waits until it passes.")
