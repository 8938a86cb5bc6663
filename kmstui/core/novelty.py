"""What is new: who (or what) used a key for the first time in a window.

For a window (the filter's ``since:``) and everything loaded before it as the baseline,
an event is ``new:principal`` when its principal had never used its key before the
window began: the question asked first in a key compromise. The same for ``ip``,
``agent``, ``region`` and ``ctx`` (an encryption-context key). Without a ``since:`` the
baseline is everything before the event itself: the event is the first use.

The first use of every (key, value) pair is computed once per refresh of the index, as
the position of its first event in time order; a filter then compares positions, which
is one vectorised step. The key is the event's first key (the one the events pane shows);
events without a key are never new.
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
    pair (``first``, -1 when the event has no such pair). ``times`` are the times in that
    order."""

    rank: np.ndarray
    first: np.ndarray
    times: np.ndarray


_CACHE: weakref.WeakKeyDictionary[EventIndex, dict[tuple[str, int], FirstUse]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _ascending(index: EventIndex, snapshot: Snapshot) -> tuple[np.ndarray, np.ndarray]:
    """(rows oldest first, rank of each row), over rows with a time."""
    time = index.columns["time"].data[: snapshot.n]
    order = snapshot.order[::-1]
    order = order[time[order] != NO_TIME]
    rank = np.full(snapshot.n, -1, np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return order, rank


def _first_positions(pairs: np.ndarray) -> np.ndarray:
    """For each entry, the position of the first entry with the same pair value. One quicksort
    (np.unique's inverse needs a stable sort, three times slower here), then the smallest
    position of each run of equal values."""
    if not len(pairs):
        return np.zeros(0, np.int64)
    order = np.argsort(pairs)
    ordered = pairs[order]
    change = np.empty(len(ordered), bool)
    change[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=change[1:])
    first = np.minimum.reduceat(order, np.flatnonzero(change))
    out = np.empty(len(pairs), np.int64)
    out[order] = first[np.cumsum(change) - 1]
    return out


def first_use(index: EventIndex, snapshot: Snapshot, kind: str) -> FirstUse:
    """The first use of each (key, ``kind``) pair, cached per refresh of the index."""
    if kind not in KINDS:
        raise ValueError(f"new: takes {', '.join(KINDS)} or any, not {kind!r}")
    with _LOCK:
        cache = _CACHE.setdefault(index, {})
        found = cache.get((kind, snapshot.generation))
    if found is not None:
        return found
    order, rank = _ascending(index, snapshot)
    n = snapshot.n
    key0 = index.columns["key0"].data[:n]
    first = np.full(n, -1, np.int64)
    if kind == "ctx":
        from .group import _expand, dimension

        entry_rows, (ctx_keys,) = _expand(index, order, (dimension("ctx"),))
        keep = (ctx_keys != 0) & (key0[entry_rows] != 0)
        entry_rows, ctx_keys = entry_rows[keep], ctx_keys[keep]
        pairs = key0[entry_rows].astype(np.int64) * np.int64(len(index.contexts.keys)) + ctx_keys
        first_rank = rank[entry_rows][_first_positions(pairs)]
        np.maximum.at(first, entry_rows, first_rank)  # an event is new when any of its context keys is
    else:
        if kind == "principal":  # by who it is as shown: the same caller through a service is not new
            shorts, per_principal = principal_part(index, "short")
            codes = per_principal[index.columns["principal"].data[:n][order]]
            size = len(shorts)
        else:
            codes = index.columns[kind].data[:n][order]
            size = len(index.vocab[kind])
        keys = key0[order]
        keep = (codes != 0) & (keys != 0)
        rows = order[keep]
        pairs = keys[keep].astype(np.int64) * np.int64(size) + codes[keep]
        first[rows] = rank[rows][_first_positions(pairs)]
    times = index.columns["time"].data[:n][order]
    result = FirstUse(rank, first, times)
    with _LOCK:
        cache = _CACHE.setdefault(index, {})
        for stale in [k for k in cache if k[1] != snapshot.generation]:
            del cache[stale]
        cache[(kind, snapshot.generation)] = result
    return result


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
