"""Python source edits through libcst's concrete syntax tree, which keeps every comment and blank line: the
service's Producer import becomes autopilot's drop-in one and main() configures the SDK first; a job's main() gets
the Spark pack's @job_run. Each edit has its exact inverse."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst
from libcst import matchers as m

from rollout._model import RolloutError

CONFIGURE = "autopilot.configure()"


@dataclass(frozen=True)
class PythonEdit:
    text: str
    changed: tuple[str, ...]  # what was done, in words, for the PR body


def has_main(source: str) -> bool:
    return any(m.matches(s, m.FunctionDef(name=m.Name("main"))) for s in _parse(source).body)


def wire_service(source: str, where: str) -> PythonEdit:
    """`from confluent_kafka import Producer` -> `from autopilot.kafka import Producer`; `import autopilot` and
    `autopilot.configure()` as the first statement of main(). The imports go where isort puts them: before the
    confluent_kafka import, in the same section."""
    module = _parse(source, where)
    changed: list[str] = []
    body: list[cst.CSTNode] = []
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine) and _imports_producer(statement):
            rest, producer = _split_producer(statement)
            body.extend([cst.parse_statement("import autopilot\n").with_changes(leading_lines=statement.leading_lines),
                         producer])
            if rest is not None:
                body.append(rest)
            changed.append("Producer now comes from autopilot.kafka (confluent-kafka's, plus identity headers)")
            continue
        if m.matches(statement, m.FunctionDef(name=m.Name("main"))):
            assert isinstance(statement, cst.FunctionDef)
            statement = _prepend(statement, cst.parse_statement(CONFIGURE + "\n"))
            changed.append("main() calls autopilot.configure() first")
        body.append(statement)
    if not any("configure" in c for c in changed):
        raise RolloutError(f"{where}: no top-level main() to call autopilot.configure() from; wire it by hand")
    if len(changed) == 1:  # no confluent_kafka Producer here: the SDK still needs its import
        body = _with_import(body, cst.parse_statement("import autopilot\n"))
    return PythonEdit(module.with_changes(body=body).code, tuple(changed))


def unwire_service(source: str, where: str) -> PythonEdit:
    module = _parse(source, where)
    changed: list[str] = []
    body: list[cst.CSTNode] = []
    carried: Sequence[cst.EmptyLine] | None = None  # the blank lines above a removed import go to the next statement
    for statement in module.body:
        imports_autopilot = m.SimpleStatementLine(body=[m.Import(names=[m.ImportAlias(name=m.Name("autopilot"))])])
        if m.matches(statement, imports_autopilot):
            assert isinstance(statement, cst.SimpleStatementLine)
            carried = statement.leading_lines
            changed.append("import autopilot removed")
            continue
        if m.matches(statement, m.SimpleStatementLine(body=[m.ImportFrom(module=m.Attribute(
                value=m.Name("autopilot"), attr=m.Name("kafka")))])):
            statement = cst.parse_statement("from confluent_kafka import Producer\n")
            changed.append("Producer comes from confluent_kafka again")
        if carried is not None and isinstance(statement, cst.SimpleStatementLine | cst.FunctionDef | cst.ClassDef):
            statement, carried = statement.with_changes(leading_lines=carried), None
        if isinstance(statement, cst.FunctionDef) and statement.name.value == "main":
            kept = [s for s in statement.body.body if cst.Module([]).code_for_node(s).strip() != CONFIGURE]
            if len(kept) != len(statement.body.body):
                statement = statement.with_changes(body=statement.body.with_changes(body=kept))
                changed.append("autopilot.configure() removed from main()")
        body.append(statement)
    return PythonEdit(module.with_changes(body=body).code, tuple(changed))


def wire_job(source: str, where: str, job: str) -> PythonEdit:
    """@job_run("<job>") on main(): JobRunStarted, then JobRunCompleted or JobRunFailed (the job's exception
    propagates unchanged). The import goes before the first pyspark import (isort's place for it)."""
    module = _parse(source, where)
    decorated = imported = False
    body: list[cst.CSTNode] = []
    for statement in module.body:
        if not imported and isinstance(statement, cst.SimpleStatementLine) and _imports_pyspark(statement):
            body.append(cst.parse_statement("from autopilot.spark import job_run\n").with_changes(
                leading_lines=statement.leading_lines))
            statement, imported = statement.with_changes(leading_lines=[]), True
        if isinstance(statement, cst.FunctionDef) and statement.name.value == "main":
            decorator = cst.Decorator(cst.parse_expression(f"job_run({job!r})".replace("'", '"')))
            statement = statement.with_changes(decorators=[*statement.decorators, decorator])
            decorated = True
        body.append(statement)
    if not decorated:
        raise RolloutError(f"{where}: no top-level main() to decorate with @job_run; wire it by hand")
    if not imported:
        body = _with_import(body, cst.parse_statement("from autopilot.spark import job_run\n"))
    return PythonEdit(module.with_changes(body=body).code,
                      ("main() runs under @job_run: job-run evidence for every run",))


def unwire_job(source: str, where: str) -> PythonEdit:
    module = _parse(source, where)
    body: list[cst.CSTNode] = []
    changed: list[str] = []
    carried: Sequence[cst.EmptyLine] | None = None
    for statement in module.body:
        if m.matches(statement, m.SimpleStatementLine(body=[m.ImportFrom(module=m.Attribute(
                value=m.Name("autopilot"), attr=m.Name("spark")))])):
            assert isinstance(statement, cst.SimpleStatementLine)
            carried = statement.leading_lines
            changed.append("the job_run import removed")
            continue
        if carried is not None and isinstance(statement, cst.SimpleStatementLine):
            statement, carried = statement.with_changes(leading_lines=carried), None
        if isinstance(statement, cst.FunctionDef):
            kept = [d for d in statement.decorators
                    if not m.matches(d, m.Decorator(decorator=m.Call(func=m.Name("job_run"))))]
            if len(kept) != len(statement.decorators):
                statement = statement.with_changes(decorators=kept)
                changed.append(f"@job_run removed from {statement.name.value}()")
        body.append(statement)
    return PythonEdit(module.with_changes(body=body).code, tuple(changed))


def _parse(source: str, where: str = "<source>") -> cst.Module:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        raise RolloutError(f"{where} does not parse as Python ({exc.message}); fix it first") from exc


_PRODUCER_IMPORT = m.SimpleStatementLine(body=[m.ImportFrom(module=m.Name("confluent_kafka"))])


def _imports_pyspark(statement: cst.SimpleStatementLine) -> bool:
    code = cst.Module([]).code_for_node(statement).strip()
    return bool(re.match(r"(from|import)\s+pyspark\b", code))


def _imports_producer(statement: cst.SimpleStatementLine) -> bool:
    if not m.matches(statement, _PRODUCER_IMPORT):
        return False
    names = statement.body[0].names  # type: ignore[attr-defined]
    return not isinstance(names, cst.ImportStar) and any(
        isinstance(a.name, cst.Name) and a.name.value == "Producer" and a.asname is None for a in names)


def _split_producer(statement: cst.SimpleStatementLine) -> tuple[cst.SimpleStatementLine | None,
                                                                 cst.SimpleStatementLine]:
    """`from confluent_kafka import KafkaException, Producer` -> (`from confluent_kafka import KafkaException`,
    `from autopilot.kafka import Producer`)."""
    node = statement.body[0]
    assert isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar)
    others = [a for a in node.names if not (isinstance(a.name, cst.Name) and a.name.value == "Producer")]
    producer = statement.with_changes(body=[cst.ImportFrom(
        module=cst.Attribute(cst.Name("autopilot"), cst.Name("kafka")),
        names=[cst.ImportAlias(cst.Name("Producer"))])], leading_lines=[])
    if not others:
        return None, producer
    others[-1] = others[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return statement.with_changes(body=[node.with_changes(names=others)], leading_lines=[]), producer


def _prepend(function: cst.FunctionDef, statement: cst.BaseStatement) -> cst.FunctionDef:
    """Insert `statement` as the first statement of `function`, after its docstring."""
    block = function.body
    if not isinstance(block, cst.IndentedBlock):
        raise RolloutError(f"{function.name.value}() is written on one line; wire autopilot by hand")
    statements = list(block.body)
    at = 1 if statements and m.matches(statements[0], m.SimpleStatementLine(
        body=[m.Expr(value=m.SimpleString() | m.ConcatenatedString())])) else 0
    statements.insert(at, statement)
    return function.with_changes(body=block.with_changes(body=statements))


def _with_import(body: list[cst.CSTNode], statement: cst.BaseStatement) -> list[cst.CSTNode]:
    """Add an import after the module's last top-level import (after the docstring and __future__ if none)."""
    last = -1
    for i, node in enumerate(body):
        if m.matches(node, m.SimpleStatementLine(body=[m.Import() | m.ImportFrom()])):
            last = i
        elif last >= 0:
            break
    if last < 0:
        last = 0 if body and m.matches(body[0], m.SimpleStatementLine(body=[m.Expr(value=m.SimpleString())])) else -1
    return [*body[:last + 1], statement, *body[last + 1:]]
