"""The copilot: retrieval around an incident, composition through a pluggable model (or the offline default),
and answers made only of claims the verifier accepted.

    from copilot import build_rca, ask, TemplateComposer
    rca = build_rca(store, incident)                     # the structured RCA (DESIGN.md), offline composer
    answer = ask(store, TemplateComposer(), "why is orders_enriched stale?", now)
    print(rca["verdict"], [c["evidence_ids"] for c in rca["claims"]], answer.as_json()["answer"])
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from copilot._chat import NO_EVIDENCE, ChatAnswer, ChatError, ChatReply, IntentComposer, ask, find_incident
from copilot._composer import Composer, EvidenceItem, ModelError, Question, ScriptedComposer
from copilot._guard import GuardedComposer, ModelGuard, guard_settings
from copilot._rca import RCA_QUESTION, build_rca, rca_from_scope
from copilot._retrieval import RcaSource, evidence_items, incident_scope, rca_clock, rca_source, replay_source
from copilot._semantic import SemanticSearch
from copilot._template import TemplateComposer

if TYPE_CHECKING:
    from copilot._langchain import openai_compatible


def default_composer(env: Mapping[str, str]) -> Composer:
    """The model configured by RCA_LLM_* settings (`env`: rca's Settings.model_environment()) behind its circuit
    breaker (RCA_LLM_CHAT_TIMEOUT, RCA_LLM_COOLDOWN_S), or the offline composer when none is configured."""
    from copilot._langchain import composer_from_settings

    model = composer_from_settings(env)
    if model is None:
        return TemplateComposer()
    chat_timeout, cooldown = guard_settings(env)
    return GuardedComposer(model, ModelGuard(cooldown), chat_timeout_s=chat_timeout)


__all__ = [
    "NO_EVIDENCE",
    "RCA_QUESTION",
    "ChatAnswer",
    "ChatError",
    "ChatReply",
    "Composer",
    "EvidenceItem",
    "GuardedComposer",
    "IntentComposer",
    "ModelError",
    "ModelGuard",
    "Question",
    "RcaSource",
    "ScriptedComposer",
    "SemanticSearch",
    "TemplateComposer",
    "ask",
    "build_rca",
    "default_composer",
    "evidence_items",
    "find_incident",
    "incident_scope",
    "openai_compatible",
    "rca_clock",
    "rca_from_scope",
    "rca_source",
    "replay_source",
]


def __getattr__(name: str) -> Any:
    # Imported on first use: langchain takes a second to import, and only a configured model needs it.
    if name == "openai_compatible":
        from copilot._langchain import openai_compatible

        return openai_compatible
    raise AttributeError(f"module 'copilot' has no attribute {name!r}")
