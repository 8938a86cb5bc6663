"""Untrusted text: every string inside a CloudTrail record may be written by an attacker.

User agents, encryption context values, error messages and even event names arrive
from the caller. Before any of it reaches a terminal it goes through :func:`clean`,
which makes control characters visible instead of letting them act: an ANSI escape
shows as ``␛[31m`` rather than turning the screen red. Characters that draw nothing
(zero-width spaces and joiners, tag characters, Hangul fillers, line separators) are
made visible too, so that ``user/Ad\\u200bmin`` cannot pass for ``user/Admin``. Markup
safety is the UI's job (it never parses record text as markup); this module only deals
with characters, and its table below is the one place that says which are shown how.

:func:`cell_width` and :func:`pad` measure text in terminal cells (a CJK character
takes two, a combining accent none), so that columns of record text line up.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# What is shown instead of what, as (first, last, replacement) ranges. A replacement of None
# means each C0 control's "control picture" (U+2400 + code): visible, one cell wide. Tab and
# newline too: table cells are one line, and a newline in a user agent is news.
_REPLACEMENT = 0xFFFD
_SHOWN_AS: tuple[tuple[int, int, int | None], ...] = (
    (0x00, 0x1F, None),  # C0 controls -> ␀ .. ␟
    (0x7F, 0x7F, 0x2421),  # DEL -> ␡
    # C1 controls (8-bit CSI and friends)
    (0x80, 0x9F, _REPLACEMENT),
    # The bidirectional controls that can make text read differently from what it is
    # ("Trojan Source"), and everything else Unicode says draws nothing
    # (Default_Ignorable_Code_Point), plus the line and paragraph separators:
    (0x00AD, 0x00AD, _REPLACEMENT),  # soft hyphen
    (0x034F, 0x034F, _REPLACEMENT),  # combining grapheme joiner
    (0x061C, 0x061C, _REPLACEMENT),  # Arabic letter mark
    (0x115F, 0x1160, _REPLACEMENT),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5, _REPLACEMENT),  # Khmer inherent vowels
    (0x180B, 0x180F, _REPLACEMENT),  # Mongolian variation selectors and vowel separator
    (0x200B, 0x200F, _REPLACEMENT),  # zero-width space, (non-)joiner, LRM, RLM
    (0x2028, 0x2029, _REPLACEMENT),  # line and paragraph separators
    (0x202A, 0x202E, _REPLACEMENT),  # bidi embeddings and overrides
    (0x2060, 0x206F, _REPLACEMENT),  # word joiner, invisible operators, bidi isolates
    (0x3164, 0x3164, _REPLACEMENT),  # Hangul filler
    (0xD800, 0xDFFF, _REPLACEMENT),  # lone surrogates (from names that are not UTF-8): unwritable
    (0xFE00, 0xFE0F, _REPLACEMENT),  # variation selectors
    (0xFEFF, 0xFEFF, _REPLACEMENT),  # zero-width no-break space (BOM)
    (0xFFA0, 0xFFA0, _REPLACEMENT),  # half-width Hangul filler
    (0xFFF0, 0xFFFB, _REPLACEMENT),  # unassigned specials, interlinear annotation controls
    (0x1BCA0, 0x1BCA3, _REPLACEMENT),  # shorthand format controls
    (0x1D173, 0x1D17A, _REPLACEMENT),  # musical symbol format controls
    (0xE0000, 0xE0FFF, _REPLACEMENT),  # tag characters and variation selectors supplement
)

_TABLE: dict[int, int] = {}
for _first, _last, _to in _SHOWN_AS:
    for _c in range(_first, _last + 1):
        _TABLE[_c] = 0x2400 + _c if _to is None else _to

_NEEDS_CLEANING = re.compile("[" + "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last, _ in _SHOWN_AS) + "]")


def clean(text: str) -> str:
    """Return ``text`` with every control and invisible character made visible and inert."""
    if _NEEDS_CLEANING.search(text) is None:
        return text
    return text.translate(_TABLE)


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # JSON spells it as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def json_safe(text: str) -> str:
    """JSON text with every character :func:`clean` would show differently written as a
    ``\\u`` escape: the same JSON value for whoever reads it, and nothing a terminal acts
    on or hides (orjson escapes only C0 controls; C1, bidi overrides and zero-width
    characters would otherwise pass through as they are)."""
    if _NEEDS_CLEANING.search(text) is None:
        return text
    return _NEEDS_CLEANING.sub(_json_escape, text)


def clip(text: str, limit: int = 512) -> str:
    """Clean and shorten one value for a single-line cell; long values end in an ellipsis."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return clean(text)


def from_os(name: str) -> str:
    """A file name as text that can be shown and encoded: bytes that are not UTF-8 (which
    Python keeps as lone surrogates) are written as ``\\xff``."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return name


# ---------------------------------------------------------------------------
# Width in terminal cells

_NARROW = re.compile(r"[\x20-\x7e]*")


@lru_cache(maxsize=4096)
def _char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cell_width(text: str) -> int:
    """How many terminal cells ``text`` (already cleaned) takes."""
    if _NARROW.fullmatch(text):
        return len(text)
    return sum(map(_char_width, text))


def pad(text: str, width: int) -> str:
    """``text`` followed by spaces to fill ``width`` cells (``str.ljust`` counts characters)."""
    return text + " " * (width - cell_width(text))


def fit(text: str, width: int) -> str:
    """The longest start of ``text`` that takes at most ``width`` cells."""
    if _NARROW.fullmatch(text):
        return text[:width]
    used = 0
    for position, char in enumerate(text):
        used += _char_width(char)
        if used > width:
            return text[:position]
    return text
