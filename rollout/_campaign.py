"""One run of the bot over repositories: detect, change, commit, (dry-run), push and open or update one pull request
per repository. Idempotent: a rerun updates the same branch and pull request; a pull request closed without merge
is never reopened; a repository that already has the SDK gets none."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType

from rollout import _body, _golang, _node, _python, _spring
from rollout._detect import detect
from rollout._forge import Checkout, Forge
from rollout._git import commit_all, git, identity
from rollout._model import (
    ONBOARD_BRANCH,
    REMOVE_BRANCH,
    Archetype,
    Change,
    ChangeKind,
    DryRun,
    Outcome,
    PullRequest,
    PullRequestDraft,
    PullRequestRecord,
    RepoResult,
    RingPlan,
    RolloutError,
)
from rollout._records import PullRequestLog
from rollout._settings import RolloutSettings
from rollout._shared import ci_kind
from rollout._workspace import DRY_RUN_SCRIPT, Workspace

Clock = Callable[[], datetime]

GENERATORS: dict[Archetype, ModuleType] = {
    Archetype.SPRING_BOOT_MAVEN: _spring,
    Archetype.GO_MODULE: _golang,
    Archetype.NODE_SERVICE: _node,
    Archetype.PYTHON_SERVICE: _python,
    Archetype.PYSPARK_JOB: _python,
}


@dataclass(frozen=True)
class DryRunTarget:
    """rca's staging endpoint and the tokens the bot runs each branch's dry-run script with."""

    endpoint: str
    token: str = field(repr=False)
    reader_token: str | None = field(default=None, repr=False)


@dataclass
class Rollout:
    """The bot, for one forge. `clock` dates commits and records (nothing here reads the wall clock)."""

    forge: Forge
    log: PullRequestLog
    clock: Clock
    settings: RolloutSettings = field(default_factory=RolloutSettings)
    plan: RingPlan = field(default_factory=RingPlan)
    dry_run: DryRunTarget | None = None

    def onboard(self, sources: Iterable[Path]) -> list[RepoResult]:
        return [self._each(source, "onboard") for source in sources]

    def onboard_routed(self, source: Path, reviewers: tuple[str, ...], assignees: tuple[str, ...],
                       fallback_owner: str | None = None) -> RepoResult:
        """One repository's onboarding pull request, asking `reviewers` and assigning `assignees` (a campaign's
        owner routing); `fallback_owner` when none of them is a user the forge knows."""
        return self._each(source, "onboard", reviewers, assignees, fallback_owner)

    def remove(self, sources: Iterable[Path]) -> list[RepoResult]:
        return [self._each(source, "remove") for source in sources]

    def _each(self, source: Path, kind: ChangeKind, reviewers: tuple[str, ...] = (),
              assignees: tuple[str, ...] = (), fallback_owner: str | None = None) -> RepoResult:
        try:
            return self._one(source, kind, reviewers, assignees, fallback_owner)
        except RolloutError as exc:
            return RepoResult(str(source), source.name, None, "failed", str(exc))

    def _one(self, source: Path, kind: ChangeKind, reviewers: tuple[str, ...] = (),
             assignees: tuple[str, ...] = (), fallback_owner: str | None = None) -> RepoResult:
        checkout = self.forge.checkout(source, self.settings.workdir)
        detection = detect(checkout.path, self.settings)

        def skip(reason: str, pr: PullRequest | None = None) -> RepoResult:
            return RepoResult(str(source), checkout.repo, detection.archetype, "skipped", reason,
                              pr.branch if pr else None, pr)

        if detection.archetype is None:
            return skip(detection.reason)
        if kind == "onboard" and detection.onboarded:
            return skip(f"already onboarded ({detection.reason})")
        if kind == "remove" and not detection.onboarded:
            return skip("has no autopilot SDK to remove")
        branch = ONBOARD_BRANCH if kind == "onboard" else REMOVE_BRANCH
        existing = self.forge.find_pull_request(checkout.repo, branch)
        if existing is not None and existing.state == "closed":
            return skip(f"#{existing.number} was closed without merging; the bot does not reopen it", existing)
        if existing is not None and existing.state == "merged":
            return skip(f"#{existing.number} was merged already; the bot does not propose it again", existing)
        head = self.forge.branch_head(checkout.repo, branch)
        if head is not None and head.tree is None:
            return skip(f"branch {branch} has commits the bot did not make; it leaves them alone", existing)

        git("checkout", "--quiet", "-B", branch, checkout.base_sha, cwd=checkout.path)
        _exclude_build_outputs(checkout.path)
        workspace = Workspace(checkout.path, detection, self.settings, self.plan, ci_kind(checkout.path,
                                                                                            self.forge.kind))
        generator = GENERATORS[detection.archetype]
        change: Change = generator.onboard(workspace) if kind == "onboard" else generator.remove(workspace)
        now = self.clock()
        _, tree = commit_all(checkout.path, _body.title(change), _summary(change),
                               identity(self.settings.author_name, self.settings.author_email, now))
        dry_run = self._dry_run(checkout) if kind == "onboard" else DryRun("not_run", "")
        draft = PullRequestDraft(branch, checkout.base, _body.title(change),
                                 _body.body(change, self.plan, dry_run, self.forge.kind), kind, detection.archetype,
                                 change.sdk_version, self.plan.ring, dry_run.status, reviewers=reviewers,
                                 assignees=assignees, fallback_owner=fallback_owner)
        if existing is not None and head is not None and head.tree == tree:
            pr = existing
            outcome: Outcome = "unchanged"
            if pr.title != draft.title or self._body_of(pr) != draft.body:
                pr = self.forge.update_pull_request(checkout.repo, pr.number, draft)
        else:
            self.forge.push(checkout, branch)
            if existing is not None:
                pr, outcome = self.forge.update_pull_request(checkout.repo, existing.number, draft), "updated"
            else:
                pr, outcome = self.forge.open_pull_request(checkout.repo, draft), "opened"
        self._record(pr, draft, now)
        return RepoResult(str(source), checkout.repo, detection.archetype, outcome, detection.reason, branch, pr,
                          change.notes)

    def _body_of(self, pr: PullRequest) -> str | None:
        record = self.log.get(pr.forge, pr.repo, pr.number)
        return record.body if record is not None else None

    def _record(self, pr: PullRequest, draft: PullRequestDraft, now: datetime) -> None:
        previous = self.log.get(pr.forge, pr.repo, pr.number)
        self.log.save(PullRequestRecord(pr, draft.kind, draft.archetype, draft.body, draft.sdk_version, draft.ring,
                                        draft.dry_run, previous.created_at if previous else now, now,
                                        previous.closed_at if previous else None,
                                        previous.merged_at if previous else None,
                                        draft.reviewers or (previous.reviewers if previous else ()),
                                        draft.assignees or (previous.assignees if previous else ())))

    def _dry_run(self, checkout: Checkout) -> DryRun:
        target = self.dry_run
        if target is None:
            return DryRun("not_run", "The bot had no staging endpoint to try it against (rca rollout open "
                          "--dry-run-url).")
        env = {**os.environ, "AUTOPILOT_ENDPOINT": target.endpoint, "AUTOPILOT_TOKEN": target.token,
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        if target.reader_token:
            env["RCA_READER_TOKEN"] = target.reader_token
        try:
            done = subprocess.run(["sh", DRY_RUN_SCRIPT], cwd=checkout.path, env=env, capture_output=True, text=True,
                                  timeout=self.settings.command_timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return DryRun("failed", f"{DRY_RUN_SCRIPT} did not finish within {self.settings.command_timeout_s:g} s.")
        when = self.clock().isoformat(timespec="seconds")
        if done.returncode == 0:
            last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "rca accepted the event"
            return DryRun("passed", f"`{DRY_RUN_SCRIPT}` against {target.endpoint} at {when}: {last}")
        lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
        why = lines[-1] if lines else f"exit code {done.returncode}"
        return DryRun("failed", f"`{DRY_RUN_SCRIPT}` against {target.endpoint} at {when}: {why}")


# What the toolchains leave in a work tree (npm install, go build, pip): never part of a change, whatever the
# repository's own .gitignore says.
_BUILD_OUTPUTS = ("node_modules/", "target/", "__pycache__/", "*.egg-info/", "/build/", ".venv/")


def _exclude_build_outputs(work: Path) -> None:
    exclude = work / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    exclude.write_text("".join(f"{pattern}\n" for pattern in _BUILD_OUTPUTS))


def _summary(change: Change) -> str:
    return "\n".join(f"- {item.path}: {item.what}" for item in change.items)


def open_forge(kind: str, settings: RolloutSettings, log: PullRequestLog, clock: Clock) -> Forge:
    """The forge named `kind` (local, github or gitlab), configured from the settings."""
    if kind == "local":
        from rollout._local import LocalForge

        return LocalForge(settings.forge_root, log, clock, (settings.author_name, settings.author_email))
    if kind == "github":
        from rollout._github import GitHubForge

        return GitHubForge(settings.github_token or "", settings.github_url)
    if kind == "gitlab":
        from rollout._gitlab import GitLabForge

        return GitLabForge(settings.gitlab_token or "", settings.gitlab_url)
    raise RolloutError(f"unknown forge {kind!r}; use local, github or gitlab")
