"""Prompt templates live in prompts/ as files named `<name>_v<version>.md`, never built inline in code.

A file holds a `<!-- system -->` part and a `<!-- user -->` part (anything above the first marker is a note
for maintainers and is not sent). `$incident`, `$evidence`, `$history` and `$question` are filled here, and
only here, because this is where untrusted text is fenced: every value is escaped so that nothing inside it
can close its block or open another one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from copilot._composer import EvidenceItem, Question
from evidence import ConfigError


def _prompts_dir() -> Path:
    # An installed rca carries prompts/ as copilot/prompts (pyproject's package-dir); a checkout reads the
    # repository's prompts/ itself, so an edited prompt takes effect without reinstalling.
    installed = Path(__file__).resolve().parent / "prompts"
    return installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "prompts"


PROMPTS_DIR = _prompts_dir()
_FILE = re.compile(r"^(?P<name>[a-z][a-z0-9_]*?)_v(?P<version>[0-9]+)\.(?:md|txt)$")
_PART = re.compile(r"^<!-- (system|user) -->[ \t]*$", re.MULTILINE)
# JSON's own escapes for the three characters markup needs: the excerpt stays valid JSON, and no payload can
# write `</evidence>` or `<evidence ...>`.
_DATA_ESCAPES = str.maketrans({"&": "\\u0026", "<": "\\u003c", ">": "\\u003e"})
_ATTRIBUTE_ESCAPES = str.maketrans({"&": "\\u0026", "<": "\\u003c", ">": "\\u003e", '"': "\\u0022",
                                    "\n": " ", "\r": " "})


def escape_data(text: str) -> str:
    """Text placed inside a data block: `<`, `>` and `&` become \\u003c, \\u003e and \\u0026."""
    return text.translate(_DATA_ESCAPES)


def _attribute(text: str) -> str:
    return text.translate(_ATTRIBUTE_ESCAPES)


@dataclass(frozen=True)
class PromptMessage:
    role: str  # "system" or "user"
    content: str


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    system: str
    user: str
    path: Path

    @property
    def id(self) -> str:
        return f"{self.name}_v{self.version}"

    def render(self, question: Question) -> list[PromptMessage]:
        values = {
            "incident": incident_block(question.incident),
            "evidence": evidence_blocks(question.evidence),
            "history": history_block(question.history),
            "question": f"<question>\n{escape_data(question.text)}\n</question>",
        }
        try:
            return [PromptMessage("system", Template(self.system).substitute(values).strip()),
                    PromptMessage("user", Template(self.user).substitute(values).strip())]
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"Prompt {self.path} has a placeholder other than $incident, $evidence, $history "
                              f"and $question, or a lone '$' (write '$$'): {exc}") from exc


def incident_block(incident: dict[str, Any] | None) -> str:
    if incident is None:
        return "<incident>\nnone: no open incident matches this question\n</incident>"
    body = json.dumps(incident, sort_keys=True, indent=1, default=str, ensure_ascii=False)
    return f"<incident>\n{escape_data(body)}\n</incident>"


def evidence_blocks(items: Sequence[EvidenceItem]) -> str:
    blocks = []
    for item in items:
        blocks.append(
            f'<evidence id="{_attribute(item.evidence_id)}" type="{_attribute(item.type)}" '
            f'time="{_attribute(item.time)}" source_ref="{_attribute(item.source_ref)}">\n'
            f"summary: {escape_data(item.summary)}\n"
            f"excerpt: {escape_data(item.excerpt)}\n"
            "</evidence>")
    return "\n".join(blocks) if blocks else "<evidence>\nnone: no evidence was retrieved\n</evidence>"


def history_block(history: Sequence[Mapping[str, Any]]) -> str:
    turns = [f"{escape_data(str(t.get('role', 'user')))}: {escape_data(str(t.get('text', '')))}" for t in history]
    body = "\n".join(turns) if turns else "none: this is the first question"
    return f"<history>\n{body}\n</history>"


def _parse(path: Path, name: str, version: int) -> Prompt:
    text = path.read_text(encoding="utf-8")
    parts = _PART.split(text)
    # split() gives [note, role, body, role, body]; each role exactly once
    roles = parts[1::2]
    if sorted(roles) != ["system", "user"]:
        raise ConfigError(f"Prompt {path} needs exactly one '<!-- system -->' and one '<!-- user -->' line.")
    bodies = dict(zip(roles, parts[2::2], strict=True))
    return Prompt(name=name, version=version, system=bodies["system"], user=bodies["user"], path=path)


def available_prompts(directory: Path | None = None) -> list[str]:
    """Every prompt id in `directory` (default: the repository's prompts/), sorted."""
    found = []
    for path in (directory or PROMPTS_DIR).iterdir():
        match = _FILE.match(path.name)
        if match:
            found.append((match["name"], int(match["version"])))
    return [f"{name}_v{version}" for name, version in sorted(found)]


def load_prompt(ref: str, directory: Path | None = None) -> Prompt:
    """`rca_v1` loads that version; a bare name (`rca`) loads its highest version."""
    directory = directory or PROMPTS_DIR
    ids = available_prompts(directory) if directory.is_dir() else []
    exact = _FILE.match(f"{ref}.md")
    if exact is None or f"{exact['name']}_v{exact['version']}" != ref:
        versions = [i for i in ids if i.rsplit("_v", 1)[0] == ref]
        if not versions:
            raise ConfigError(f"No prompt {ref!r} in {directory}; available: {', '.join(ids) or 'none'}.")
        ref = max(versions, key=lambda i: int(i.rsplit("_v", 1)[1]))
    name, version = ref.rsplit("_v", 1)
    for suffix in (".md", ".txt"):
        path = directory / f"{ref}{suffix}"
        if path.is_file():
            return _parse(path, name, int(version))
    raise ConfigError(f"No prompt {ref!r} in {directory}; available: {', '.join(ids) or 'none'}.")
