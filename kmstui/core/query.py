"""The filter language, shared by the explorer's filter bar and ``--filter``.

The grammar people know from log and search tools::

    expression := or
    or         := and ("OR" and)*
    and        := unary (["AND"] unary)*          terms side by side must all hold
    unary      := ("NOT" | "-") unary | "(" or ")" | term
    term       := word | field OP values
    OP         := ":" (contains) | ":=" (equals) | "<" | "<=" | ">" | ">=" (numbers)

NOT binds tighter than AND, AND tighter than OR; ``OR``, ``AND`` and ``NOT`` are keywords
in capitals only (``or`` is a word). ``field:a,b`` is either value; double quotes hold
spaces, commas, parentheses and keywords (``"role/Admin (s1)"``, ``"OR"``). A word searches
an event's text; the fields are in :mod:`kmstui.core.fields`, and so are record paths
(``requestParameters.granteePrincipal``, ``req.`` and ``resp.`` for short).

Every term becomes a boolean mask over all events, computed from the distinct values of a
column (a lookup table) rather than event by event; groups combine the masks.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from . import fields, novelty
from .fields import BOOLEANS, COMPARISONS, FIELDS, Needle, keys_mask, split_path, trail_mask
from .index import EventIndex, Snapshot
from .timeutil import parse_iso, parse_span

KEYWORDS = ("OR", "AND", "NOT")
Narrow = Callable[[EventIndex, Snapshot], np.ndarray]


class FilterError(ValueError):
    """A filter that cannot be used: ``position`` is the 0-based column of the problem."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return f"column {self.position + 1}: {self.message}"


@dataclass(frozen=True)
class Term:
    """One term: a word (``field`` None), a field, or a record path (``field`` as written in
    full, ``requestParameters.x``)."""

    text: str  # as typed, for display
    negate: bool  # only in :attr:`Filter.terms`; in the tree a negation is a :class:`Not`
    field: str | None
    values: list[str]
    position: int
    op: str = ":"


@dataclass(frozen=True)
class Not:
    node: Node
    position: int


@dataclass(frozen=True)
class All:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Either:
    nodes: tuple[Node, ...]


Node = Term | Not | All | Either


@dataclass
class Filter:
    """A parsed filter; :meth:`rows` evaluates it against an index."""

    text: str = ""
    root: Node | None = None

    @property
    def empty(self) -> bool:
        return self.root is None

    @property
    def terms(self) -> list[Term]:
        """The terms that must all hold (the top level's AND), a negated one with ``negate``;
        what sits under an OR is not among them. The live lookup reads these to narrow what
        it asks AWS for."""
        nodes = self.root.nodes if isinstance(self.root, All) else () if self.root is None else (self.root,)
        out = []
        for node in nodes:
            if isinstance(node, Term):
                out.append(node)
            elif isinstance(node, Not) and isinstance(node.node, Term):
                term = node.node
                out.append(replace(term, negate=True, position=node.position, text="-" + term.text))
        return out

    @property
    def needs_records(self) -> bool:
        """Whether it reads the store of request and response parameters (slower: record paths)."""
        return any(_is_path_term(t) for t in _walk(self.root))

    def describe(self) -> str:
        """The filter as the parser understood it, in canonical names (for the status line)."""
        return "" if self.root is None else _describe(self.root, top=True)

    def mask(
        self, index: EventIndex, snapshot: Snapshot, extra: list[Narrow] | tuple[Narrow, ...] = ()
    ) -> np.ndarray | None:
        """Boolean mask over rows ``0:snapshot.n``; None when nothing narrows."""
        with novelty.window(self.terms, snapshot):  # what new: compares with
            result = None if self.root is None else _evaluate(self.root, index, snapshot)
        for narrow in extra:
            mask = narrow(index, snapshot)
            result = mask if result is None else (result & mask)
        return result

    def rows(
        self, index: EventIndex, snapshot: Snapshot | None = None, extra: list[Narrow] | tuple[Narrow, ...] = ()
    ) -> np.ndarray:
        """Matching rows, newest first."""
        snapshot = snapshot or index.snapshot
        mask = self.mask(index, snapshot, extra)
        if mask is None:
            return snapshot.order
        return snapshot.order[mask[snapshot.order]]


def parse(text: str) -> Filter:
    """Parse a filter; raise FilterError saying where and why."""
    parser = _Parser(text, _tokenize(text))
    root = parser.expression() if parser.tokens else None
    if parser.at < len(parser.tokens):  # only a stray ")" stops an expression early
        raise FilterError("a closing parenthesis without an opening one", parser.tokens[parser.at].position)
    return Filter(text, root)


def quote(value: str) -> str:
    """A value as it must be typed after ``field:`` (the detail view's pivots): quoted when it
    holds spaces, commas or parentheses, starts like an operator, or is a keyword. A double
    quote cannot be typed at all, so the longest part between them stands in."""
    if '"' in value:
        value = max(value.split('"'), key=len)
    if not value or value in KEYWORDS or value[0] in "=<>" or any(c.isspace() or c in ",()" for c in value):
        return f'"{value}"'
    return value


# ---------------------------------------------------------------------------
# Tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "OR", "AND", "NOT", "term"
    position: int
    term: Term | None = None


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.]*")
_OPS = (":<=", ":>=", ":<", ":>", ":=", ":", "<=", ">=", "<", ">")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    length = len(text)
    while i < length:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char in "()":
            tokens.append(_Token(char, i))
            i += 1
            continue
        if char == "-" and i + 1 < length and not text[i + 1].isspace():
            tokens.append(_Token("NOT", i))
            i += 1
            continue
        end = i
        while end < length and not text[end].isspace() and text[end] not in '()"':
            end += 1
        word = text[i:end]
        if word in KEYWORDS and (end == length or text[end] != '"'):
            tokens.append(_Token(word, i))
            i = end
            continue
        term, i = _read_term(text, i)
        tokens.append(_Token("term", term.position, term))
    return tokens


def _read_term(text: str, start: int) -> tuple[Term, int]:
    match = _NAME.match(text, start)
    name = op = None
    i = start
    if match is not None:
        after = match.end()
        op = next((o for o in _OPS if text.startswith(o, after)), None)
        if op is not None:
            candidate = match.group()
            root = candidate.partition(".")[0].lower()
            if candidate.lower() == "arn" and op == ":":  # arn:aws:kms:... is a word, not a field
                op = None
            elif "." in candidate and root not in fields.PATH_ROOTS:
                if root.startswith(("req", "resp")):
                    meant = "requestParameters (req)" if root.startswith("req") else "responseElements (resp)"
                    raise FilterError(f"unknown record path {candidate!r} (did you mean {meant}?)", start)
                op = None  # example.com:443 is a word
            else:
                rest = text[after + len(op) :].split(None, 1)
                name = _field_name(candidate, start, looks_like_text=bool(rest) and ":" in rest[0])
                i = after + len(op)
    if name is None:
        values, i = _read_values(text, start, split_commas=False)
        if values == [""]:
            raise FilterError("an empty search", start)
        return Term(text[start:i], False, None, values, start), i
    if text.startswith("(", i):
        raise FilterError(f"{_shown(name)}: takes values, not a group: write {_shown(name)}:a,b for either", i)
    values, i = _read_values(text, i, split_commas=True)
    term = Term(
        text[start:i], False, name, values, start, (op or ":").removeprefix(":") if op != ":" and op != ":=" else op
    )
    return _check(term), i


def _field_name(candidate: str, position: int, looks_like_text: bool = False) -> str:
    """The canonical name of a field, or a record path as written; FilterError when unknown."""
    known = fields.lookup(candidate)
    if known is not None:
        return known.name
    if split_path(candidate) is not None:
        return candidate
    lowered = candidate.lower()
    if lowered.partition(".")[0] in fields.PATH_ROOTS:
        raise FilterError(
            f"{candidate!r} is not a record path: write requestParameters.NAME (req.NAME) or"
            " responseElements.NAME (resp.NAME)",
            position,
        )
    quotes = ' To search for text with a colon, put it in double quotes: "aws:s3:arn".'
    suggestion = difflib.get_close_matches(lowered, FIELDS, n=1)
    if suggestion:
        hint = quotes if looks_like_text else ""
        raise FilterError(f"unknown field {lowered!r} (did you mean {suggestion[0]}?).{hint}", position)
    names = ", ".join(f.name for f in _unique_fields())
    raise FilterError(
        f"unknown field {lowered!r} (fields: {names}; record paths: req.NAME, resp.NAME).{quotes}", position
    )


def _unique_fields() -> list[fields.Field]:
    return list(dict.fromkeys(FIELDS.values()))


def _read_values(text: str, i: int, split_commas: bool) -> tuple[list[str], int]:
    """Values up to a space or a closing parenthesis; double quotes hold anything but a quote."""
    values: list[str] = []
    current: list[str] = []
    length = len(text)
    while i < length and not text[i].isspace() and text[i] != ")":
        char = text[i]
        if char == '"':
            close = text.find('"', i + 1)
            if close < 0:
                raise FilterError("a double quote is not closed", i)
            current.append(text[i + 1 : close])
            i = close + 1
            continue
        if char == "," and split_commas:
            values.append("".join(current))
            current = []
            i += 1
            continue
        current.append(char)
        i += 1
    values.append("".join(current))
    if split_commas:
        values = [v for v in values if v != ""]
    return values, i


def _check(term: Term) -> Term:
    """A field's values make sense for its kind, or FilterError says why."""
    name, op, position = term.field, term.op, term.position
    assert name is not None
    shown = _shown(name)
    known = fields.lookup(name)
    example = f"{shown}:{known.example}" if known is not None else f"{shown}:value"
    if not term.values:
        raise FilterError(f"{shown}: needs a value, as in {example}", position)
    if op in COMPARISONS:
        if known is not None and known.kind != "number":
            raise FilterError(
                f"{shown}: is {known.kind}; {', '.join(COMPARISONS)} compare numbers (window, record paths)", position
            )
        if len(term.values) != 1 or fields.as_number(term.values[0]) is None:
            raise FilterError(f"{shown}{op} takes one number, not {','.join(term.values)!r}", position)
        return term
    if known is None:  # a record path: any value
        return term
    if known.kind == "boolean":
        for value in term.values:
            if value.lower() not in BOOLEANS and not (value == "*" and op == ":" and name in fields.ANY_VALUE):
                raise FilterError(f"{shown}: takes true or false, not {value!r}", position)
    elif known.kind == "time":
        if op != ":":
            raise FilterError(f"{shown}: takes a time; := does not apply", position)
        if len(term.values) != 1:
            raise FilterError(f"{shown}: takes one time", position)
        if parse_span(term.values[0]) is None and parse_iso(term.values[0]) is None:
            raise FilterError(
                f"{shown}: {term.values[0]!r} is neither an ISO time (2026-11-20T10:00Z) nor a span (15m, 2h, 7d)",
                position,
            )
    elif known.kind == "number":
        for value in term.values:
            if fields.as_number(value) is None:
                raise FilterError(f"{shown}: takes a number, not {value!r}", position)
    elif name == "has":
        for value in term.values:
            target = fields.lookup(value)
            if split_path(value) is None and (target is None or not target.paths):
                raise FilterError(
                    f"has: takes a record path (req.kmsKeyId, resp.keyMetadata.keySpec), not {value!r}", position
                )
    elif name == "new":
        for value in term.values:
            try:
                novelty.kinds_of(value)
            except ValueError as error:
                raise FilterError(str(error), position) from None
    elif name == "error" and op == ":=" and "*" in term.values:
        raise FilterError("error:* is any error; error:=* means nothing", position)
    return term


def _shown(name: str) -> str:
    return fields.canonical_path(name) if split_path(name) is not None else name


# ---------------------------------------------------------------------------
# Parsing


class _Parser:
    def __init__(self, text: str, tokens: list[_Token]):
        self.text = text
        self.tokens = tokens
        self.at = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def expression(self) -> Node:
        nodes = [self.conjunction()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.at += 1
            following = self.peek()
            if following is None or following.kind in (")", "OR", "AND"):
                raise FilterError("OR needs a term after it", token.position)
            nodes.append(self.conjunction())
        return nodes[0] if len(nodes) == 1 else Either(tuple(nodes))

    def conjunction(self) -> Node:
        nodes: list[Node] = []
        while (token := self.peek()) is not None and token.kind not in (")", "OR"):
            if token.kind == "AND":
                if not nodes:
                    raise FilterError("AND needs a term before it", token.position)
                self.at += 1
                following = self.peek()
                if following is None or following.kind in (")", "OR", "AND"):
                    raise FilterError("AND needs a term after it", token.position)
                continue
            nodes.append(self.unary())
        if not nodes:
            token = self.peek()
            if token is not None and token.kind == "OR":
                raise FilterError("OR needs a term before it", token.position)
            if token is not None and token.kind == ")":
                raise FilterError("a closing parenthesis without an opening one", token.position)
            raise FilterError("nothing to search for", len(self.text))  # pragma: no cover - callers check
        return nodes[0] if len(nodes) == 1 else All(tuple(nodes))

    def unary(self) -> Node:
        token = self.tokens[self.at]
        self.at += 1
        if token.kind == "NOT":
            following = self.peek()
            if following is None or following.kind in (")", "OR", "AND"):
                word = "NOT" if self.text.startswith("NOT", token.position) else "-"
                raise FilterError(f"{word} needs a term after it", token.position)
            return Not(self.unary(), token.position)
        if token.kind == "(":
            following = self.peek()
            if following is None:
                raise FilterError("a parenthesis is not closed", token.position)
            if following.kind == ")":
                raise FilterError("empty parentheses", token.position)
            node = self.expression()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise FilterError("a parenthesis is not closed", token.position)
            self.at += 1
            return node
        assert token.term is not None
        return token.term


# ---------------------------------------------------------------------------
# Evaluating


def _evaluate(node: Node, index: EventIndex, snapshot: Snapshot) -> np.ndarray:
    if isinstance(node, Term):
        return _term(node, index, snapshot)
    if isinstance(node, Not):
        return ~_evaluate(node.node, index, snapshot)
    masks = (_evaluate(child, index, snapshot) for child in node.nodes)
    result = next(masks)
    for mask in masks:
        if isinstance(node, All):
            result &= mask
        else:
            result |= mask
    return result


def _term(term: Term, index: EventIndex, snapshot: Snapshot) -> np.ndarray:
    if term.field is None:
        return fields.any_text(index, snapshot, Needle(term.values[0]))
    known = FIELDS.get(term.field)
    result = None
    op = "=" if known is not None and known.kind == "number" and term.op in (":", ":=") else term.op
    for value in term.values:
        needle = Needle(value, op)
        if value == "*" and op == ":" and term.field in fields.ANY_VALUE:
            mask = fields.ANY_VALUE[term.field](index, snapshot)
        elif known is not None:
            mask = known.evaluate(index, snapshot, needle)
        else:
            mask = fields.path_mask(index, snapshot, term.field, needle)
        result = mask if result is None else (result | mask)
    return result.copy() if result is not None else np.zeros(snapshot.n, bool)


def _walk(node: Node | None):
    if node is None:
        return
    if isinstance(node, Term):
        yield node
    elif isinstance(node, Not):
        yield from _walk(node.node)
    else:
        for child in node.nodes:
            yield from _walk(child)


def _is_path_term(term: Term) -> bool:
    if term.field is None:
        return False
    known = FIELDS.get(term.field)
    return known is None or bool(known.paths) or known.name in ("has", "crossgrant")


def _describe(node: Node, top: bool = False) -> str:
    if isinstance(node, Term):
        if node.field is None:  # a word: quoted, too, where it would read as a field or a negation
            word = node.values[0]
            typed = quote(word)
            return f'"{typed}"' if typed == word and (":" in word or word.startswith("-")) else typed
        return f"{_shown(node.field)}{node.op}{','.join(quote(v) for v in node.values)}"
    if isinstance(node, Not):
        inner = node.node
        return f"-{_describe(inner)}" if isinstance(inner, (Term, Not)) else f"-({_describe(inner, top=True)})"
    if isinstance(node, All):
        return " ".join(_describe(child) for child in node.nodes)
    text = " OR ".join(
        _describe(child, top=True) if isinstance(child, All) else _describe(child) for child in node.nodes
    )
    return text if top else f"({text})"


# ---------------------------------------------------------------------------
# Narrowing by a selection in the panes


def narrow_to_key(key_code: int) -> Narrow:
    def narrow(index: EventIndex, snapshot: Snapshot) -> np.ndarray:
        table = np.zeros(len(index.vocab["key"]), bool)
        table[key_code] = True
        return keys_mask(index, table, snapshot.n)

    return narrow


def narrow_to_trail(trail) -> Narrow:
    def narrow(index: EventIndex, snapshot: Snapshot) -> np.ndarray:
        return trail_mask(index, snapshot.n, [trail])

    return narrow


__all__ = ["Filter", "FilterError", "Term", "narrow_to_key", "narrow_to_trail", "parse", "quote", "trail_mask"]
