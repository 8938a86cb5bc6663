"""Group-by: the events of a filter counted by one field of the filter language, or two.

"Event name and source IP with the number of calls, most first": each row is a distinct
value (or pair of values) with its events, errors, first and last seen, and how many
distinct keys and principals are behind it. Computed on the index's codes, never on
events one by one: a field's codes index straight into counts (``np.bincount``), a pair
of fields is one combined code, and distinct keys or principals are pairs marked once.

A field that holds several values for one event (``ctx``: the keys of its encryption
context) counts the event once under each of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .fields import principal_part
from .index import EventIndex
from .query import quote
from .timeutil import NO_TIME

DENSE_LIMIT = 1 << 24  # combined code spaces up to this size are counted in place, without sorting


class GroupError(ValueError):
    """A group-by that cannot be computed: the message says why and what can be used."""


Codes = Callable[[EventIndex, int], np.ndarray]  # (index, n) -> a code per row
Label = Callable[[EventIndex, int], str | None]  # (index, code) -> the value as shown


class Dimension(NamedTuple):
    """A field that events can be grouped by: where its codes are and how a code reads."""

    name: str  # the field's name in the registry
    size: Callable[[EventIndex], int]  # how many codes there are
    codes: Codes | None  # None for ctx, which has several codes per event
    label: Label


def _vocab_dimension(name: str, column: str) -> Dimension:
    def size(index: EventIndex) -> int:
        return len(index.vocab[column])

    def codes(index: EventIndex, n: int) -> np.ndarray:
        return index.columns[column].data[:n]

    def label(index: EventIndex, code: int) -> str | None:
        value = index.vocab[column].values[code]
        return None if value is None else str(value)

    return Dimension(name, size, codes, label)


def _principal_dimension() -> Dimension:
    """Principals as shown (user/Alice, role/Admin (session)): one caller whether it called
    directly or through a service, which the vocabulary keeps apart."""

    def size(index: EventIndex) -> int:
        return len(principal_part(index, "short")[0])

    def codes(index: EventIndex, n: int) -> np.ndarray:
        return principal_codes(index, n)

    def label(index: EventIndex, code: int) -> str | None:
        value = principal_part(index, "short")[0].values[code]
        return None if value is None else str(value)

    return Dimension("principal", size, codes, label)


def principal_codes(index: EventIndex, n: int) -> np.ndarray:
    """Each event's principal as shown, as a code into ``principal_part(index, "short")``."""
    return principal_part(index, "short")[1][index.columns["principal"].data[:n]]


def _key_dimension() -> Dimension:
    def size(index: EventIndex) -> int:
        return len(index.vocab["key"])

    def codes(index: EventIndex, n: int) -> np.ndarray:
        return index.columns["key0"].data[:n]  # the event's first key: the one the events pane shows

    def label(index: EventIndex, code: int) -> str | None:
        value = index.vocab["key"].values[code]
        return None if value is None else str(value)

    return Dimension("key", size, codes, label)


def _identity_dimension() -> Dimension:
    def size(index: EventIndex) -> int:
        return len(principal_part(index, "identity_type")[0])

    def codes(index: EventIndex, n: int) -> np.ndarray:
        _parts, per_principal = principal_part(index, "identity_type")
        return per_principal[index.columns["principal"].data[:n]]

    def label(index: EventIndex, code: int) -> str | None:
        value = principal_part(index, "identity_type")[0].values[code]
        return None if value is None else str(value)

    return Dimension("identity", size, codes, label)


def _readonly_dimension() -> Dimension:
    def codes(index: EventIndex, n: int) -> np.ndarray:
        return (index.columns["readonly"].data[:n].astype(np.int16) + 1).astype(np.uint32)  # -1, 0, 1 -> 0, 1, 2

    def label(index: EventIndex, code: int) -> str | None:
        return (None, "false", "true")[code]

    return Dimension("readonly", lambda index: 3, codes, label)


def _origin_dimension() -> Dimension:
    def codes(index: EventIndex, n: int) -> np.ndarray:
        return index.columns["origin"].data[:n]

    def label(index: EventIndex, code: int) -> str | None:
        return index.origins[code].label if code < len(index.origins) else None

    return Dimension("origin", lambda index: max(len(index.origins), 1), codes, label)


def _context_dimension() -> Dimension:
    def label(index: EventIndex, code: int) -> str | None:
        return index.contexts.keys.values[code]

    return Dimension("ctx", lambda index: len(index.contexts.keys), None, label)


DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        _vocab_dimension("event", "name"),
        _principal_dimension(),
        _key_dimension(),
        _vocab_dimension("ip", "ip"),
        _vocab_dimension("region", "region"),
        _vocab_dimension("account", "account"),
        _vocab_dimension("error", "errcode"),
        _identity_dimension(),
        _vocab_dimension("eventtype", "evtype"),
        _vocab_dimension("category", "evcat"),
        _vocab_dimension("agent", "agent"),
        _vocab_dimension("source", "evsource"),
        _origin_dimension(),
        _readonly_dimension(),
        _context_dimension(),
    )
}
ALIASES = {"type": "identity"}


def dimension(name: str) -> Dimension:
    """The dimension of a field name (as the filter spells it); GroupError when it cannot group."""
    wanted = ALIASES.get(name.strip().lower(), name.strip().lower())
    found = DIMENSIONS.get(wanted)
    if found is None:
        raise GroupError(f"cannot group by {name.strip()!r}: group by one or two of {', '.join(DIMENSIONS)}")
    return found


def parse_fields(text: str) -> tuple[str, ...]:
    """``event,ip`` (or ``event ip``, ``event × ip``) -> ("event", "ip"); GroupError when wrong."""
    names = [part for part in text.replace("×", ",").replace(" ", ",").split(",") if part]
    if not names or len(names) > 2:
        raise GroupError("group by one field or two, as in event,ip")
    dims = tuple(dimension(name).name for name in names)
    if len(dims) == 2 and dims[0] == dims[1]:
        raise GroupError(f"group by two different fields, not {dims[0]} twice")
    return dims


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One value (or pair of values) and what is behind it."""

    codes: tuple[int, ...]
    values: tuple[str | None, ...]
    events: int
    errors: int
    first_seen: int
    last_seen: int
    keys: int  # distinct keys
    principals: int  # distinct principals


@dataclass(frozen=True)
class Grouping:
    fields: tuple[str, ...]
    rows: list[GroupRow]
    events: int  # events grouped (an event under several context keys counts once)


SORTS = ("values", "events", "errors", "first_seen", "last_seen", "keys", "principals")


def sort_rows(rows: list[GroupRow], column: str = "events", descending: bool = True) -> list[GroupRow]:
    """Rows sorted by a column; ties keep the count order (most events first, then values)."""
    if column not in SORTS:
        raise GroupError(f"cannot sort by {column!r}: sort by one of {', '.join(SORTS)}")
    base = sorted(rows, key=lambda r: (-r.events, tuple(v or "" for v in r.values)))
    if column == "values":
        return sorted(base, key=lambda r: tuple((v is None, (v or "").lower()) for v in r.values), reverse=descending)
    return sorted(base, key=lambda r: getattr(r, column), reverse=descending)


def _expand(index: EventIndex, rows: np.ndarray, dims: tuple[Dimension, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
    """(event row per entry, codes per dimension per entry): one entry per event, or per
    (event, context key) when a dimension is ctx."""
    n = index.snapshot.n
    if not any(d.name == "ctx" for d in dims):
        return rows, [_codes_of(index, d, n)[rows] for d in dims]
    offsets, _labels, pair_key, _values = index.contexts.arrays()
    ctx = index.columns["ctx"].data[:n][rows].astype(np.int64)
    starts = offsets[ctx]
    counts = (offsets[ctx + 1] - starts).astype(np.int64)
    # events without a context keep one entry, under "no context key"
    has = counts > 0
    repeats = np.where(has, counts, 1)
    entry_rows = np.repeat(rows, repeats)
    position = np.arange(int(repeats.sum()), dtype=np.int64) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    pair = np.repeat(starts, repeats) + position
    keys = np.zeros(len(entry_rows), dtype=np.uint32)
    real = np.repeat(has, repeats)
    keys[real] = pair_key[pair[real]]
    # one event may carry the same context key twice (two labelled sets): count it once
    stacked = entry_rows.astype(np.int64) * np.int64(len(index.contexts.keys)) + keys
    _unique, first = np.unique(stacked, return_index=True)
    first.sort()
    entry_rows, keys = entry_rows[first], keys[first]
    codes = [keys if d.name == "ctx" else _codes_of(index, d, n)[entry_rows] for d in dims]
    return entry_rows, codes


def _codes_of(index: EventIndex, d: Dimension, n: int) -> np.ndarray:
    assert d.codes is not None
    return d.codes(index, n)


def _distinct(groups: np.ndarray, values: np.ndarray, group_count: int, value_count: int) -> np.ndarray:
    """Per group, how many distinct non-zero values it holds."""
    keep = values != 0
    groups, values = groups[keep], values[keep].astype(np.int64)
    if not len(groups):
        return np.zeros(group_count, np.int64)
    combined = groups.astype(np.int64) * np.int64(value_count) + values
    if group_count * value_count <= DENSE_LIMIT:
        seen = np.zeros(group_count * value_count, bool)
        seen[combined] = True
        return np.bincount(np.flatnonzero(seen) // value_count, minlength=group_count)
    return np.bincount(np.unique(combined) // value_count, minlength=group_count)


def group(index: EventIndex, rows: np.ndarray, fields: tuple[str, ...] | str) -> Grouping:
    """Group the given event rows (as a filter returns them) by one field or two, most events first."""
    names = parse_fields(fields) if isinstance(fields, str) else fields
    dims = tuple(dimension(name) for name in names)
    if not dims or len(dims) > 2:
        raise GroupError("group by one field or two, as in event,ip")
    n = index.snapshot.n
    rows = np.asarray(rows, dtype=np.int64)
    entry_rows, codes = _expand(index, rows, dims)
    sizes = [d.size(index) for d in dims]
    combined = codes[0].astype(np.int64)
    for code, size in zip(codes[1:], sizes[1:], strict=True):
        combined = combined * np.int64(size) + code
    space = int(np.prod(sizes, dtype=np.int64))
    if space <= DENSE_LIMIT:
        counts_all = np.bincount(combined, minlength=space)
        present = np.flatnonzero(counts_all)
        dense = np.zeros(space, np.int64)
        dense[present] = np.arange(len(present))
        inverse = dense[combined]
        counts = counts_all[present]
    else:
        present, inverse, counts = np.unique(combined, return_inverse=True, return_counts=True)
    group_count = len(present)
    columns = index.columns
    errors = np.bincount(inverse, weights=columns["errcode"].data[:n][entry_rows] != 0, minlength=group_count)
    times = columns["time"].data[:n][entry_rows]
    timed = times != NO_TIME
    first = np.full(group_count, np.iinfo(np.int64).max, np.int64)
    last = np.full(group_count, np.iinfo(np.int64).min, np.int64)
    np.minimum.at(first, inverse[timed], times[timed])
    np.maximum.at(last, inverse[timed], times[timed])
    keys = _distinct(inverse, columns["key0"].data[:n][entry_rows], group_count, len(index.vocab["key"]))
    principals = _distinct(
        inverse, principal_codes(index, n)[entry_rows], group_count, len(principal_part(index, "short")[0])
    )
    out = []
    for g in np.argsort(-counts, kind="stable").tolist():
        value = int(present[g])
        parts: list[int] = []
        for size in reversed(sizes):
            parts.append(value % size)
            value //= size
        parts.reverse()
        out.append(
            GroupRow(
                codes=tuple(parts),
                values=tuple(d.label(index, code) for d, code in zip(dims, parts, strict=True)),
                events=int(counts[g]),
                errors=int(errors[g]),
                first_seen=int(first[g]) if first[g] != np.iinfo(np.int64).max else NO_TIME,
                last_seen=int(last[g]) if last[g] != np.iinfo(np.int64).min else NO_TIME,
                keys=int(keys[g]),
                principals=int(principals[g]),
            )
        )
    return Grouping(names, sort_rows(out), len(rows))


def drill_terms(fields: tuple[str, ...], row: GroupRow) -> list[str]:
    """Filter terms that narrow to a row's values (``event:=Decrypt ip:=203.0.113.7``); a value
    that is "none" becomes what the language can say of it (``-error:*``) or nothing."""
    terms = []
    for name, value in zip(fields, row.values, strict=True):
        if value is None:
            if name == "error":
                terms.append("-error:*")
            continue
        if name == "readonly":
            terms.append(f"readonly:{value}")
        elif name == "origin":
            terms.append(f"origin:{quote(value)}")
        else:
            terms.append(f"{name}:={quote(value)}")
    return terms
