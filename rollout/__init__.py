"""The PR-bot: onboarding (and removal) pull requests per repository archetype that build and explain themselves.

    from rollout import LocalForge, PullRequestLog, Rollout
    log = PullRequestLog(store)                                    # an evidence Store: PR records live there
    bot = Rollout(LocalForge(Path("var/rollout/forge"), log, clock), log, clock)
    for result in bot.onboard([Path("examples/fleet/inventory-api")]):
        print(result.repo, result.archetype, result.outcome, result.branch, result.pull_request)

GitHubForge and GitLabForge are the other forges (open_forge picks one by name); FakeGitHub and FakeGitLab are
local servers that stand in for them in tests and demos.
"""

from rollout._campaign import DryRunTarget, Rollout, open_forge
from rollout._detect import detect
from rollout._fakeforge import FakeGitHub, FakeGitLab
from rollout._forge import Checkout, Forge
from rollout._git import BranchHead
from rollout._github import GitHubForge
from rollout._gitlab import GitLabForge
from rollout._local import LocalForge
from rollout._model import (
    ONBOARD_BRANCH,
    REMOVE_BRANCH,
    Archetype,
    Change,
    ChangeItem,
    Detection,
    DryRun,
    PullRequest,
    PullRequestDraft,
    PullRequestRecord,
    RepoResult,
    Ring,
    RingPlan,
    RolloutError,
)
from rollout._records import PullRequestLog
from rollout._settings import RolloutSettings

__all__ = [
    "ONBOARD_BRANCH",
    "REMOVE_BRANCH",
    "Archetype",
    "BranchHead",
    "Change",
    "ChangeItem",
    "Checkout",
    "Detection",
    "DryRun",
    "DryRunTarget",
    "FakeGitHub",
    "FakeGitLab",
    "Forge",
    "GitHubForge",
    "GitLabForge",
    "LocalForge",
    "PullRequest",
    "PullRequestDraft",
    "PullRequestLog",
    "PullRequestRecord",
    "RepoResult",
    "Ring",
    "RingPlan",
    "Rollout",
    "RolloutError",
    "RolloutSettings",
    "detect",
    "open_forge",
]
