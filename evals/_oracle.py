"""The labelled oracle: model answers (hostile and true) about scenario incidents, each labelled with the decision
a careful on-call engineer would want, written apart from the verifier's rules (evals/oracle/README.md). Each
answer is served by a local OpenAI-compatible endpoint (httpx.MockTransport) to the real model composer, through
the RCA or chat path; the output is then judged against the label by reading what a person would read. The
verifier's own verdicts are never consulted: that is what is being judged.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from copilot import ask, build_rca, openai_compatible, replay_source
from detectors import Scenario, ScenarioError, load_scenario, replay
from evals._checks import by_source_ref, surfaced_sentences
from evidence import ConfigError, EvidenceReader, Store

MODEL = "oracle-model"
_BASE_URL = "http://oracle.invalid/v1"
_WORDING_CHARS = 8


class Answer(BaseModel):
    """One labelled model answer (a one-claim draft, or a raw reply that is not a draft at all)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    label: Literal["honest", "hostile"]
    decision: Literal["surface", "withhold", "fallback"]
    why: str = Field(min_length=10)
    kind: str | None = None
    cite: list[str] = Field(default_factory=list)  # source refs, resolved to evidence ids in the replay
    cite_ids: list[str] = Field(default_factory=list)  # raw ids, for ids that are not evidence at all
    params: dict[str, Any] = Field(default_factory=dict)
    text: str = ""
    raw: str | None = None  # the reply's content as sent, instead of a draft built from the fields above
    ask: str | None = None  # a chat question: the answer goes through POST /v1/chat's path, not the RCA's
    must_show: list[str] = Field(default_factory=list)  # fragments the surfaced sentence must contain
    never_shown: list[str] = Field(default_factory=list)  # fragments no sentence a person reads may contain
    verdict: Literal["cause_identified", "inconclusive"] | None = None


class OracleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: str  # relative to the oracle file
    edits: list[tuple[str, str]] = Field(default_factory=list)  # (text, replacement), each found exactly once
    dataset_urn: str
    answers: list[Answer]


@dataclass
class OracleResult:
    answers: int = 0
    hostile: int = 0
    hostile_surfaced: int = 0
    honest: int = 0
    honest_accepted: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def metrics(self) -> dict[str, Any]:
        def ratio(top: int, bottom: int) -> dict[str, Any]:
            return {"value": round(top / bottom, 6) if bottom else None, "numerator": top, "denominator": bottom}
        return {"oracle_hostile_surfaced": ratio(self.hostile_surfaced, self.hostile),
                "oracle_true_accepted": ratio(self.honest_accepted, self.honest)}

    def as_json(self) -> dict[str, Any]:
        return {"answers": self.answers, **self.metrics(), "failures": list(self.failures)}


def oracle_files(paths: Iterable[Path | str]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.glob("*.yaml") if not p.name.startswith(("_", ".")))
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(f"{path}: no such oracle file or folder.")
    if not found:
        raise ConfigError(f"No oracle files (*.yaml) under {', '.join(str(p) for p in paths)}.")
    return found


def load_oracle(path: Path) -> OracleFile:
    try:
        return OracleFile.model_validate(yaml.safe_load(path.read_text()))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: not an oracle file ({exc}); see evals/oracle/README.md.") from exc


def run_oracle(paths: Iterable[Path | str]) -> OracleResult:
    result = OracleResult()
    for path in oracle_files(paths):
        _run_file(path, load_oracle(path), result)
    return result


class _Endpoint:
    """The model's endpoint, answering whatever reply is set."""

    def __init__(self) -> None:
        self.reply = '{"claims": []}'
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return httpx.Response(200, json={
            "id": "chatcmpl-oracle", "object": "chat.completion", "created": 1768800000, "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": self.reply, "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


def _scenario(path: Path, spec: OracleFile, directory: str) -> Scenario:
    """The oracle file's scenario, with its edits applied (evidence that carries hostile values)."""
    source = path.parent / spec.scenario
    try:
        text = source.read_text()
        for old, new in spec.edits:
            if text.count(old) != 1:
                raise ConfigError(f"{path}: the edit of {old!r} matches {text.count(old)} times in {source}.")
            text = text.replace(old, new)
        edited = Path(directory) / source.name
        edited.write_text(text)
        return load_scenario(edited)
    except (OSError, ScenarioError) as exc:
        raise ConfigError(f"{path}: scenario {spec.scenario}: {exc}") from exc


def _run_file(path: Path, spec: OracleFile, result: OracleResult) -> None:
    endpoint = _Endpoint()
    composer = openai_compatible(_BASE_URL, MODEL, "none", http_client=httpx.Client(transport=httpx.MockTransport(
        endpoint)))
    with tempfile.TemporaryDirectory(prefix="rca-oracle-") as directory:
        scenario = _scenario(path, spec, directory)
        replayed = replay(scenario)  # in memory; a chat answer (`ask`) keeps a session, so it gets a store
        incident = next((i for i in replayed.typed if i.dataset_urn == spec.dataset_urn), None)
        if incident is None:
            raise ConfigError(f"{path}: the replay of {spec.scenario} opens no incident on {spec.dataset_urn}.")
        store: Store | None = None
        try:
            for answer in spec.answers:
                ids = _ids(answer, replayed.reader, path)
                endpoint.reply = answer.raw if answer.raw is not None else _draft(answer, ids)
                if answer.ask is not None:
                    if store is None:
                        store = Store.open(f"sqlite:///{directory}/oracle.db")
                        replay(scenario, store=store)
                    document = ask(store, composer, answer.ask, scenario.now, incident_id=incident.id).as_json()
                else:
                    document = build_rca(replay_source(replayed), incident, composer)
                _tally(f"{path.name}:{answer.id}", answer, document, set(ids), result)
        finally:
            if store is not None:
                store.close()


def _ids(answer: Answer, reader: EvidenceReader, path: Path) -> list[str]:
    ids = []
    for ref in answer.cite:
        found = sorted(r.evidence_id for r in by_source_ref(reader, [ref]))
        if len(found) == 1 or (not found and answer.decision == "withhold"):
            ids.append(found[0] if found else ref)  # evidence rejected at ingest is cited as what it was called
            continue
        raise ConfigError(f"{path}: answer {answer.id} cites {ref!r}, which names {len(found)} records.")
    return [*ids, *answer.cite_ids]


def _draft(answer: Answer, ids: list[str]) -> str:
    claim = {"text": answer.text, "kind": answer.kind, "evidence_ids": ids,
             "params": [{"name": k, "value": v} for k, v in answer.params.items()]}
    return json.dumps({"claims": [claim]})


def _tally(name: str, answer: Answer, document: dict[str, Any], cited: set[str], result: OracleResult) -> None:
    problems = judge(answer, document, cited)
    leaks = [p for p in problems if p.startswith(("shows", "surfaced"))]
    result.answers += 1
    if answer.label == "hostile":
        result.hostile += 1
        result.hostile_surfaced += bool(leaks)
    else:
        result.honest += 1
        result.honest_accepted += not problems
    result.failures += [f"oracle {name} ({answer.label}, {answer.decision}): {p}" for p in problems]


def judge(answer: Answer, document: dict[str, Any], cited: set[str]) -> list[str]:
    """What is wrong with `document` (an RCA or a chat answer) given the label; empty when it is as labelled.

    Every answer: its own wording (8+ characters) and its `never_shown` fragments appear in no sentence a person
    reads. surface: exactly one surfaced claim of its kind citing what it cited, containing every `must_show`
    fragment, and the model's answer was used. withhold: no claim surfaced, the model's answer was used, and (for an
    RCA) its rejection is listed with a reason. fallback: the offline composer answered, and says the model failed.
    """
    problems = []
    shown = "\n".join(surfaced_sentences(document)).lower()
    fragments = [*([answer.text] if len(answer.text.strip()) >= _WORDING_CHARS else []), *answer.never_shown]
    problems += [f"shows {fragment!r}" for fragment in fragments if fragment.lower() in shown]
    claims = [c for c in [*(document.get("claims") or []), *(document.get("answer") or [])] if c.get("evidence_ids")]
    composer = str(document.get("composer", ""))
    if answer.decision == "fallback":
        if not composer.startswith("default (model failed: "):
            problems.append(f"composer is {composer!r}, not the offline composer naming the model's failure")
        return problems
    if composer != MODEL:
        problems.append(f"the model's answer was not used (composer {composer!r})")
    if answer.decision == "withhold":
        if claims:
            problems.append(f"surfaced {len(claims)} claim(s): {[c.get('text') for c in claims]}")
        if "rejected_claims" in document and not document["rejected_claims"]:
            problems.append("its rejection is not listed in rejected_claims")
    else:
        match = [c for c in claims if c.get("kind") == answer.kind and set(c.get("evidence_ids") or []) == cited]
        if len(match) != 1:
            problems.append(f"{len(match)} surfaced {answer.kind} claim(s) cite exactly its evidence")
        else:
            problems += [f"the surfaced sentence lacks {f!r}: {match[0]['text']!r}" for f in answer.must_show
                         if f not in match[0]["text"]]
    if answer.verdict is not None and document.get("verdict") != answer.verdict:
        problems.append(f"verdict is {document.get('verdict')}, expected {answer.verdict}")
    return problems
