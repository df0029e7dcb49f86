"""The breaker and the chat deadline in front of a model: a model found down is skipped for a cool-down (on a
clock the test holds), one that answered badly is asked again, and a chat turn waits at most its deadline."""

from __future__ import annotations

import threading

import pytest

from copilot import GuardedComposer, ModelError, ModelGuard, ScriptedComposer
from copilot._composer import Question
from copilot._guard import guard_settings
from evidence import ConfigError
from guardrails import Draft

QUESTION = Question(text="why?", incident=None, evidence=())


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def failing(reason: str, unavailable: bool, calls: list[str]) -> ScriptedComposer:
    def fail(question: Question) -> Draft:
        calls.append(reason)
        raise ModelError("m", "detail", reason=reason, unavailable=unavailable)
    return ScriptedComposer(fail, name="m")


def test_a_model_found_down_is_skipped_until_the_cool_down_ends() -> None:
    clock, calls = Clock(), []
    composer = GuardedComposer(failing("timed out", True, calls), ModelGuard(cooldown_s=60, monotonic=clock))
    with pytest.raises(ModelError, match="detail"):
        composer.compose(QUESTION)
    clock.now += 59
    with pytest.raises(ModelError) as skipped:
        composer.compose(QUESTION)
    assert (skipped.value.reason, skipped.value.unavailable, calls) == ("timed out earlier, skipped", True,
                                                                      ["timed out"])
    clock.now += 2  # the cool-down is over: one call tries again
    with pytest.raises(ModelError):
        composer.compose(QUESTION)
    assert calls == ["timed out", "timed out"]


def test_a_model_that_answered_badly_is_asked_again_and_a_success_closes_the_breaker() -> None:
    calls: list[str] = []
    guard = ModelGuard(cooldown_s=60, monotonic=Clock())
    bad = GuardedComposer(failing("answer outside the draft schema", False, calls), guard)
    for _ in range(2):
        with pytest.raises(ModelError):
            bad.compose(QUESTION)
    assert len(calls) == 2 and guard.blocked() is None
    guard.failed(ModelError("m", "down", reason="HTTP 503", unavailable=True))
    assert guard.blocked() == "HTTP 503"
    guard.succeeded()
    assert guard.blocked() is None


def test_the_chat_flavour_shares_the_breaker_and_has_its_own_deadline() -> None:
    release = threading.Event()

    def hang(question: Question) -> Draft:
        release.wait(10)
        return Draft()

    guard = ModelGuard(cooldown_s=60, monotonic=Clock())
    composer = GuardedComposer(ScriptedComposer(hang, name="slow"), guard, chat_timeout_s=0.05)
    chat = composer.for_chat()
    assert chat is composer.for_chat() and chat.guard is guard and chat.name == "slow"
    try:
        with pytest.raises(ModelError, match=r"no answer within 0\.05 s") as late:
            chat.compose(QUESTION)
        assert (late.value.reason, late.value.unavailable) == ("timed out", True)
        with pytest.raises(ModelError, match="skipped"):
            composer.compose(QUESTION)  # the RCA flavour is skipped too: it is the same model
    finally:
        release.set()


def test_guard_settings_name_the_setting() -> None:
    assert guard_settings({}) == (10.0, 60.0)
    assert guard_settings({"RCA_LLM_CHAT_TIMEOUT": "2.5", "RCA_LLM_COOLDOWN_S": "30"}) == (2.5, 30.0)
    with pytest.raises(ConfigError, match="RCA_LLM_CHAT_TIMEOUT must be a positive number of seconds"):
        guard_settings({"RCA_LLM_CHAT_TIMEOUT": "soon"})
    with pytest.raises(ConfigError, match="RCA_LLM_COOLDOWN_S"):
        guard_settings({"RCA_LLM_COOLDOWN_S": "0"})
