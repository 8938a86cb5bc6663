"""What is new: who (or what) used a key for the first time in a window.

For a window (the filter's ``since:``) and everything loaded before it as the baseline,
an event is ``new:principal`` when its principal had never used its key before the
window began: the question asked first in a key compromise. The same for ``ip``,
``agent``, ``region`` and ``ctx`` (an encryption-context key). Without a ``since:`` the
baseline is everything before the event itself: the event is the first use.

The first use of every (key, value) pair is computed once per refresh of the index, as
the position of its first event in time order (the smallest, one ``np.minimum.at`` over
the pairs' codes); a filter then compares positions, which is one vectorised step. An
event pairs its value with every key it names (a ReEncrypt's source and destination, as
group-by ``key`` counts it): it is new when any of those pairs is. Events without a key are
never new.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple, Protocol

import numpy as np

from . import fields
from .fields import principal_part
from .index import EventIndex, Snapshot
from .timeutil import NO_TIME

KINDS = ("principal", "ip", "agent", "region", "ctx")
ANY = ("any", "*")


class _TermLike(Protocol):
    @property
    def field(self) -> str | None: ...

    @property
    def values(self) -> list[str]: ...


WINDOW_TERM = re.compile(r"(?<!\S)(?:since|until):\S+")


def window_terms(text: str) -> list[str]:
    """The since: and until: terms written in a filter's text."""
    return WINDOW_TERM.findall(text)


def without_window(text: str) -> str:
    """The filter's text without its since: and until: terms."""
    return " ".join(WINDOW_TERM.sub("", text).split())


class Window(NamedTuple):
    since: int | None
    until: int | None


_WINDOW: ContextVar[Window | None] = ContextVar("novelty_window", default=None)


def window_of(terms: Iterable[_TermLike], snapshot: Snapshot) -> Window:
    """The window a filter's top-level ``since:`` and ``until:`` terms say (the narrowest)."""
    since = until = None
    for term in terms:
        if getattr(term, "negate", False) or not term.values:
            continue
        if term.field == "since":
            value = fields.moment(term.values[0], snapshot)
            since = value if since is None else max(since, value)
        elif term.field == "until":
            value = fields.moment(term.values[0], snapshot, end_of_day=True)
            until = value if until is None else min(until, value)
    return Window(since, until)


@contextmanager
def window(terms: Iterable[_TermLike], snapshot: Snapshot) -> Iterator[Window]:
    """Make a filter's window the one ``new:`` terms compare with while it is evaluated."""
    found = window_of(terms, snapshot)
    token = _WINDOW.set(found)
    try:
        yield found
    finally:
        _WINDOW.reset(token)


def current_window() -> Window:
    return _WINDOW.get() or Window(None, None)


class FirstUse(NamedTuple):
    """Per event row: its position in time order (``rank``, -1 when it has none: a folded
    duplicate, no time) and the position of the first event with the same (key, value)
    pair, the newest of those firsts when the event has several pairs (``first``, -1 when
    it has none). ``times`` are the times in that order."""

    rank: np.ndarray
    first: np.ndarray
    times: np.ndarray


_CACHE: weakref.WeakKeyDictionary[EventIndex, dict[tuple[str, int], FirstUse]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


_ORDER: weakref.WeakKeyDictionary[EventIndex, tuple[int, np.ndarray, np.ndarray]] = weakref.WeakKeyDictionary()


def _ascending(index: EventIndex, snapshot: Snapshot) -> tuple[np.ndarray, np.ndarray]:
    """(rows oldest first, rank of each row), over rows with a time; once per refresh, for
    every kind."""
    with _LOCK:
        cached = _ORDER.get(index)
    if cached is not None and cached[0] == snapshot.generation:
        return cached[1], cached[2]
    time = index.columns["time"].data[: snapshot.n]
    order = snapshot.order[::-1]
    order = order[time[order] != NO_TIME]
    rank = np.full(snapshot.n, -1, np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    with _LOCK:
        _ORDER[index] = (snapshot.generation, order, rank)
    return order, rank


_ENTRIES: weakref.WeakKeyDictionary[EventIndex, tuple[int, np.ndarray, np.ndarray]] = weakref.WeakKeyDictionary()


def _keyed(index: EventIndex, snapshot: Snapshot, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(event, key) for every key each event with a time names; once per refresh, for every kind."""
    from . import group  # group imports query, which imports this module

    with _LOCK:
        cached = _ENTRIES.get(index)
    if cached is not None and cached[0] == snapshot.generation:
        return cached[1], cached[2]
    entries = group.key_entries(index, np.flatnonzero(rank >= 0))
    named = entries.keys != 0
    rows, keys = entries.rows[named], entries.keys[named]
    with _LOCK:
        _ENTRIES[index] = (snapshot.generation, rows, keys)
    return rows, keys


def _first_ranks(pairs: np.ndarray, ranks: np.ndarray, space: int) -> np.ndarray:
    """For each entry, the smallest rank among the entries of its pair (pairs are codes below
    ``space``): in place when the space is small, else by one sort."""
    from . import group  # group imports query, which imports this module

    if not len(pairs):
        return np.zeros(0, np.int64)
    if space <= group.DENSE_RATIO * len(pairs) + group.DENSE_SLACK:
        first = np.full(space, np.iinfo(np.int64).max, np.int64)
        np.minimum.at(first, pairs, ranks)
        return first[pairs]
    ids, present = group.dense_ids(pairs)
    first = np.full(len(present), np.iinfo(np.int64).max, np.int64)
    np.minimum.at(first, ids, ranks)
    return first[ids]


def first_use(index: EventIndex, snapshot: Snapshot, kind: str) -> FirstUse:
    """The first use of each (key, ``kind``) pair, cached per refresh of the index."""
    if kind not in KINDS:
        raise ValueError(f"new: takes {', '.join(KINDS)} or any, not {kind!r}")
    with _LOCK:
        cache = _CACHE.setdefault(index, {})
        found = cache.get((kind, snapshot.generation))
    if found is not None:
        return found
    from . import group  # group imports query, which imports this module

    order, rank = _ascending(index, snapshot)
    n = snapshot.n
    keys = len(index.vocab["key"])
    first = np.full(n, -1, np.int64)
    # one entry per (event, key it names); events without a key (or a time) are never new
    entry_rows, entry_keys = _keyed(index, snapshot, rank)
    if kind == "ctx":
        # per (key, key set) atom its first rank; per (key, context key) the first of the atoms
        # holding it; an entry is new when any of its context keys is: the newest of those firsts
        sets = group.key_sets(index)
        entry_sets = sets.of_set[index.columns["ctx"].data[entry_rows]]
        some = sets.lengths[entry_sets] > 0
        entry_rows, entry_keys, entry_sets = entry_rows[some], entry_keys[some], entry_sets[some]
        atom_space = keys * len(sets.lengths)
        atoms = entry_keys * np.int64(len(sets.lengths)) + entry_sets
        found_atoms = group.dense(atoms, atom_space)
        atom_first = np.full(len(found_atoms.present), np.iinfo(np.int64).max, np.int64)
        np.minimum.at(atom_first, found_atoms.inverse, rank[entry_rows])
        atom_key, atom_set = found_atoms.present // len(sets.lengths), found_atoms.present % len(sets.lengths)
        spread = sets.lengths[atom_set]
        pair_atom = np.repeat(np.arange(len(spread), dtype=np.int64), spread)
        within = np.arange(len(pair_atom), dtype=np.int64) - np.repeat(np.cumsum(spread) - spread, spread)
        context_key = sets.keys[sets.offsets[atom_set][pair_atom] + within]
        pairs = atom_key[pair_atom] * np.int64(len(index.contexts.keys)) + context_key
        pair_first = _first_ranks(pairs, atom_first[pair_atom], keys * len(index.contexts.keys))
        newest = np.full(len(spread), -1, np.int64)
        np.maximum.at(newest, pair_atom, pair_first)
        entry_first = newest[found_atoms.inverse]
    else:
        if kind == "principal":  # by who it is as shown: the same caller through a service is not new
            shorts, per_principal = principal_part(index, "short")
            codes = per_principal[index.columns["principal"].data[:n]]
            size = len(shorts)
        else:
            codes = index.columns[kind].data[:n]
            size = len(index.vocab[kind])
        valued = codes[entry_rows] != 0
        entry_rows, entry_keys = entry_rows[valued], entry_keys[valued]
        pairs = entry_keys * np.int64(size) + codes[entry_rows]
        entry_first = _first_ranks(pairs, rank[entry_rows], keys * size)
    # an event's first use is the newest of its entries': the event itself when any pair is its own
    np.maximum.at(first, entry_rows, entry_first)
    times = index.columns["time"].data[:n][order]
    result = FirstUse(rank, first, times)
    with _LOCK:
        cache = _CACHE.setdefault(index, {})
        for stale in [k for k in cache if k[1] != snapshot.generation]:
            del cache[stale]
        cache[(kind, snapshot.generation)] = result
    return result


def forget(index: EventIndex) -> None:
    """Drop what is kept for an index (the first uses, the time order): the next new: computes
    them again, as the first after a load does (the benchmark times that)."""
    with _LOCK:
        _CACHE.pop(index, None)
        _ORDER.pop(index, None)
        _ENTRIES.pop(index, None)


def kinds_of(text: str) -> tuple[str, ...]:
    """The kinds a ``new:`` value names: one of KINDS, or any (all of them)."""
    lowered = text.strip().lower()
    if lowered in ANY:
        return KINDS
    if lowered in ("context", "context-key", "ctxkey"):
        return ("ctx",)
    if lowered in ("agent", "useragent", "user-agent"):
        return ("agent",)
    if lowered in KINDS:
        return (lowered,)
    raise ValueError(f"new: takes {', '.join(KINDS)} or any, not {text!r}")


def new_mask(index: EventIndex, snapshot: Snapshot, kind: str, since: int | None = None) -> np.ndarray:
    """Events whose (key, ``kind``) pair was not seen before ``since`` (None: before the event)."""
    use = first_use(index, snapshot, kind)
    has = use.first >= 0
    if since is None:
        return has & (use.first == use.rank)
    mask = np.zeros(snapshot.n, bool)
    rows = np.flatnonzero(has)
    mask[rows] = use.times[use.first[rows]] >= since
    return mask


def new_any(index: EventIndex, snapshot: Snapshot, since: int | None = None) -> np.ndarray:
    """Events new in any way (the events list's marker)."""
    mask = np.zeros(snapshot.n, bool)
    for kind in KINDS:
        mask |= new_mask(index, snapshot, kind, since)
    return mask


def evaluate(index: EventIndex, snapshot: Snapshot, text: str) -> np.ndarray:
    """A ``new:`` term's mask, against the window of the filter being evaluated."""
    since = current_window().since
    mask = np.zeros(snapshot.n, bool)
    for kind in kinds_of(text):
        mask |= new_mask(index, snapshot, kind, since)
    return mask
