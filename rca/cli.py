"""The `rca` command line. Reading commands are clients of a server (--url, RCA_URL, `rca login`) or, for admins,
of the database (RCA_DATABASE_URL); errors are one line with exit code 2 for a usage mistake and 1 for a failure
(`--debug` shows the traceback)."""

from __future__ import annotations

import os
import sys

import click

from rca import _admin_cli, _control_cli, _gate_cli, _ingest_cli, _read_cli, _rollout_cli, _token_cli, _tools_cli
from rca._admin_cli import load_events
from rca._terminal import FAILURE, USAGE, CliError, one_line
from rca._tools_cli import openapi_text

__all__ = ["app", "load_events", "main", "openapi_text"]

_DEBUG = {"on": False}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rca")
    except PackageNotFoundError:
        return "0.0.0"


def _show_version(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"rca {_version()}")
        ctx.exit(0)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Print the version and exit.")
@click.option("--debug", is_flag=True, envvar="RCA_DEBUG", help="Show the traceback of an error (RCA_DEBUG=1).")
def app(debug: bool) -> None:
    """Evidence-grounded root-cause copilot for data producers.

    \b
    On call, with a reader token:   rca login --url http://rca.internal:8080 --token TOKEN
                                    rca incidents; rca explain INCIDENT_ID; rca ask "why is X stale?"
    As an admin, on the database:   rca db upgrade; rca load SCENARIO...; rca serve
    """
    _DEBUG["on"] = _DEBUG["on"] or debug


for _command in (_admin_cli.serve, _admin_cli.db, _admin_cli.load, _ingest_cli.ingest, _read_cli.incidents,
                 _read_cli.explain, _read_cli.ask, _read_cli.evidence, _admin_cli.detect, _control_cli.readiness,
                 _control_cli.policies, _tools_cli.replay, _tools_cli.eval_, _read_cli.login, _read_cli.logout,
                 _read_cli.whoami, _token_cli.token, _tools_cli.openapi, _tools_cli.slack, _gate_cli.gate,
                 _rollout_cli.rollout):
    app.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """The console script: runs `app`, turns every error into one line on stderr and a conventional exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    _DEBUG["on"] = "--debug" in args or os.environ.get("RCA_DEBUG", "").lower() in ("1", "true", "yes")
    sys.exit(run(args))


def run(args: list[str]) -> int:
    try:
        result = app.main(args=args, prog_name="rca", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "rca"
        _say(f"{where}: {_flat(exc.format_message())} (see `{where} --help`)")
        return USAGE
    except click.ClickException as exc:  # CliError and click's file errors
        _say(f"error: {_flat(exc.format_message())}")
        return exc.exit_code if isinstance(exc, CliError) else FAILURE
    except (click.exceptions.Abort, KeyboardInterrupt):
        _say("interrupted")
        return 130
    except BrokenPipeError:  # `rca incidents | head`: the reader left, which is fine
        sys.stderr.close()
        return 0
    except Exception as exc:
        if _DEBUG["on"]:
            raise
        code, message = _explain(exc)
        _say(f"error: {message}")
        return code


def _explain(exc: Exception) -> tuple[int, str]:
    """(exit code, one line) for errors raised below the CLI."""
    from evidence import ConfigError, RcaError, TokenError

    if isinstance(exc, ConfigError | TokenError):  # the arguments were wrong: a usage mistake
        return USAGE, one_line(str(exc))
    if isinstance(exc, RcaError):
        return FAILURE, one_line(str(exc))
    try:
        from sqlalchemy.exc import DBAPIError, OperationalError
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency
        DBAPIError = OperationalError = ()  # type: ignore[assignment,misc]
    if isinstance(exc, OperationalError):
        return FAILURE, (f"cannot use the database ({one_line(str(exc.orig))}); check RCA_DATABASE_URL and that "
                         "the database server is up")
    if isinstance(exc, DBAPIError):
        return FAILURE, f"the database refused the operation: {one_line(str(exc.orig))}"
    return FAILURE, (f"unexpected {exc.__class__.__name__}: {one_line(str(exc))} (rerun with --debug for the "
                     "traceback, and report it)")


def _flat(message: str) -> str:
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


def _say(message: str) -> None:
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass


if __name__ == "__main__":
    main()
