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
