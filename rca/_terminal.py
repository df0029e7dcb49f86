"""The terminal side of the `rca` command: consoles that do not wrap when piped, one-line errors with conventional
exit codes, option types that read times and URLs the way people write them, and progress on slow operations."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from evidence import MissingOffset, parse_utc

USAGE = 2  # a mistake in the command line (click's own convention)
FAILURE = 1  # the command ran and failed


class CliError(click.ClickException):
    """A failure told in one line that says what is wrong and what to do; exit code 1 unless told otherwise."""

    def __init__(self, message: str, exit_code: int = FAILURE) -> None:
        super().__init__(message)
        self.__dict__["exit_code"] = exit_code  # click declares exit_code on the class; this instance's own


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr). On a terminal it wraps to the window; piped, lines are never wrapped or
    cut, so `rca incidents | grep` sees whole lines."""
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(file=stream, width=None if tty else 100_000, soft_wrap=not tty, highlight=False,
                   force_terminal=None if tty else False)


def echo(text: str = "", *, stderr: bool = False, style: str | None = None) -> None:
    """Plain text (never read as rich markup: evidence text is untrusted)."""
    console(stderr).print(text, markup=False, style=style)


# --- times ----------------------------------------------------------------------------------------------

_DURATION = re.compile(r"^(\d+)\s*(s|m|min|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str, now: datetime) -> datetime:
    """An instant as people write it: RFC 3339 with an offset or Z, a date (midnight UTC), `now`, or a duration
    ago (`30m`, `2h`, `7d`). A wall time without an offset is refused: which zone would it be?"""
    text = value.strip()
    if text == "now":
        return now
    ago = _DURATION.match(text)
    if ago:
        return now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
    try:
        return parse_utc(text.replace("z", "Z"))
    except MissingOffset:
        raise ValueError(f"{value!r} has no offset: add one, e.g. {text}Z or {text}-05:00") from None
    except ValueError:
        raise ValueError(f"{value!r} is not a time: write 2026-01-19T02:15:00-05:00, 2026-01-19 (UTC midnight), "
                         "now, or 30m / 2h / 7d ago") from None


class When(click.ParamType):
    """A time option (--at, --since, --until): see `parse_when`."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_when(str(value), datetime.now(UTC))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Url(click.ParamType):
    """An http(s) base URL of a running `rca serve`."""

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().rstrip("/")
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            hint = f"http://{text}" if "://" not in text else "http://127.0.0.1:8080"
            self.fail(f"{value!r} is not a server URL; write it with its scheme, e.g. {hint}", param, ctx)
        return text


# --- progress ---------------------------------------------------------------------------------------------

@contextmanager
def working(description: str, total: int | None = None) -> Iterator[Any]:
    """A transient progress bar (a spinner when the amount of work is unknown) on stderr, shown only on a
    terminal. Yields a function `advance(n=1)`."""
    err = console(stderr=True)
    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    # Output printed meanwhile goes where it was going: redirecting stdout into the display (rich's default) would
    # send `rca eval --json > file` to the terminal's stderr.
    tty_out = sys.stdout.isatty()
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal, redirect_stdout=tty_out,
                  redirect_stderr=False) as progress:
        task = progress.add_task(description, total=total)

        def advance(n: int = 1, description: str | None = None) -> None:
            if description:
                progress.update(task, description=description)
            progress.update(task, advance=n)

        yield advance


def one_line(text: str) -> str:
    """The first non-empty line of a message (driver errors carry a page of context after it)."""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return str(text).strip()
