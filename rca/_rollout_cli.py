"""`rca rollout`: the PR-bot. Opens (or updates) one onboarding pull request per repository, a removal pull request
on demand, and lists what it opened; on the local forge, merges and closes them as a person would."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson
from rich.text import Text

from guardrails import inert
from rca._terminal import CliError, console

FORGES = click.Choice(["local", "github", "gitlab"])


def _bot(forge: str, settings: dict[str, Any], dry_run_url: str | None) -> Any:
    from rca._source import open_store
    from rca.app import system_clock
    from rollout import DryRunTarget, PullRequestLog, RingPlan, Rollout, RolloutSettings, open_forge

    store = open_store(create=True)
    click.get_current_context().call_on_close(store.close)
    values = {k: v for k, v in settings.items() if v is not None}
    ring = values.pop("ring", None)
    rollout_settings = RolloutSettings(**values)
    log = PullRequestLog(store)
    target = None
    if dry_run_url:
        token = rollout_settings.dry_run_token
        if not token:
            raise click.UsageError("--dry-run-url needs the staging producer token in RCA_ROLLOUT_DRY_RUN_TOKEN")
        target = DryRunTarget(dry_run_url, token, rollout_settings.dry_run_reader_token)
    plan = RingPlan(ring) if ring is not None else RingPlan()
    return Rollout(open_forge(forge, rollout_settings, log, system_clock), log, system_clock, rollout_settings,
                   plan, target)


_COMMON = [
    click.argument("repos", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)),
    click.option("--forge", type=FORGES, default="local", show_default=True, envvar="RCA_ROLLOUT_FORGE",
                 help="Where the pull requests go. local: bare repositories under RCA_ROLLOUT_FORGE_ROOT, pull "
                 "requests in the rca database; github / gitlab: the repositories' origin, with "
                 "RCA_ROLLOUT_GITHUB_TOKEN / RCA_ROLLOUT_GITLAB_TOKEN."),
    click.option("--sdk-version", metavar="VERSION", help="The SDK version to pin (RCA_ROLLOUT_SDK_VERSION).",
                 default=None),
    click.option("--json", "as_json", is_flag=True, help="One JSON object per repository instead of the table."),
]


def _common(function: Any) -> Any:
    for decorator in reversed(_COMMON):
        function = decorator(function)
    return function


@click.group("rollout")
def rollout() -> None:
    """The PR-bot: onboarding pull requests that build and explain themselves, one per repository.

    \b
    rca rollout open --forge local examples/fleet/*     # detect, change, build the PR; rerun: same branch and PR
    rca rollout prs                                      # what it opened, and each pull request's state
    rca rollout remove --forge local examples/fleet/*   # the removal pull requests

    \b
    Fleet campaigns (rings, limits, gates):
    rca rollout plan campaign.yaml                       # inventory, rings, owners; saved
    rca rollout advance NAME                             # open what the limits allow (run it hourly)
    rca rollout promote NAME ring-1 prod                 # refused with the failing gate and its repositories
    rca rollout pause NAME --reason freeze | resume NAME
    rca rollout status NAME                              # rings, repositories, adoption figures and KPIs
    """


@rollout.command("open")
@_common
@click.option("--ring", type=click.IntRange(1, 2), help="The production ring these repositories join (default 2).")
@click.option("--dry-run-url", metavar="URL", envvar="RCA_ROLLOUT_DRY_RUN_URL",
              help="rca's staging URL: run each branch's dry run against it and report the result in the PR "
              "(token in RCA_ROLLOUT_DRY_RUN_TOKEN; RCA_ROLLOUT_DRY_RUN_READER_TOKEN also reads the event back).")
def open_(repos: tuple[Path, ...], forge: str, sdk_version: str | None, as_json: bool, ring: int | None,
          dry_run_url: str | None) -> None:
    """Open or update the onboarding pull request of each repository (a folder or a checkout)."""
    bot = _bot(forge, {"sdk_version": sdk_version, "ring": ring}, dry_run_url)
    _report(bot.onboard(repos), as_json)


@rollout.command("remove")
@_common
def remove(repos: tuple[Path, ...], forge: str, sdk_version: str | None, as_json: bool) -> None:
    """Open or update the pull request that takes the SDK out of each repository again."""
    bot = _bot(forge, {"sdk_version": sdk_version}, None)
    _report(bot.remove(repos), as_json)


@rollout.command("prs")
@click.option("--forge", type=FORGES, help="Only this forge's.")
@click.option("--state", type=click.Choice(["open", "closed", "merged"]), help="Only pull requests in this state.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of the table.")
def prs(forge: str | None, state: str | None, as_json: bool) -> None:
    """The pull requests the bot opened, as last seen."""
    from rich.table import Table

    from rca._source import open_store
    from rollout import PullRequestLog

    store = open_store(create=True)
    click.get_current_context().call_on_close(store.close)
    records = PullRequestLog(store).records(forge, None, state)  # type: ignore[arg-type]
    if as_json:
        for r in records:
            pr = r.pull_request
            sys.stdout.write(orjson.dumps({"forge": pr.forge, "repo": pr.repo, "number": pr.number, "kind": r.kind,
                                           "archetype": r.archetype.value, "state": pr.state, "branch": pr.branch,
                                           "url": pr.url, "dry_run": r.dry_run, "ring": r.ring,
                                           "updated_at": r.updated_at.isoformat()}).decode() + "\n")
        return
    table = Table(title=f"Pull requests of the PR-bot ({len(records)})")
    for column in ("forge", "repo", "#", "kind", "archetype", "state", "dry run", "branch", "url"):
        table.add_column(column)
    for r in records:
        pr = r.pull_request
        table.add_row(*map(_cell, (pr.forge, pr.repo, str(pr.number), r.kind, r.archetype.value, pr.state, r.dry_run,
                                  pr.branch, pr.url)))
    console().print(table)


def _local_forge() -> Any:
    from rca._source import open_store
    from rca.app import system_clock
    from rollout import LocalForge, PullRequestLog, RolloutSettings

    store = open_store(create=True)
    click.get_current_context().call_on_close(store.close)
    settings = RolloutSettings()
    return LocalForge(settings.forge_root, PullRequestLog(store), system_clock)


@rollout.command("merge")
@click.argument("repo")
@click.argument("number", type=click.IntRange(min=1))
def merge(repo: str, number: int) -> None:
    """Merge a pull request of the local forge into its base, as a reviewer would."""
    pr = _local_forge().merge(repo, number)
    console().print(inert(f"{pr.repo}#{pr.number} merged into {pr.base}"), markup=False)


@rollout.command("close")
@click.argument("repo")
@click.argument("number", type=click.IntRange(min=1))
def close(repo: str, number: int) -> None:
    """Close a pull request of the local forge without merging (the bot never reopens it)."""
    pr = _local_forge().close(repo, number)
    console().print(inert(f"{pr.repo}#{pr.number} closed"), markup=False)


def _cell(value: str) -> Text:
    """A table cell: never read as markup, control characters shown as escapes (names and reasons come from the
    repositories and the forge, untrusted like evidence text)."""
    return Text(inert(value))


def _report(results: list[Any], as_json: bool) -> None:
    from rich.table import Table

    failed = [r for r in results if r.outcome == "failed"]
    if as_json:
        for r in results:
            pr = r.pull_request
            sys.stdout.write(orjson.dumps({
                "source": r.source, "repo": r.repo, "archetype": r.archetype.value if r.archetype else None,
                "outcome": r.outcome, "reason": r.reason, "branch": r.branch, "notes": list(r.notes),
                "pull_request": None if pr is None else {"number": pr.number, "url": pr.url, "state": pr.state}},
            ).decode() + "\n")
    else:
        table = Table(title="rca rollout")
        for column in ("repo", "archetype", "outcome", "branch", "pull request", "why"):
            table.add_column(column)
        for r in results:
            pr = r.pull_request
            shown = f"#{pr.number} {pr.url}" if pr is not None else ""
            why = r.reason if r.outcome in ("skipped", "failed") else "; ".join(r.notes)
            table.add_row(*map(_cell, (r.repo, r.archetype.value if r.archetype else "-", r.outcome, r.branch or "",
                                      shown, why)))
        console().print(table)
    if failed:
        raise CliError(f"{len(failed)} of {len(results)} repositories failed: "
                       + "; ".join(f"{r.repo}: {r.reason}" for r in failed))


# -- fleet campaigns -------------------------------------------------------------------------------------------------
def _campaigns(forge: str = "local") -> Any:
    from rca._source import open_store
    from rca.app import system_clock
    from rollout import Campaigns, PullRequestLog, Rollout, RolloutSettings, open_forge

    store = open_store(create=True)
    click.get_current_context().call_on_close(store.close)
    settings = RolloutSettings()
    log = PullRequestLog(store)
    chosen = open_forge(forge, settings, log, system_clock)
    return Campaigns(store, chosen, Rollout(chosen, log, system_clock, settings), system_clock)


_CAMPAIGN_FORGE = click.option("--forge", type=FORGES, default="local", show_default=True, envvar="RCA_ROLLOUT_FORGE",
                               help="Where the campaign's pull requests and tracking issue go.")


@rollout.command("plan")
@click.argument("campaign_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_CAMPAIGN_FORGE
@click.option("--json", "as_json", is_flag=True, help="JSON instead of the table.")
def plan(campaign_file: Path, forge: str, as_json: bool) -> None:
    """Read a campaign (YAML), take the fleet's inventory and save the plan: each repository's ring, owners (from
    catalog-info.yaml or CODEOWNERS, else the fallback owner), language, domain, tier and producer URN."""
    from rollout import CampaignSpec

    campaign = _campaigns(forge).plan(CampaignSpec.from_yaml(campaign_file))
    repos = sorted(campaign.state.repos.values(), key=lambda r: (r.ring, r.repo))
    if as_json:
        for r in repos:
            sys.stdout.write(r.model_dump_json() + "\n")
        return
    from rich.table import Table

    table = Table(title=f"Campaign {campaign.spec.name}: {len(repos)} repositories")
    for column in ("ring", "repo", "language", "owners", "from", "time zone", "domain", "tier", "producer", "state"):
        table.add_column(column)
    for r in repos:
        table.add_row(*map(_cell, (r.ring, r.repo, r.language or "-", " ".join(r.owners), r.owner_source, r.zone,
                                  r.domain or "-", "-" if r.tier is None else str(r.tier), r.producer_urn or "-",
                                  r.status)))
    console().print(table)


@rollout.command("advance")
@click.argument("campaign")
@_CAMPAIGN_FORGE
def advance(campaign: str, forge: str) -> None:
    """Bring the campaign up to date with the forge and open the pull requests its limits allow now (run it on a
    schedule, e.g. hourly)."""
    done = _campaigns(forge).advance(campaign)
    out = console()
    for repo, number in done.opened.items():
        out.print(inert(f"opened {repo}#{number}"), markup=False)
    for repo in done.merged:
        out.print(inert(f"merged {repo}"), markup=False)
    for repo in done.declined:
        out.print(inert(f"declined {repo} (closed without merging; never reopened)"), markup=False)
    for repo, why in done.held.items():
        out.print(inert(f"waiting {repo}: {why}"), markup=False)
    if done.failed:
        raise CliError("; ".join(f"{repo}: {why}" for repo, why in done.failed.items()))


@rollout.command("promote")
@click.argument("campaign")
@click.argument("ring", type=click.Choice(["ring-0", "ring-1", "ring-2"]))
@click.argument("target", type=click.Choice(["staging", "prod"]))
@_CAMPAIGN_FORGE
def promote(campaign: str, ring: str, target: str, forge: str) -> None:
    """Move RING's flag to TARGET (off -> staging -> prod) when every gate passes; otherwise say which gate failed
    and for which repositories (exit 1)."""
    from rollout import CampaignRefused

    try:
        results = _campaigns(forge).promote(campaign, ring, target)
    except CampaignRefused as refused:
        out = console()
        for gate in refused.failing:
            out.print(inert(f"FAILED {gate.name}: {', '.join(gate.repos) or '-'}: {gate.detail}"), markup=False)
        raise CliError(str(refused)) from None
    out = console()
    for gate in results:
        out.print(inert(f"passed {gate.name}: {gate.detail}"), markup=False)
    out.print(inert(f"{campaign}: {ring} is now at {target}"), markup=False)


@rollout.command("pause")
@click.argument("campaign")
@click.option("--reason", default="", help="Said in the tracking issue and by every held pull request.")
def pause(campaign: str, reason: str) -> None:
    """Stop opening pull requests and promoting rings until `rca rollout resume`."""
    _campaigns().pause(campaign, reason)
    console().print(inert(f"{campaign} paused"), markup=False)


@rollout.command("resume")
@click.argument("campaign")
def resume(campaign: str) -> None:
    """Go on where a paused campaign stopped."""
    _campaigns().resume(campaign)
    console().print(inert(f"{campaign} resumed"), markup=False)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _since(moment: str | None) -> str:
    return f"on since {moment[:16].replace('T', ' ')}Z" if moment else "off"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:g} h"


@rollout.command("status")
@click.argument("campaign")
@click.option("--at", "at", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"]),
              help="Compute the figures as of this time (RFC 3339 with an offset; default now).")
@click.option("--json", "as_json", is_flag=True, help="JSON: the campaign's state and the figures of GET /v1/adoption.")
def status(campaign: str, at: Any, as_json: bool) -> None:
    """A campaign's rings and repositories, and the adoption figures and platform KPIs (the console's Adoption page
    and /metrics show the same)."""
    from rich.table import Table

    from rca._adoption import report
    from rca.app import system_clock

    campaigns = _campaigns()
    found = campaigns.get(campaign)
    now = at if at is not None else system_clock()
    figures = report(campaigns.store, now)
    state = found.state
    if as_json:
        sys.stdout.write(orjson.dumps({
            "campaign": found.spec.name, "paused": state.paused, "paused_reason": state.paused_reason,
            "rings": [r.model_dump(mode="json") for r in state.rings],
            "repos": [r.model_dump(mode="json") for r in sorted(state.repos.values(), key=lambda r: (r.ring, r.repo))],
            "tracking_issue": state.tracking_issue, "figures": figures.as_json()}).decode() + "\n")
        return
    out = console()
    if state.paused:
        out.print(inert(f"{campaign} is paused: {state.paused_reason or 'no reason given'}"), markup=False)
    rings = Table(title=f"Campaign {campaign}: rings")
    for column in ("ring", "flag", "repos", "pending", "opened", "merged", "declined", "other", "on in staging",
                   "on in prod"):
        rings.add_column(column)
    for r in figures.rings:
        if r.campaign == campaign:
            rings.add_row(*map(_cell, (r.ring, r.flag, *(str(getattr(r, k)) for k in (
                "repos", "pending", "opened", "merged", "declined", "other", "staging_on", "prod_on")))))
    out.print(rings)
    repos = Table(title="Repositories and their flag per environment")
    for column in ("ring", "repo", "owner", "state", "pull request", "staging", "prod", "note"):
        repos.add_column(column)
    flags = {f.repo: f for f in figures.flags if f.campaign == campaign}
    for r in sorted(state.repos.values(), key=lambda r: (r.ring, r.repo)):
        flag = flags.get(r.repo)
        repos.add_row(*map(_cell, (r.ring, r.repo, r.owner, r.status, f"#{r.pr_number}" if r.pr_number else "",
                                  _since(flag.staging if flag else None), _since(flag.prod if flag else None),
                                  r.reason)))
    out.print(repos)
    kpis = Table(title=f"Adoption and platform KPIs at {figures.as_json()['at']}")
    kpis.add_column("figure")
    kpis.add_column("value")
    onboarded: dict[str, int] = {}
    for week in figures.onboarding:
        onboarded[week.language] = week.total
    platform = figures.platform
    rows = [("onboarded services", ", ".join(f"{lang} {n}" for lang, n in sorted(onboarded.items())) or "-"),
            *((f"onboarded in week of {w.week} ({w.language})", str(w.onboarded)) for w in figures.onboarding),
            ("median PR time to merge", _hours(figures.median_time_to_merge_hours)),
            ("revert rate", f"{_percent(figures.reverts.rate)} ({figures.reverts.reverted_prs} removal PRs, "
                            f"{figures.reverts.rolled_back} rolled back, of {figures.reverts.onboarded})"),
            *((f"median PR time to merge, week of {w.week}", f"{_hours(w.median_hours)} ({w.merged} merged)")
              for w in figures.time_to_merge_weekly),
            *((f"revert rate at the end of the week of {w.week}", f"{_percent(w.rate)} ({w.reverted} reverted in the "
               f"week, of {w.onboarded})") for w in figures.reverts_weekly),
            *((f"SDK {s.producer_urn}", f"drop {_percent(s.drop_rate)}, error {_percent(s.error_rate)}, "
               f"circuit {s.circuit}") for s in figures.sdk),
            ("incidents", str(platform.incidents)),
            ("with evidence-backed boundaries", _percent(platform.evidence_backed_boundaries)),
            ("with a correlated deploy", _percent(platform.correlated_deploy)),
            ("drift remediation time (median)", _hours(platform.drift_remediation_hours)),
            ("false-positive rate", _percent(platform.false_positive_rate)),
            ("inconclusive rate", _percent(platform.inconclusive_rate))]
    for name, value in rows:
        kpis.add_row(_cell(name), _cell(value))
    out.print(kpis)
