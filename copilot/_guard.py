"""A model is an outside system that can hang or fail; on-call must not wait on it. `GuardedComposer` puts a
circuit breaker in front of a model composer (after it is found down, calls skip it for a cool-down, then one call
tries again) and, for chat, a short deadline of its own: a hung model costs one timeout, not every turn.

    composer = GuardedComposer(openai_compatible(url, "qwen2.5-7b", "none"), ModelGuard(cooldown_s=60),
                               chat_timeout_s=10)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from copilot._composer import Composer, ModelError, Question
from evidence import ConfigError
from guardrails import Draft


class ModelGuard:
    """The breaker's state, shared by the RCA and chat flavours of one model. Thread-safe; the clock is a seam."""

    def __init__(self, cooldown_s: float = 60.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.cooldown_s = cooldown_s
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._reason = ""

    def blocked(self) -> str | None:
        """Why calls skip the model now, or None when a call may go through."""
        with self._lock:
            return self._reason if self.monotonic() < self._open_until else None

    def failed(self, error: ModelError) -> None:
        """A model that gave no answer at all (timeout, no connection, HTTP 5xx or 429) is skipped for a while;
        one that answered badly is asked again next time."""
        if error.unavailable:
            with self._lock:
                self._open_until = self.monotonic() + self.cooldown_s
                self._reason = error.reason

    def succeeded(self) -> None:
        with self._lock:
            self._open_until, self._reason = 0.0, ""


class GuardedComposer:
    """`inner` behind `guard`; with `timeout_s`, a call that has not answered by then fails as "timed out" (the
    model's own HTTP timeout still ends the abandoned call in the background)."""

    def __init__(self, inner: Composer, guard: ModelGuard, *, timeout_s: float | None = None,
                 chat_timeout_s: float | None = None) -> None:
        self.inner, self.guard = inner, guard
        self.name = inner.name
        self.timeout_s, self.chat_timeout_s = timeout_s, chat_timeout_s
        self._chat: GuardedComposer | None = None

    @property
    def chat_model(self) -> Any:
        return getattr(self.inner, "chat_model", None)

    def for_chat(self) -> GuardedComposer:
        """The chat flavour of the model, behind the same breaker, with the chat deadline."""
        if self._chat is None:
            flavour = getattr(self.inner, "for_chat", None)
            self._chat = GuardedComposer(flavour() if callable(flavour) else self.inner, self.guard,
                                         timeout_s=self.chat_timeout_s)
        return self._chat

    def compose(self, question: Question) -> Draft:
        blocked = self.guard.blocked()
        if blocked is not None:
            raise ModelError(self.name, f"skipped: the model failed recently ({blocked}) and is retried after "
                             f"{self.guard.cooldown_s:g} s", reason=f"{blocked} earlier, skipped", unavailable=True)
        try:
            draft = self._call(question)
        except ModelError as exc:
            self.guard.failed(exc)
            raise
        self.guard.succeeded()
        return draft

    def _call(self, question: Question) -> Draft:
        if self.timeout_s is None:
            return self.inner.compose(question)
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["draft"] = self.inner.compose(question)
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc

        # A daemon thread, not an executor: an abandoned call must never hold the process open at exit.
        worker = threading.Thread(target=run, name="rca-model-call", daemon=True)
        worker.start()
        worker.join(self.timeout_s)
        if worker.is_alive():
            raise ModelError(self.name, f"no answer within {self.timeout_s:g} s; check the server, or raise "
                             "RCA_LLM_CHAT_TIMEOUT", reason="timed out", unavailable=True)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["draft"]


def guard_settings(env: Mapping[str, str]) -> tuple[float, float]:
    """(RCA_LLM_CHAT_TIMEOUT, RCA_LLM_COOLDOWN_S) in seconds: 10 and 60 unless set."""
    values = []
    for name, default in (("RCA_LLM_CHAT_TIMEOUT", "10"), ("RCA_LLM_COOLDOWN_S", "60")):
        raw = env.get(name) or default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise ConfigError(f"{name} must be a positive number of seconds, got {raw!r}.")
        values.append(value)
    return values[0], values[1]
