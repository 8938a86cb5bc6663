"""How one filter term becomes a SQL predicate over the CloudTrail table (Athena, CloudTrail Lake).

Each field of the registry (:mod:`kmstui.core.fields`) names one of these rules, or none: a
field with no rule has no SQL equivalent (``key:`` resolves aliases learned from other events,
``new:`` compares with events before the window) and is applied after loading. A rule gives a
:class:`Pushed` predicate that is either *exact* (it holds exactly when kmstui's own filter
does, on the same record) or a *superset* (it keeps every record the filter keeps, and maybe
more: kmstui's filter decides after loading). :mod:`kmstui.core.sql` puts them together.

Every value reaches SQL as a quoted literal; a value that is not plain printable ASCII is not
pushed at all (SQL's ``lower`` and Python's differ beyond ASCII, and a literal should print
as it reads), so its term is applied after loading instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .timeutil import iso, parse_iso, parse_span

COMPARISONS = ("<=", ">=", "<", ">")
TRUE_WORDS = ("true", "yes")
FALSE_WORDS = ("false", "no")


@dataclass(frozen=True)
class Pushed:
    """A predicate, and whether it is the filter's term exactly (else it is a superset)."""

    sql: str
    exact: bool


@dataclass(frozen=True)
class Dialect:
    """Where the SQL runs: Athena over the table AWS documents for CloudTrail logs (record
    fields as columns, ``requestparameters`` and ``responseelements`` as JSON text,
    ``eventtime`` as ISO text), or CloudTrail Lake (the same names; ``eventtime`` a timestamp,
    the parameters maps of strings)."""

    name: str  # athena or lake

    @property
    def lake(self) -> bool:
        return self.name == "lake"

    def json_text(self, column: str) -> str:
        """A parameters column as JSON text."""
        return f"json_format(CAST({column} AS JSON))" if self.lake else column

    def time_at_least(self, iso: str) -> str:
        if self.lake:
            return f"coalesce(eventtime >= from_iso8601_timestamp({literal(iso)}), false)"
        return f"coalesce(from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp({literal(iso)}), false)"

    def time_at_most(self, iso: str) -> str:
        if self.lake:
            return f"coalesce(eventtime <= from_iso8601_timestamp({literal(iso)}), false)"
        return f"coalesce(from_iso8601_timestamp(eventtime) <= from_iso8601_timestamp({literal(iso)}), false)"


ATHENA = Dialect("athena")
LAKE = Dialect("lake")
DIALECTS = {"athena": ATHENA, "lake": LAKE}

Rule = Callable[[Dialect, str, str], "Pushed | None"]  # (dialect, value, op) -> predicate, None: not pushed


def pushable(value: str) -> bool:
    """Plain printable ASCII: the same lowercase in SQL and in Python, and a literal that reads as it prints."""
    return value.isascii() and value.isprintable()


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def contains(expression: str, value: str) -> str:
    return f"strpos(lower(coalesce({expression}, '')), {literal(value.lower())}) > 0"


def equals(expression: str, value: str) -> str:
    return f"lower(coalesce({expression}, '')) = {literal(value.lower())}"


def text_match(expression: str, value: str, op: str) -> str:
    return equals(expression, value) if op == ":=" else contains(expression, value)


def any_of(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def all_of(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


# ---------------------------------------------------------------------------
# Rules: one column, or several, compared as text


def column(*expressions: str) -> Rule:
    """The value is in any of these columns (contains, or equals with ``:=``): exact."""

    def rule(dialect: Dialect, value: str, op: str) -> Pushed | None:
        if not pushable(value):
            return None
        return Pushed(any_of([text_match(e, value, op) for e in expressions]), exact=True)

    return rule


def error(dialect: Dialect, value: str, op: str) -> Pushed | None:
    if value == "*":
        return Pushed("errorcode IS NOT NULL", exact=True)
    return column("errorcode", "errormessage")(dialect, value, op)


def readonly(dialect: Dialect, value: str, op: str) -> Pushed | None:
    wanted = "true" if value.lower() in TRUE_WORDS else "false"
    return Pushed(f"coalesce(readonly, '') = {literal(wanted)}", exact=True)


def cloud(dialect: Dialect, value: str, op: str) -> Pushed | None:
    """The CloudTrail table holds AWS's events only: the term is true of every row, or of none."""
    wanted = value.lower()
    hit = wanted == "aws" if op == ":=" else wanted in "aws"
    return Pushed("TRUE" if hit else "FALSE", exact=True)


def crossaccount(dialect: Dialect, value: str, op: str) -> Pushed | None:
    """A caller of another account than the one that owns the event (both known)."""
    cross = (
        "(useridentity.accountid IS NOT NULL AND recipientaccountid IS NOT NULL"
        " AND useridentity.accountid <> recipientaccountid)"
    )
    return Pushed(cross if value.lower() in TRUE_WORDS else f"NOT {cross}", exact=True)


def since(dialect: Dialect, value: str, op: str) -> Pushed | None:
    """An ISO time is exact; a span counts back from the newest loaded event, which SQL does not
    know: applied after loading (the window of ``--since`` bounds the query instead)."""
    if parse_span(value) is not None or parse_iso(value) is None:
        return None
    return Pushed(dialect.time_at_least(iso_of(value)), exact=True)


def until(dialect: Dialect, value: str, op: str) -> Pushed | None:
    if parse_span(value) is not None or parse_iso(value) is None:
        return None
    return Pushed(dialect.time_at_most(iso_of(value, end_of_day=True)), exact=True)


def iso_of(value: str, end_of_day: bool = False) -> str:
    """A filter's time as the UTC ISO text SQL parses (``until:2026-11-20`` is the whole day)."""
    parsed = parse_iso(value)
    assert parsed is not None
    seconds = int(parsed.timestamp()) + (86399 if end_of_day and len(value.strip()) == 10 else 0)
    return iso(seconds) or ""


# ---------------------------------------------------------------------------
# Supersets: words that must appear in the record's text


_WORD = re.compile(r"[a-z0-9]+")


def words(value: str) -> list[str]:
    """The runs of letters and digits of a value, lowercase: whatever else kmstui adds around
    them (``role/``, `` (``, ``service:``) or JSON escapes, these appear in the record as they are."""
    return _WORD.findall(value.lower())


_PRINCIPAL_GLUE = ("role", "user", "service", "account", "federated", "root", "unknown")
_PRINCIPAL_FIELDS = (
    "useridentity.arn",
    "useridentity.username",
    "useridentity.invokedby",
    "useridentity.principalid",
    "useridentity.accountid",
)
_ASSUMED_ROLE = re.compile(r"(?:arn:[\w-]+:sts::\d{12}:)?assumed-role/([\w+=,.@-]+)(?:/(.+))?$", re.IGNORECASE)


def principal_needle(value: str) -> str:
    """A pasted assumed-role ARN searches as the short form it is shown as: role/Name (session).
    ActionTrail's ``assumed-role/Name (session)`` is searched as it is."""
    match = _ASSUMED_ROLE.match(value)
    if match is None:
        return value
    role, session = match.groups()
    return f"role/{role} ({session})" if session else f"role/{role}"


def principal(dialect: Dialect, value: str, op: str) -> Pushed | None:
    """kmstui's short form (``role/Admin (session)``) is built from the identity's fields and a
    few fixed words: every other word of the value is in one of those fields. A superset."""
    if not pushable(value):
        return None
    value = principal_needle(value)  # a pasted assumed-role ARN searches as its short form
    wanted = [w for w in words(value) if not any(w in glue for glue in _PRINCIPAL_GLUE)]
    if not wanted:
        return None
    text = " || ' ' || ".join(f"coalesce({f}, '')" for f in _PRINCIPAL_FIELDS)
    return Pushed(all_of([f"strpos(lower({text}), {literal(w)}) > 0" for w in dict.fromkeys(wanted)]), exact=False)


def context(dialect: Dialect, value: str, op: str) -> Pushed | None:
    """An encryption context is part of the request's parameters (the request's own, ReEncrypt's
    source and destination, a grant's constraints): its words are in their text. A superset."""
    if not pushable(value):
        return None
    wanted = words(value)
    if not wanted:
        return None
    text = f"lower(coalesce({dialect.json_text('requestparameters')}, ''))"
    return Pushed(all_of([f"strpos({text}, {literal(w)}) > 0" for w in dict.fromkeys(wanted)]), exact=False)


# ---------------------------------------------------------------------------
# Record paths: requestParameters.a.b (req.), responseElements.a.b (resp.)

# kmstui keeps the parameters of calls that change something and of configuration events: a
# read-only call has no values at any path (see kmstui.core.index).
KEPT_PARAMETERS = "coalesce(readonly, '') <> 'true'"
_SIMPLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def path_rule(*paths: tuple[int, tuple[str, ...]]) -> Rule:
    """A value at any of these record paths ((0 request | 1 response, names)). A superset:
    ``json_extract_scalar`` answers where the path leads to one value; where it does not (a
    list on the way, an object), the record is kept when the last name is in its text."""

    def rule(dialect: Dialect, value: str, op: str) -> Pushed | None:
        if not pushable(value):
            return None
        parts = [p for p in (_one_path(dialect, part, names, value, op) for part, names in paths) if p]
        if not parts:
            return None
        return Pushed(all_of([KEPT_PARAMETERS, any_of(parts)]), exact=False)

    return rule


def dialect_text(dialect: Dialect, part: int) -> str:
    return dialect.json_text(("requestparameters", "responseelements")[part])


def _named(text: str, name: str) -> str:
    """The record's parameters name ``name`` (Athena's JSON text: a member, between quotes; Lake's
    maps hold deeper objects as escaped text, so there the name alone)."""
    wanted = name.lower() if text.startswith("json_format(") else '"' + name.lower() + '"'
    return f"strpos(lower(coalesce({text}, '')), {literal(wanted)}) > 0"


def _one_path(dialect: Dialect, part: int, names: tuple[str, ...], value: str, op: str) -> str | None:
    if not pushable(names[-1]) or '"' in names[-1] or "'" in names[-1]:
        return None
    text = dialect_text(dialect, part)
    fallback = _named(text, names[-1])
    if not all(_SIMPLE_NAME.match(n) for n in names):
        return fallback
    scalar = f"json_extract_scalar({text}, {literal('$.' + '.'.join(names))})"
    number = _number(value)
    if op in COMPARISONS:
        assert number is not None  # the parser checked it
        matched = f"TRY_CAST({scalar} AS DOUBLE) {op} {number!r}"
    else:
        alternatives = [contains(scalar, value) if op != ":=" else equals(scalar, value)]
        if number is not None:
            alternatives.append(f"TRY_CAST({scalar} AS DOUBLE) = {number!r}")
        lowered = value.lower()
        if lowered in TRUE_WORDS + FALSE_WORDS:
            alternatives.append(f"lower({scalar}) = {literal('true' if lowered in TRUE_WORDS else 'false')}")
        matched = any_of(alternatives)
    return f"({matched} OR ({scalar} IS NULL AND {fallback}))"


def has(paths_of: Callable[[str], tuple[tuple[int, tuple[str, ...]], ...] | None]) -> Rule:
    """``has:PATH`` (or ``has:FIELD`` of a path field): the last name is in the parameters' text."""

    def rule(dialect: Dialect, value: str, op: str) -> Pushed | None:
        paths = paths_of(value)
        if not paths or not all(pushable(names[-1]) and "'" not in names[-1] for _, names in paths):
            return None
        parts = [_named(dialect_text(dialect, part), names[-1]) for part, names in paths]
        return Pushed(all_of([KEPT_PARAMETERS, any_of(parts)]), exact=False)

    return rule


def crossgrant(dialect: Dialect, value: str, op: str) -> Pushed | None:
    """Either answer is about a grant: the request names a grantee. A superset."""
    return Pushed(all_of([KEPT_PARAMETERS, _named(dialect_text(dialect, 0), "granteePrincipal")]), exact=False)
