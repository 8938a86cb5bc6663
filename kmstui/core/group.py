"""Group-by: the events of a filter counted by one field of the filter language, or two.

"Event name and source IP with the number of calls, most first": each row is a distinct
value (or pair of values) with its events, errors, first and last seen, and how many
distinct keys and principals are behind it. Computed on the index's codes, never on
events one by one: a field's codes index straight into counts (``np.bincount``), a pair
of fields is one combined code, and distinct keys or principals are pairs counted once.

A field that holds several values for one event (``ctx``: the keys of its encryption
context) counts the event once under each of them: events are counted per key *set* (a
few dozen, where contexts with their values run to one per event), then each set's counts
are spread over its keys.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from .actiontrail import CLOUDS
from .fields import ANY_VALUE, principal_part
from .index import EventIndex
from .query import quote
from .timeutil import NO_TIME
from .vocab import distinct, spans

# A code space is counted in place (np.bincount) when it is no larger than this many times the
# entries, and sorted otherwise: a bin costs about what sorting a fifth of an entry does.
DENSE_RATIO = 2
DENSE_SLACK = 4096  # and small spaces always are
PACK_LIMIT = 1 << 62  # sort keys whose ranges multiply to less than this are packed into one int64
MASK_BITS = 64  # up to this many distinct context keys, a key set is a bit mask


class GroupError(ValueError):
    """A group-by that cannot be computed: the message says why and what can be used."""


Codes = Callable[[EventIndex, np.ndarray], np.ndarray]  # (index, rows) -> the code of each row
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
    def codes(index: EventIndex, rows: np.ndarray) -> np.ndarray:
        return index.columns[column].data[rows]

    return codes


def _vocab_dimension(name: str, column: str) -> Dimension:
    vocab = "key" if column == "key0" else column
    return Dimension(name, _column_codes(column), lambda index: index.vocab[vocab].values)


def principal_codes(index: EventIndex, rows: np.ndarray) -> np.ndarray:
    """Each event's principal as shown (user/Alice, role/Admin (session)), as a code into
    ``principal_part(index, "short")``: one caller whether it called directly or through a
    service, which the principal vocabulary keeps apart."""
    return principal_part(index, "short")[1][index.columns["principal"].data[rows]]


def _identity_codes(index: EventIndex, rows: np.ndarray) -> np.ndarray:
    return principal_part(index, "identity_type")[1][index.columns["principal"].data[rows]]


def _readonly_codes(index: EventIndex, rows: np.ndarray) -> np.ndarray:
    return (index.columns["readonly"].data[rows].astype(np.int16) + 1).astype(np.uint32)  # -1, 0, 1 -> 0, 1, 2


def _cloud_codes(index: EventIndex, rows: np.ndarray) -> np.ndarray:
    return index.columns["cloud"].data[rows].astype(np.uint32) + 1  # 0 is "none"


def _origin_values(index: EventIndex) -> Sequence[object]:
    return [origin.label for origin in index.origins] or [None]


DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        _vocab_dimension("event", "name"),
        Dimension("principal", principal_codes, lambda index: principal_part(index, "short")[0].values),
        _vocab_dimension("key", "key0"),  # group() counts an event under every key it names (key_entries)
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
    new: int = 0  # events new in the filter's window (what the events list marks ✦), when it has one


SORTS = ("values", "events", "errors", "first_seen", "last_seen", "keys", "principals", "new")
_NUMBERS = {"events": "counts", "errors": "errors", "first_seen": "first", "last_seen": "last"}


def _value_key(values: tuple[str | None, ...]) -> tuple:
    return tuple((v is None, (v or "").lower()) for v in values)


@dataclass(frozen=True, eq=False)
class Grouping:
    """A group-by's result as arrays, one entry per group; rows are built only when read
    (a pair of fields can give a hundred thousand groups, of which a screen shows twenty)."""

    fields: tuple[str, ...]
    events: int  # events grouped (an event under several context keys, or keys, counts once)
    codes: tuple[np.ndarray, ...]  # per field, the code of each group's value
    values: tuple[Sequence[object], ...]  # per field, the value of every code
    counts: np.ndarray
    errors: np.ndarray
    first: np.ndarray
    last: np.ndarray
    keys: np.ndarray
    principals: np.ndarray
    order: np.ndarray  # the groups in the order shown
    sort: str = ""  # the column ``order`` is sorted by ("": none yet)
    descending: bool = True
    # per field, each code's place in the alphabetical order of the values (none last);
    # computed from ``values`` when not given
    value_ranks: tuple[np.ndarray, ...] | None = None
    new: np.ndarray | None = None  # per group, its events new in the window (None: no window)

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
            new=int(self.new[g]) if self.new is not None else 0,
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

    def _values_order(self) -> np.ndarray:
        """Each group's place in the alphabetical order of its values, field by field: one
        number per group, different for every group (its values are)."""
        ranks = self.value_ranks or tuple(value_ranks(table) for table in self.values)
        place = np.zeros(len(self.counts), np.int64)
        for codes, rank in zip(self.codes, ranks, strict=True):
            place = place * np.int64(max(len(rank), 1)) + rank[codes]
        return place

    def sorted(self, column: str = "events", descending: bool = True) -> Grouping:
        """The same groups sorted by a column; ties in most events first, then by values."""
        if column not in SORTS:
            raise GroupError(f"cannot sort by {column!r}: sort by one of {', '.join(SORTS)}")
        if (column, descending) == (self.sort, self.descending):
            return self
        place = self._values_order()
        if column == "values":
            keys = [-place if descending else place]
        else:
            numbers = getattr(self, _NUMBERS.get(column, column))
            if numbers is None:  # new, without a window: none are
                numbers = np.zeros(len(self.counts), np.int64)
            keys = [-numbers if descending else numbers, *([] if column == "events" else [-self.counts]), place]
        return replace(self, order=sort_order(keys), sort=column, descending=descending)


def sort_order(keys: list[np.ndarray]) -> np.ndarray:
    """The positions that sort these integer keys (the first decides, the next breaks its
    ties...; together they differ for every position). Packed into one int64 when their
    ranges allow: one sort of numbers rather than a stable sort per key (``np.lexsort``)."""
    if not keys or not len(keys[0]):
        return np.zeros(0, np.int64)
    packed = np.zeros(len(keys[0]), np.int64)
    room = 1
    for key in keys:
        low = int(key.min())
        span = int(key.max()) - low + 1
        room *= span
        if room >= PACK_LIMIT:
            return np.lexsort(keys[::-1])
        packed = packed * np.int64(span) + (key.astype(np.int64) - np.int64(low))
    return argsort_distinct(packed)


def argsort_distinct(values: np.ndarray) -> np.ndarray:
    """``np.argsort`` of non-negative int64 values, by sorting the values with each one's
    position in its low bits when they fit: numpy sorts numbers with SIMD, but not positions
    (at 600,000 entries, 16 ms against 125 here). Equal values come out in an unspecified order."""
    count = len(values)
    bits = max(count - 1, 1).bit_length()
    if not count or int(values.max()) >= 1 << (63 - bits) or int(values.min()) < 0:
        return np.argsort(values)
    packed = np.sort((values << np.int64(bits)) | np.arange(count, dtype=np.int64))
    return packed & np.int64((1 << bits) - 1)


_RANKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def value_ranks(table: Sequence[object]) -> np.ndarray:
    """Each code's place in the alphabetical order of a table's values, in any case, none last
    (equal ones in code order)."""
    keys = [_value_key((None if value is None else str(value),)) for value in table]
    ranks = np.empty(len(keys), np.int64)
    ranks[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys))
    return ranks


def _cached_ranks(index: EventIndex, name: str, table: Sequence[object]) -> np.ndarray:
    """value_ranks of a field's table, kept until the table grows (tables only grow)."""
    cache = _RANKS.setdefault(index, {})
    found = cache.get(name)
    if found is None or found[0] != len(table) or found[1] is not table:
        found = cache[name] = (len(table), table, value_ranks(table))
    return found[2]


def sort_rows(rows: list[GroupRow], column: str = "events", descending: bool = True) -> list[GroupRow]:
    """Rows sorted by a column; ties keep the count order (most events first, then values)."""
    if column not in SORTS:
        raise GroupError(f"cannot sort by {column!r}: sort by one of {', '.join(SORTS)}")
    base = sorted(rows, key=lambda r: (-r.events, _value_key(r.values)))
    if column == "values":
        return sorted(base, key=lambda r: _value_key(r.values), reverse=descending)
    return sorted(base, key=lambda r: getattr(r, column), reverse=descending)


class KeySets(NamedTuple):
    """The distinct sets of encryption-context keys: a few dozen, where context sets (keys
    with their values) run to one per event. Grouping by ``ctx`` counts events per key set,
    then spreads each key set's counts over its keys."""

    of_set: np.ndarray  # per context set (a ctx code), the id of its key set
    offsets: np.ndarray  # key set k holds keys[offsets[k]:offsets[k + 1]], ascending
    keys: np.ndarray  # context-key codes

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


_KEY_SETS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def key_sets(index: EventIndex) -> KeySets:
    """The key set of every context set, computed once per growth of the contexts."""
    contexts = index.contexts
    cached = _KEY_SETS.get(contexts)
    if cached is not None and cached[0] == len(contexts):
        return cached[1]
    size = len(contexts)
    offsets, _labels, pair_key, _values = contexts.arrays()
    offsets = offsets[: size + 1]
    width = len(contexts.keys)
    if width <= MASK_BITS:  # a key set as a bit mask: one OR per context set, vectorised
        counts = np.diff(offsets)
        masks = np.zeros(size, np.uint64)
        some = np.flatnonzero(counts > 0)
        if len(some):
            bits = np.left_shift(np.uint64(1), pair_key[: offsets[-1]].astype(np.uint64))
            masks[some] = np.bitwise_or.reduceat(bits, offsets[some])
        present = distinct(masks)
        of_set = np.searchsorted(present, masks)
        members = [[k for k in range(width) if int(mask) >> k & 1] for mask in present.tolist()]
    else:  # more context keys than bits: one tuple per context set
        found: dict[tuple[int, ...], int] = {}
        of_set = np.empty(size, np.int64)
        for at in range(size):
            keys = tuple(sorted(set(pair_key[offsets[at] : offsets[at + 1]].tolist())))
            of_set[at] = found.setdefault(keys, len(found))
        members = [list(keys) for keys in found]
    lengths = np.array([len(m) for m in members], np.int64)
    result = KeySets(
        of_set.astype(np.int64),
        np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        np.array([k for m in members for k in m], np.uint32),
    )
    _KEY_SETS[contexts] = (size, result)
    return result


def _combine(parts: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    """One code for several: ((a * size_b) + b) * size_c + c..."""
    if len(parts) == 1:
        return parts[0]
    combined = parts[0].astype(np.int64)
    for part, size in zip(parts[1:], sizes[1:], strict=True):
        combined *= np.int64(size)
        combined += part
    return combined


def _split(combined: np.ndarray, sizes: Sequence[int]) -> list[np.ndarray]:
    """_combine undone."""
    out: list[np.ndarray] = []
    rest = combined.astype(np.int64)
    for size in reversed(sizes):
        out.append(rest % size)
        rest = rest // size
    out.reverse()
    return out


class Dense(NamedTuple):
    inverse: np.ndarray  # per entry, the number of its distinct value
    present: np.ndarray  # the distinct values, ascending
    counts: np.ndarray  # entries per distinct value


def dense(values: np.ndarray, space: int) -> Dense:
    """The distinct values of codes below ``space``, numbered: counted in place when the space
    is small enough, else sorted."""
    if space <= DENSE_RATIO * len(values) + DENSE_SLACK:
        counts = np.bincount(values, minlength=space)
        present = np.flatnonzero(counts)
        lookup = np.empty(space, np.int64)
        lookup[present] = np.arange(len(present))
        return Dense(lookup[values], present, counts[present])
    inverse, present = dense_ids(values)
    return Dense(inverse, present, np.bincount(inverse, minlength=len(present)))


def dense_ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(an id per entry, the distinct values in ascending order): ids number the distinct values."""
    if not len(values):
        return np.zeros(0, np.int64), values[:0]
    order = argsort_distinct(values)
    ordered = values[order]
    change = np.empty(len(ordered), bool)
    change[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=change[1:])
    ids = np.empty(len(values), np.int64)
    ids[order] = np.cumsum(change) - 1
    return ids, ordered[change]


def distinct_pairs(groups: np.ndarray, values: np.ndarray, value_count: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (group, value) pairs with a non-zero value, as two arrays."""
    if not len(groups):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    space = (int(groups.max()) + 1) * value_count
    combined = groups * np.int64(value_count)
    combined += values
    if space <= DENSE_RATIO * len(combined) + DENSE_SLACK:
        present = np.flatnonzero(np.bincount(combined, minlength=space))
    else:
        ordered = np.sort(combined)
        change = np.empty(len(ordered), bool)
        change[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=change[1:])
        present = ordered[change]
    value = present % value_count
    real = value != 0  # none is not a key (or principal) to count
    return present[real] // value_count, value[real]


def _time_range(inverse: np.ndarray, times: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group, the oldest and newest time (NO_TIME when none of its events has one)."""
    timed = times != NO_TIME
    if not timed.all():
        inverse, times = inverse[timed], times[timed]
    first = np.full(count, np.iinfo(np.int64).max, np.int64)
    last = np.full(count, np.iinfo(np.int64).min, np.int64)
    np.minimum.at(first, inverse, times)
    np.maximum.at(last, inverse, times)
    first[first == np.iinfo(np.int64).max] = NO_TIME
    last[last == np.iinfo(np.int64).min] = NO_TIME
    return first, last


class KeyEntries(NamedTuple):
    """What grouping by ``key`` counts: an event once per key it names (a ReEncrypt names its
    source and destination keys; a few events name more), as ``key:=`` finds it by any of
    them; an event that names none once, under none."""

    at: np.ndarray  # where each entry's event is in the rows given (every place once, then the extras)
    rows: np.ndarray  # the event of each entry
    keys: np.ndarray  # the key of each entry (0: none)


def key_entries(index: EventIndex, rows: np.ndarray) -> KeyEntries:
    columns = index.columns
    first, second = columns["key0"].data[rows].astype(np.int64), columns["key1"].data[rows].astype(np.int64)
    named = first != 0
    primary = np.where(named, first, second)
    again = np.flatnonzero(named & (second != 0) & (second != first))
    extra_at, extra_keys = [again], [second[again]]
    if index.extra_keys:
        within = np.flatnonzero(np.isin(rows, np.fromiter(index.extra_keys, np.int64, len(index.extra_keys))))
        for at in within.tolist():
            seen = {int(primary[at]), int(second[at])}
            more = [k for k in dict.fromkeys(index.extra_keys[int(rows[at])]) if k and k not in seen]
            extra_at.append(np.full(len(more), at, np.int64))
            extra_keys.append(np.array(more, np.int64))
    places = np.concatenate([np.arange(len(rows), dtype=np.int64), *extra_at])
    return KeyEntries(places, rows[places], np.concatenate([primary, *extra_keys]))


def group(
    index: EventIndex, rows: np.ndarray, fields: tuple[str, ...] | str, novel: np.ndarray | None = None
) -> Grouping:
    """Group the given event rows (as a filter returns them) by one field or two, most events first.
    ``novel`` (a flag per row of the index, as :func:`~kmstui.core.novelty.new_any` gives) adds
    each group's count of new events.

    Events are first counted per *atom*: their value of each field, where a ``ctx`` field
    stands for the event's whole key set. Without ``ctx`` the atoms are the groups; with it,
    each atom's counts are spread over the keys of its key set (an event without a context
    under "none"), so no event is ever copied once per key. Grouped by ``key``, an event that names
    several keys counts under each (:func:`key_entries`); ``events`` stays the number of events."""
    names = parse_fields(fields) if isinstance(fields, str) else fields
    dims = tuple(dimension(name) for name in names)
    if not dims or len(dims) > 2:
        raise GroupError("group by one field or two, as in event,ip")
    columns = index.columns
    events = np.asarray(rows, dtype=np.int64)
    by_key = key_entries(index, events) if "key" in names else None
    rows = by_key.rows if by_key is not None else events  # what is counted from here on
    tables = tuple(d.values(index) for d in dims)
    sizes = [len(table) for table in tables]
    ctx = next((at for at, d in enumerate(dims) if d.codes is None), None)
    sets = key_sets(index) if ctx is not None else None
    atom_sizes = list(sizes)
    parts = []
    for at, d in enumerate(dims):
        if d.codes is None:
            assert sets is not None
            atom_sizes[at] = len(sets.lengths)
            parts.append(sets.of_set[columns["ctx"].data[rows]])
        elif by_key is not None and d.name == "key":
            parts.append(by_key.keys)
        else:
            parts.append(d.codes(index, rows))
    atoms = dense(_combine(parts, atom_sizes), int(np.prod(atom_sizes, dtype=np.int64)))
    count = len(atoms.present)
    errors = np.bincount(atoms.inverse[columns["errcode"].data[rows] != 0], minlength=count)
    new = np.bincount(atoms.inverse[novel[rows]], minlength=count) if novel is not None else None
    first, last = _time_range(atoms.inverse, columns["time"].data[rows], count)
    # the distinct (atom, key) and (atom, principal) pairs, where they are not the field itself
    shorts, per_principal = principal_part(index, "short")
    if "key" not in names:  # every key an event names, as when grouped by key
        named = key_entries(index, rows)
        key_pairs: tuple[np.ndarray, np.ndarray] | None = distinct_pairs(
            atoms.inverse[named.at], named.keys, len(index.vocab["key"])
        )
    else:
        key_pairs = None
    principal_pairs = (
        distinct_pairs(atoms.inverse, per_principal[columns["principal"].data[rows]], len(shorts))
        if "principal" not in names
        else None
    )
    split = _split(atoms.present, atom_sizes)
    counts = atoms.counts
    if ctx is not None:  # spread each atom over its key set's keys
        assert sets is not None
        key_set = split[ctx]
        lengths = sets.lengths[key_set]
        spread = np.maximum(lengths, 1)  # no context key: one entry, under none
        entry_atom = np.repeat(np.arange(count, dtype=np.int64), spread)
        starts = np.cumsum(spread) - spread
        within = np.arange(len(entry_atom), dtype=np.int64) - starts[entry_atom]
        keys = np.zeros(len(entry_atom), np.int64)
        real = np.repeat(lengths > 0, spread)
        keys[real] = sets.keys[(sets.offsets[key_set][entry_atom] + within)[real]]
        entry_parts = [keys if at == ctx else part[entry_atom] for at, part in enumerate(split)]
        groups = dense(_combine(entry_parts, sizes), int(np.prod(sizes, dtype=np.int64)))
        count = len(groups.present)
        counts = np.bincount(groups.inverse, weights=counts[entry_atom], minlength=count).astype(np.int64)
        errors = np.bincount(groups.inverse, weights=errors[entry_atom], minlength=count).astype(np.int64)
        if new is not None:
            new = np.bincount(groups.inverse, weights=new[entry_atom], minlength=count).astype(np.int64)
        timed_first = np.full(count, np.iinfo(np.int64).max, np.int64)
        timed_last = np.full(count, np.iinfo(np.int64).min, np.int64)
        has_time = first[entry_atom] != NO_TIME
        np.minimum.at(timed_first, groups.inverse[has_time], first[entry_atom][has_time])
        np.maximum.at(timed_last, groups.inverse[has_time], last[entry_atom][has_time])
        first = np.where(timed_first == np.iinfo(np.int64).max, NO_TIME, timed_first)
        last = np.where(timed_last == np.iinfo(np.int64).min, NO_TIME, timed_last)

        def regroup(pairs: tuple[np.ndarray, np.ndarray], value_count: int) -> tuple[np.ndarray, np.ndarray]:
            atom, value = pairs
            copies = spread[atom]
            entry = spans(starts[atom], copies)
            return distinct_pairs(groups.inverse[entry], np.repeat(value, copies), value_count)

        key_pairs = regroup(key_pairs, len(index.vocab["key"])) if key_pairs is not None else None
        principal_pairs = regroup(principal_pairs, len(shorts)) if principal_pairs is not None else None
        split = _split(groups.present, sizes)
    # a group of one key (or principal) holds that one, or none: nothing to count
    if key_pairs is None:
        keys_per_group = (split[names.index("key")] != 0).astype(np.int64)
    else:
        keys_per_group = np.bincount(key_pairs[0], minlength=count)
    if principal_pairs is None:
        principals = (split[names.index("principal")] != 0).astype(np.int64)
    else:
        principals = np.bincount(principal_pairs[0], minlength=count)
    grouping = Grouping(
        fields=names,
        events=len(events),
        codes=tuple(split),
        values=tables,
        counts=counts,
        errors=errors,
        first=first,
        last=last,
        keys=keys_per_group,
        principals=principals,
        order=np.arange(count),
        value_ranks=tuple(_cached_ranks(index, name, table) for name, table in zip(names, tables, strict=True)),
        new=new,
    )
    return grouping.sorted("events")


def drill_terms(fields: tuple[str, ...], row: GroupRow) -> list[str]:
    """Filter terms that narrow to a row's values (``event:=Decrypt ip:=203.0.113.7``), exactly
    the row's events: a value that is "none" becomes ``-FIELD:*`` (no value), the account an
    event is counted under is the one that owns it (``owner:``: ``account:`` also finds the
    calls made from that account into others)."""
    terms = []
    for name, value in zip(fields, row.values, strict=True):
        name = "owner" if name == "account" else name
        if value is None:
            if name == "error" or name in ANY_VALUE:
                terms.append(f"-{name}:*")
            continue
        if name == "readonly":
            terms.append(f"readonly:{value}")
        elif name == "origin":
            terms.append(f"origin:{quote(value)}")
        else:
            terms.append(f"{name}:={quote(value)}")
    return terms
