"""The events list in another order than time: by event name, principal, key, error, IP or region.

Sorted by the rank of each distinct value (its place in the alphabet, ranked once per
vocabulary), with a stable sort, so that equal values keep the newest-first order.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

import numpy as np

from .fields import principal_part
from .index import EventIndex

Source = Callable[[EventIndex], tuple[Sequence[object], np.ndarray]]  # (values, code per row)


def _column(vocab: str, column: str) -> Source:
    def source(index: EventIndex) -> tuple[Sequence[object], np.ndarray]:
        return index.vocab[vocab].values, index.columns[column].data[: index.snapshot.n]

    return source


def _principal(index: EventIndex) -> tuple[Sequence[object], np.ndarray]:
    shorts, per_principal = principal_part(index, "short")
    return shorts.values, per_principal[index.columns["principal"].data[: index.snapshot.n]]


SORTABLE: dict[str, Source | None] = {
    "time": None,
    "event": _column("name", "name"),
    "principal": _principal,
    "key": _column("key", "key0"),
    "error": _column("errcode", "errcode"),
    "ip": _column("ip", "ip"),
    "region": _column("region", "region"),
}

_RANKS: weakref.WeakKeyDictionary[EventIndex, dict[str, tuple[int, np.ndarray]]] = weakref.WeakKeyDictionary()


def _ranks(index: EventIndex, name: str, values: Sequence[object]) -> np.ndarray:
    """Each code's place in the alphabetical order of the values (no value last), kept until
    the vocabulary grows."""
    cache = _RANKS.setdefault(index, {})
    found = cache.get(name)
    if found is not None and found[0] == len(values):
        return found[1]
    # sorted by plain strings, not (empty, text) tuples: a comparison of two strings is several
    # times cheaper than of two tuples, and there are a distinct principal per session (370,000
    # on a varied trail). No value sorts first as ""; it is then moved last, in code order.
    keys = [str(value).lower() if value else "" for value in values]
    order = sorted(range(len(values)), key=keys.__getitem__)
    empty = keys.count("")
    ranks = np.empty(len(values), np.int64)
    ranks[order[empty:] + order[:empty]] = np.arange(len(values))
    cache[name] = (len(values), ranks)
    return ranks


def sort_events(index: EventIndex, rows: np.ndarray, column: str = "time", descending: bool = True) -> np.ndarray:
    """``rows`` (newest first, as a filter gives them) in the order of ``column``; time descending
    is the rows as given."""
    if column not in SORTABLE:
        raise ValueError(f"cannot sort events by {column!r}: by one of {', '.join(SORTABLE)}")
    source = SORTABLE[column]
    if source is None:
        return rows if descending else rows[::-1]
    values, codes = source(index)
    ranks = _ranks(index, column, values)[codes[rows]]
    return rows[np.argsort(-ranks if descending else ranks, kind="stable")]
