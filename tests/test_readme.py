"""The README's newcomer path, run as written: every command between `<!-- newcomer-path -->` markers, in order, in
one bash (exports, `&` and `kill %1` behave as in a terminal), in a temporary directory holding the checkout's .venv
and examples, with its own HOME. The only change: port 8080 becomes a free port, so runs can share a machine.

Then the same incidents must show in the CLI through the server and in the console, in a real Chromium."""

from __future__ import annotations

import os
import queue
import re
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from support import ROOT

pytestmark = pytest.mark.e2e
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def newcomer_path(readme: str) -> list[str]:
    """The shell commands of the marked section: fenced sh blocks, continuation lines joined, comments kept."""
    section = readme.split("<!-- newcomer-path -->", 1)[1].split("<!-- /newcomer-path -->", 1)[0]
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        pending = ""
        for line in block.splitlines():
            if pending:
                line = pending + "\n" + line
                pending = ""
            if line.rstrip().endswith("\\"):
                pending = line
                continue
            if line.strip() and not line.strip().startswith("#"):
                commands.append(line)
    return commands


class Shell:
    """One bash reading commands from a pipe (stdin stays /dev/null for the commands), output collected per command."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        read, self._write = os.pipe()
        self.process = subprocess.Popen(["bash", "--noprofile", "--norc", f"/dev/fd/{read}"], pass_fds=[read],
                                        cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        os.close(read)
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self._lines.put(line) for line in self.process.stdout or ()],
                         daemon=True).start()
        self._count = 0

    def run(self, command: str, timeout: float = 180) -> tuple[int, str]:
        self._count += 1
        marker = f"__readme_step_{self._count}__"
        os.write(self._write, f"{command}\nprintf '\\n{marker} %s\\n' \"$?\"\n".encode())
        out: list[str] = []
        while True:
            line = self._lines.get(timeout=timeout)
            if line.startswith(marker):
                return int(line.split()[1]), "".join(out)
            out.append(line)

    def close(self) -> None:
        os.write(self._write, b"kill $(jobs -p) 2>/dev/null; exit 0\n")
        os.close(self._write)
        self.process.wait(30)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _blocks(output: str) -> list[str]:
    """The incident blocks of `rca incidents` output, without its title line (which names where it read)."""
    return output.split("\n", 1)[1].strip().split("\n\n")


def test_the_readme_newcomer_path_runs_as_written(tmp_path: Path) -> None:
    commands = newcomer_path((ROOT / "README.md").read_text())
    assert len(commands) >= 12, commands
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RCA_", "XDG_"))}
    env.update(HOME=str(tmp_path), COLUMNS="120")
    shell = Shell(tmp_path, env)
    outputs: dict[str, str] = {}
    try:
        for command in commands:
            command = command.replace(":8080", f":{port}").replace("--port 8080", f"--port {port}")
            if command.startswith("kill"):
                _console_shows_the_same_incidents(url, (tmp_path / "var" / "oncall.token").read_text().strip(),
                                                  outputs)
            code, output = shell.run(command)
            assert code == 0, f"README command failed ({code}): {command}\n{output}"
            outputs.setdefault(command.split("#")[0].strip(), output)
    finally:
        shell.close()

    by_start = {c.split("#")[0].strip(): o for c, o in outputs.items()}
    database = by_start[".venv/bin/rca incidents"]
    assert "inc_c52b773e5970e8ea" in database and "from sqlite:///var/rca.db" in database
    assert "cause identified" in by_start[".venv/bin/rca explain inc_c52b773e5970e8ea"]
    through_url = next(o for c, o in by_start.items() if c.startswith(".venv/bin/rca incidents --url"))
    through_profile = by_start[".venv/bin/rca incidents --dataset ds://orders_v1"]
    assert f"from {url}" in through_url and f"from {url}" in through_profile
    # The same incident, told the same way, from the database, through --url and through the saved profile.
    assert _blocks(database) == _blocks(through_url) == _blocks(through_profile)
    assert (tmp_path / ".config" / "rca" / "profiles.yml").stat().st_mode & 0o777 == 0o600  # it held a secret
    evidence = next(o for c, o in by_start.items() if c.startswith(".venv/bin/rca evidence"))
    assert "orders.created/0/5000" in evidence


def _console_shows_the_same_incidents(url: str, token: str, outputs: dict[str, str]) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; CI must install Debian's chromium")
        return
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(f"{url}/")
            page.locator("#token").fill(token)
            page.locator("#token-form button[type=submit]").click()
            rows = page.locator("#incidents tbody tr")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("ds://orders_v1")
            expect(rows.first).to_contain_text("REQUIRED_FIELD_MISSING")
            rows.first.locator("a").first.click()
            page.wait_for_url("**/incidents/inc_c52b773e5970e8ea")
            expect(page.locator("#facts")).to_contain_text("checkout-service v2.8.1")
        finally:
            browser.close()
