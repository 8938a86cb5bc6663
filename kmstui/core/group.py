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

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from .actiontrail import CLOUDS
from .fields import principal_part
from .index import EventIndex
from .query import quote
from .timeutil import NO_TIME

DENSE_LIMIT = 1 << 24  # combined code spaces up to this size are counted in place, without sorting


class GroupError(ValueError):
    """A group-by that cannot be computed: the message says why and what can be used."""


Codes = Callable[[EventIndex, int], np.ndarray]  # (index, n) -> a code per row
Values = Callable[[EventIndex], Sequence[object]]  # index -> the value of every code (None for "none")


class Dimension(NamedTuple):
    """A field that events can be grouped by: where its codes are and what each code reads."""

    name: str  # the field's name in the registry
    codes: Codes | None  # None for ctx, which has several codes per event
    values: Values

    def size(self, index: EventIndex) -> int:
        return len(self.values(index))

    def label(self, index: EventIndex, code: int) -> str | None:
        value = self.values(index)[code]
        return None if value is None else str(value)


def _column_codes(column: str) -> Codes:
    def codes(index: EventIndex, n: int) -> np.ndarray:
        return index.columns[column].data[:n]

    return codes


def _vocab_dimension(name: str, column: str) -> Dimension:
    vocab = "key" if column == "key0" else column
    return Dimension(name, _column_codes(column), lambda index: index.vocab[vocab].values)


def principal_codes(index: EventIndex, n: int) -> np.ndarray:
    """Each event's principal as shown (user/Alice, role/Admin (session)), as a code into
    ``principal_part(index, "short")``: one caller whether it called directly or through a
    service, which the principal vocabulary keeps apart."""
    return principal_part(index, "short")[1][index.columns["principal"].data[:n]]


def _identity_codes(index: EventIndex, n: int) -> np.ndarray:
    return principal_part(index, "identity_type")[1][index.columns["principal"].data[:n]]


def _readonly_codes(index: EventIndex, n: int) -> np.ndarray:
    return (index.columns["readonly"].data[:n].astype(np.int16) + 1).astype(np.uint32)  # -1, 0, 1 -> 0, 1, 2


def _cloud_codes(index: EventIndex, n: int) -> np.ndarray:
    return index.columns["cloud"].data[:n].astype(np.uint32) + 1  # 0 is "none"


def _origin_values(index: EventIndex) -> Sequence[object]:
    return [origin.label for origin in index.origins] or [None]


DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        _vocab_dimension("event", "name"),
        Dimension("principal", principal_codes, lambda index: principal_part(index, "short")[0].values),
        _vocab_dimension("key", "key0"),  # the event's first key: the one the events pane shows
        _vocab_dimension("ip", "ip"),
        Dimension("cloud", _cloud_codes, lambda index: (None, *CLOUDS)),
        _vocab_dimension("region", "region"),
        _vocab_dimension("account", "account"),
        _vocab_dimension("error", "errcode"),
        Dimension("identity", _identity_codes, lambda index: principal_part(index, "identity_type")[0].values),
        _vocab_dimension("eventtype", "evtype"),
        _vocab_dimension("category", "evcat"),
        _vocab_dimension("agent", "agent"),
        _vocab_dimension("source", "evsource"),
        Dimension("origin", _column_codes("origin"), _origin_values),
        Dimension("readonly", _readonly_codes, lambda index: (None, "false", "true")),
        Dimension("ctx", None, lambda index: index.contexts.keys.values),
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


SORTS = ("values", "events", "errors", "first_seen", "last_seen", "keys", "principals")
_NUMBERS = {"events": "counts", "errors": "errors", "first_seen": "first", "last_seen": "last"}


def _value_key(values: tuple[str | None, ...]) -> tuple:
    return tuple((v is None, (v or "").lower()) for v in values)


@dataclass(frozen=True, eq=False)
class Grouping:
    """A group-by's result as arrays, one entry per group; rows are built only when read
    (a pair of fields can give a hundred thousand groups, of which a screen shows twenty)."""

    fields: tuple[str, ...]
    events: int  # events grouped (an event under several context keys counts once)
    codes: tuple[np.ndarray, ...]  # per field, the code of each group's value
    values: tuple[Sequence[object], ...]  # per field, the value of every code
    counts: np.ndarray
    errors: np.ndarray
    first: np.ndarray
    last: np.ndarray
    keys: np.ndarray
    principals: np.ndarray
    order: np.ndarray  # the groups in the order shown
    sort: str = "events"
    descending: bool = True

    def __len__(self) -> int:
        return len(self.order)

    def row(self, position: int) -> GroupRow:
        """The row shown at a position."""
        g = int(self.order[position])
        codes = tuple(int(c[g]) for c in self.codes)
        values = tuple(
            None if (value := table[code]) is None else str(value)
            for table, code in zip(self.values, codes, strict=True)
        )
        return GroupRow(
            codes=codes,
            values=values,
            events=int(self.counts[g]),
            errors=int(self.errors[g]),
            first_seen=int(self.first[g]),
            last_seen=int(self.last[g]),
            keys=int(self.keys[g]),
            principals=int(self.principals[g]),
        )

    @property
    def rows(self) -> list[GroupRow]:
        return [self.row(position) for position in range(len(self.order))]

    def find(self, codes: tuple[int, ...] | None) -> int | None:
        """The position of the row with these value codes, if it is there."""
        if codes is None or len(codes) != len(self.codes):
            return None
        hit = np.ones(len(self.order), bool)
        for column, code in zip(self.codes, codes, strict=True):
            hit &= column[self.order] == code
        found = np.flatnonzero(hit)
        return int(found[0]) if len(found) else None

    def _ranks(self) -> list[np.ndarray]:
        """Per field, each group's place in the alphabetical order of its values (none last)."""
        ranks = []
        for codes, table in zip(self.codes, self.values, strict=True):
            present = np.unique(codes)
            keys = [_value_key((None if table[c] is None else str(table[c]),)) for c in present.tolist()]
            place = np.empty(len(present), np.int64)
            place[sorted(range(len(present)), key=keys.__getitem__)] = np.arange(len(present))
            ranks.append(place[np.searchsorted(present, codes)])
        return ranks

    def sorted(self, column: str = "events", descending: bool = True) -> Grouping:
        """The same groups sorted by a column; ties in most events first, then by values."""
        if column not in SORTS:
            raise GroupError(f"cannot sort by {column!r}: sort by one of {', '.join(SORTS)}")
        ranks = self._ranks()  # np.lexsort sorts by its last key first
        if column == "values":
            order = np.lexsort([-self.counts, *reversed([r if not descending else -r for r in ranks])])
        else:
            numbers = getattr(self, _NUMBERS.get(column, column))
            order = np.lexsort([*reversed(ranks), -self.counts, -numbers if descending else numbers])
        return replace(self, order=order, sort=column, descending=descending)


def sort_rows(rows: list[GroupRow], column: str = "events", descending: bool = True) -> list[GroupRow]:
    """Rows sorted by a column; ties keep the count order (most events first, then values)."""
    if column not in SORTS:
        raise GroupError(f"cannot sort by {column!r}: sort by one of {', '.join(SORTS)}")
    base = sorted(rows, key=lambda r: (-r.events, _value_key(r.values)))
    if column == "values":
        return sorted(base, key=lambda r: _value_key(r.values), reverse=descending)
    return sorted(base, key=lambda r: getattr(r, column), reverse=descending)


def _context_keys(index: EventIndex) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, keys): each context set's distinct keys (a set may carry one twice, in two
    labelled parts), computed once per growth of the contexts."""
    contexts = index.contexts
    cached = _CONTEXT_KEYS.get(contexts)
    if cached is not None and cached[0] == len(contexts):
        return cached[1], cached[2]
    offsets, _labels, pair_key, _values = contexts.arrays()
    sets = len(offsets) - 1
    owner = np.repeat(np.arange(sets, dtype=np.int64), np.diff(offsets))
    combined = np.sort(owner * np.int64(max(len(contexts.keys), 1)) + pair_key)
    if len(combined):
        keep = np.empty(len(combined), bool)
        keep[0] = True
        np.not_equal(combined[1:], combined[:-1], out=keep[1:])
        combined = combined[keep]
    owners = combined // max(len(contexts.keys), 1)
    keys = (combined % max(len(contexts.keys), 1)).astype(np.uint32)
    new_offsets = np.zeros(sets + 1, np.int64)
    np.cumsum(np.bincount(owners, minlength=sets), out=new_offsets[1:])
    _CONTEXT_KEYS[contexts] = (len(contexts), new_offsets, keys)
    return new_offsets, keys


_CONTEXT_KEYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _expand(index: EventIndex, rows: np.ndarray, dims: tuple[Dimension, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
    """(event row per entry, codes per dimension per entry): one entry per event, or per
    (event, context key) when a dimension is ctx."""
    n = index.snapshot.n
    if not any(d.name == "ctx" for d in dims):
        return rows, [_codes_of(index, d, n)[rows] for d in dims]
    offsets, pair_key = _context_keys(index)
    ctx = index.columns["ctx"].data[:n][rows].astype(np.int64)
    starts = offsets[ctx]
    counts = offsets[ctx + 1] - starts
    # events without a context keep one entry, under "no context key"
    has = counts > 0
    repeats = np.where(has, counts, 1)
    entry_rows = np.repeat(rows, repeats)
    ends = np.cumsum(repeats)
    position = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) - np.repeat(ends - repeats, repeats)
    pair = np.repeat(starts, repeats) + position
    keys = np.zeros(len(entry_rows), dtype=np.uint32)
    real = np.repeat(has, repeats)
    keys[real] = pair_key[pair[real]]
    codes = [keys if d.name == "ctx" else _codes_of(index, d, n)[entry_rows] for d in dims]
    return entry_rows, codes


def _codes_of(index: EventIndex, d: Dimension, n: int) -> np.ndarray:
    assert d.codes is not None
    return d.codes(index, n)


def dense_ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(an id per entry, the distinct values in ascending order): ids number the distinct values.
    A quicksort and three passes: faster here than np.unique's inverse (a stable sort) or hashing."""
    if not len(values):
        return np.zeros(0, np.int64), values[:0]
    order = np.argsort(values)
    ordered = values[order]
    change = np.empty(len(ordered), bool)
    change[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=change[1:])
    ids = np.empty(len(values), np.int64)
    ids[order] = np.cumsum(change) - 1
    return ids, ordered[change]


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
    ordered = np.sort(combined)
    change = np.empty(len(ordered), bool)
    change[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=change[1:])
    return np.bincount(ordered[change] // value_count, minlength=group_count)


def group(index: EventIndex, rows: np.ndarray, fields: tuple[str, ...] | str) -> Grouping:
    """Group the given event rows (as a filter returns them) by one field or two, most events first."""
    names = parse_fields(fields) if isinstance(fields, str) else fields
    dims = tuple(dimension(name) for name in names)
    if not dims or len(dims) > 2:
        raise GroupError("group by one field or two, as in event,ip")
    n = index.snapshot.n
    rows = np.asarray(rows, dtype=np.int64)
    entry_rows, codes = _expand(index, rows, dims)
    tables = tuple(d.values(index) for d in dims)
    sizes = [len(table) for table in tables]
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
        inverse, present = dense_ids(combined)
        counts = np.bincount(inverse, minlength=len(present))
    group_count = len(present)
    columns = index.columns
    errors = np.bincount(inverse[columns["errcode"].data[:n][entry_rows] != 0], minlength=group_count)
    times = columns["time"].data[:n][entry_rows]
    timed = times != NO_TIME
    first = np.full(group_count, np.iinfo(np.int64).max, np.int64)
    last = np.full(group_count, np.iinfo(np.int64).min, np.int64)
    np.minimum.at(first, inverse[timed], times[timed])
    np.maximum.at(last, inverse[timed], times[timed])
    first[first == np.iinfo(np.int64).max] = NO_TIME
    last[last == np.iinfo(np.int64).min] = NO_TIME
    split: list[np.ndarray] = []
    rest = present.astype(np.int64)
    for size in reversed(sizes):
        split.append(rest % size)
        rest = rest // size
    split.reverse()
    # a group of one key (or principal) holds that one, or none: nothing to count
    if "key" in names:
        keys = (split[names.index("key")] != 0).astype(np.int64)
    else:
        keys = _distinct(inverse, columns["key0"].data[:n][entry_rows], group_count, len(index.vocab["key"]))
    if "principal" in names:
        principals = (split[names.index("principal")] != 0).astype(np.int64)
    else:
        shorts, per_principal = principal_part(index, "short")
        on_rows = per_principal[columns["principal"].data[:n][entry_rows]]
        principals = _distinct(inverse, on_rows, group_count, len(shorts))
    grouping = Grouping(
        fields=names,
        events=len(rows),
        codes=tuple(split),
        values=tables,
        counts=counts,
        errors=errors,
        first=first,
        last=last,
        keys=keys,
        principals=principals,
        order=np.arange(group_count),
    )
    return grouping.sorted("events")


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
