"""The filter language, shared by the explorer's filter bar and ``--filter``.

Terms are separated by spaces and all must hold (AND):

- ``word``: case-insensitive substring of the event's searchable text (event name,
  principal, keys and aliases, IP, user agent, error, context keys and values,
  event id, region, account)
- ``field:value``: a substring of one field; ``field:a,b`` is either
- ``error:*``: any error; ``readonly:true`` or ``readonly:false``
- ``ctx:KEY=VALUE``, ``ctx:KEY`` or ``ctx:VALUE``: encryption context (split at the first ``=``)
- ``since:`` / ``until:``: an ISO time, or a span (``15m``, ``2h``, ``7d``) measured back
  from the newest loaded event
- ``-term`` negates; double quotes hold spaces: ``principal:"role/Admin (s1)"``

Every term becomes a boolean mask over all events, computed from the distinct
values of a column (a lookup table) rather than event by event.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .index import EventIndex, Snapshot
from .timeutil import NO_TIME, parse_iso, parse_span

FIELDS = {
    "event": "event name (Decrypt, ScheduleKeyDeletion...)",
    "principal": "who: user/Alice, role/Admin (session), root, service:...",
    "key": "key ARN or id, or one of the key's aliases",
    "alias": "alias named by the event, or an alias of its key",
    "ip": "source IP address (or the AWS service that called)",
    "region": "AWS region",
    "account": "account that owns the event, or the caller's account",
    "error": "error code or message; error:* is any error",
    "type": "identity type: IAMUser, AssumedRole, Root, AWSService...",
    "agent": "user agent",
    "id": "event id",
    "trail": "trail or source the event came from or is about",
    "source": "event source: kms.amazonaws.com, cloudtrail.amazonaws.com",
    "origin": "file the event was loaded from",
    "readonly": "true or false",
    "ctx": "encryption context: KEY=VALUE, KEY or VALUE",
    "since": "ISO time, or a span (15m, 2h, 7d) back from the newest event",
    "until": "ISO time, or a span back from the newest event",
}


class FilterError(ValueError):
    """A filter that cannot be used: ``position`` is the 0-based column of the problem."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return f"column {self.position + 1}: {self.message}"


@dataclass
class Term:
    text: str  # as typed, for display
    negate: bool
    field: str | None  # None for a bare word
    values: list[str]
    position: int


@dataclass
class Filter:
    """A parsed filter; :meth:`rows` evaluates it against an index."""

    text: str = ""
    terms: list[Term] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.terms

    def mask(self, index: EventIndex, snapshot: Snapshot, extra: list[Callable] = ()) -> np.ndarray | None:
        """Boolean mask over rows ``0:snapshot.n``; None when nothing narrows."""
        result = None
        for term in self.terms:
            mask = _evaluate(term, index, snapshot)
            if term.negate:
                mask = ~mask
            result = mask if result is None else (result & mask)
        for narrow in extra:
            mask = narrow(index, snapshot)
            result = mask if result is None else (result & mask)
        return result

    def rows(self, index: EventIndex, snapshot: Snapshot | None = None, extra: list[Callable] = ()) -> np.ndarray:
        """Matching rows, newest first."""
        snapshot = snapshot or index.snapshot
        mask = self.mask(index, snapshot, extra)
        if mask is None:
            return snapshot.order
        return snapshot.order[mask[snapshot.order]]


def parse(text: str) -> Filter:
    """Parse a filter; raise FilterError saying where and why."""
    return Filter(text, [_check(term) for term in _tokenize(text)])


# ---------------------------------------------------------------------------
# Tokenizing


def _tokenize(text: str) -> list[Term]:
    terms: list[Term] = []
    i = 0
    length = len(text)
    while i < length:
        if text[i].isspace():
            i += 1
            continue
        start = i
        negate = False
        if text[i] == "-" and i + 1 < length and not text[i + 1].isspace():
            negate = True
            i += 1
        # field name: letters up to a colon, unless the token starts with a quote
        field_name = None
        j = i
        while j < length and (text[j].isalpha()):
            j += 1
        if j < length and text[j] == ":" and j > i:
            candidate = text[i:j].lower()
            if candidate in FIELDS:
                field_name = candidate
                i = j + 1
            elif candidate != "arn":
                suggestion = difflib.get_close_matches(candidate, FIELDS, n=1)
                hint = f" (did you mean {suggestion[0]}?)" if suggestion else f" (fields: {', '.join(FIELDS)})"
                quote = (
                    ' To search for text with a colon, put it in double quotes: "aws:s3:arn".' if not suggestion else ""
                )
                raise FilterError(f"unknown field {candidate!r}{hint}.{quote}", i)
        values, i = _read_value(text, i, start, split_commas=field_name is not None)
        raw = text[start:i]
        if field_name is not None and not any(values):
            raise FilterError(f"{field_name}: needs a value, as in {field_name}:{_example(field_name)}", start)
        terms.append(Term(raw, negate, field_name, values, start))
    return terms


def _read_value(text: str, i: int, start: int, split_commas: bool) -> tuple[list[str], int]:
    values: list[str] = []
    current: list[str] = []
    length = len(text)
    while i < length and not text[i].isspace():
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
    values = [v for v in values if v != ""] if split_commas else values
    if not split_commas and values == [""]:
        raise FilterError("an empty search", start)
    return values, i


def _example(field_name: str) -> str:
    return {
        "event": "Decrypt",
        "principal": "role/Admin",
        "key": "1234abcd",
        "alias": "alias/payments",
        "ip": "203.0.113.7",
        "error": "AccessDenied",
        "readonly": "false",
        "ctx": "aws:s3:arn=my-bucket",
        "since": "2h",
        "until": "2026-11-20T10:00Z",
    }.get(field_name, "value")


def _check(term: Term) -> Term:
    name = term.field
    if name == "readonly":
        for value in term.values:
            if value.lower() not in ("true", "false", "yes", "no"):
                raise FilterError(f"readonly: takes true or false, not {value!r}", term.position)
    elif name in ("since", "until"):
        if len(term.values) != 1:
            raise FilterError(f"{name}: takes one time", term.position)
        if parse_span(term.values[0]) is None and parse_iso(term.values[0]) is None:
            raise FilterError(
                f"{name}: {term.values[0]!r} is neither an ISO time (2026-11-20T10:00Z) nor a span (15m, 2h, 7d)",
                term.position,
            )
    return term


# ---------------------------------------------------------------------------
# Evaluating


def _evaluate(term: Term, index: EventIndex, snapshot: Snapshot) -> np.ndarray:
    n = snapshot.n
    if term.field is None:
        return _any_text(index, n, term.values[0])
    result = None
    for value in term.values:
        mask = _field(term.field, value, index, snapshot)
        result = mask if result is None else (result | mask)
    return result if result is not None else np.zeros(n, bool)


def _column(index: EventIndex, name: str, n: int) -> np.ndarray:
    return index.columns[name].data[:n]


def _lut(index: EventIndex, vocab: str, column: str, needle: str, n: int) -> np.ndarray:
    return index.vocab[vocab].matching(needle)[_column(index, column, n)]


def _key_table(index: EventIndex, needle: str) -> np.ndarray:
    """Keys whose ARN, or one of whose aliases, contains the needle."""
    keys = index.vocab["key"]
    table = keys.matching(needle)
    aliases = index.vocab["alias"].matching(needle)
    if aliases.any():
        for key, entries in index.aliases_by_key().items():
            if any(aliases[alias] for alias, _current in entries):
                table[key] = True
    return table


def _keys_mask(index: EventIndex, table: np.ndarray, n: int) -> np.ndarray:
    mask = table[_column(index, "key0", n)] | table[_column(index, "key1", n)]
    for row, extra in index.extra_keys.items():
        if row < n and any(table[k] for k in extra):
            mask[row] = True
    return mask


def _event_ids(index: EventIndex, needle: str, n: int) -> np.ndarray:
    needle = needle.lower()
    mask = np.zeros(n, bool)
    if needle.isascii() and len(needle) <= 36:
        mask = np.strings.find(_column(index, "eid", n), needle.encode()) >= 0
    for row, event_id in index.event_id_overflow.items():
        if row < n and needle in event_id.lower():
            mask[row] = True
    return mask


def _accounts(index: EventIndex, value: str, n: int) -> np.ndarray:
    """The account that owns the event, or the caller's account."""
    needle = value.lower()
    callers = index.vocab["principal"].matching_where(lambda p: needle in (p.account or "").lower())
    return _lut(index, "account", "account", value, n) | callers[_column(index, "principal", n)]


def _any_text(index: EventIndex, n: int, needle: str) -> np.ndarray:
    mask = _lut(index, "name", "name", needle, n)
    mask |= _lut(index, "principal", "principal", _principal_needle(needle), n)
    for vocab in ("ip", "agent", "errcode", "errmsg", "region"):
        mask |= _lut(index, vocab, vocab, needle, n)
    mask |= _accounts(index, needle, n)
    mask |= _keys_mask(index, _key_table(index, needle), n)
    mask |= _lut(index, "alias", "alias", needle, n)
    mask |= index.contexts.matching_any(needle)[_column(index, "ctx", n)]
    mask |= _event_ids(index, needle, n)
    return mask


_ASSUMED_ROLE = re.compile(r"(?:arn:[\w-]+:sts::\d{12}:)?assumed-role/([^/]+)(?:/(.+))?$", re.IGNORECASE)


def _principal_needle(value: str) -> str:
    """A pasted assumed-role ARN searches as the short form it is shown as: role/Name (session)."""
    match = _ASSUMED_ROLE.match(value)
    if match is None:
        return value
    role, session = match.groups()
    return f"role/{role} ({session})" if session else f"role/{role}"


def _field(name: str, value: str, index: EventIndex, snapshot: Snapshot) -> np.ndarray:
    n = snapshot.n
    if name == "event":
        return _lut(index, "name", "name", value, n)
    if name == "principal":
        return _lut(index, "principal", "principal", _principal_needle(value), n)
    if name == "type":
        needle = value.lower()
        table = index.vocab["principal"].matching_where(lambda p: needle in (p.identity_type or "").lower())
        return table[_column(index, "principal", n)]
    if name == "key":
        return _keys_mask(index, _key_table(index, value), n)
    if name == "alias":
        mask = _lut(index, "alias", "alias", value, n)
        table = np.zeros(len(index.vocab["key"]), bool)
        aliases = index.vocab["alias"].matching(value)
        for key, entries in index.aliases_by_key().items():
            if any(aliases[alias] for alias, _current in entries):
                table[key] = True
        return mask | _keys_mask(index, table, n)
    if name == "ip":
        return _lut(index, "ip", "ip", value, n)
    if name == "region":
        return _lut(index, "region", "region", value, n)
    if name == "account":
        return _accounts(index, value, n)
    if name == "error":
        if value == "*":
            return _column(index, "errcode", n) != 0
        return _lut(index, "errcode", "errcode", value, n) | _lut(index, "errmsg", "errmsg", value, n)
    if name == "agent":
        return _lut(index, "agent", "agent", value, n)
    if name == "id":
        return _event_ids(index, value, n)
    if name == "source":
        return _lut(index, "evsource", "evsource", value, n)
    if name == "origin":
        needle = value.lower()
        table = np.array([needle in o.label.lower() for o in index.origins] or [False], dtype=bool)
        return table[_column(index, "origin", n)] if index.origins else np.zeros(n, bool)
    if name == "trail":
        from .trails import summarise_trails

        needle = value.lower()
        rows = [
            t
            for t in summarise_trails(index)
            if needle in t.label.lower() or needle in (t.arn or "").lower() or needle in (t.location or "").lower()
        ]
        return trail_mask(index, n, rows)
    if name == "readonly":
        wanted = 1 if value.lower() in ("true", "yes") else 0
        return _column(index, "readonly", n) == wanted
    if name == "ctx":
        key, equals, rest = value.partition("=")
        table = index.contexts.matching(key, rest) if equals else index.contexts.matching_any(value)
        return table[_column(index, "ctx", n)]
    if name in ("since", "until"):
        moment = _moment(value, snapshot, end_of_day=name == "until")
        time = _column(index, "time", n)
        return (time >= moment) & (time != NO_TIME) if name == "since" else (time <= moment) & (time != NO_TIME)
    raise FilterError(f"unknown field {name!r}", 0)  # pragma: no cover - the tokenizer prevents it


def _moment(value: str, snapshot: Snapshot, end_of_day: bool = False) -> int:
    span = parse_span(value)
    if span is not None:
        return (snapshot.newest if snapshot.newest != NO_TIME else 0) - span
    parsed = int(parse_iso(value).timestamp())
    if end_of_day and len(value.strip()) == 10:  # until:2026-11-20 includes that day
        parsed += 86399
    return parsed


def trail_mask(index: EventIndex, n: int, trails) -> np.ndarray:
    """Events delivered by, or about, any of the given trail summaries."""
    origins = set()
    codes = set()
    for trail in trails:
        origins |= trail.origins
        codes |= trail.trail_codes
    origin_table = np.zeros(max(len(index.origins), 1), bool)
    origin_table[list(origins)] = True
    trail_table = np.zeros(max(len(index.vocab["trail"]), 1), bool)
    trail_table[list(codes)] = True
    trail_table[0] = False
    return origin_table[_column(index, "origin", n)] | trail_table[_column(index, "trail", n)]


# ---------------------------------------------------------------------------
# Narrowing by a selection in the panes


def narrow_to_key(key_code: int) -> Callable:
    def narrow(index: EventIndex, snapshot: Snapshot) -> np.ndarray:
        table = np.zeros(len(index.vocab["key"]), bool)
        table[key_code] = True
        return _keys_mask(index, table, snapshot.n)

    return narrow


def narrow_to_trail(trail) -> Callable:
    def narrow(index: EventIndex, snapshot: Snapshot) -> np.ndarray:
        return trail_mask(index, snapshot.n, [trail])

    return narrow
