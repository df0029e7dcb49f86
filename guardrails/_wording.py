"""The proposer's own wording is never shown, but it is read: a claim whose wording carries instructions, vouches
for itself, clears the suspect its kind asserts, or places a blamed change after the break comes from a proposer
that is confused or manipulated, and is rejected whatever its kind and citations say. The wording is NFKC-normalised
first, so compatibility forms (fullwidth letters, ligatures) cannot slip past these patterns."""

from __future__ import annotations

import re
import unicodedata

_INSTRUCTIONS = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.]{0,40}\b(?:instructions?|prompts?|rules|guidelines|context)\b"
    r"|\bsystem prompt\b|\byou must\b|\byou are now\b|\bnew instructions?\b|\bas an ai\b"
    r"|<\|[a-z_]+\|>|\[/?INST\]",
    re.IGNORECASE,
)
# A model's own certainty is not evidence (DESIGN.md: confidence is computed, never taken from the model).
_CERTAINTY = re.compile(
    r"\b\d{1,3}(?:\.\d+)?\s?%\s*(?:certain(?:ty)?|sure|confiden(?:t|ce))\b"
    r"|\bwith\s+(?:absolute\s+|complete\s+|full\s+|total\s+|high\s+)?(?:certainty|confidence)\b"
    r"|\b(?:definitely|undoubtedly|unquestionably|certainly|guaranteed)\b|\bwithout\s+(?:a\s+|any\s+)?doubt\b"
    r"|\bno\s+(?:further|other|more)\s+(?:checks?|investigation|analysis)\s+(?:is\s+|are\s+)?(?:needed|required)\b",
    re.IGNORECASE,
)
# Every claim kind asserts something (a break, a deploy before it, a failed run); a sentence that clears a suspect
# says the opposite of what its kind was verified for. Only no_recent_deploy exists to clear deploys.
_DENIAL = re.compile(
    r"\b(?:did|does|do|could|can|would|will)(?:\s+not|n't)\s+(?:have\s+)?(?:be\s+)?(?:cause[ds]?|explain|trigger"
    r"|break|affect|responsible|related|involved|the\s+cause)\b|\bcannot\s+(?:have\s+)?(?:cause[ds]?|explain|be\s+the)"
    r"\b|\bnot\s+(?:the\s+|a\s+)?(?:cause|culprit|responsible|related|to\s+blame|involved|relevant)\b"
    r"|\bunrelated\b|\bruled\s+out\b|\bcoinciden(?:ce|tal|tally)\b|\binnocent\b|\bno\s+role\b|\birrelevant\b"
    r"|\bred\s+herring\b|\bexonerat|\bnot\s+(?:what|why)\b|\bnothing\s+to\s+do\s+with\b"
    r"|\bnot\s+(?:the\s+)?(?:problem|reason|source|trigger)\b|\b(?:harmless|benign)\b",
    re.IGNORECASE,
)
# A correlated deploy or code change precedes the break; a sentence placing it after says the opposite.
_AFTER_THE_BREAK = re.compile(
    r"\b(?:after|following|since)\s+(?:the\s+)?(?:first[\s-]+bad|first[\s-]+unmapped|break(?:age)?|incident|outage"
    r"|failure|deadline|problem|errors?\s+began)\b|\b(?:were|was|had)\s+already\s+(?:been\s+)?(?:failing|broken|bad|failed)\b",
    re.IGNORECASE,
)
SELF_ASSESSMENT_PARAMS = frozenset({"confidence", "certainty", "probability", "likelihood", "score"})


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.search(unicodedata.normalize("NFKC", text))
    return found.group(0) if found else None


def instruction_like(text: str) -> str | None:
    """The first phrase of `text` that reads like an instruction to a model, if any."""
    return _first(_INSTRUCTIONS, text)


def certainty_like(text: str) -> str | None:
    """The first phrase of `text` in which a claim vouches for itself ("with 100% certainty"), if any."""
    return _first(_CERTAINTY, text)


def denial_like(text: str) -> str | None:
    """The first phrase of `text` that clears a suspect ("did not cause", "unrelated"), if any."""
    return _first(_DENIAL, text)


def after_the_break(text: str) -> str | None:
    """The first phrase of `text` that places a change after the break ("after the first bad record"), if any."""
    return _first(_AFTER_THE_BREAK, text)
