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
from rollout._fakegithub import FakeGitHub
from rollout._fakegitlab import FakeGitLab
from rollout._fleet import FleetRepo, codeowners_for_root, describe, inventory
from rollout._forge import Checkout, Forge
from rollout._gates import GATE_NAMES, GateResult, GateSettings
from rollout._git import BranchHead
from rollout._github import GitHubForge
from rollout._gitlab import GitLabForge
from rollout._kpis import AdoptionReport, PlatformKpis, adoption_report, platform_kpis
from rollout._limits import Limits, Schedule
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
from rollout._program import (
    Advance,
    Campaign,
    CampaignRefused,
    Campaigns,
    CampaignState,
    RepoState,
    tracking_body,
)
from rollout._records import IssueLog, PullRequestLog
from rollout._settings import RolloutSettings
from rollout._spec import RING_NAMES, CampaignSpec, RingRule, RingSpec

__all__ = [
    "GATE_NAMES",
    "ONBOARD_BRANCH",
    "REMOVE_BRANCH",
    "RING_NAMES",
    "AdoptionReport",
    "Advance",
    "Archetype",
    "BranchHead",
    "Campaign",
    "CampaignRefused",
    "CampaignSpec",
    "CampaignState",
    "Campaigns",
    "Change",
    "ChangeItem",
    "Checkout",
    "Detection",
    "DryRun",
    "DryRunTarget",
    "FakeGitHub",
    "FakeGitLab",
    "FleetRepo",
    "Forge",
    "GateResult",
    "GateSettings",
    "GitHubForge",
    "GitLabForge",
    "IssueLog",
    "Limits",
    "LocalForge",
    "PlatformKpis",
    "PullRequest",
    "PullRequestDraft",
    "PullRequestLog",
    "PullRequestRecord",
    "RepoResult",
    "RepoState",
    "Ring",
    "RingPlan",
    "RingRule",
    "RingSpec",
    "Rollout",
    "RolloutError",
    "RolloutSettings",
    "Schedule",
    "adoption_report",
    "codeowners_for_root",
    "describe",
    "detect",
    "inventory",
    "open_forge",
    "platform_kpis",
    "tracking_body",
]
