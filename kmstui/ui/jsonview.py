"""A CloudTrail record as highlighted JSON, with its encryption context lines marked.

Written here rather than borrowed from a highlighter because every string in a record
is untrusted: each one is JSON-escaped (an ANSI escape shows as ``\\u001b``), cleaned
of the characters JSON leaves alone (bidi overrides, C1 controls), capped in length
with a visible note, and drawn as plain text with styles attached by offset, never
as markup.
"""

from __future__ import annotations

import orjson
from textual.content import Content, Span

from ..core.text import clean

CONTEXT_FIELDS = frozenset(
    {
        "encryptionContext",
        "sourceEncryptionContext",
        "destinationEncryptionContext",
        "encryptionContextSubset",
        "encryptionContextEquals",
    }
)
LONGEST_STRING = 4000  # characters shown of one string; the copy (c) has all of it

KEY_STYLE = "$text-primary"
STRING_STYLE = "$text-success"
NUMBER_STYLE = "$text-warning"
LITERAL_STYLE = "$text-accent"
CONTEXT_STYLE = "bold $text-warning"
CONTEXT_LINE = "on $warning-muted"


class _Writer:
    def __init__(self):
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.length = 0
        self.line_start = 0
        self.context_lines: list[tuple[int, int]] = []

    def write(self, text: str, style: str | None = None) -> None:
        if style:
            self.spans.append(Span(self.length, self.length + len(text), style))
        self.parts.append(text)
        self.length += len(text)

    def newline(self, in_context: bool) -> None:
        if in_context:
            self.context_lines.append((self.line_start, self.length))
        self.write("\n")
        self.line_start = self.length


def _string(value: str) -> str:
    if len(value) > LONGEST_STRING:
        hidden = len(value) - LONGEST_STRING
        value = value[:LONGEST_STRING]
        return clean(orjson.dumps(value).decode()[:-1]) + f'… ({hidden:,} more characters)"'
    return clean(orjson.dumps(value).decode())


def _scalar(writer: _Writer, value, in_context: bool) -> None:
    if isinstance(value, str):
        writer.write(_string(value), CONTEXT_STYLE if in_context else STRING_STYLE)
    elif value is None or isinstance(value, bool):
        writer.write("null" if value is None else ("true" if value else "false"), LITERAL_STYLE)
    elif isinstance(value, (int, float)):
        writer.write(orjson.dumps(value).decode(), NUMBER_STYLE)
    else:
        writer.write(_string(str(value)), STRING_STYLE)


def _emit(writer: _Writer, value, indent: int, in_context: bool, depth: int = 0) -> None:
    if depth > 64:
        writer.write('"… (nested too deeply to show)"', LITERAL_STYLE)
        return
    pad = "  "
    if isinstance(value, dict):
        if not value:
            writer.write("{}")
            return
        writer.write("{")
        items = list(value.items())
        for position, (key, item) in enumerate(items):
            child_context = in_context or key in CONTEXT_FIELDS
            writer.newline(in_context)
            writer.write(pad * (indent + 1))
            writer.write(_string(str(key)), CONTEXT_STYLE if in_context else KEY_STYLE)
            writer.write(": ")
            _emit(writer, item, indent + 1, child_context, depth + 1)
            if position < len(items) - 1:
                writer.write(",")
        writer.newline(in_context)
        writer.write(pad * indent + "}")
    elif isinstance(value, list):
        if not value:
            writer.write("[]")
            return
        writer.write("[")
        for position, item in enumerate(value):
            writer.newline(in_context)
            writer.write(pad * (indent + 1))
            _emit(writer, item, indent + 1, in_context, depth + 1)
            if position < len(value) - 1:
                writer.write(",")
        writer.newline(in_context)
        writer.write(pad * indent + "]")
    else:
        _scalar(writer, value, in_context)


def render_json(value) -> Content:
    """Highlighted, indented JSON; lines inside an encryption context get a background."""
    writer = _Writer()
    _emit(writer, value, 0, False)
    text = "".join(writer.parts)
    spans = [Span(start, end, CONTEXT_LINE) for start, end in writer.context_lines] + writer.spans
    return Content(text, spans, strip_control_codes=False)


def plain_json(value) -> str:
    """The record for the clipboard: indented JSON, complete."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
