"""Any LangChain chat model as a composer: the prompt file is rendered, the model answers in the draft schema
through `with_structured_output`, and any failure becomes ModelError. The only module importing langchain.

    composer = openai_compatible("http://localhost:8000/v1", "qwen2.5-7b-instruct", "none")  # vLLM, Ollama, ...
    draft = composer.compose(question)
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from copilot._composer import ModelError, Question
from copilot._prompts import Prompt, load_prompt
from evidence import ConfigError
from guardrails import Claim, ClaimKind, Draft

StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]
ParamValue = str | int | float | bool | list[str] | None


class ParamSchema(BaseModel):
    """One structured value a sentence states. A list of pairs, not a free-form object, because strict JSON
    schema (OpenAI structured outputs) admits no open-ended objects."""

    name: str
    value: ParamValue


class ClaimSchema(BaseModel):
    """One fact: its kind, the evidence ids that prove it, and the values it states. The product writes the
    sentence on-call reads from the verified values; `text` is the model's own note and is never shown."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(description="A short note on why you chose this claim; never shown to anyone.")
    kind: ClaimKind = Field(description="What the claim states; one of the listed kinds.")
    evidence_ids: list[str] = Field(description="Ids of the given evidence that prove the claim.")
    params: list[ParamSchema] = Field(description="The values the claim states, as name/value pairs.")

    @model_validator(mode="before")
    @classmethod
    def _params_as_object(cls, data: Any) -> Any:
        # models served without strict schemas sometimes answer params as an object; the meaning is the same
        if isinstance(data, dict) and isinstance(data.get("params"), dict):
            data = {**data, "params": [{"name": k, "value": v} for k, v in data["params"].items()]}
        if isinstance(data, dict) and data.get("params") is None:
            data = {**data, "params": []}
        return data


class DraftSchema(BaseModel):
    """The claims proposed for the request; an empty list when the evidence supports none. No confidence:
    the verifier computes it from evidence."""

    model_config = ConfigDict(extra="ignore")

    claims: list[ClaimSchema]

    def to_draft(self) -> Draft:
        return Draft(claims=[Claim(text=c.text[:2000], kind=c.kind, evidence_ids=list(c.evidence_ids),
                                   params={p.name: p.value for p in c.params}) for c in self.claims])


def _model_name(chat_model: BaseChatModel) -> str:
    for attribute in ("model_name", "model", "model_id"):
        value = getattr(chat_model, attribute, None)
        if isinstance(value, str) and value:
            return value
    return type(chat_model).__name__


def _endpoint(chat_model: BaseChatModel) -> str | None:
    for attribute in ("openai_api_base", "base_url"):
        value = getattr(chat_model, attribute, None)
        if isinstance(value, str) and value:
            return value
    return None


_SCHEMA = ("answer outside the draft schema", "the answer does not fit the draft schema; check that RCA_LLM_MODEL "
           "supports structured output (JSON schema or tool calling)")


def _what_to_check(exc: BaseException, endpoint: str | None) -> tuple[str, str, bool]:
    """(a few words on what failed, a sentence saying which setting to look at, whether the model is down)."""
    where = endpoint or "the model's endpoint"
    name = type(exc).__name__
    # langchain attaches the HTTP response even to parse failures, so a status counts only when it is an error
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    if "Refusal" in name:
        return "refused", "the model refused to answer", False
    if "Length" in name:
        return "cut off", "the answer was cut off at the model's token limit; raise the model's max_tokens", False
    if isinstance(exc, ValidationError | json.JSONDecodeError) or "Parser" in name:
        return (*_SCHEMA, False)
    if status in (401, 403):
        return f"HTTP {status}", f"{where} refused the credentials (HTTP {status}); check RCA_LLM_API_KEY", False
    if status == 404:
        return "HTTP 404", (f"{where} has no such model or route (HTTP 404); check RCA_LLM_MODEL, and that "
                            "RCA_LLM_BASE_URL is the OpenAI-compatible root (usually ending in /v1)"), False
    if status == 429:
        return "HTTP 429", f"{where} is rate limiting (HTTP 429); retry later or check the key's quota", True
    if isinstance(status, int) and status >= 400:
        return f"HTTP {status}", (f"{where} answered HTTP {status}; check the server's logs, RCA_LLM_BASE_URL and "
                                  "RCA_LLM_MODEL"), status >= 500
    if "Timeout" in name:
        return "timed out", f"{where} did not answer in time ({name}); check the server and RCA_LLM_TIMEOUT", True
    if "Connect" in name:
        return "unreachable", f"could not reach {where} ({name}); check RCA_LLM_BASE_URL and that it is up", True
    if isinstance(exc, ValueError):
        return (*_SCHEMA, False)
    return name, f"{name}: {exc}; check RCA_LLM_BASE_URL, RCA_LLM_MODEL and RCA_LLM_API_KEY", True


class LangChainComposer:
    """Claims from any LangChain chat model that supports `with_structured_output`."""

    def __init__(self, chat_model: BaseChatModel, prompt: str | Prompt = "rca_v3", *,
                 method: StructuredMethod = "json_schema") -> None:
        self.chat_model = chat_model
        self.prompt = prompt if isinstance(prompt, Prompt) else load_prompt(prompt)
        self.name = _model_name(chat_model)
        self._chat: LangChainComposer | None = None
        try:
            self._structured = chat_model.with_structured_output(DraftSchema, method=method)
        except NotImplementedError as exc:
            raise ConfigError(f"{type(chat_model).__name__} cannot produce structured output (it has no "
                              "with_structured_output / bind_tools); choose a chat model class with tool calling "
                              "or JSON schema support in RCA_LLM_CLASS.") from exc

    def messages(self, question: Question) -> list[BaseMessage]:
        """What the model is sent: the prompt file rendered with the question's blocks."""
        out: list[BaseMessage] = []
        for message in self.prompt.render(question):
            out.append(SystemMessage(message.content) if message.role == "system" else HumanMessage(message.content))
        return out

    def for_chat(self) -> LangChainComposer:
        """The same model with the chat prompt (`chat_v3` when this one is an RCA prompt)."""
        if not self.prompt.id.startswith("rca"):
            return self
        if self._chat is None:
            self._chat = LangChainComposer(self.chat_model, "chat_v3")
        return self._chat

    def compose(self, question: Question) -> Draft:
        try:
            answer = self._structured.invoke(self.messages(question))
            if isinstance(answer, dict):
                answer = DraftSchema.model_validate(answer)
            if not isinstance(answer, DraftSchema):
                raise ValueError(f"expected a draft, got {type(answer).__name__}")
            return answer.to_draft()
        except Exception as exc:  # the boundary: whatever the model or its transport raised
            reason, detail, unavailable = _what_to_check(exc, _endpoint(self.chat_model))
            raise ModelError(self.name, detail, reason=reason, unavailable=unavailable) from exc


def openai_compatible(base_url: str | None, model: str, api_key: str, *, timeout: float = 30, max_retries: int = 0,
                      http_client: Any = None, prompt: str | Prompt = "rca_v3",
                      temperature: float | None = 0) -> LangChainComposer:
    """A composer on any OpenAI-compatible chat completions server: OpenAI, vLLM, Ollama, llama.cpp server."""
    from langchain_openai import ChatOpenAI

    options: dict[str, Any] = {"model": model, "api_key": api_key, "base_url": base_url, "timeout": timeout,
                               "max_retries": max_retries}
    if http_client is not None:
        options["http_client"] = http_client
    if temperature is not None:
        options["temperature"] = temperature
    return LangChainComposer(ChatOpenAI(**options), prompt)


def _chat_model_class(path: str) -> type[BaseChatModel]:
    module_name, _, class_name = path.partition(":")
    if not module_name or not class_name:
        raise ConfigError(f"RCA_LLM_CLASS must be 'module:Class' (e.g. langchain_ollama:ChatOllama), got {path!r}.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"RCA_LLM_CLASS={path!r}: cannot import module {module_name!r} ({exc}); install the "
                          "package that provides it.") from exc
    found = getattr(module, class_name, None)
    if not isinstance(found, type) or not issubclass(found, BaseChatModel):
        raise ConfigError(f"RCA_LLM_CLASS={path!r}: {module_name} has no LangChain chat model class "
                          f"{class_name!r} (a BaseChatModel subclass).")
    return found


def composer_from_settings(env: Mapping[str, str]) -> LangChainComposer | None:
    """The LLM composer the settings describe, or None for the offline default.

    RCA_LLM_CLASS ("module:Class") with RCA_LLM_KWARGS (a JSON object) builds any LangChain chat model;
    otherwise RCA_LLM_MODEL with RCA_LLM_BASE_URL and RCA_LLM_API_KEY builds an OpenAI-compatible one.
    RCA_LLM_PROMPT picks the prompt (default rca_v3; RCA_PROMPTS_DIR overrides the prompts/ directory) and
    RCA_LLM_TIMEOUT the timeout in seconds (default 30).
    """
    model = env.get("RCA_LLM_MODEL") or None
    class_path = env.get("RCA_LLM_CLASS") or None
    prompts_dir = env.get("RCA_PROMPTS_DIR")
    prompt = load_prompt(env.get("RCA_LLM_PROMPT") or "rca_v3", Path(prompts_dir) if prompts_dir else None)
    if class_path:
        cls = _chat_model_class(class_path)
        raw = env.get("RCA_LLM_KWARGS") or "{}"
        try:
            kwargs = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"RCA_LLM_KWARGS must be a JSON object, got {raw!r} ({exc}).") from exc
        if not isinstance(kwargs, dict):
            raise ConfigError(f"RCA_LLM_KWARGS must be a JSON object, got {raw!r}.")
        if model and "model" not in kwargs:
            kwargs["model"] = model
        try:
            chat_model = cls(**kwargs)
        except Exception as exc:  # a pydantic ValidationError or TypeError, whatever the class raises
            raise ConfigError(f"RCA_LLM_CLASS={class_path!r} rejected RCA_LLM_KWARGS {raw!r}: {exc}") from exc
        return LangChainComposer(chat_model, prompt)
    if model is None:
        return None
    base_url = env.get("RCA_LLM_BASE_URL") or None
    api_key = env.get("RCA_LLM_API_KEY") or None
    if api_key is None:
        if base_url is None:
            raise ConfigError("RCA_LLM_MODEL is set without RCA_LLM_BASE_URL, so the OpenAI API is used, and it "
                              "needs RCA_LLM_API_KEY.")
        api_key = "none"  # local OpenAI-compatible servers (vLLM, Ollama, llama.cpp) accept any key
    raw_timeout = env.get("RCA_LLM_TIMEOUT") or "30"
    try:
        timeout = float(raw_timeout)
    except ValueError as exc:
        raise ConfigError(f"RCA_LLM_TIMEOUT must be a number of seconds, got {raw_timeout!r}.") from exc
    return openai_compatible(base_url, model, api_key, timeout=timeout, prompt=prompt)
