"""What every archetype's change has: the per-ring config with the flag off, the dry-run script, and the CI step
that records deploys plus the dry-run job (GitHub Actions or GitLab CI, whichever the repository uses)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from rollout import _yaml
from rollout._model import ChangeItem
from rollout._workspace import DRY_RUN_SCRIPT, ENV_DIR, CiKind, Workspace, render

GITHUB_DEPLOY_EVENT = ".github/workflows/autopilot-deploy-event.yml"
GITHUB_DRY_RUN = ".github/workflows/autopilot-dry-run.yml"
GITLAB_INCLUDE = "ci/autopilot.gitlab-ci.yml"


@dataclass(frozen=True)
class Toolkit:
    """How an archetype's CI runs the SDK's own CLI (`deploy-event`): the command, what must run before it, and
    the CI setup that gets the repository's toolchain and dependencies."""

    cli: str
    prepare: tuple[str, ...]
    github_setup: tuple[str, ...]  # workflow steps (YAML lines, indented for a steps list)
    gitlab_image: str
    gitlab_setup: tuple[str, ...]  # script lines before the dry run
    prerequisite: str  # said in the dry-run script's header: what must be installed first


def ci_kind(root: Path, forge: str) -> CiKind:
    """The CI the repository already uses; without any, the forge's own."""
    if (root / ".gitlab-ci.yml").is_file():
        return "gitlab-ci"
    if (root / ".github" / "workflows").is_dir():
        return "github-actions"
    return "gitlab-ci" if forge == "gitlab" else "github-actions"


def write_env_files(ws: Workspace, extra: dict[str, str]) -> list[ChangeItem]:
    """deploy/autopilot/autopilot.env (every environment) and one override per environment of the ring plan."""
    settings = {"AUTOPILOT_SERVICE": ws.service, **extra, "AUTOPILOT_STARTUP_EVENT": "false"}
    ws.write(f"{ENV_DIR}/autopilot.env", render("autopilot.env.j2", service=ws.service, env_dir=ENV_DIR,
                                                 settings=sorted(settings.items())))
    items = [ChangeItem(f"{ENV_DIR}/autopilot.env", "the SDK's settings, `AUTOPILOT_ENABLED=false` (off); the CI "
                        "step records deploys, so no start-up deploy event")]
    for environment, endpoint in environments(ws):
        ring = ws.plan.ring_of(environment)
        ws.write(f"{ENV_DIR}/{environment}.env", render("ring.env.j2", service=ws.service, environment=environment,
                                                         ring=ring, endpoint=endpoint))
        items.append(ChangeItem(f"{ENV_DIR}/{environment}.env", f"{environment} overrides, flag off: ring {ring} "
                                "turns it on here"))
    return items


def environments(ws: Workspace) -> list[tuple[str, str]]:
    return [(ws.plan.staging, ws.settings.staging_endpoint), (ws.plan.production, ws.settings.prod_endpoint)]


def write_dry_run(ws: Workspace, kit: Toolkit) -> list[ChangeItem]:
    ws.write(DRY_RUN_SCRIPT, render("dry-run.sh.j2", service=ws.service, script_path=DRY_RUN_SCRIPT, cli=kit.cli,
                                    prepare=kit.prepare, prerequisite=kit.prerequisite), executable=True)
    return [ChangeItem(DRY_RUN_SCRIPT, "the dry run: one synthetic DeploymentEvent to rca's staging endpoint, fails "
                       "unless rca accepts it (and, with a reader token, shows it)")]


def write_ci(ws: Workspace, kit: Toolkit) -> tuple[list[ChangeItem], list[str]]:
    """The deploy-event step and the dry-run job; notes when the deploy they follow could not be found."""
    return _github(ws, kit) if ws.ci == "github-actions" else _gitlab(ws, kit)


def _github(ws: Workspace, kit: Toolkit) -> tuple[list[ChangeItem], list[str]]:
    notes: list[str] = []
    deploy = _github_deploy_workflow(ws.root)
    if deploy is None:
        notes.append(f"No deploy workflow found in .github/workflows: {GITHUB_DEPLOY_EVENT} waits for a workflow "
                     "named \"Deploy\"; put your deploy workflow's name there.")
        name, tags = "Deploy", False
    else:
        name, tags = deploy
    version = ("${{ github.event.workflow_run.head_branch }}" if tags
               else "${{ github.event.workflow_run.head_sha }}")
    setup = "\n".join(kit.github_setup)
    ws.write(GITHUB_DEPLOY_EVENT, render("github-deploy-event.yml.j2", deploy_workflow=name, setup=setup,
                                         prepare=kit.prepare, cli=kit.cli, service=ws.service,
                                         environment=ws.plan.production, version=version))
    ws.write(GITHUB_DRY_RUN, render("github-dry-run.yml.j2", script_path=DRY_RUN_SCRIPT, setup=setup))
    return [ChangeItem(GITHUB_DEPLOY_EVENT, f"after each successful \"{name}\" run, a DeploymentEvent "
                       "(`deploy-event`, never fails the deploy)"),
            ChangeItem(GITHUB_DRY_RUN, "runs the dry run in staging on this pull request and on demand")], notes


def _github_deploy_workflow(root: Path) -> tuple[str, bool] | None:
    """(name, triggered by tags) of the workflow that deploys: "deploy" in its name or file name."""
    folder = root / ".github" / "workflows"
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []:
        if path.name.startswith("autopilot-"):
            continue
        data = _yaml.load(path.read_text(), str(path.relative_to(root))) or {}
        name = str(data.get("name") or path.stem)
        if "deploy" in name.lower() or "deploy" in path.stem.lower():
            triggers = data.get("on", data.get(True)) or {}  # YAML 1.1 readers take `on` for true
            push = triggers.get("push") if isinstance(triggers, dict) else None
            return name, bool(isinstance(push, dict) and push.get("tags"))
    return None


def _gitlab(ws: Workspace, kit: Toolkit) -> tuple[list[ChangeItem], list[str]]:
    notes: list[str] = []
    pipeline_text = ws.read(".gitlab-ci.yml") if ws.exists(".gitlab-ci.yml") else ""
    pipeline = _yaml.load(pipeline_text, ".gitlab-ci.yml") or {} if pipeline_text else {}
    job = _gitlab_deploy_job(pipeline)
    rules: list[str] = []
    if job is None:
        notes.append(f"No deploy job found in .gitlab-ci.yml: autopilot-deploy-event in {GITLAB_INCLUDE} runs at "
                     "the end of every pipeline; give it `needs: [<your deploy job>]`.")
    else:
        rules = _dump({k: pipeline[job][k] for k in ("rules", "only", "except") if k in pipeline[job]})
    ws.write(GITLAB_INCLUDE, render("gitlab-ci.yml.j2", deploy_job=job, deploy_rules=rules, image=kit.gitlab_image,
                                    prepare=kit.prepare, setup=kit.gitlab_setup, cli=kit.cli, service=ws.service,
                                    environment=ws.plan.production, script_path=DRY_RUN_SCRIPT,
                                    include_path=GITLAB_INCLUDE))
    ws.write(".gitlab-ci.yml", _yaml.with_gitlab_include(pipeline_text, GITLAB_INCLUDE, ".gitlab-ci.yml"))
    after = f"after `{job}` succeeds" if job else "at the end of the pipeline"
    return [ChangeItem(GITLAB_INCLUDE, f"`autopilot-deploy-event` ({after}, never fails the deploy) and "
                       "`autopilot-dry-run` (staging, on this merge request and on demand)"),
            ChangeItem(".gitlab-ci.yml", f"includes {GITLAB_INCLUDE}")], notes


def _gitlab_deploy_job(pipeline: dict[str, Any]) -> str | None:
    """The job deploying to production: an environment named prod*, else "deploy" in its name."""
    jobs = {k: v for k, v in pipeline.items() if isinstance(v, dict) and "script" in v and not str(k).startswith(".")}

    def environment(job: dict[str, Any]) -> str:
        env = job.get("environment")
        return str(env.get("name") if isinstance(env, dict) else env or "").lower()

    production = [k for k, v in jobs.items() if environment(v).startswith("prod")]
    named = [k for k in jobs if "deploy" in str(k).lower()]
    found = production or named
    return str(found[0]) if found else None


def _dump(values: dict[str, Any]) -> list[str]:
    if not values:
        return []
    stream = io.StringIO()
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.dump(values, stream)
    return [line for line in stream.getvalue().splitlines() if line.strip()]


def remove_shared(ws: Workspace) -> list[ChangeItem]:
    """Undo write_env_files, write_dry_run and write_ci."""
    items: list[ChangeItem] = []
    for path in sorted(ws.path(ENV_DIR).glob("*")) if ws.path(ENV_DIR).is_dir() else []:
        relative = str(path.relative_to(ws.root))
        if _ours(path):
            ws.delete(relative)
            items.append(ChangeItem(relative, "deleted"))
    for relative in (GITHUB_DEPLOY_EVENT, GITHUB_DRY_RUN, GITLAB_INCLUDE):
        if ws.exists(relative) and _ours(ws.path(relative)):
            ws.delete(relative)
            items.append(ChangeItem(relative, "deleted"))
    if ws.exists(".gitlab-ci.yml"):
        text = ws.read(".gitlab-ci.yml")
        new = _yaml.without_gitlab_include(text, GITLAB_INCLUDE, ".gitlab-ci.yml")
        if new != text:
            ws.write(".gitlab-ci.yml", new)
            items.append(ChangeItem(".gitlab-ci.yml", f"no longer includes {GITLAB_INCLUDE}"))
    return items


def _ours(path: Path) -> bool:
    """Files the bot wrote say so in their first lines; a file someone else put there is left alone."""
    head = path.read_text(errors="replace")[:400]
    return bool(re.search(r"Added by rca rollout", head))
