"""Text that reaches a person. A sentence we vouch for prints only values shaped like identifiers (a version, a
service, a field, a URN, a ref): a value with spaces, markup, a web link, a secret's shape or a character outside
ASCII is never printed, whatever record it came from. Outside text that is shown as itself (a question echoed,
a source ref) is made inert first: NFKC-normalised, with control and format characters written as visible escapes.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# Letters, digits and the separators identifiers use: "v2.8.1", "svc://checkout-service", "orders/0/1207",
# "dt=2026-01-19", "checkout@3f9c2ab". No space, quote, bracket, parenthesis, angle bracket or backslash.
_IDENTIFIER = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.:/@+=~-]{0,158}[A-Za-z0-9_/=])?")
# Schemes of links a person could click: a dataset is named by its URN (ds://, kafka://), never by a web address.
_LINK = re.compile(r"(?i)(?:^|[^a-z])(?:https?|ftp|file|data|javascript|mailto|vbscript):|^www\.")
# Shapes of credentials (AWS, OpenAI-style, Slack, GitHub, JWT, PEM) and of key=value secrets.
_SECRET = re.compile(
    r"AKIA[0-9A-Z]{16}|(?:^|[^A-Za-z0-9])sk-[A-Za-z0-9_-]{16,}|xox[abposr]-|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ|(?i:(?:password|passwd|secret|token|api[_-]?key)[=:])"
)
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def identifier(value: Any) -> str | None:
    """`value` when it is text shaped like an identifier, else None. What a rendered sentence may print."""
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        return None
    if _LINK.search(value) or _SECRET.search(value):
        return None
    return value


def is_identifier(value: Any) -> bool:
    return identifier(value) is not None


def inert(text: str) -> str:
    """Outside text made safe to show as itself: NFKC (so look-alike compatibility forms read as what they are),
    and every control, format (bidi overrides, zero-width) or separator character other than a space written as a
    visible escape, so no newline can start a forged line in a terminal or a chat message."""
    out = []
    for char in unicodedata.normalize("NFKC", text):
        if char == " " or unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp", "Zs", "Co", "Cs", "Cn"):
            out.append(char)
        else:
            out.append(_ESCAPES.get(char, f"\\u{ord(char):04x}"))
    return "".join(out)
