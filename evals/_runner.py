"""The scenario replay harness: per scenario file a replay in memory, the detectors at its `now`, an RCA for
every open incident, then every `expect` key checked, and every surfaced sentence checked to be the product's own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot import (
    RCA_QUESTION,
    Composer,
    Question,
    TemplateComposer,
    build_rca,
    default_composer,
    evidence_items,
    replay_source,
)
from detectors import Replay, ScenarioError, load_scenario, replay
from evals._adversarial import ChaosClaim, ChaosComposer
from evals._checks import Observed, by_source_ref, check, cited_ids, rca_for, surfaced_sentences
from evals._metrics import GroundingSample, Tally, family, summarize, tally
from evals._oracle import OracleResult, oracle_files, run_oracle
from evidence import ConfigError, EvidenceReader
from guardrails import Draft

COMPOSER_MODES = ("default", "llm", "adversarial")
SCENARIO_SUFFIXES = (".yaml", ".yml")


@dataclass
class ScenarioResult:
    name: str
    file: str
    family: str
    failures: list[str]
    tally: Tally = field(default_factory=Tally)
    observed: Observed | None = None  # what the replay produced (None when it did not run)
    chaos: list[ChaosClaim] = field(default_factory=list)  # adversarial runs: what the chaos model proposed

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "file": self.file, "family": self.family, "passed": self.passed,
                "failures": list(self.failures)}


@dataclass
class EvalResult:
    composer: str
    scenarios: list[ScenarioResult]
    metrics: dict[str, Any]
    oracle: OracleResult | None = None  # with --oracle: the labelled answers, judged by their labels

    @property
    def passed(self) -> int:
        return sum(1 for s in self.scenarios if s.passed)

    @property
    def failed(self) -> int:
        return len(self.scenarios) - self.passed

    @property
    def ok(self) -> bool:
        return self.failed == 0 and (self.oracle is None or self.oracle.passed)

    def as_json(self) -> dict[str, Any]:
        document = {"passed": self.passed, "failed": self.failed, "composer": self.composer,
                    "scenarios": [s.as_json() for s in self.scenarios], "metrics": self.metrics}
        if self.oracle is not None:
            document["oracle"] = self.oracle.as_json()
        return document


def scenario_files(paths: Iterable[Path | str]) -> list[Path]:
    """Every scenario file under `paths` (files as given, folders searched recursively), in a stable order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in SCENARIO_SUFFIXES and p.is_file()
                            and not p.name.startswith(("_", ".")))
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(f"{path}: no such scenario file or folder.")
    if not found:
        raise ConfigError(f"No scenario files (*.yaml) under {', '.join(str(p) for p in paths)}.")
    return list(dict.fromkeys(found))


def make_composer(mode: str, env: Mapping[str, str] | None = None) -> Composer:
    """The composer of a `--composer` mode: the offline one, the configured LLM (`env`: the RCA_LLM_* settings, as
    rca's Settings.model_environment() gives them), or the chaos model around the offline one."""
    env = env or {}
    if mode == "default":
        return TemplateComposer()
    if mode == "adversarial":
        return ChaosComposer(TemplateComposer())
    if mode == "llm":
        if not env.get("RCA_LLM_MODEL") and not env.get("RCA_LLM_CLASS"):
            raise ConfigError("--composer llm needs a model: set RCA_LLM_MODEL (with RCA_LLM_BASE_URL and "
                              "RCA_LLM_API_KEY for an OpenAI-compatible server), or RCA_LLM_CLASS and RCA_LLM_KWARGS.")
        composer = default_composer(env)
        if getattr(composer, "chat_model", None) is None:
            raise ConfigError("--composer llm: the RCA_LLM_* settings did not yield an LLM composer; check "
                              "RCA_LLM_MODEL, RCA_LLM_BASE_URL and RCA_LLM_API_KEY.")
        return composer
    raise ConfigError(f"--composer {mode!r}: choose one of {', '.join(COMPOSER_MODES)}.")


def run_eval(paths: Iterable[Path | str], composer_mode: str = "default", *,
             composer: Composer | None = None, oracle: Iterable[Path | str] = (),
             env: Mapping[str, str] | None = None) -> EvalResult:
    """Every scenario under `paths`, each replayed on its own (in memory), checked and scored; with `oracle`,
    the labelled model answers too (evals/oracle/README.md)."""
    files = scenario_files(paths)
    oracle = list(oracle)
    oracle_files(oracle) if oracle else None  # a usage mistake stops the run before anything is replayed
    composer = composer or make_composer(composer_mode, env)
    chat_model = getattr(composer, "chat_model", None) if composer_mode == "llm" else None
    results = [evaluate_scenario(path, composer, chat_model) for path in files]
    metrics = summarize(((r.family, r.tally) for r in results), adversarial=isinstance(composer, ChaosComposer))
    labelled = run_oracle(oracle) if oracle else None
    if labelled is not None:
        metrics["overall"].update(labelled.metrics())
    return EvalResult(composer=composer_mode, scenarios=results, metrics=metrics, oracle=labelled)


def evaluate_scenario(path: Path, composer: Composer, chat_model: Any = None) -> ScenarioResult:
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        return ScenarioResult(name=path.stem, file=str(path), family="unloadable", failures=[f"cannot load: {exc}"],
                              tally=Tally(scenarios=1))
    try:
        return _judge(replay(scenario), composer, chat_model, path)
    except Exception as exc:  # a crash is that scenario's failure; the others still run
        return ScenarioResult(name=scenario.name, file=str(path), family=family(scenario.expect, []),
                              failures=[f"crashed: {type(exc).__name__}: {exc}"],
                              tally=tally(scenario.expect, Observed(incidents=[])))


def _judge(result: Replay, composer: Composer, chat_model: Any, path: Path) -> ScenarioResult:
    from evals._ragas import score_samples  # imports ragas: only once a scenario is actually scored

    expect = result.scenario.expect
    incidents = result.incidents
    typed = {i.id: i for i in result.typed}  # with the windows their detector applied
    source = replay_source(result)
    drift = [{k: d.get(k) for k in ("topic", "schema_id", "reason_code", "change_request_id")}
             for d in result.detection.drift]
    rcas: list[dict[str, Any]] = []
    grounding: list[str] = []
    chaos_claims: list[ChaosClaim] = []
    counts = Tally().counts
    recording = _Recording(composer)
    for incident in incidents:
        proposed = len(composer.proposed) if isinstance(composer, ChaosComposer) else 0
        rca = build_rca(source, typed[incident["id"]], recording)
        rcas.append(rca)
        sentences = surfaced_sentences(rca)
        leaked = [s for s in sentences if any(w in _plain(s) for w in recording.wording())]
        counts["sentences_surfaced"] += len(sentences)
        counts["proposer_text_surfaced"] += len(leaked)
        grounding += [f"rca {incident['dataset_urn']}: a surfaced sentence carries the composer's own wording: "
                      f"{s!r}" for s in leaked]
        if isinstance(composer, ChaosComposer):
            for chaos in composer.proposed[proposed:]:
                chaos_claims.append(chaos)
                counts["chaos_proposed"] += 1
                why = chaos_surfaced(chaos, rca)
                if why is not None:
                    counts["chaos_surfaced"] += 1
                    grounding.append(f"rca {incident['dataset_urn']}: a chaos claim ({chaos.tactic}) surfaced: {why}")
    observed = Observed(incidents=incidents, drift=drift, rcas=rcas)
    failures = check(expect, observed) + grounding
    scored = tally(expect, observed)
    scored.counts.update(counts)
    scored.passed = int(not failures)
    samples = grounding_samples(result.reader, expect, observed, with_unreferenced=chat_model is not None)
    for scores in score_samples(samples, chat_model):
        scored.add_scores(scores)
    return ScenarioResult(name=result.scenario.name, file=str(path), family=family(expect, incidents),
                          failures=failures, tally=scored, observed=observed, chaos=chaos_claims)


class _Recording:
    """Passes each question on to `inner` and keeps the draft it answered, so surfaced sentences can be compared
    with the wording the composer proposed."""

    def __init__(self, inner: Composer) -> None:
        self.inner = inner
        self.name = inner.name
        self.draft: Draft | None = None

    def compose(self, question: Question) -> Draft:
        self.draft = None
        self.draft = self.inner.compose(question)
        return self.draft

    def wording(self) -> list[str]:
        """The proposed claims' own texts, long enough to be wording rather than a name."""
        texts = [_plain(c.text) for c in self.draft.claims] if self.draft is not None else []
        return [t for t in texts if len(t) >= _WORDING_CHARS]


_WORDING_CHARS = 12


def _plain(text: str) -> str:
    return " ".join(text.lower().split())


def chaos_surfaced(chaos: ChaosClaim, rca: dict[str, Any]) -> str | None:
    """How a chaos claim reached what on-call reads, if it did: its wording in a surfaced sentence, or an id it
    planted cited by a surfaced claim or the most likely cause. Judged on the output, not by the verifier."""
    wording = _plain(chaos.claim.text)
    if len(wording) >= _WORDING_CHARS and any(wording in _plain(s) for s in surfaced_sentences(rca)):
        return f"its wording {chaos.claim.text!r} is shown"
    planted = set(chaos.planted_ids) & set(cited_ids(rca))
    return f"{', '.join(sorted(planted))} is cited" if planted else None


def grounding_samples(reader: EvidenceReader, expect: Mapping[str, Any], observed: Observed, *,
                      with_unreferenced: bool = False) -> list[GroundingSample]:
    """One ragas sample per RCA an expectation names with must_cite refs (every RCA with claims, for LLM metrics).

    Reference ids are the evidence ids of the must_cite refs: looked up in the RCA's evidence list, else in the
    evidence by source ref; a ref found nowhere keeps its own text as an id that nothing cites."""
    references: dict[str, list[str]] = {}
    for want in expect.get("rca") or []:
        rca = rca_for(want["dataset_urn"], observed)
        if rca is not None and want.get("must_cite"):
            references.setdefault(rca["incident_id"], []).extend(want["must_cite"])
    samples = []
    for rca in observed.rcas:
        refs = references.get(rca["incident_id"], [])
        claims = rca.get("claims") or []
        if not refs and not (with_unreferenced and claims):
            continue
        retrieved = cited_ids(rca)
        reference = _ids_of(reader, rca, refs)
        summaries = {item.evidence_id: item.summary
                     for item in evidence_items(reader.get_many([*retrieved, *reference]).values())}
        samples.append(GroundingSample(
            user_input=RCA_QUESTION, response="\n".join(c["text"] for c in claims),
            retrieved_ids=retrieved, reference_ids=reference,
            retrieved_contexts=[summaries.get(i, i) for i in retrieved],
            reference_contexts=[summaries.get(i, i) for i in reference]))
    return samples


def _ids_of(reader: EvidenceReader, rca: Mapping[str, Any], refs: Sequence[str]) -> list[str]:
    listed = {e.get("source_ref"): e.get("evidence_id") for e in rca.get("evidence") or []}
    missing = [r for r in refs if r not in listed]
    stored: dict[str, str] = {}
    for record in sorted(by_source_ref(reader, missing), key=lambda r: r.evidence_id) if missing else []:
        stored.setdefault(record.source_ref, record.evidence_id)
    return list(dict.fromkeys(listed.get(r) or stored.get(r) or r for r in refs))
