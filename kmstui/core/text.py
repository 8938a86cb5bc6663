"""Untrusted text: every string inside a CloudTrail record may be written by an attacker.

User agents, encryption context values, error messages and even event names arrive
from the caller. Before any of it reaches a terminal it goes through :func:`clean`,
which makes control characters visible instead of letting them act: an ANSI escape
shows as ``␛[31m`` rather than turning the screen red. Markup safety is the UI's job
(it never parses record text as markup); this module only deals with characters.
"""

from __future__ import annotations

import re

# C0 controls become their Unicode "control picture" (U+2400 + code): visible, one cell wide.
# Tab and newline too: table cells are one line, and a newline in a user agent is news.
_TABLE = {c: 0x2400 + c for c in range(0x20)}
_TABLE[0x7F] = 0x2421  # DEL -> ␡
# C1 controls (8-bit CSI and friends) and the bidirectional overrides that can make text
# read differently from what it is ("Trojan Source"): shown as the replacement character.
for _c in range(0x80, 0xA0):
    _TABLE[_c] = 0xFFFD
for _c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C):
    _TABLE[_c] = 0xFFFD

_NEEDS_CLEANING = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Return ``text`` with every control character made visible and inert."""
    if _NEEDS_CLEANING.search(text) is None:
        return text
    return text.translate(_TABLE)


def clip(text: str, limit: int = 512) -> str:
    """Clean and shorten one value for a single-line cell; long values end in an ellipsis."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return clean(text)
