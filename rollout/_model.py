"""The values the PR-bot passes around: archetypes, what a repository is, pull requests and what a run did."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from evidence import RcaError

PullRequestState = Literal["open", "closed", "merged"]
ChangeKind = Literal["onboard", "remove"]
DryRunStatus = Literal["passed", "failed", "not_run"]
Outcome = Literal["opened", "updated", "unchanged", "skipped", "failed"]

ONBOARD_BRANCH = "rca/autopilot-onboarding"
REMOVE_BRANCH = "rca/autopilot-removal"


class Archetype(StrEnum):
    """The kinds of repository the bot knows how to change, each with its own SDK and build."""

    SPRING_BOOT_MAVEN = "spring-boot-maven"
    GO_MODULE = "go-module"
    NODE_SERVICE = "node-service"
    PYTHON_SERVICE = "python-service"
    PYSPARK_JOB = "pyspark-job"


class RolloutError(RcaError):
    """A change the bot cannot make or publish; the message names the repository, the file and what to do."""


@dataclass(frozen=True)
class Detection:
    """What a checked-out repository is: its archetype (None: not one the bot onboards), its service name, whether
    it already has the SDK, and why (the sentence a skipped repository is reported with)."""

    archetype: Archetype | None
    name: str
    onboarded: bool
    reason: str
    manifest: str = ""


@dataclass(frozen=True)
class Ring:
    """One step of a rollout: the environment whose flag it turns on, and for which services."""

    number: int
    environment: str
    who: str


@dataclass(frozen=True)
class RingPlan:
    """Ring 0 turns the flag on in staging for every onboarded service; later rings turn it on in production, a
    cohort at a time. This repository is in `ring` (its production ring)."""

    ring: int = 2
    rings: tuple[Ring, ...] = (
        Ring(0, "staging", "every onboarded service"),
        Ring(1, "prod", "the first production cohort"),
        Ring(2, "prod", "every other service"),
    )

    def __post_init__(self) -> None:
        production = [r.number for r in self.rings if r.environment != self.staging]
        if self.ring not in production:
            raise RolloutError(f"ring {self.ring} is not a production ring of the plan; use one of "
                               f"{', '.join(map(str, production))}")

    @property
    def staging(self) -> str:
        return self.rings[0].environment

    @property
    def production(self) -> str:
        return next(r.environment for r in self.rings if r.number == self.ring)

    def ring_of(self, environment: str) -> int:
        """The ring that turns the flag on in `environment` for this repository."""
        return 0 if environment == self.staging else self.ring


@dataclass(frozen=True)
class ChangeItem:
    """One line of a pull request's "What changed": a file and what was done to it."""

    path: str
    what: str


@dataclass(frozen=True)
class Change:
    """What an archetype's generator did to a work tree: the items for the PR body, the tests it added, and notes a
    reviewer must read (something the bot could not wire and says so rather than guessing)."""

    kind: ChangeKind
    archetype: Archetype
    service: str
    sdk_version: str
    items: tuple[ChangeItem, ...]
    tests: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    build: str = ""  # the command that builds and tests the branch, as the PR body tells it
    ci: str = ""  # github-actions | gitlab-ci


@dataclass(frozen=True)
class DryRun:
    """The result of running the branch's dry-run script against rca's staging endpoint, or why it was not run."""

    status: DryRunStatus
    detail: str


@dataclass(frozen=True)
class PullRequestDraft:
    """What the bot asks a forge to open or update, with what it knows about the change (the local forge keeps it
    all; GitHub and GitLab get the labels)."""

    branch: str
    base: str
    title: str
    body: str
    kind: ChangeKind
    archetype: Archetype
    sdk_version: str
    ring: int
    dry_run: DryRunStatus
    labels: tuple[str, ...] = ("autopilot", "rca-rollout")
    reviewers: tuple[str, ...] = ()  # owner routing: handles from CODEOWNERS / the catalog (or the fallback owner)
    assignees: tuple[str, ...] = ()
    fallback_owner: str | None = None  # asked when no reviewer handle resolves to a forge user


@dataclass(frozen=True)
class PullRequest:
    """A pull request (GitLab: merge request) as a forge reports it."""

    forge: str
    repo: str
    number: int
    url: str
    branch: str
    base: str
    title: str
    state: PullRequestState
    head_sha: str


@dataclass(frozen=True)
class PullRequestRecord:
    """A pull request the bot opened, as kept in the rca database (issue 22's rings and dashboards read these)."""

    pull_request: PullRequest
    kind: ChangeKind
    archetype: Archetype
    body: str
    sdk_version: str
    ring: int
    dry_run: DryRunStatus
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    reviewers: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()


@dataclass(frozen=True)
class RepoResult:
    """What one run did to one repository: the line `rca rollout open` prints for it."""

    source: str
    repo: str
    archetype: Archetype | None
    outcome: Outcome
    reason: str
    branch: str | None = None
    pull_request: PullRequest | None = None
    notes: tuple[str, ...] = field(default=())
