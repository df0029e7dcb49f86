"""The git command, for the work trees the bot changes and the local forge's bare repositories."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rollout._model import RolloutError

TRAILER = "Rollout-Tree"  # in every commit the bot makes: the tree it pushed, so a rerun knows what is there


@dataclass(frozen=True)
class FileChange:
    """One file of a branch's change, as a forge's API takes it: content None means deleted."""

    path: str
    content: bytes | None
    executable: bool = False


@dataclass(frozen=True)
class BranchHead:
    sha: str
    tree: str | None  # the tree the bot recorded in its commit; None: the head commit is not the bot's


def git(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, input: bytes | None = None) -> str:
    words = ["git", *(str(a) for a in args)]
    done = subprocess.run(words, cwd=cwd, env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
                          capture_output=True, input=input, timeout=300, check=False)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).decode(errors="replace").strip()[-1200:]
        raise RolloutError(f"`{' '.join(words)}` failed in {cwd}: {message}")
    return done.stdout.decode(errors="replace")


def identity(name: str, email: str, when: datetime) -> dict[str, str]:
    """Author and committer, dated by the injected clock (not the machine's), so a run is reproducible."""
    stamp = when.isoformat()
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": stamp}


def commit_all(work: Path, subject: str, body: str, who: dict[str, str]) -> tuple[str, str]:
    """Stage everything and commit it; (commit sha, tree sha). The message names its own tree (a trailer)."""
    git("add", "--all", cwd=work)
    tree = git("write-tree", cwd=work).strip()
    message = f"{subject}\n\n{body}\n\n{TRAILER}: {tree}\n"
    git("commit", "--quiet", "--no-verify", "--allow-empty", "-F", "-", cwd=work, env=who, input=message.encode())
    return git("rev-parse", "HEAD", cwd=work).strip(), tree


def recorded_tree(message: str) -> str | None:
    found = re.search(rf"^{TRAILER}: ([0-9a-f]{{40,64}})\s*$", message, re.MULTILINE)
    return found.group(1) if found else None


def changes(work: Path, base: str, head: str = "HEAD") -> list[FileChange]:
    """The files `head` changes relative to `base`, with their new content and mode."""
    out = git("diff", "--no-renames", "--name-status", "-z", base, head, cwd=work)
    fields = [f for f in out.split("\0") if f]
    result: list[FileChange] = []
    for status, path in zip(fields[0::2], fields[1::2], strict=True):
        if status.startswith("D"):
            result.append(FileChange(path, None))
            continue
        mode = git("ls-tree", head, "--", path, cwd=work).split(" ", 1)[0]
        blob = subprocess.run(["git", "show", f"{head}:{path}"], cwd=work, capture_output=True, check=True).stdout
        result.append(FileChange(path, blob, executable=mode == "100755"))
    return result
