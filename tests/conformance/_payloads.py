"""Reading the vendored public payloads (tests/fixtures/conformance/, see its README): JSON files as they are, the
CloudEvents spec's examples out of its Markdown, and the one documented way a test expectation becomes a sendable
event (`filled`)."""

from __future__ import annotations

import copy
import itertools
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import CONFORMANCE

# Matchers in the OpenLineage integrations' expected-event files: `{{ any(result) }}` (dbt), `${json-unit...}`
# (Spark, Flink, Hive). They stand for what the integration really sends there: a UUID, a time.
MATCHER = re.compile(r"^(\{\{.*\}\}|\$\{json-unit\.[^}]*\}.*)$")
FILLED_TIME = "2026-03-10T10:00:00Z"


def load(relative: str) -> Any:
    return json.loads((CONFORMANCE / relative).read_text())


def filled(event: dict[str, Any], tag: str) -> dict[str, Any]:
    """The event with the upstream test's matchers replaced: a missing or matcher eventTime by FILLED_TIME, a missing
    or matcher runId of a RunEvent by a UUID derived from `tag`, a time without an offset read as UTC. Nothing else
    changes."""
    event = copy.deepcopy(event)
    when = event.get("eventTime")
    if when is None or MATCHER.match(str(when)):
        event["eventTime"] = FILLED_TIME
    elif isinstance(when, str) and re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+$", when):
        event["eventTime"] = when + "Z"
    run = event.setdefault("run", {}) if "eventType" in event else event.get("run")  # a RunEvent's, not a JobEvent's
    if isinstance(run, dict) and ("runId" not in run or MATCHER.match(str(run["runId"]))):
        run["runId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, tag))
    return event


@dataclass(frozen=True)
class Example:
    """One example of the CloudEvents JSON format spec: the event in structured mode and, re-encoded by the spec
    itself, in HTTP binary mode (headers and body)."""

    id: str
    structured: str
    headers: dict[str, str]
    body: bytes


def json_format_examples(path: Path = CONFORMANCE / "cloudevents" / "json-format.md") -> list[Example]:
    blocks = re.findall(r"```(JSON)?\n(.*?)```", path.read_text(), flags=re.S)
    out = []
    for (kind, structured), (_, binary) in itertools.pairwise(blocks):
        if kind != "JSON" or not binary.lstrip().startswith("ce-"):
            continue
        head, _, body = binary.strip("\n").partition("\n\n")
        headers = dict(line.split(": ", 1) for line in head.splitlines())
        # The spec reuses ids between examples: the position tells them apart.
        out.append(Example(f"{len(out) + 1}:{json.loads(structured)['id']}", structured, headers, body.encode()))
    return out


@dataclass(frozen=True)
class Request:
    """An HTTP request example of the CloudEvents HTTP binding spec, as printed (placeholders and all)."""

    title: str
    headers: dict[str, str]
    body: bytes


def binding_requests(path: Path = CONFORMANCE / "cloudevents" / "http-protocol-binding.md") -> list[Request]:
    out = []
    for block in re.findall(r"```text\n(.*?)```", path.read_text(), flags=re.S):
        text = block.strip("\n")
        if not re.match(r"^(POST|PUT) ", text):
            continue
        head, _, body = text.partition("\n\n")
        first, *lines = head.splitlines()
        headers = {}
        for line in lines:  # "    .... further attributes ..." is the spec's ellipsis, not a header
            name, sep, value = line.partition(": ")
            if sep and not line.startswith(" ") and name.lower() not in ("host", "content-length"):
                headers[name] = value
        out.append(Request(first, headers, body.encode()))
    return out
