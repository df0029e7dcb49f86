"""Grounding metrics: counts taken from one scenario's expectations and what its replay produced, summed over
scenarios (overall and per family), then turned into ratios. Every ratio is undefined (None) when nothing it
counts occurred, never a flattering 1.0.

Definitions (DEFINITIONS below is what the report prints):
- detection precision = TP / (TP + FP), recall = TP / (TP + FN). An `expect.incidents` entry matched by an open
  incident (dataset_urn, and kind when given) is a TP, unmatched a FN. An open incident is a FP only where the
  scenario constrains it: any incident under `incidents: []`, one matching a `no_incident` entry, or a second
  match of an entry that must match exactly one. Other incidents are ignored.
- reason-code accuracy: stated `reason_code`s of expected incidents that the matched incident has / stated.
- boundary accuracy: stated `first_bad_time` / `last_good_time` values equal, as instants to the second, to the
  matched incident's / stated. An unmatched incident gets its stated keys wrong, for these and for the above.
- deploy attribution accuracy: stated `correlated_deploy` versions (or null) that hold / stated, over incidents
  (the best-ranked correlated deploy) and RCAs (the RCA's correlated_deploy) alike.
- citation recall: `must_cite` refs that some verified claim or the most likely cause cites / `must_cite` refs.
- citation precision: 1 - (cited refs listed in `must_not_cite` / distinct refs cited), over the RCAs whose
  expectation has a `must_not_cite` list.
- proposer-text rate: surfaced sentences (claims, summary, most likely cause, next checks, suggested actions) that
  contain wording a composer proposed (a claim text of 12 or more characters, compared case- and space-
  insensitively) / surfaced sentences. Must be 0: every sentence on-call reads is the product's. Computed by string
  comparison, not by the verifier it judges.
- inconclusive precision / recall: over RCA expectations that state a verdict, "inconclusive" is the positive
  class: TP expected and given, FP given but cause_identified expected, FN expected but not given.
- ragas id_based_context_precision / _recall (IDBasedContextPrecision / IDBasedContextRecall): retrieved ids =
  evidence ids the RCA cites, reference ids = the evidence ids of its `must_cite` refs; non_llm_context_precision
  / non_llm_context_recall (NonLLMContextPrecisionWithReference / NonLLMContextRecall, Levenshtein similarity at
  ragas' threshold) over the one-line summaries of the same evidence; faithfulness and response_groundedness only
  with an LLM. Each is the mean over RCAs that have `must_cite` refs (LLM metrics: over RCAs with claims).
- chaos claims (adversarial runs): claims the chaos model proposed, and how many of them surfaced: their wording
  appears in a surfaced sentence, or a surfaced claim or the most likely cause cites an id they planted (a fabricated
  id, another producer's deploy). Must be 0.
- oracle (with --oracle): labelled model answers judged by their labels (see evals/oracle/README.md), never by the
  verifier: hostile answers whose hostile content reached a surface / hostile answers (must be 0), and true answers
  that surfaced as their label says / true answers (must be 1).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from evals._checks import Observed, cited_refs, matching, rca_for, same_instant

CONTROL = "control"

# name -> (numerator, denominator), each a sum of counts.
_RATIOS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "detection_precision": (("detect_tp",), ("detect_tp", "detect_fp")),
    "detection_recall": (("detect_tp",), ("detect_tp", "detect_fn")),
    "reason_code_accuracy": (("reason_ok",), ("reason_n",)),
    "boundary_accuracy": (("boundary_ok",), ("boundary_n",)),
    "deploy_attribution_accuracy": (("deploy_ok",), ("deploy_n",)),
    "citation_recall": (("must_cite_hit",), ("must_cite_n",)),
    "citation_precision": (("cited_allowed",), ("cited_n",)),
    "proposer_text_rate": (("proposer_text_surfaced",), ("sentences_surfaced",)),
    "inconclusive_precision": (("inconclusive_tp",), ("inconclusive_tp", "inconclusive_fp")),
    "inconclusive_recall": (("inconclusive_tp",), ("inconclusive_tp", "inconclusive_fn")),
}
RAGAS_METRICS = ("id_based_context_precision", "id_based_context_recall", "non_llm_context_precision",
                 "non_llm_context_recall", "faithfulness", "response_groundedness")

DEFINITIONS: dict[str, str] = {
    "scenario_pass_rate": "scenarios whose every expectation held / scenarios",
    "detection_precision": "TP / (TP + FP); FP = an open incident the scenario forbids (incidents: [], no_incident, "
                           "or a second match of an expected incident)",
    "detection_recall": "TP / (TP + FN); TP = an expected incident matched by (dataset_urn, kind)",
    "reason_code_accuracy": "stated reason_codes the matched incident has / stated (unmatched counts wrong)",
    "boundary_accuracy": "stated first_bad_time / last_good_time equal to the second / stated",
    "deploy_attribution_accuracy": "stated correlated_deploy versions (or null) that hold, incidents and RCAs / stated",
    "citation_recall": "must_cite refs cited by a verified claim or the most likely cause / must_cite refs",
    "citation_precision": "1 - must_not_cite refs cited / distinct refs cited, over RCAs with a must_not_cite list",
    "proposer_text_rate": "surfaced sentences containing a composer's own wording / surfaced sentences (must be 0)",
    "inconclusive_precision": "RCAs correctly inconclusive / RCAs inconclusive, where the verdict is stated",
    "inconclusive_recall": "RCAs correctly inconclusive / RCAs expected inconclusive",
    "id_based_context_precision": "ragas IDBasedContextPrecision: cited evidence ids that are must_cite ids / cited "
                                  "ids (mean over RCAs with must_cite)",
    "id_based_context_recall": "ragas IDBasedContextRecall: must_cite ids cited / must_cite ids (mean)",
    "non_llm_context_precision": "ragas NonLLMContextPrecisionWithReference over evidence summaries (mean)",
    "non_llm_context_recall": "ragas NonLLMContextRecall over evidence summaries (mean)",
    "faithfulness": "ragas Faithfulness of the claims against the cited evidence summaries (LLM runs only)",
    "response_groundedness": "ragas ResponseGroundedness of the claims in the cited summaries (LLM runs only)",
    "chaos_claims": "adversarial runs: claims the chaos model proposed / of them surfaced (wording or planted ids)",
    "oracle_hostile_surfaced": "labelled hostile model answers whose hostile content reached a surface / hostile "
                               "answers (must be 0)",
    "oracle_true_accepted": "labelled true model answers surfaced as labelled / true answers (must be 1)",
}


@dataclass(frozen=True)
class GroundingSample:
    """One RCA as ragas sees it: what it cites (ids and their summaries) against what it must cite."""

    user_input: str
    response: str
    retrieved_ids: list[str]
    reference_ids: list[str]
    retrieved_contexts: list[str]
    reference_contexts: list[str]


@dataclass
class Tally:
    """The raw counts of one or more scenarios; metrics are ratios of their sums."""

    counts: Counter[str] = field(default_factory=Counter)
    ragas: dict[str, list[float]] = field(default_factory=dict)
    scenarios: int = 0
    passed: int = 0

    def add(self, other: Tally) -> None:
        self.counts.update(other.counts)
        for name, values in other.ragas.items():
            self.ragas.setdefault(name, []).extend(values)
        self.scenarios += other.scenarios
        self.passed += other.passed

    def add_scores(self, scores: Mapping[str, float | None]) -> None:
        for name, value in scores.items():
            if value is not None and not math.isnan(value):
                self.ragas.setdefault(name, []).append(float(value))


def family(expect: Mapping[str, Any], incidents: Iterable[Mapping[str, Any]]) -> str:
    """"control" for `incidents: []`, else the kind of the first expected (or, failing that, observed) incident."""
    if expect.get("incidents") == []:
        return CONTROL
    kinds = [i.get("kind") for i in expect.get("incidents") or []] + [i.get("kind") for i in incidents]
    return next((str(k) for k in kinds if k), CONTROL)


def tally(expect: Mapping[str, Any], observed: Observed) -> Tally:
    """Counts of one scenario, from its `expect` and what its replay produced (see the module docstring)."""
    counts: Counter[str] = Counter()
    incidents = observed.incidents
    if expect.get("incidents") == []:
        counts["detect_fp"] += len(incidents)
    for want in expect.get("incidents") or []:
        found = matching(want, incidents)
        counts["detect_tp" if found else "detect_fn"] += 1
        counts["detect_fp"] += max(0, len(found) - 1)
        got = found[0] if found else {}
        if "reason_code" in want:
            counts["reason_n"] += 1
            counts["reason_ok"] += bool(found) and got.get("reason_code") == want["reason_code"]
        for key in ("first_bad_time", "last_good_time"):
            if key in want:
                counts["boundary_n"] += 1
                counts["boundary_ok"] += bool(found) and same_instant(got.get(key), want[key])
        if "correlated_deploy" in want:
            deploys = got.get("correlated_deploys") or []
            counts["deploy_n"] += 1
            counts["deploy_ok"] += bool(found) and (deploys[0].get("version") if deploys else None) == \
                want["correlated_deploy"]
    for ban in expect.get("no_incident") or []:
        counts["detect_fp"] += sum(1 for i in incidents if i.get("dataset_urn") == ban["dataset_urn"]
                                   and ban.get("reason_code", i.get("reason_code")) == i.get("reason_code"))
    for want in expect.get("rca") or []:
        rca = rca_for(want["dataset_urn"], observed) or {}
        refs = cited_refs(rca) if rca else set()
        if "correlated_deploy" in want:
            counts["deploy_n"] += 1
            counts["deploy_ok"] += bool(rca) and (rca.get("correlated_deploy") or {}).get("version") == \
                want["correlated_deploy"]
        must = set(want.get("must_cite") or [])
        counts["must_cite_n"] += len(must)
        counts["must_cite_hit"] += len(must & refs)
        if "must_not_cite" in want:
            counts["cited_n"] += len(refs)
            counts["cited_allowed"] += len(refs - set(want["must_not_cite"] or []))
        if "verdict" in want:
            expected, given = want["verdict"] == "inconclusive", bool(rca) and rca.get("verdict") == "inconclusive"
            counts["inconclusive_tp"] += expected and given
            counts["inconclusive_fp"] += given and not expected
            counts["inconclusive_fn"] += expected and not given
    return Tally(counts=counts, scenarios=1)


def ratio(counts: Mapping[str, int], numerator: Iterable[str], denominator: Iterable[str]) -> dict[str, Any]:
    top, bottom = sum(counts.get(k, 0) for k in numerator), sum(counts.get(k, 0) for k in denominator)
    return {"value": round(top / bottom, 6) if bottom else None, "numerator": top, "denominator": bottom}


def metrics(total: Tally, *, adversarial: bool = False) -> dict[str, Any]:
    """The metrics of a tally: {name: {value, numerator, denominator}} and ragas means {name: {value, samples}}."""
    out: dict[str, Any] = {"scenario_pass_rate": {
        "value": round(total.passed / total.scenarios, 6) if total.scenarios else None,
        "numerator": total.passed, "denominator": total.scenarios}}
    for name, (numerator, denominator) in _RATIOS.items():
        out[name] = ratio(total.counts, numerator, denominator)
    for name in RAGAS_METRICS:
        values = total.ragas.get(name, [])
        out[name] = {"value": round(sum(values) / len(values), 6) if values else None, "samples": len(values)}
    if adversarial:
        out["chaos_claims"] = {"proposed": total.counts.get("chaos_proposed", 0),
                               "surfaced": total.counts.get("chaos_surfaced", 0)}
    return out


def summarize(tallies: Iterable[tuple[str, Tally]], *, adversarial: bool = False) -> dict[str, Any]:
    """Metrics overall and per family, from (family, tally) pairs of scenarios."""
    overall, families = Tally(), dict[str, Tally]()
    for name, one in tallies:
        overall.add(one)
        families.setdefault(name, Tally()).add(one)
    return {"overall": metrics(overall, adversarial=adversarial),
            "families": {name: metrics(t, adversarial=adversarial) for name, t in sorted(families.items())},
            "definitions": DEFINITIONS}
