"""YAML edits that leave the rest of the file as it was: a top-level block appended to (or removed from) the first
document, checked by parsing the result with ruamel.yaml (which reads GitLab's !reference tags too)."""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from rollout._model import RolloutError

COMMENT = "# rca autopilot"  # the first line of every block the bot appends: removal starts there


def load_all(text: str, where: str) -> list[Any]:
    try:
        return list(YAML(typ="rt").load_all(text))
    except YAMLError as exc:
        raise RolloutError(f"{where} is not valid YAML ({exc}); fix it before the bot edits it") from exc


def load(text: str, where: str) -> Any:
    """The first document (Spring's application.yml may hold several; the first is the default profile's)."""
    documents = load_all(text, where)
    return documents[0] if documents else None


def indent_unit(text: str) -> int:
    """The indentation step the file uses (2 unless its first nested line says otherwise)."""
    found = re.search(r"^[^\s#][^\n]*:\s*(?:#.*)?\n((?:[ ]*#.*\n)*)( +)\S", text, re.MULTILINE)
    return len(found.group(2)) if found else 2


def with_block(text: str, key: str, value: dict[str, Any], comment: str, where: str) -> str:
    """`text` with `key: value` appended to its first document, after `# rca autopilot: <comment>`. Nested
    dicts only; scalars are written as YAML plain scalars."""
    data = load(text, where) or {}
    if not isinstance(data, dict):
        raise RolloutError(f"{where} is not a mapping at the top; add '{key}:' by hand")
    if key in data:
        return text
    unit = indent_unit(text)
    block = [f"{COMMENT}: {comment}", f"{key}:", *_lines(value, unit, 1)]
    documents = re.split(r"(?m)^(?=---\s*$)", text)  # the block goes at the end of the first document
    first = 1 if len(documents) > 1 and not documents[0].strip() else 0
    head, tail = "".join(documents[:first + 1]), "".join(documents[first + 1:])
    if head and not head.endswith("\n"):
        head += "\n"
    separator = "\n" if head.strip() else ""
    new = head + separator + "\n".join(block) + "\n" + tail
    added, *others = load_all(new, where)
    if added.get(key) != value or {k: v for k, v in added.items() if k != key} != dict(data) or \
            others != load_all(text, where)[1:]:
        raise RolloutError(f"{where}: appending '{key}:' would change other settings; add it by hand")
    return new


def without_block(text: str, key: str, where: str) -> str:
    """Undo with_block: the bot's comment line, the blank line before it and the `key:` block go."""
    data = load(text, where) or {}
    if not isinstance(data, dict) or key not in data:
        return text
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"{re.escape(key)}\s*:", line)), None)
    if start is None:
        return text
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()) and \
            not lines[end].startswith("---"):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    if start > 0 and lines[start - 1].startswith(COMMENT):
        start -= 1
        if start > 0 and not lines[start - 1].strip():
            start -= 1
    new = "".join(lines[:start] + lines[end:])
    left = load(new, where) or {}
    if key in left or {k: v for k, v in data.items() if k != key} != dict(left) or \
            load_all(new, where)[1:] != load_all(text, where)[1:]:
        raise RolloutError(f"{where}: removing '{key}:' would change other settings; remove it by hand")
    return new


def _lines(value: dict[str, Any], unit: int, depth: int) -> list[str]:
    out: list[str] = []
    for k, v in value.items():
        if isinstance(v, dict):
            out.append(" " * unit * depth + f"{k}:")
            out.extend(_lines(v, unit, depth + 1))
        else:
            out.append(" " * unit * depth + f"{k}: {_scalar(v)}")
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    stream = io.StringIO()
    YAML(typ="safe", pure=True).dump(value, stream)
    return stream.getvalue().removesuffix("\n...\n").strip()


def with_gitlab_include(text: str, local: str, where: str) -> str:
    """.gitlab-ci.yml including `local` (GitLab's `include: - local: FILE`), in whatever form `include` has."""
    data = load(text, where) or {}
    existing = data.get("include")
    if existing is None:
        return _append_include(text, local, where)
    entries = existing if isinstance(existing, list) else [existing]
    if any((e.get("local") if isinstance(e, dict) else e) == local for e in entries):
        return text
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=indent_unit(text), sequence=indent_unit(text) + 2, offset=indent_unit(text))
    if isinstance(existing, list):
        existing.append({"local": local})
    else:
        data["include"] = [existing, {"local": local}]
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _append_include(text: str, local: str, where: str) -> str:
    new = (text if text.endswith("\n") or not text else text + "\n") + \
        f"\n{COMMENT}: the deploy-event and dry-run jobs\ninclude:\n  - local: {local}\n"
    if (load(new, where) or {}).get("include") != [{"local": local}]:
        raise RolloutError(f"{where}: could not add the include; add '- local: {local}' by hand")
    return new


def without_gitlab_include(text: str, local: str, where: str) -> str:
    data = load(text, where) or {}
    existing = data.get("include")
    if existing == [{"local": local}]:
        return without_block(text, "include", where)
    if isinstance(existing, list) and {"local": local} in [dict(e) if isinstance(e, dict) else e for e in existing]:
        lines = text.splitlines(keepends=True)
        kept = [line for line in lines if not re.match(rf"\s*-\s*local:\s*['\"]?{re.escape(local)}['\"]?\s*$", line)]
        return "".join(kept)
    return text
