"""pom.xml edits that change only the lines they add or remove.

lxml reads the POM (namespaces, XPath) and checks every result; the edit itself is a splice of whole lines at byte
offsets that expat (the parser inside Python's xml package) reports for each element. A pom rewritten by a
serializer loses what XML does not model: attribute layout, `&quot;`, the prolog's line breaks, CRLF (the XML spec
normalises line ends on input). Splicing keeps every byte it does not mean to change; the C14N of the result, minus
the added element, must equal the original's, or the edit is refused.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.parsers import expat

from lxml import etree

from rollout._model import RolloutError

MAVEN_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
MARKER = "rca autopilot"  # in the comment above every dependency the bot adds: removal looks for it


@dataclass(frozen=True)
class _Span:
    path: tuple[str, ...]  # local names from the root, e.g. ("project", "dependencies", "dependency")
    start: int  # byte offset of "<"
    end: int  # byte offset just past the element's last ">"


class Pom:
    """A pom.xml as bytes, with lxml's tree for questions and expat's offsets for edits."""

    def __init__(self, raw: bytes, where: str = "pom.xml") -> None:
        self.raw, self.where = raw, where
        try:
            self.root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, remove_comments=False))
        except etree.XMLSyntaxError as exc:
            raise RolloutError(f"{where} is not well-formed XML ({exc}); fix it before the bot edits it") from exc
        namespace = etree.QName(self.root).namespace
        self._ns = {"m": namespace} if namespace else None
        self.newline = b"\r\n" if b"\r\n" in raw else b"\n"

    @classmethod
    def read(cls, path: Path) -> Pom:
        return cls(path.read_bytes(), str(path.name))

    # -- questions ---------------------------------------------------------------------------------------------
    def xpath(self, expression: str, node: Any = None) -> list[Any]:
        if self._ns is None:
            expression = expression.replace("m:", "")
        return list((self.root if node is None else node).xpath(expression, namespaces=self._ns or {}))

    def text(self, expression: str) -> str | None:
        found = self.xpath(expression)
        return str(found[0].text).strip() if found and found[0].text else None

    def dependencies(self) -> list[Any]:
        """The project's own dependencies (not dependencyManagement's)."""
        return self.xpath("m:dependencies/m:dependency")

    def dependency(self, group: str, artifact: str) -> Any | None:
        for element in self.dependencies():
            if self._coordinate(element, "groupId") == group and self._coordinate(element, "artifactId") == artifact:
                return element
        return None

    def has_artifact(self, *artifacts: str) -> bool:
        return any(self._coordinate(e, "artifactId") in artifacts for e in self.dependencies())

    def _coordinate(self, element: Any, name: str) -> str | None:
        found = self.xpath(f"m:{name}/text()", element)
        return str(found[0]).strip() if found else None

    # -- edits -------------------------------------------------------------------------------------------------
    def with_dependency(self, group: str, artifact: str, version: str | None, comment: str,
                        scope: str | None = None) -> bytes:
        """The pom with one more dependency (after the last one), preceded by `comment`; nothing else changes."""
        if self.dependency(group, artifact) is not None:
            return self.raw
        spans = _spans(self.raw, self.where)
        unit = self._indent_unit(spans)
        fields = [("groupId", group), ("artifactId", artifact)]
        if version:
            fields.append(("version", version))
        if scope:
            fields.append(("scope", scope))
        block = [f"<!-- {MARKER}: {comment} -->", "<dependency>",
                 *(f"{unit}<{k}>{_escape(v)}</{k}>" for k, v in fields), "</dependency>"]
        container = next((s for s in spans if s.path == ("project", "dependencies")), None)
        if container is not None:
            lines = [unit * 2 + line for line in block]
            new = self._insert_before_closing(container, lines, unit)
        else:
            lines = [unit + "<dependencies>", *(unit * 2 + line for line in block), unit + "</dependencies>"]
            anchor = next((s for s in spans if s.path == ("project", "build")), None)
            new = (self._insert_lines_at(_line_start(self.raw, anchor.start), lines) if anchor is not None
                   else self._insert_before_closing(spans[0], lines, unit))
        self._check(new, expect_added=(group, artifact))
        return new

    def without_dependency(self, group: str, artifact: str, *, only_if_marked: bool = False) -> bytes:
        """The pom without that dependency (and the bot's comment above it; and the <dependencies> element when the
        bot created it and it is now empty). `only_if_marked`: remove it only if the bot added it."""
        spans = _spans(self.raw, self.where)
        target = None
        for element, span in zip(self.dependencies(), _children(spans, ("project", "dependencies", "dependency")),
                                 strict=True):
            if self._coordinate(element, "groupId") == group and self._coordinate(element, "artifactId") == artifact:
                target = span
        if target is None:
            return self.raw
        start, end = _line_start(self.raw, target.start), _line_end(self.raw, target.end)
        before = self.raw[:start].rsplit(self.newline, 2)
        marked = len(before) >= 2 and MARKER.encode() in before[-2] and before[-2].strip().startswith(b"<!--")
        if only_if_marked and not marked:
            return self.raw
        if marked:
            start = _line_start(self.raw, start - len(self.newline))
        new = self.raw[:start] + self.raw[end:]
        container = next(s for s in _spans(new, self.where) if s.path == ("project", "dependencies"))
        inside = new[new.index(b">", container.start) + 1:new.rindex(b"<", container.start, container.end)]
        if marked and not inside.strip():
            new = new[:_line_start(new, container.start)] + new[_line_end(new, container.end):]
        self._check(new, expect_removed=(group, artifact))
        return new

    def _indent_unit(self, spans: list[_Span]) -> str:
        child = next((s for s in spans if len(s.path) == 2), None)
        if child is None:
            return "    "
        indent = _indent_of(self.raw, child.start)
        return indent or "    "

    def _insert_before_closing(self, span: _Span, lines: list[str], unit: str) -> bytes:
        closing = self.raw.rindex(b"</", span.start, span.end)
        line_start = _line_start(self.raw, closing)
        if not self.raw[line_start:closing].strip():
            return self._insert_lines_at(line_start, lines)
        # "<dependencies></dependencies>" on one line: the one case that changes an existing line.
        outer = _indent_of(self.raw, span.start)
        text = "".join(self.newline.decode() + line for line in lines) + self.newline.decode() + outer
        return self.raw[:closing] + text.encode() + self.raw[closing:]

    def _insert_lines_at(self, offset: int, lines: list[str]) -> bytes:
        text = "".join(line + self.newline.decode() for line in lines).encode()
        return self.raw[:offset] + text + self.raw[offset:]

    def _check(self, new: bytes, *, expect_added: tuple[str, str] | None = None,
               expect_removed: tuple[str, str] | None = None) -> None:
        """The edited pom parses, has (or lacks) the dependency, and equals the original everywhere else."""
        edited = Pom(new, self.where)
        if expect_added:
            added = edited.dependency(*expect_added)
            if added is None:
                raise RolloutError(f"{self.where}: the added dependency {':'.join(expect_added)} did not land; "
                                   "add it by hand")
            _drop(added)
            left, right = self.root, edited.root
        else:
            assert expect_removed is not None
            removed = self.dependency(*expect_removed)
            if edited.dependency(*expect_removed) is not None or removed is None:
                raise RolloutError(f"{self.where}: {':'.join(expect_removed)} is still there; remove it by hand")
            original = Pom(self.raw, self.where)
            _drop(original.dependency(*expect_removed))
            left, right = original.root, edited.root
        if _canonical(left) != _canonical(right):
            raise RolloutError(f"{self.where}: the edit would change more than the dependency; edit it by hand")


def _drop(element: Any) -> None:
    """Remove an element with the comment the bot put above it, and an emptied <dependencies> it created."""
    previous = element.getprevious()
    parent = element.getparent()
    parent.remove(element)
    if previous is not None and isinstance(previous, etree._Comment) and MARKER in (previous.text or ""):
        parent.remove(previous)
        if len(parent) == 0 and parent.tag.endswith("dependencies"):
            parent.getparent().remove(parent)


def _canonical(root: Any) -> bytes:
    """C14N with whitespace-only text ignored: the layout around an added or removed element is not content."""
    copy = etree.fromstring(etree.tostring(root))
    for node in copy.iter():
        if node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    return bytes(etree.tostring(copy, method="c14n"))


def _spans(raw: bytes, where: str) -> list[_Span]:
    """Every element's byte range, in document order (expat's CurrentByteIndex at start and end events)."""
    parser = expat.ParserCreate(namespace_separator=" ")
    stack: list[tuple[str, int]] = []
    spans: list[_Span] = []

    def start(name: str, _attributes: Any) -> None:
        stack.append((name.rsplit(" ", 1)[-1], parser.CurrentByteIndex))

    def end(_name: str) -> None:
        _, begin = stack[-1]
        index = parser.CurrentByteIndex
        finish = _tag_end(raw, index) if raw.startswith(b"</", index) else _tag_end(raw, begin)
        spans.append(_Span(tuple(n for n, _ in stack), begin, finish))
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(raw, True)
    except expat.ExpatError as exc:
        raise RolloutError(f"{where} is not well-formed XML ({exc}); fix it before the bot edits it") from exc
    return sorted(spans, key=lambda s: s.start)


def _children(spans: list[_Span], path: tuple[str, ...]) -> list[_Span]:
    return [s for s in spans if s.path == path]


def _tag_end(raw: bytes, index: int) -> int:
    """Just past the '>' closing the tag that starts at `index` (quotes skipped)."""
    quote = 0
    for i in range(index, len(raw)):
        byte = raw[i]
        if quote:
            if byte == quote:
                quote = 0
        elif byte in (0x22, 0x27):
            quote = byte
        elif byte == 0x3E:
            return i + 1
    raise RolloutError("unterminated tag in pom.xml")


def _line_start(raw: bytes, index: int) -> int:
    return raw.rfind(b"\n", 0, index) + 1


def _line_end(raw: bytes, index: int) -> int:
    """Past the newline ending the line of `index`, if only whitespace follows on that line."""
    newline = raw.find(b"\n", index)
    if newline == -1:
        return len(raw)
    return newline + 1 if not raw[index:newline].strip() else index


def _indent_of(raw: bytes, index: int) -> str:
    prefix = raw[_line_start(raw, index):index]
    return prefix.decode() if not prefix.strip() else re.match(rb"[ \t]*", prefix).group().decode()  # type: ignore[union-attr]


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def only_added_lines(before: bytes, after: bytes) -> bool:
    """True when `after` is `before` with whole lines inserted (the check the tests make on the diff)."""
    matcher = difflib.SequenceMatcher(a=before.splitlines(keepends=True), b=after.splitlines(keepends=True),
                                      autojunk=False)
    return all(op in ("equal", "insert") for op, *_ in matcher.get_opcodes())
