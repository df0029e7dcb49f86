"""Go and JavaScript source edits located by tree-sitter's syntax trees: the wrapper goes exactly around the Kafka
client constructor, and comes off again exactly, whatever the formatting around it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter_go
import tree_sitter_javascript
from tree_sitter import Language, Node, Parser

_GO = Language(tree_sitter_go.language())
_JS = Language(tree_sitter_javascript.language())

KGO = "github.com/twmb/franz-go/pkg/kgo"
GO_WRAPPER = "withAutopilot"
GO_SHUTDOWN = "shutdownAutopilot"
JS_WRAPPER = "instrumentProducer"


@dataclass(frozen=True)
class SourceEdit:
    """The edited text and what was changed in it (counts the PR body reports)."""

    text: str
    wrapped: int = 0
    deferred: bool = False


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _text(node: Node | None) -> str:
    return node.text.decode() if node is not None and node.text is not None else ""


def _splice(source: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    for start, end, replacement in sorted(edits, reverse=True):
        source = source[:start] + replacement + source[end:]
    return source


# -- Go ----------------------------------------------------------------------------------------------------------

def go_import_name(source: str, path: str = KGO) -> str | None:
    """The name a file uses for an imported package (its alias, else the last path element), or None."""
    tree = Parser(_GO).parse(source.encode())
    for node in _walk(tree.root_node):
        if node.type == "import_spec" and _text(node.child_by_field_name("path")).strip('"`') == path:
            alias = node.child_by_field_name("name")
            return _text(alias) if alias is not None else path.rsplit("/", 1)[-1]
    return None


def wire_go(source: str) -> SourceEdit:
    """Wrap the options of every kgo.NewClient call in withAutopilot(...)..., and defer shutdownAutopilot() first
    thing in main. gofmt runs afterwards (the caller's job: it is the Go toolchain's)."""
    name = go_import_name(source)
    raw = source.encode()
    tree = Parser(_GO).parse(raw)
    edits: list[tuple[int, int, bytes]] = []
    wrapped = 0
    for node in _walk(tree.root_node):
        if name and node.type == "call_expression" and _is_selector(node.child_by_field_name("function"), name,
                                                                    "NewClient"):
            arguments = node.child_by_field_name("arguments")
            assert arguments is not None
            inner = raw[arguments.start_byte + 1:arguments.end_byte - 1]
            if GO_WRAPPER.encode() in inner:
                continue
            edits.append((arguments.start_byte + 1, arguments.end_byte - 1,
                          GO_WRAPPER.encode() + b"(" + inner + b")..."))
            wrapped += 1
    deferred = False
    main = _go_main(tree.root_node)
    if main is not None and f"defer {GO_SHUTDOWN}()".encode() not in raw:
        body = main.child_by_field_name("body")
        assert body is not None
        edits.append((body.start_byte + 1, body.start_byte + 1, f"\n\tdefer {GO_SHUTDOWN}()".encode()))
        deferred = True
    return SourceEdit(_splice(raw, edits).decode(), wrapped, deferred)


def unwire_go(source: str) -> SourceEdit:
    """Undo wire_go: withAutopilot(X)... becomes X again, and the deferred shutdown goes."""
    raw = source.encode()
    tree = Parser(_GO).parse(raw)
    edits: list[tuple[int, int, bytes]] = []
    for node in _walk(tree.root_node):
        if node.type == "variadic_argument":
            call = node.named_children[0] if node.named_children else None
            if call is not None and call.type == "call_expression" and \
                    _text(call.child_by_field_name("function")) == GO_WRAPPER:
                arguments = call.child_by_field_name("arguments")
                assert arguments is not None
                edits.append((node.start_byte, node.end_byte, raw[arguments.start_byte + 1:arguments.end_byte - 1]))
        elif node.type in ("defer_statement",) and re.fullmatch(rf"defer\s+{GO_SHUTDOWN}\(\)", _text(node)):
            start = raw.rfind(b"\n", 0, node.start_byte)
            edits.append((start, node.end_byte, b""))
    return SourceEdit(_splice(raw, edits).decode(), wrapped=len(edits))


def _is_selector(node: Node | None, operand: str, field: str) -> bool:
    return (node is not None and node.type == "selector_expression"
            and _text(node.child_by_field_name("operand")) == operand
            and _text(node.child_by_field_name("field")) == field)


def _go_main(root: Node) -> Node | None:
    return next((n for n in root.children if n.type == "function_declaration"
                 and _text(n.child_by_field_name("name")) == "main"), None)


# -- JavaScript --------------------------------------------------------------------------------------------------

def js_uses(source: str, package: str) -> bool:
    """Whether the module imports or requires `package`."""
    tree = Parser(_JS).parse(source.encode())
    return any(_js_module_name(node) == package for node in _walk(tree.root_node))


def _js_module_name(node: Node) -> str | None:
    if node.type == "import_statement":
        return _text(node.child_by_field_name("source")).strip("'\"")
    if node.type == "call_expression" and _text(node.child_by_field_name("function")) == "require":
        arguments = node.child_by_field_name("arguments")
        strings = [c for c in (arguments.named_children if arguments else []) if c.type == "string"]
        return _text(strings[0]).strip("'\"") if strings else None
    return None


def wire_js(source: str, module: str, esm: bool) -> SourceEdit:
    """Wrap every `<kafka>.producer(...)` in instrumentProducer(...) and import it from `module` after the last
    import (or require) at the top of the file."""
    raw = source.encode()
    tree = Parser(_JS).parse(raw)
    edits: list[tuple[int, int, bytes]] = []
    for node in _walk(tree.root_node):
        function = node.child_by_field_name("function") if node.type == "call_expression" else None
        if function is not None and function.type == "member_expression" and \
                _text(function.child_by_field_name("property")) == "producer":
            parent = node.parent
            if parent is not None and parent.type == "arguments" and parent.parent is not None and \
                    _text(parent.parent.child_by_field_name("function")) == JS_WRAPPER:
                continue
            edits.append((node.start_byte, node.end_byte, f"{JS_WRAPPER}({_text(node)})".encode()))
    if not edits:
        return SourceEdit(source)
    line = (f'import {{ {JS_WRAPPER} }} from "{module}";' if esm
            else f'const {{ {JS_WRAPPER} }} = require("{module}");')
    anchor = _after_last_import(tree.root_node)
    edits.append((anchor, anchor, ("\n" + line if anchor else line + "\n").encode()))
    return SourceEdit(_splice(raw, edits).decode(), wrapped=len(edits) - 1)


def unwire_js(source: str, module: str) -> SourceEdit:
    """Undo wire_js: instrumentProducer(X) becomes X again, and the import of `module` goes."""
    raw = source.encode()
    tree = Parser(_JS).parse(raw)
    edits: list[tuple[int, int, bytes]] = []
    for node in _walk(tree.root_node):
        if node.type == "call_expression" and _text(node.child_by_field_name("function")) == JS_WRAPPER:
            arguments = node.child_by_field_name("arguments")
            inner = arguments.named_children if arguments else []
            if len(inner) == 1:
                edits.append((node.start_byte, node.end_byte, inner[0].text or b""))
        statement = node if node.type in ("import_statement", "lexical_declaration", "variable_declaration") else None
        if statement is not None and statement.parent is not None and statement.parent.type == "program" and \
                any(_js_module_name(n) == module for n in _walk(statement)):
            start = raw.rfind(b"\n", 0, statement.start_byte)
            edits.append((max(start, 0), statement.end_byte, b""))
    return SourceEdit(_splice(raw, edits).decode(), wrapped=len(edits))


def _after_last_import(root: Node) -> int:
    """Offset just past the last top-level import or require declaration (0 when there is none)."""
    end = 0
    for node in root.children:
        if any(_js_module_name(n) is not None for n in _walk(node)) and node.type in (
                "import_statement", "lexical_declaration", "variable_declaration", "expression_statement"):
            end = node.end_byte
        elif node.type not in ("comment",) and end:
            break
    return end
