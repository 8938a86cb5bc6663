"""Which key an alias pointed to, when: learned from the loaded events.

What teaches it: CreateAlias and UpdateAlias (the alias points to the target from then
on), DeleteAlias (to nothing from then on), the key an UpdateAlias or DeleteAlias record
names besides (the alias pointed there until that moment), and any successful call that
named the alias and a key together (it pointed there at that moment). Between two things learned
the alias keeps its last known key. Before the first, it is known only when the first
is an observation (no change is known to have happened); a CreateAlias means it did not
exist yet, an UpdateAlias that it pointed somewhere unknown.

This answers both "which key did this alias-only event use" and "what was this key
called when this event happened" (an event before an alias moved must not show the
alias's later name).
"""

from __future__ import annotations

import bisect
from typing import NamedTuple

from .model import AliasBinding


class AliasName(NamedTuple):
    """An alias tied to a key by the events, and whether it still points there."""

    alias: int  # alias vocabulary code
    current: bool


NEVER = -(2**63)
FOREVER = 2**63 - 1


class AliasHistory:
    def __init__(self, bindings: dict[AliasBinding, list[int]]):
        """``bindings``: what was learned -> [first time, last time] it was seen."""
        points: dict[int, list[tuple[int, int, str]]] = {}  # alias -> [(time, key, kind)]
        for binding, (first, last) in bindings.items():
            alias, key, kind = binding.alias, binding.key, binding.kind
            if kind == "before":  # held until the change: an observation a second earlier
                kind, first, last = "observed", first - 1, last - 1
            entries = points.setdefault(alias, [])
            entries.append((first, key, kind))
            if last != first:
                entries.append((last, key, kind))
        # alias -> [(start, end, key)], ends exclusive, key 0 for "points nowhere"
        self._by_alias: dict[int, list[tuple[int, int, int]]] = {}
        self._by_key: dict[int, list[tuple[int, int, int]]] = {}  # key -> [(start, end, alias)]
        for alias, entries in points.items():
            entries.sort(key=lambda p: (p[0], p[2] == "observed"))
            spans: list[tuple[int, int, int]] = []
            first_time, first_key, first_kind = entries[0]
            if first_kind == "observed":
                spans.append((NEVER, first_time, first_key))
            for position, (time, key, _kind) in enumerate(entries):
                end = entries[position + 1][0] if position + 1 < len(entries) else FOREVER
                if end > time or end == FOREVER:
                    spans.append((time, end, key))
            merged: list[tuple[int, int, int]] = []
            for start, end, key in spans:
                if merged and merged[-1][2] == key and merged[-1][1] >= start:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], end), key)
                else:
                    merged.append((start, end, key))
            self._by_alias[alias] = merged
            for start, end, key in merged:
                if key:
                    self._by_key.setdefault(key, []).append((start, end, alias))
        self._starts = {alias: [s for s, _, _ in spans] for alias, spans in self._by_alias.items()}
        for spans in self._by_key.values():
            spans.sort()

    def key_of(self, alias: int, time: int) -> int | None:
        """The key the alias pointed to at ``time``, or None when unknown or deleted."""
        spans = self._by_alias.get(alias)
        if not spans:
            return None
        position = bisect.bisect_right(self._starts[alias], time) - 1
        if position < 0:
            return None
        start, end, key = spans[position]
        return key if start <= time < end and key else None

    def aliases_at(self, key: int, time: int) -> list[int]:
        """The aliases pointing to the key at ``time``."""
        return [alias for start, end, alias in self._by_key.get(key, ()) if start <= time < end]

    def named(self, key: int) -> list[AliasName]:
        """Every alias ever tied to the key, with whether it still points there; current first."""
        seen: dict[int, bool] = {}
        for _start, end, alias in self._by_key.get(key, ()):
            seen[alias] = seen.get(alias, False) or end == FOREVER
        return sorted((AliasName(alias, current) for alias, current in seen.items()), key=lambda a: not a.current)

    def keys(self):
        return self._by_key.keys()
