"""The local tools that need neither a server nor the database: replay, eval, openapi; and the Slack bot in socket
mode (`rca serve` runs the service: rca/_admin_cli.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from rca._read_cli import print_incidents, print_json, print_rca
from rca._terminal import USAGE, CliError, echo, working


@click.command()
@click.argument("scenario", metavar="SCENARIO", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rca", "with_rca", is_flag=True, help="Add the RCA of every incident.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document: incidents and drift (and RCAs).")
def replay(scenario: Path, with_rca: bool, as_json: bool) -> None:
    """A dry run: replay a story in memory, detect at its clock, print what on-call would be told.
    Nothing is stored (no database is opened); `rca load` stores a story."""
    from copilot import build_rca, default_composer, replay_source
    from detectors import ScenarioError, load_scenario
    from detectors import replay as run_replay
    from rca._settings import Settings

    try:
        story = load_scenario(scenario)
    except ScenarioError as exc:
        raise CliError(str(exc)) from None
    with working(f"Replaying {story.name}"):
        result = run_replay(story)
        document: dict[str, Any] = {"incidents": result.incidents, "drift": [
            {k: d[k] for k in ("topic", "schema_id", "reason_code", "change_request_id")}
            for d in result.detection.drift]}
        if with_rca:
            composer = default_composer(Settings().model_environment())
            source = replay_source(result)
            document["rca"] = [build_rca(source, incident, composer) for incident in result.typed]
    for problem in result.rejected:
        echo(f"rejected {problem}", stderr=True)
    if as_json:
        print_json(document)
        return
    print_incidents(document["incidents"], f"{result.scenario.name} at {result.scenario.now.isoformat()} "
                                           "(a dry run: nothing stored; `rca load` stores it)")
    for d in document["drift"]:
        echo(f"drift: {d['topic']} schema {d['schema_id']} {d['reason_code']} -> {d['change_request_id']}")
    for rca in document.get("rca", []):
        print_rca(rca)


@click.command("eval")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...",
                type=click.Path(exists=True, path_type=Path))
@click.option("--composer", type=click.Choice(("default", "llm", "adversarial")), default="default", show_default=True,
              help="default (offline), llm (RCA_LLM_*) or adversarial (a chaos model around the offline one).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document: counts, scenarios, metrics.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write a report: FILE.md or FILE.html.")
@click.option("--oracle", "oracle", multiple=True, type=click.Path(exists=True, path_type=Path), metavar="PATH",
              help="Labelled model answers to judge too (evals/oracle); repeatable.")
def eval_(paths: tuple[Path, ...], composer: str, as_json: bool, report: Path | None,
          oracle: tuple[Path, ...]) -> None:
    """Replay scenarios, RCA every incident, check every expectation, score grounding; exit 1 if any fails."""
    from evals import eval_command
    from rca._settings import Settings

    with working(f"Evaluating {len(paths)} path(s)"):
        code = eval_command(list(paths), composer, as_json, report, list(oracle) or None,
                            Settings().model_environment())
    click.get_current_context().exit(code)


@click.command()
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write to this file instead of stdout.")
def openapi(output: Path | None) -> None:
    """Print (or write) the OpenAPI description of the API."""
    text = openapi_text()
    if output:
        output.write_text(text)
        echo(f"wrote {output}", stderr=True)
    else:
        sys.stdout.write(text)


def openapi_text() -> str:
    from evidence import Store
    from rca._settings import Settings
    from rca.app import create_app

    with Store.open("sqlite://") as store:
        application = create_app(Settings(database_url="sqlite://"), store=store)
        document = application.openapi()
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


@click.command()
@click.option("--socket-mode", is_flag=True, help="Connect over a WebSocket (RCA_SLACK_APP_TOKEN) instead of Slack "
              "calling POST /slack/events.")
def slack(socket_mode: bool) -> None:
    """The Slack bot. HTTP mode needs no command: `rca serve` mounts /slack/events when RCA_SLACK_SIGNING_SECRET is
    set."""
    if not socket_mode:
        raise CliError("HTTP mode needs no command: set RCA_SLACK_SIGNING_SECRET and RCA_SLACK_BOT_TOKEN and run "
                       "`rca serve`; or pass --socket-mode", USAGE)
    from rca._settings import Settings
    from rca._slack import run_socket_mode
    from rca.app import create_app

    run_socket_mode(create_app(Settings()))
