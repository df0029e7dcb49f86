"""Fleet campaigns: a set of repositories onboarded in rings (ring-0, ring-1, ring-2, each by a list of names or a
rule: rollout._spec), one onboarding pull request per repository within the campaign's limits, owner routing, a
tracking issue, and each service's flag per environment turned on ring by ring (off -> staging -> prod) only
through promotion gates judged from evidence (rollout._flags, rollout._gates).

    campaigns = Campaigns(store, forge, bot, clock)
    campaigns.plan(CampaignSpec.from_yaml(path))       # the inventory, each repository's ring and owner
    campaigns.advance("orders-spring")                  # refresh pull requests; open what the limits allow
    campaigns.promote("orders-spring", "ring-1", "prod")  # or CampaignRefused naming the gate and the repos
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel, Field

from evidence import Store, campaign_names, campaign_rows, save_campaign_row
from rollout._campaign import Rollout
from rollout._flags import FLAGS, legacy_flags, ring_flag, turn_on
from rollout._fleet import inventory
from rollout._forge import Forge
from rollout._gates import GateRepo, GateResult, evaluate
from rollout._limits import Candidate, Opened, decide
from rollout._model import ONBOARD_BRANCH, RolloutError
from rollout._spec import RING_NAMES, CampaignSpec, RingName, assign_rings

Clock = Callable[[], datetime]
RepoStatus = Literal["pending", "opened", "merged", "declined", "skipped", "failed"]
ACTIVE = ("pending", "opened", "merged")  # a declined, skipped or failed repository leaves the ring's gates


class RepoState(BaseModel):
    repo: str
    source: str
    ring: RingName
    owners: tuple[str, ...]
    owner_source: str
    zone: str
    language: str | None = None
    archetype: str | None = None
    domain: str | None = None
    tier: int | None = None
    producer_urn: str | None = None
    status: RepoStatus = "pending"
    reason: str = ""
    forge_repo: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    wave: int = 0
    opened_at: datetime | None = None
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    flags: dict[str, datetime] = Field(default_factory=dict)  # environment -> when its flag turned on there

    @property
    def owner(self) -> str:
        return self.owners[0]

    def flag(self, environment: str) -> str:
        """on / off in `environment`."""
        return "on" if environment in self.flags else "off"


class RingState(BaseModel):
    """A ring's flag is the step every one of its active services has reached (their flags are per environment,
    RepoState.flags); `since`: when the ring was promoted to each step."""

    name: RingName
    flag: Literal["off", "staging", "prod"] = "off"
    since: dict[str, datetime] = Field(default_factory=dict)


class Entry(BaseModel):
    """One line of the campaign's log: a promotion, a refusal, a pause."""

    at: datetime
    what: str
    detail: str = ""


class CampaignState(BaseModel):
    per_service_flags: bool = False  # False: saved when flags were per ring (settle converts it once)
    paused: bool = False
    paused_reason: str = ""
    repos: dict[str, RepoState] = Field(default_factory=dict)
    rings: list[RingState] = Field(default_factory=list)
    closures: dict[str, list[datetime]] = Field(default_factory=dict)  # owner -> when they closed a pull request
    tracking_issue: int | None = None
    tracking_body: str = ""
    log: list[Entry] = Field(default_factory=list)

    def ring(self, name: str) -> RingState:
        for ring in self.rings:
            if ring.name == name:
                return ring
        raise RolloutError(f"the campaign has no ring {name!r}; its rings are "
                           f"{', '.join(r.name for r in self.rings)}")

    def members(self, ring: str) -> list[RepoState]:
        return [r for r in self.repos.values() if r.ring == ring]

    def settle(self) -> None:
        """Each ring's flag from its active services' flags (a service that joined later holds it back); a state
        saved when flags were per ring gets per-service flags from its rings first."""
        for ring in self.rings:
            active = [m for m in self.members(ring.name) if m.status in ACTIVE]
            if not self.per_service_flags:  # only a merged service can have been promoted
                for member in active:
                    if member.status == "merged":
                        member.flags = member.flags or legacy_flags(ring.flag, ring.since)
            ring.flag = ring_flag((m.flags for m in active), ring.flag)  # type: ignore[assignment]
        self.per_service_flags = True


@dataclass(frozen=True)
class Campaign:
    spec: CampaignSpec
    state: CampaignState
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Advance:
    """What one advance did: pull requests opened (repo -> number), state changes seen, and why the rest wait."""

    opened: dict[str, int]
    merged: tuple[str, ...]
    declined: tuple[str, ...]
    held: dict[str, str]
    failed: dict[str, str]


class CampaignRefused(RolloutError):
    """A promotion the gates refuse: the message names each failing gate and its repositories."""

    def __init__(self, campaign: str, ring: str, target: str, failing: list[GateResult]) -> None:
        self.failing = failing
        lines = "; ".join(f"gate {g.name} failed for {', '.join(g.repos) or 'the ring'}: {g.detail}" for g in failing)
        super().__init__(f"{campaign}: promotion of {ring} to {target} refused: {lines}")


@dataclass
class Campaigns:
    """Campaigns kept in the rca database. `clock` is the only time anything here reads."""

    store: Store
    forge: Forge
    bot: Rollout
    clock: Clock

    # -- reading and writing ----------------------------------------------------------------------------------
    def get(self, name: str) -> Campaign:
        rows = campaign_rows(self.store, name)
        if not rows:
            raise RolloutError(f"no campaign {name!r}; `rca rollout plan CAMPAIGN.yaml` creates it")
        row = rows[0]
        state = CampaignState.model_validate(orjson.loads(row["state"]))
        state.settle()
        return Campaign(CampaignSpec.model_validate(orjson.loads(row["definition"])), state, row["created_at"],
                        row["updated_at"])

    def names(self) -> list[str]:
        return campaign_names(self.store)

    def _save(self, spec: CampaignSpec, state: CampaignState, now: datetime) -> None:
        values = {"definition": spec.model_dump_json(), "state": state.model_dump_json(), "updated_at": now}
        save_campaign_row(self.store, spec.name, values, now)

    # -- plan -----------------------------------------------------------------------------------------------------
    def plan(self, spec: CampaignSpec) -> Campaign:
        """The inventory and each repository's ring and owners; saved (a re-plan keeps what the campaign has done
        for repositories it already had, and never moves one whose pull request is open or merged)."""
        now = self.clock()
        try:
            previous = self.get(spec.name).state
        except RolloutError:
            previous = CampaignState()
        repos = inventory([Path(r) for r in spec.repos], spec.fallback_owner, self.bot.settings)
        names = [r.name for r in repos]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise RolloutError(f"{spec.name}: two repositories are both named {twice[0]}; rename one")
        rings = assign_rings(spec, repos)
        state = CampaignState(per_service_flags=True, paused=previous.paused, paused_reason=previous.paused_reason,
                              closures=previous.closures,
                              tracking_issue=previous.tracking_issue, tracking_body=previous.tracking_body,
                              log=previous.log)
        for repo in repos:
            kept = previous.repos.get(repo.name)
            fresh = RepoState(
                repo=repo.name, source=str(repo.source), ring=rings[repo.name], owners=repo.owners,
                owner_source=repo.owner_source, zone=spec.limits.zone_of(repo.owner, repo.timezone),
                language=repo.language, archetype=repo.archetype.value if repo.archetype else None, domain=repo.domain,
                tier=repo.tier, producer_urn=repo.producer_urn,
                status="skipped" if repo.archetype is None else "pending",
                reason=repo.reason if repo.archetype is None else "")
            if kept is not None and kept.status not in ("pending", "failed"):  # a failed one is tried again
                ring = kept.ring if kept.status in ("opened", "merged") else fresh.ring
                fresh = kept.model_copy(update={"owners": repo.owners, "zone": fresh.zone, "ring": ring})
            state.repos[repo.name] = fresh
        kept_rings = {r.name: r for r in previous.rings}
        state.rings = [kept_rings.get(r.name) or RingState(name=r.name) for r in spec.rings]
        state.settle()
        state.log.append(Entry(at=now, what="plan", detail=f"{len(repos)} repositories"))
        self._save(spec, state, now)
        self._track(spec, state, now)
        return self.get(spec.name)

    # -- pull requests --------------------------------------------------------------------------------------------
    def advance(self, name: str) -> Advance:
        """Bring the campaign up to date with the forge (merged and closed pull requests), then open the pull
        requests the limits allow now, each with its owners as reviewers and assignees."""
        now = self.clock()
        campaign = self.get(name)
        spec, state = campaign.spec, campaign.state
        merged, declined = self._refresh(state, now)
        opened: dict[str, int] = {}
        failed: dict[str, str] = {}
        held: dict[str, str] = {}
        if state.paused:
            held = {r.repo: f"the campaign is paused ({state.paused_reason or 'no reason given'})"
                    for r in state.repos.values() if r.status == "pending"}
        else:
            pending = [r for r in _ring_order(state) if r.status == "pending"]
            history = [Opened(r.repo, r.owner, r.opened_at, r.wave, r.status == "opened")
                       for r in state.repos.values() if r.opened_at is not None]
            decision = decide([Candidate(r.repo, r.owner, r.zone) for r in pending], history, state.closures,
                              spec.limits, now)
            held = dict(decision.held)
            for candidate, wave in decision.open:
                repo = state.repos[candidate.repo]
                result = self.bot.onboard_routed(Path(repo.source), repo.owners, repo.owners[:1], spec.fallback_owner)
                if result.outcome in ("opened", "updated", "unchanged") and result.pull_request is not None:
                    pr = result.pull_request
                    repo.status, repo.forge_repo, repo.pr_number, repo.pr_url = "opened", pr.repo, pr.number, pr.url
                    repo.opened_at, repo.wave = now, wave
                    opened[repo.repo] = pr.number
                elif result.outcome == "skipped" and result.pull_request is not None:
                    # closed or merged before the campaign: the campaign never proposes it again
                    pr = result.pull_request
                    repo.forge_repo, repo.pr_number, repo.pr_url = pr.repo, pr.number, pr.url
                    repo.status = "merged" if pr.state == "merged" else "declined"
                    repo.reason = result.reason
                    if pr.state == "merged":
                        repo.merged_at = now
                else:
                    repo.status = "skipped" if result.outcome == "skipped" else "failed"
                    repo.reason = result.reason
                    if repo.status == "failed":
                        failed[repo.repo] = result.reason
        self._save(spec, state, now)
        self._track(spec, state, now)
        return Advance(opened, merged, declined, held, failed)

    def _refresh(self, state: CampaignState, now: datetime) -> tuple[tuple[str, ...], tuple[str, ...]]:
        log = self.bot.log
        merged: list[str] = []
        declined: list[str] = []
        for repo in state.repos.values():
            if repo.status != "opened" or repo.forge_repo is None or repo.pr_number is None:
                continue
            record = log.get(self.forge.kind, repo.forge_repo, repo.pr_number)
            pr = self.forge.find_pull_request(repo.forge_repo, ONBOARD_BRANCH)
            status = pr.state if pr is not None and pr.number == repo.pr_number else (
                record.pull_request.state if record else "open")
            if status == "merged":
                repo.status = "merged"
                repo.merged_at = (record.merged_at if record and record.merged_at else now)
                merged.append(repo.repo)
            elif status == "closed":
                repo.status = "declined"
                repo.closed_at = (record.closed_at if record and record.closed_at else now)
                repo.reason = f"#{repo.pr_number} was closed without merging; the campaign never reopens it"
                state.closures.setdefault(repo.owner, []).append(repo.closed_at)
                declined.append(repo.repo)
        return tuple(merged), tuple(declined)

    # -- rings ------------------------------------------------------------------------------------------------
    def check(self, name: str, ring: str, target: str) -> list[GateResult]:
        """The gates of promoting `ring` to `target` now, without promoting."""
        campaign = self.get(name)
        return self._gates(campaign, ring, target, self.clock())

    def _gates(self, campaign: Campaign, ring: str, target: str, now: datetime) -> list[GateResult]:
        state = campaign.state
        ring_state = state.ring(ring)
        if target not in FLAGS[1:]:
            raise RolloutError(f"promote to staging or prod, not {target!r}")
        if FLAGS.index(target) != FLAGS.index(ring_state.flag) + 1:
            raise RolloutError(f"{ring} is at {ring_state.flag}; the next step is "
                               f"{FLAGS[FLAGS.index(ring_state.flag) + 1] if ring_state.flag != 'prod' else 'none'}")
        order: list[GateResult] = []
        if target == "prod":
            earlier = [r for r in state.rings if r.name < ring and r.flag != "prod" and any(
                m.status in ACTIVE for m in state.members(r.name))]
            if earlier:
                order.append(GateResult("ring_order", False, f"{', '.join(r.name for r in earlier)} not in prod yet",
                                        tuple(m.repo for r in earlier for m in state.members(r.name)
                                              if m.status in ACTIVE)))
        members = [GateRepo(m.repo, m.producer_urn, m.merged_at, m.status, dict(m.flags))
                   for m in sorted(state.members(ring), key=lambda m: m.repo) if m.status in ACTIVE]
        if not members:
            return [*order, GateResult("prs_merged", False, f"{ring} has no repository left to promote")]
        return order + evaluate(self.store, members, target, ring_state.since, campaign.spec.gates, now)

    def promote(self, name: str, ring: str, target: str) -> list[GateResult]:
        """Move the ring's flag one step (off -> staging -> prod) when every gate passes: the ring's services get
        the flag through the control plane (enabled, with their ring). Otherwise CampaignRefused, logged."""
        now = self.clock()
        campaign = self.get(name)
        spec, state = campaign.spec, campaign.state
        if state.paused:
            raise RolloutError(f"{name} is paused ({state.paused_reason or 'no reason given'}); "
                               f"`rca rollout resume {name}` first")
        results = self._gates(campaign, ring, target, now)
        failing = [g for g in results if not g.passed]
        if failing:
            refused = CampaignRefused(name, ring, target, failing)
            state.log.append(Entry(at=now, what=f"refused {ring} -> {target}", detail=str(refused)))
            self._save(spec, state, now)
            raise refused
        ring_state = state.ring(ring)
        ring_state.since[target] = now
        number = RING_NAMES.index(ring_state.name)
        for member in state.members(ring):
            if member.status in ACTIVE:
                member.flags.setdefault(target, now)  # one on there already (beside a later joiner) keeps its time
                if member.producer_urn:
                    turn_on(self.store, member.producer_urn, number, member.domain, target, member.flags, now)
        state.settle()
        state.log.append(Entry(at=now, what=f"promoted {ring} -> {target}",
                               detail="; ".join(f"{g.name}: {g.detail}" for g in results)))
        self._save(spec, state, now)
        self._track(spec, state, now)
        return results

    def pause(self, name: str, reason: str = "") -> None:
        now = self.clock()
        campaign = self.get(name)
        campaign.state.paused, campaign.state.paused_reason = True, reason
        campaign.state.log.append(Entry(at=now, what="paused", detail=reason))
        self._save(campaign.spec, campaign.state, now)
        self._track(campaign.spec, campaign.state, now)

    def resume(self, name: str) -> None:
        now = self.clock()
        campaign = self.get(name)
        campaign.state.paused, campaign.state.paused_reason = False, ""
        campaign.state.log.append(Entry(at=now, what="resumed"))
        self._save(campaign.spec, campaign.state, now)
        self._track(campaign.spec, campaign.state, now)

    # -- the tracking issue -------------------------------------------------------------------------------------
    def _track(self, spec: CampaignSpec, state: CampaignState, now: datetime) -> None:
        """One tracking issue per campaign, its body every repository's state; written only when it changed."""
        body = tracking_body(spec, state)
        if body == state.tracking_body and state.tracking_issue is not None:
            return
        title = f"rca rollout: {spec.name}"
        if state.tracking_issue is None:
            state.tracking_issue = self.forge.open_issue(spec.tracking_repo, title, body)
        else:
            self.forge.update_issue(spec.tracking_repo, state.tracking_issue, title, body)
        state.tracking_body = body
        self._save(spec, state, now)


def _ring_order(state: CampaignState) -> list[RepoState]:
    """Pending repositories earliest ring first, then by name: ring-1's pull requests open before ring-2's."""
    return sorted(state.repos.values(), key=lambda r: (r.ring, r.repo))


def tracking_body(spec: CampaignSpec, state: CampaignState) -> str:
    lines = [f"Onboarding campaign **{spec.name}** (`rca rollout status {spec.name}`).", ""]
    if state.paused:
        lines += [f"**Paused**: {state.paused_reason or 'no reason given'}.", ""]
    lines += ["| ring | flag |", "|---|---|"]
    lines += [f"| {r.name} | {r.flag} |" for r in state.rings]
    lines += ["", "| repository | ring | owner | state | pull request | staging | prod | note |",
              "|---|---|---|---|---|---|---|---|"]
    for repo in sorted(state.repos.values(), key=lambda r: (r.ring, r.repo)):
        pr = f"#{repo.pr_number}" if repo.pr_number else ""
        note = repo.reason.replace("|", "/").replace("\n", " ")
        lines.append(f"| {repo.repo} | {repo.ring} | {repo.owner} | {repo.status} | {pr} | {repo.flag('staging')} | "
                     f"{repo.flag('prod')} | {note} |")
    return "\n".join(lines) + "\n"
