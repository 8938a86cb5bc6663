"""The in-memory index: every kept event, column by column.

Batches from the loader are merged in (their local codes re-coded against global
vocabularies); :meth:`EventIndex.refresh` then derives what depends on all events
at once: duplicates folded, the newest-first order, aliases resolved through what
the events taught. Readers (the UI thread, a filter worker) use the arrays of the
latest refresh while a loader thread keeps adding: columns only grow, and each
refresh swaps in new derived arrays in one assignment.

Memory is the design constraint (at most 300 bytes an event, on a trail where nearly every
call brings a new session and a new S3 object ARN): numbers and codes in numpy arrays, 2
bytes wide until a value needs 4, event ids as 16-byte UUIDs, principals and encryption
contexts in byte arenas searched in place, and no raw record kept: the detail view reads
it again from its source.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import repeat
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import msgspec
import numpy as np

from . import model
from .actiontrail import CLOUDS
from .aliases import AliasHistory, AliasName
from .arena import IdentityVocabulary, LoweredArena, TextArena, rows_containing
from .batch import _DIGITS, _NIBBLES, PACKED_ID, LogFiles, Texts, packed_ids
from .decode import (
    EVENT_ID_WIDTH,
    STRING_COLUMNS,
    Batch,
    ContextPart,
    TrailChange,
    assumed_role_arn,
    collector_paused,
    record_length,
)
from .sources import Delivery, Skipped, SourceError, read_source, split_records
from .timeutil import NO_TIME
from .vocab import Vocabulary

if TYPE_CHECKING:  # live imports the core: at run time the core does not import live
    from .live.inventory import LiveKey, LiveTrail

# Codes and counts start as uint16 and widen themselves to uint32 the first time a value
# does not fit (more than 65,535 distinct addresses, sources, keys; a record past 64 KiB):
# 2 bytes an event each, on a tight memory budget. Principals and encryption contexts are
# new nearly every event on a busy trail: they start wide.
_COLUMN_TYPES = {
    "time": np.int64,
    "origin": np.uint16,
    "ordinal": np.uint16,
    "rawlen": np.uint16,
    **{name: np.uint16 for name in STRING_COLUMNS},
    "principal": np.uint32,
    "readonly": np.int8,
    "key0": np.uint16,
    "key1": np.uint16,
    "alias": np.uint16,
    "ctx": np.uint32,
    "trail": np.uint16,
    "cloud": np.uint8,  # a code into actiontrail.CLOUDS: 0 aws, 1 alibaba
}


class _Column:
    """A growable numpy array: appends are amortised, views of old data stay valid."""

    __slots__ = ("data", "size")

    def __init__(self, dtype):
        self.data = np.zeros(1024, dtype=dtype)
        self.size = 0

    def _fit(self, largest: int) -> None:
        if self.data.dtype == np.uint16 and largest > 0xFFFF:
            self.data = self.data.astype(np.uint32)  # more distinct values than a uint16 holds

    def set(self, row: int, value: int) -> None:
        """Write one value in place (widening the column first if it does not fit)."""
        self._fit(value)
        self.data[row] = value

    def reserve(self, count: int) -> None:
        """Room for ``count`` values in all: those in use copied once into an array that large."""
        if count > len(self.data):
            grown = np.zeros(count, dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown

    def extend(self, values: np.ndarray, largest: int | None = None) -> None:
        """Append ``values``; ``largest``, when the caller knows a bound (a vocabulary's last
        code), spares a narrow column looking through them for their largest."""
        count = len(values)
        if not count:
            return
        if self.data.dtype == np.uint16 and (largest is None or largest > 0xFFFF):
            self._fit(int(values.max()))
        end = self.size + count
        if end > len(self.data):
            self.reserve(max(end, len(self.data) * 2))
        self.data[self.size : end] = values
        self.size = end

    def extend_coded(self, remap: np.ndarray, codes: np.ndarray, largest: int) -> None:
        """Append ``remap[codes]`` (a batch's local codes made global), written straight into
        the column: no array of global codes made first, then copied and narrowed.
        ``largest``: the largest value ``remap`` holds."""
        count = len(codes)
        if not count:
            return
        if self.data.dtype == np.uint16 and largest > 0xFFFF:
            self._fit(largest)
        end = self.size + count
        if end > len(self.data):
            self.reserve(max(end, len(self.data) * 2))
        np.take(remap.astype(self.data.dtype, copy=False), codes, out=self.data[self.size : end])
        self.size = end


class EventIds:
    """Event ids, 17 bytes each: a UUID, as CloudTrail (lower case) and ActionTrail (upper
    case) write them, kept as its 128 bits (its text is 36 bytes) and a byte that says it was
    written in upper case. Any other id (mixed case, longer, not a UUID, the nil UUID) is
    kept whole, exact, in ``overflow`` (the index's map of the rows whose id is odd); 16 zero
    bytes mean no id. Appended as the workers pack them (or as 36-byte texts)."""

    __slots__ = ("data", "overflow", "size", "upper")

    def __init__(self, overflow: dict[int, str]):
        self.data = np.zeros(1024, dtype="V16")
        self.upper = np.zeros(1024, dtype=bool)  # the UUID's text is in upper case
        self.size = 0
        self.overflow = overflow

    def extend(self, values: np.ndarray, upper: np.ndarray | None = None) -> None:
        """Append ids as a worker packs them (:func:`~kmstui.core.batch.packed_ids`: 16 bytes
        each and ``upper``, the odd ones in the batch's overflow map) or as 36-byte texts."""
        count = len(values)
        if values.dtype == PACKED_ID:
            packed = values
            upper = np.zeros(count, bool) if upper is None else upper
        else:
            packed, upper, odd = packed_ids(values)
            self.overflow.update((self.size + row, text) for row, text in odd.items())
        end = self.size + count
        if end > len(self.data):
            self.reserve(max(end, len(self.data) * 2))
        self.upper[self.size : end] = upper
        self.data[self.size : end] = packed
        self.size = end

    def reserve(self, count: int) -> None:
        """Room for ``count`` ids in all: those in use copied once into arrays that large."""
        if count > len(self.data):
            grown, grown_upper = np.zeros(count, dtype=self.data.dtype), np.zeros(count, dtype=bool)
            grown[: self.size], grown_upper[: self.size] = self.data[: self.size], self.upper[: self.size]
            self.data, self.upper = grown, grown_upper

    def get(self, row: int) -> str | None:
        odd = self.overflow.get(row)
        if odd is not None:
            return odd
        value = bytes(self.data[row])
        if not any(value):
            return None
        digits = value.hex()
        text = f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
        return text.upper() if self.upper[row] else text

    def texts(self, start: int, stop: int) -> np.ndarray:
        """The UUIDs of rows ``start:stop`` as 36-byte texts in lower case, whatever case they
        were written in (empty for no id or an odd one): what ``matching`` searches."""
        packed = self.data[start:stop].view(np.uint8).reshape(stop - start, 16)
        text = np.full((stop - start, EVENT_ID_WIDTH), ord("-"), dtype=np.uint8)
        text[:, _NIBBLES[0::2]] = _DIGITS[packed >> 4]
        text[:, _NIBBLES[1::2]] = _DIGITS[packed & 15]
        text[~packed.any(axis=1)] = 0
        return text.view(f"S{EVENT_ID_WIDTH}").reshape(stop - start)

    def matching(self, needle: str, exact: bool, n: int) -> np.ndarray:
        """Rows below ``n`` whose id contains ``needle`` (or is it, with ``exact``), in any case."""
        want = needle.lower()
        mask = np.zeros(n, bool)
        if exact:
            if want.isascii() and len(want) == EVENT_ID_WIDTH:
                probe = EventIds({})
                probe.extend(np.array([want.encode()], dtype=f"S{EVENT_ID_WIDTH}"))
                if probe.size and any(bytes(probe.data[0])):
                    mask = self.data[:n] == probe.data[0]
        elif want and len(want) <= EVENT_ID_WIDTH and not want.strip("0123456789abcdef-"):
            # only hex digits and dashes can be in a UUID's text; it is made a chunk at a time
            for start in range(0, n, 1 << 16):
                stop = min(n, start + (1 << 16))
                mask[start:stop] = rows_containing(self.texts(start, stop), want.encode())
        for row, event_id in list(self.overflow.items()):
            if row < n:
                mask[row] = event_id.lower() == want if exact else want in event_id.lower()
        return mask


class Damage(NamedTuple):
    """Partial damage to a source that still loaded (lines it could not read, a record cut off)."""

    label: str
    problem: str  # one sentence, without its full stop


@dataclass
class Origin:
    """A source events came from: a file, standard input, a LookupEvents region."""

    label: str
    path: str
    format: str
    delivery: Delivery | None
    records: int = 0
    events: int = 0
    kind: str = ""  # set by the trails module: "delivery", "lookup", "file", "stdin"
    stamp: tuple[int, int] | None = None  # (size, mtime_ns) when loaded, to notice a changed file
    appendable: bool = False  # grows as events arrive (a LookupEvents cache): not "changed" when it does


@dataclass
class LoadReport:
    """What a load did, for the status line, the load summary and stderr."""

    files_loaded: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[Damage] = field(default_factory=list)
    records: int = 0
    kept: int = 0
    ignored: Counter = field(default_factory=Counter)
    empty: int = 0  # sources loaded that held no KMS or trail event
    duplicates: int = 0
    shared_ids: int = 0  # events kept although another event has their id, name and time
    digests: int = 0

    def sentences(self) -> list[str]:
        """The load summary, one sentence each."""
        events = self.kept - self.duplicates
        empty = f"; {self.empty:,} of them held none" if self.empty else ""
        out = [
            f"Loaded {_count(events, 'KMS or trail event')} from {_count(self.files_loaded, 'source')} "
            f"({_count(self.records, 'record')} read{empty})."
        ]
        if self.duplicates:
            out.append(
                f"Folded {self.duplicates:,} duplicate event{'s' if self.duplicates != 1 else ''}"
                " (same id, name and time)."
            )
        if self.shared_ids:
            out.append(
                f"Kept {self.shared_ids:,} events that share an id, name and time with another but differ in"
                " outcome or content: CloudTrail's ids are unique, so one of each is not what CloudTrail wrote."
            )
        services = Counter({source: count for source, count in self.ignored.items() if source != NO_EVENT_SOURCE})
        unsourced = self.ignored.get(NO_EVENT_SOURCE, 0)
        if services:
            parts = ", ".join(
                f"{count:,} {source.removesuffix('.amazonaws.com')}" for source, count in services.most_common(6)
            )
            more = len(services) - 6
            out.append(
                f"Not kept: {_count(sum(services.values()), 'event')} of other services"
                f" ({parts}{f', {more} more' if more > 0 else ''})."
            )
        if unsourced:  # CloudTrail Insights events, for one
            out.append(f"Not kept: {_count(unsourced, 'record')} without an event source (Insights events, for one).")
        if self.digests:
            out.append(
                f"Ignored {_count(self.digests, 'CloudTrail digest file')}: digest files hold hashes of log files,"
                " not events."
            )
        for skipped in self.skipped:
            out.append(f"Skipped {skipped.label}: {skipped.reason}.")
        for damage in self.problems:
            out.append(f"In {damage.label}: {damage.problem}.")
        return out


NO_EVENT_SOURCE = "(no event source)"  # how the loader counts a record without eventSource


def _count(number: int, thing: str) -> str:
    """``1 record``, ``2 records``."""
    return f"{number:,} {thing}{'s' if number != 1 else ''}"


def _narrowest(codes: np.ndarray) -> np.ndarray:
    """Codes as uint16 where they all fit (labels, keys and pair counts nearly always do);
    chunks of both widths concatenate to the wider."""
    return codes.astype(np.uint16) if not len(codes) or int(codes.max()) <= 0xFFFF else codes


class Contexts:
    """Encryption contexts, columnar: one entry per distinct context set of a batch.

    Context set ``c`` owns pairs ``offsets[c]:offsets[c+1]`` of the pair arrays
    (label, key, value). Keys and labels are few and dictionary-encoded; values
    (S3 object ARNs, secret versions) are often unique, so they are kept once per
    batch in a :class:`~kmstui.core.arena.TextArena` (their bytes and an offset, no
    Python object each), never in a per-value dict. Batches arrive flattened
    (:class:`~kmstui.core.decode.ContextPart`) and are appended as array chunks.
    """

    def __init__(self):
        self.labels = Vocabulary[str]()
        self.keys = Vocabulary[str]()
        self.values = TextArena([""])
        self._search = LoweredArena(self.values)
        self._size = 0  # context sets, not counting 0 ("no context")
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # counts, label, key, value
        self._arrays = None
        # A loader thread adds while the UI and filter threads read: growth (a chunk and the
        # size that counts it) and the folding of chunks into arrays happen under one lock.
        self._growth = threading.Lock()

    def __len__(self) -> int:
        return self._size + 1

    def add(self, part: ContextPart) -> np.ndarray:
        """Global codes for a batch's local context codes (entry 0 is "no context")."""
        count = len(part.counts)
        codes = np.zeros(count + 1, dtype=np.uint32)
        codes[1:] = np.arange(self._size + 1, self._size + 1 + count, dtype=np.uint32)
        if count:
            chunk = (
                _narrowest(part.counts),
                _narrowest(self.labels.remap(part.labels)[part.label]),
                _narrowest(self.keys.remap(part.keys)[part.key]),
                part.value + np.uint32(len(self.values)),
            )
            if isinstance(part.values, Texts):  # as a worker sends them: the blob appended as it is
                self.values.extend_encoded(part.values.blob, part.values.lengths())
            else:
                self.values.extend(part.values)
            with self._growth:
                self._chunks.append(chunk)
                self._size += count
                self._arrays = None
        return codes

    def arrays(self):
        """(offsets, label, key, value) as numpy arrays, rebuilt only after growth."""
        arrays = self._arrays
        if arrays is not None:
            return arrays
        with self._growth:
            if self._arrays is not None:
                return self._arrays
            if len(self._chunks) > 1:  # fold the chunks so the next growth copies less
                counts, label, key, value = (np.concatenate(parts) for parts in zip(*self._chunks, strict=True))
                self._chunks = [(counts, label, key, value)]
            counts, label, key, value = self._chunks[0] if self._chunks else (np.zeros(0, np.uint32),) * 4
            offsets = np.zeros(self._size + 2, dtype=np.int64)
            np.cumsum(counts, out=offsets[2:])
            arrays = self._arrays = (offsets, label, key, value)
        return arrays

    def search_values(self) -> LoweredArena:
        """Context values in lowercase for searching; only values that are not lowercase
        already (most are: ARNs, ids) keep a lowercase copy."""
        return self._search

    def get(self, code: int) -> model.ContextSet:
        """The labelled context set for a code."""
        if code == 0:
            return ()
        offsets, label, key, value = self.arrays()
        grouped: dict[str, list[tuple[str, str]]] = {}
        for i in range(int(offsets[code]), int(offsets[code + 1])):
            grouped.setdefault(self.labels.values[label[i]], []).append(
                (self.keys.values[key[i]], self.values[value[i]])
            )
        return tuple(model.LabelledContext(name, tuple(pairs)) for name, pairs in grouped.items())

    def same(self, a: int, b: int) -> bool:
        """Whether context sets ``a`` and ``b`` hold the same labelled pairs: a set is its pairs
        (contexts.identity), and each batch keeps its own sets, in the order of their first record."""
        if a == b:
            return True
        unordered = [{part.label: sorted(part.pairs) for part in self.get(code)} for code in (a, b)]
        return unordered[0] == unordered[1]

    def matching(self, key: str | None, value: str | None) -> np.ndarray:
        """Lookup table over context codes: some pair whose key contains ``key`` and whose
        value contains ``value`` (either may be None for "any"; case-insensitive)."""
        offsets, _labels, pair_key, pair_value = self.arrays()
        if len(pair_key) == 0:
            return np.zeros(len(offsets) - 1, dtype=bool)
        hit = np.ones(len(pair_key), dtype=bool)
        if key is not None:
            hit &= self.keys.matching(key)[pair_key]
        if value is not None:
            value_table = self._search.containing(value.lower())
            hit &= value_table[pair_value]
        return self._any_pair(offsets, hit)

    def matching_any(self, needle: str) -> np.ndarray:
        """Context codes where some key or some value contains ``needle``: the pairs that
        match either way, gathered per context once."""
        offsets, _labels, pair_key, pair_value = self.arrays()
        if len(pair_key) == 0:
            return np.zeros(len(offsets) - 1, dtype=bool)
        hit = self.keys.matching(needle)[pair_key]
        hit |= self._search.containing(needle.lower())[pair_value]
        return self._any_pair(offsets, hit)

    @staticmethod
    def _any_pair(offsets: np.ndarray, hit: np.ndarray) -> np.ndarray:
        """Lookup table over context codes: some pair of the context is a ``hit``."""
        count = len(offsets) - 1
        table = np.zeros(count, dtype=bool)
        counts = np.logical_or.reduceat(hit, offsets[1:-1]) if count > 1 else np.zeros(0, bool)
        lengths = np.diff(offsets)[1:]
        table[1:] = counts & (lengths > 0)
        return table


@dataclass(frozen=True)
class Snapshot:
    """Derived state as of one refresh; immutable, shared with readers."""

    n: int  # rows covered (alive or not)
    order: np.ndarray  # alive rows, newest first (int64 row numbers)
    alive: np.ndarray  # bool per row: not a folded duplicate
    generation: int
    newest: int  # time of the newest event, NO_TIME when empty
    oldest: int = NO_TIME  # time of the oldest event with a time
    # alive rows that share their id, name and time with another alive row that differs in
    # outcome or content (genuine CloudTrail ids are unique: that is itself a finding)
    shared_id: frozenset[int] = frozenset()


_EMPTY = Snapshot(0, np.zeros(0, np.int64), np.zeros(0, bool), 0, NO_TIME)


class EventIndex:
    def __init__(self):
        self.vocab: dict[str, Vocabulary[Any]] = {name: Vocabulary[str]() for name in STRING_COLUMNS}
        self.vocab["principal"] = IdentityVocabulary()
        self.vocab["key"] = Vocabulary()
        self.vocab["alias"] = Vocabulary()
        self.vocab["trail"] = Vocabulary()
        self.contexts = Contexts()
        self.origins: list[Origin] = []
        self.extra_keys: dict[int, tuple[int, ...]] = {}
        self.event_id_overflow: dict[int, str] = {}  # row -> an id that is not a plain UUID
        self.columns: dict[str, _Column | EventIds] = {name: _Column(dtype) for name, dtype in _COLUMN_TYPES.items()}
        self.columns["eid"] = self.event_ids = EventIds(self.event_id_overflow)
        # the filter's record paths: [requestParameters, responseElements] as JSON, for calls
        # that change something and configuration events only (read-only calls are most of a
        # trail, and their parameters are the key and context columns already)
        self.parameters: dict[int, bytes] = {}
        self.trail_changes: list[TrailChange] = []
        self.alias_bindings: dict[model.AliasBinding, list[int]] = {}  # -> [first, last] time seen
        self.log_files: list[model.LogFile] = []
        self.alias_only: list[int] = []  # rows that named an alias but no key
        self.alias_history = AliasHistory({})
        # From the AWS APIs, when kmstui has credentials (kmstui.core.live): the account's
        # trails and keys (its aliases join the alias history).
        self.live_trails: list[LiveTrail] = []
        self.live_keys: dict[int, LiveKey] = {}  # key code -> the key as DescribeKey describes it
        self.report = LoadReport()
        self.snapshot: Snapshot = _EMPTY
        self._lock = threading.RLock()
        self._raw_cache: dict[int, list] = {}
        self._appendable: dict[str, int] = {}  # path -> origin code of a growing source
        self._agreement: dict[tuple[int, int], bool] = {}  # (row, row) -> copies of one event?

    # ------------------------------------------------------------------ loading

    def set_live(self, trails: list, keys: list, listed_at: int) -> None:
        """The account's trails and keys from the AWS APIs. ListAliases is one more thing the
        alias history learns from: each alias pointed to its key at ``listed_at``, so alias-only
        events, the events pane and ``alias:`` all resolve through it."""
        with self._lock:
            self.live_trails = list(trails)
            key_vocab = self.vocab["key"]
            alias_vocab = self.vocab["alias"]
            self.live_keys = {key_vocab.code(key.arn): key for key in keys if key.arn}
            for key in keys:
                if ":key/" not in key.arn:
                    continue
                prefix = key.arn.split(":key/")[0]
                for alias in key.aliases:
                    binding = model.AliasBinding(
                        alias_vocab.code(f"{prefix}:{alias}"), key_vocab.code(key.arn), "observed", 0
                    )
                    span = self.alias_bindings.setdefault(binding, [listed_at, listed_at])
                    span[0], span[1] = min(span[0], listed_at), max(span[1], listed_at)
            self.snapshot = replace(self.snapshot, generation=self.snapshot.generation + 1)
        self.refresh()

    def prepare_search(self) -> None:
        """Build the filters' search texts now (off the UI thread), so the first filter is fast;
        then give back the arenas' room to grow, and to the system the heap that building them
        left in pieces (a load ends here, and the pieces would stay resident: about 70 bytes an
        event on a varied trail)."""
        from .loader import _trim_heap  # the loader imports the index: not at the top

        with self._lock:
            for vocab in self.vocab.values():
                vocab.search_texts()
            self.contexts.keys.search_texts()
            self.contexts.search_values().containing("")  # its lowercase copies made now
            # the arenas' room to grow given back (no load appends while the lock is held)
            self.contexts.values.fit()
            cast(IdentityVocabulary, self.vocab["principal"]).fit()
        _trim_heap()

    def reserve(self, factor: float) -> None:
        """Room for the index to grow to ``factor`` times what it holds now (the loader, after its
        first batch, from the bytes left to read), made at once: its columns and its principals'
        and contexts' arenas then fill in place, where they were copied into arrays twice or half
        again as large on the way (for the arenas alone, some 35 ms of CPU on a varied trail's
        million records, against 5). Room not written is address space, not memory in use; an
        estimate too small only leaves the growing to the way there."""
        if factor <= 1:
            return
        with self._lock:
            try:
                for column in self.columns.values():
                    column.reserve(int(column.size * factor))
                self.contexts.values.reserve(int(len(self.contexts.values.blob) * factor))
                cast(IdentityVocabulary, self.vocab["principal"]).reserve(factor)
            except (MemoryError, ValueError):  # more address space than this process may have: grown on the way
                pass

    def reading(self) -> threading.RLock:
        """Hold while iterating the index's maps (a loader thread may be adding)."""
        return self._lock

    @property
    def size(self) -> int:
        return self.columns["time"].size

    def add(self, batch: Batch) -> None:
        """Merge one source's batch. Thread-safe against readers; one writer at a time."""
        with self._lock, collector_paused():
            self._add(batch)

    def _add(self, batch: Batch) -> None:
        report = self.report
        origin_remap = np.zeros(max(len(batch.sources), 1), dtype=np.uint32)
        for local, source in enumerate(batch.sources):
            if source.error is not None:
                report.skipped.append(Skipped(source.label, source.error))
                continue
            if source.format == "digest":
                report.digests += 1
                continue
            report.files_loaded += 1
            if not source.events and not (source.appendable and source.path in self._appendable):
                report.empty += 1
            report.records += source.records
            report.ignored.update(source.ignored)
            report.problems.extend(Damage(source.label, p) for p in source.problems)
            if source.appendable and source.path in self._appendable:
                code = self._appendable[source.path]
                origin_remap[local] = code
                self.origins[code].records += source.records
                self.origins[code].events += source.events
                self._raw_cache.pop(code, None)  # it grew: read it again when asked
                continue
            stamp = None
            if not source.appendable:
                try:
                    info = os.stat(source.path)
                    stamp = (info.st_size, info.st_mtime_ns)
                except OSError:
                    pass
            origin_remap[local] = len(self.origins)
            if source.appendable:
                self._appendable[source.path] = len(self.origins)
            self.origins.append(
                Origin(
                    source.label,
                    source.path,
                    source.format,
                    source.delivery,
                    source.records,
                    source.events,
                    stamp=stamp,
                    appendable=source.appendable,
                )
            )
        n = batch.n
        if n == 0:
            # no event kept (a window dropped them all, say), but what they taught about
            # aliases is still true: the keys pane and alias: resolve through it
            if batch.alias_bindings:
                alias_vocab, key_vocab = self.vocab["alias"], self.vocab["key"]
                self._keep_bindings(
                    batch.alias_bindings,
                    lambda local: alias_vocab.code(batch.vocab["alias"][local]),
                    lambda local: key_vocab.code(batch.vocab["key"][local]),
                )
            return
        base = self.size
        report.kept += n
        remaps = {name: self.vocab[name].remap(batch.vocab[name]) for name in STRING_COLUMNS}
        principal_remap = cast(IdentityVocabulary, self.vocab["principal"]).remap(batch.principals)
        remaps["principal"] = principal_remap
        remaps["origin"] = origin_remap
        remaps["key0"] = remaps["key1"] = key_remap = self.vocab["key"].remap(batch.vocab["key"])
        remaps["alias"] = alias_remap = self.vocab["alias"].remap(batch.vocab["alias"])
        remaps["trail"] = trail_remap = self.vocab["trail"].remap(batch.vocab["trail"])
        remaps["ctx"] = self.contexts.add(batch.contexts)
        # the largest code each column can get: below 65,536 a narrow column need not look for it
        largest = {name: len(self.vocab[name]) - 1 for name in STRING_COLUMNS}
        largest["key0"] = largest["key1"] = len(self.vocab["key"]) - 1
        largest["alias"] = len(self.vocab["alias"]) - 1
        largest["trail"] = len(self.vocab["trail"]) - 1
        largest["origin"] = len(self.origins) - 1
        largest["principal"] = len(self.vocab["principal"]) - 1
        largest["ctx"] = len(self.contexts) - 1
        columns = batch.columns
        for name, column in self.columns.items():
            values = columns[name] if name != "cloud" else columns.get(name, np.zeros(n, np.uint8))
            remap = remaps.get(name)
            if isinstance(column, EventIds):
                column.extend(values, columns.get("eidcase"))
            elif remap is not None:
                column.extend_coded(remap, values, largest[name])
            else:
                column.extend(values)
        if batch.extra_keys:
            keys = key_remap.tolist()
            self.extra_keys.update(
                (base + row, tuple(keys[k] for k in extra)) for row, extra in batch.extra_keys.items()
            )
        if batch.event_id_overflow:
            self.event_id_overflow.update((base + row, odd) for row, odd in batch.event_id_overflow.items())
        if batch.parameters:
            self.parameters.update((base + row, raw) for row, raw in batch.parameters.items())
        for change in batch.trail_changes:
            change.row += base
            change.principal = int(principal_remap[change.principal])
            self.trail_changes.append(change)
        if batch.alias_bindings:
            self._keep_bindings(batch.alias_bindings, alias_remap.tolist().__getitem__, key_remap.tolist().__getitem__)
        if isinstance(batch.log_files, LogFiles):  # as a worker sends them: columns
            files = batch.log_files
            found = zip(trail_remap[files.trails].tolist(), files.arns, files.times.tolist(), strict=True)
            # each LogFile made by tuple's own constructor, in C: a NamedTuple's __new__ is Python
            self.log_files.extend(map(tuple.__new__, repeat(model.LogFile), found))
        elif batch.log_files:
            trails = trail_remap.tolist()
            self.log_files.extend(model.LogFile(trails[f.trail], f.s3_arn, f.time) for f in batch.log_files)
        only = np.flatnonzero((columns["key0"] == 0) & (columns["alias"] != 0))
        if len(only):
            self.alias_only.extend((only + base).tolist())

    def _keep_bindings(
        self,
        learned: list[tuple[model.AliasBinding, list[int]]],
        alias: Callable[[int], int],
        key: Callable[[int], int],
    ) -> None:
        """Keep a batch's alias bindings, given the global code of each local alias and key:
        changes one by one (an alias can move back and forth), observations as a span."""
        for binding, (first, last) in learned:
            kept = model.AliasBinding(alias(binding.alias), key(binding.key), binding.kind, binding.when)
            span = self.alias_bindings.get(kept)
            if span is None:
                self.alias_bindings[kept] = [first, last]
            else:
                span[0] = min(span[0], first)
                span[1] = max(span[1], last)

    # ------------------------------------------------------------------ derived state

    def refresh(self) -> Snapshot:
        """Recompute what depends on all events; cheap enough to run while loading."""
        with self._lock:
            n = self.size
            self._resolve_aliases()
            alive, duplicates, shared = self._fold_duplicates(n)
            self.report.duplicates = duplicates
            self.report.shared_ids = len(shared)
            time = self.columns["time"].data[:n]
            if duplicates:
                rows = np.flatnonzero(alive)[::-1]  # later rows first among equal times
                order = rows[np.argsort(-time[rows], kind="stable")]
            else:  # every row: the same order, without gathering the rows (a refresh's third)
                order = np.argsort(-time[::-1], kind="stable")
                np.subtract(n - 1, order, out=order)
            ordered = time[order]
            valid = ordered[ordered != NO_TIME]
            newest = int(valid[0]) if len(valid) else NO_TIME
            oldest = int(valid[-1]) if len(valid) else NO_TIME
            self.snapshot = Snapshot(n, order, alive, self.snapshot.generation + 1, newest, oldest, shared)
            return self.snapshot

    def _fold_duplicates(self, n: int) -> tuple[np.ndarray, int, frozenset[int]]:
        """The same event seen twice (same id, name and time, and nothing that disagrees) is
        kept once: the fuller copy. Copies that disagree in outcome or content are all kept,
        and returned as sharing their id."""
        alive = np.ones(n, dtype=bool)
        if n < 2:
            return alive, 0, frozenset()
        fingerprint, has_id = self._fingerprints(n)
        if has_id.all():  # the usual: every row has an id, and the fingerprints are sorted in place
            candidates = None
            sorted_prints = fingerprint
            sorted_prints.sort()
        else:
            candidates = np.flatnonzero(has_id)
            sorted_prints = np.sort(fingerprint[candidates])
        if not (sorted_prints[1:] == sorted_prints[:-1]).any():  # the usual answer: no fingerprint twice
            return alive, 0, frozenset()
        if candidates is None:  # sorted: made again, in row order
            fingerprint, _ = self._fingerprints(n)
            candidates = np.arange(n)
        # The rows whose fingerprint another row has, found by an unstable sort (a third of a
        # stable one's time, which took most of a refresh); only they are then ordered by
        # fingerprint, in row order among equals, as all the rows were before.
        ranked = np.argsort(fingerprint[candidates])
        prints = fingerprint[candidates[ranked]]
        equal = prints[1:] == prints[:-1]
        repeated = np.zeros(len(prints), dtype=bool)
        repeated[1:] = equal
        repeated[:-1] |= equal
        candidates = np.sort(candidates[ranked[repeated]])
        order = candidates[np.argsort(fingerprint[candidates], kind="stable")]
        same = fingerprint[order[1:]] == fingerprint[order[:-1]]
        duplicates = 0
        shared: set[int] = set()
        lengths = self.columns["rawlen"]
        assert isinstance(lengths, _Column)
        name = self.columns["name"].data
        time = self.columns["time"].data
        starts = np.flatnonzero(same)
        groups: dict[int, list[int]] = {}
        for position in starts:
            a, b = int(order[position]), int(order[position + 1])
            if self._event_id(a) == self._event_id(b) and name[a] == name[b] and time[a] == time[b]:
                group = groups.setdefault(a, [a])
                group.append(b)
                groups[b] = group
        origin = self.columns["origin"].data
        unique = list({id(group): group for group in groups.values()}.values())
        # by the sources their rows came from: records read again (to measure, to compare) come
        # from the few sources last read, not from every source in turn
        unique.sort(key=lambda group: sorted(int(origin[row]) for row in group))
        for group in unique:
            for row in group:
                if lengths.data[row] == 0:  # not measured at load (a delivered log file): measure now
                    lengths.set(row, self._measure(row))
            copies: list[list[int]] = []  # rows that agree with each other: copies of one event
            for row in sorted(group):
                for rows in copies:
                    if all(self._agree(row, other) for other in rows):
                        rows.append(row)
                        break
                else:
                    copies.append([row])
            for rows in copies:
                keep = max(rows, key=lambda r: (int(lengths.data[r]), -r))
                if len(copies) > 1:
                    shared.add(keep)
                for row in rows:
                    if row != keep:
                        alive[row] = False
                        duplicates += 1
        return alive, duplicates, frozenset(shared)

    _PRINTS_AT_ONCE = 1 << 15  # rows fingerprinted in one numpy pass: its temporaries stay in the cache

    def _fingerprints(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """A 64-bit fingerprint of each of the first ``n`` rows' (id, name, time), equal for
        equal ones (compared exactly after), and whether the row has an id. Made a slice of
        rows at a time into one array: the whole-column temporaries of a refresh (a dozen of
        4.8 MB at 600,000 events, each mapped afresh) were most of its time at the end of a load."""
        halves = self.event_ids.data[:n].view(np.uint64).reshape(n, 2)
        names = self.columns["name"].data
        times = self.columns["time"].data
        fingerprint = np.empty(n, np.uint64)
        has_id = np.empty(n, bool)
        scratch = np.empty(min(n, self._PRINTS_AT_ONCE), np.uint64)
        for start in range(0, n, len(scratch)):
            stop = min(n, start + len(scratch))
            prints, part = fingerprint[start:stop], scratch[: stop - start]
            np.bitwise_or(halves[start:stop, 0], halves[start:stop, 1], out=part)
            np.not_equal(part, 0, out=has_id[start:stop])
            np.multiply(halves[start:stop, 0], np.uint64(0x9FB21C651E98DF25), out=prints)
            np.multiply(halves[start:stop, 1], np.uint64(0xD6E8FEB86659FD93), out=part)
            prints ^= part
            part[:] = names[start:stop]
            part *= np.uint64(0x9E3779B97F4A7C15)
            prints ^= part
            part[:] = times[start:stop]  # as uint64: an int64's bits
            part *= np.uint64(0xC2B2AE3D27D4EB4F)
            prints ^= part
        for row, event_id in self.event_id_overflow.items():
            if row < n:
                has_id[row] = True
                name_code, seconds = int(names[row]), int(times[row])
                fingerprint[row] = np.uint64(hash((event_id, name_code, seconds)) & 0xFFFFFFFFFFFFFFFF)
        return fingerprint, has_id

    _AGREE = ("key0", "key1", "alias", "trail", "ip", "agent", "region", "account", "errmsg")

    def _agree(self, a: int, b: int) -> bool:
        """Whether two records with one id, name and time can be copies of one event (decided
        once per pair: rows and their records do not change, and refresh runs often)."""
        pair = (a, b) if a < b else (b, a)
        verdict = self._agreement.get(pair)
        if verdict is None:
            verdict = self._agreement[pair] = self._copies(a, b)
        return verdict

    def _copies(self, a: int, b: int) -> bool:
        """The same outcome (unless one copy is too thin to say: no principal), and nothing
        that both copies have differs. A LookupEvents entry without its record is such a thin
        copy."""
        columns = self.columns
        identities = self.vocab["principal"].values
        principal_a = identities[int(columns["principal"].data[a])]
        principal_b = identities[int(columns["principal"].data[b])]
        if principal_a is None or principal_b is None or not (principal_a.identity_type and principal_b.identity_type):
            return True  # a thin copy (a LookupEvents entry without its record, a stub): nothing to compare
        if principal_a != principal_b or columns["errcode"].data[a] != columns["errcode"].data[b]:
            return False
        for name in self._AGREE:
            data = columns[name].data
            if data[a] and data[b] and data[a] != data[b]:
                return False
        context_a, context_b = int(columns["ctx"].data[a]), int(columns["ctx"].data[b])
        if context_a and context_b and not self.contexts.same(context_a, context_b):
            return False
        try:
            return self.raw(a) == self.raw(b) or _consistent(self.record(a), self.record(b))
        except (SourceError, OSError):
            return True  # cannot be read again: the columns agreed

    def _measure(self, row: int) -> int:
        try:
            return record_length(self.raw(row))
        except (SourceError, OSError):
            return 1  # cannot be read again: count it the thinnest copy

    def _resolve_aliases(self) -> None:
        """Give events that named only an alias the key the alias pointed to at that time
        (see :mod:`kmstui.core.aliases`); an alias that stays unresolved becomes a key of
        its own (the alias ARN), never dropped."""
        self.alias_history = history = AliasHistory(self.alias_bindings)
        if not self.alias_only:
            return
        key_vocab = self.vocab["key"]
        alias_vocab = self.vocab["alias"]
        key0 = self.columns["key0"]
        assert isinstance(key0, _Column)
        alias_column = self.columns["alias"].data
        time = self.columns["time"].data
        # A DeleteAlias that names only its alias (ActionTrail's: CloudTrail's names the key too)
        # is about the key the alias pointed to until that moment, not the nothing it points to after.
        deletes = self.vocab["name"].find("DeleteAlias")
        names = self.columns["name"].data
        for row in self.alias_only:
            alias = int(alias_column[row])
            resolved = history.key_of(alias, int(time[row]) - (deletes is not None and names[row] == deletes))
            if resolved is None:  # the alias stands in for its key
                resolved = key_vocab.code(alias_vocab.values[alias])
            key0.set(row, resolved)

    # ------------------------------------------------------------------ reading

    def _event_id(self, row: int) -> str | None:
        return self.event_ids.get(row)

    def parameter_items(self, n: int) -> list[tuple[int, bytes]]:
        """(row, JSON [requestParameters, responseElements]) of the rows below ``n`` that keep them."""
        with self._lock:
            return [(row, raw) for row, raw in self.parameters.items() if row < n]

    def keys_of(self, row: int) -> tuple[int, ...]:
        first = int(self.columns["key0"].data[row])
        second = int(self.columns["key1"].data[row])
        keys = tuple(k for k in (first, second) if k)
        return keys + self.extra_keys.get(row, ())

    def aliases_by_key(self) -> dict[int, list[AliasName]]:
        """Key code -> every alias ever tied to it, current ones first."""
        history = self.alias_history
        return {key: history.named(key) for key in history.keys()}

    def principal(self, code: int) -> model.Identity:
        """A principal code's identity, with an assumed role's ARN rebuilt where the vocabulary
        left it out."""
        identity: model.Identity = self.vocab["principal"].values[code] or model.UNKNOWN_IDENTITY
        if identity.arn is None and identity.account:
            arn = assumed_role_arn(identity.short, identity.account)
            if arn is not None:
                identity = identity._replace(arn=arn)
        return identity

    def alias_names_at(self, key: int, time: int) -> list[str]:
        """``alias/name`` of each alias that pointed to the key at that time."""
        values = self.vocab["alias"].values
        return list(dict.fromkeys(model.alias_name(values[a]) for a in self.alias_history.aliases_at(key, time)))

    def event(self, row: int) -> model.Event:
        """One event, materialised for display or export."""
        c = {name: column.data for name, column in self.columns.items()}
        v = self.vocab
        principal = self.principal(int(c["principal"][row]))
        account = v["account"].values[int(c["account"][row])]
        key_codes = self.keys_of(row)
        keys = tuple(v["key"].values[k] for k in key_codes)
        alias = int(c["alias"][row])
        aliases = (v["alias"].values[alias],) if alias else ()
        origin = self.origins[int(c["origin"][row])]
        read_only = int(c["readonly"][row])
        return model.Event(
            row=row,
            time=int(c["time"][row]),
            event_id=self._event_id(row),
            name=v["name"].values[int(c["name"][row])] or "",
            source=v["evsource"].values[int(c["evsource"][row])] or "",
            event_type=v["evtype"].values[int(c["evtype"][row])],
            region=v["region"].values[int(c["region"][row])],
            account=account,
            principal=model.Principal.of(principal, account),
            source_ip=v["ip"].values[int(c["ip"][row])],
            user_agent=v["agent"].values[int(c["agent"][row])],
            error_code=v["errcode"].values[int(c["errcode"][row])],
            error_message=v["errmsg"].values[int(c["errmsg"][row])],
            read_only=None if read_only < 0 else bool(read_only),
            keys=keys,
            aliases=aliases,
            contexts=self.contexts.get(int(c["ctx"][row])),
            origin=origin.label,
            subject_trail=v["trail"].values[int(c["trail"][row])],
            shares_id=row in self.snapshot.shared_id,
            cloud=CLOUDS[int(c["cloud"][row])],
        )

    def raw(self, row: int) -> bytes:
        """The original record of an event, read again from its source."""
        origin_code = int(self.columns["origin"].data[row])
        ordinal = int(self.columns["ordinal"].data[row])
        records = self._records_of(origin_code)
        if ordinal >= len(records):
            raise SourceError(f"{self.origins[origin_code].label} holds fewer records than when it was loaded")
        return bytes(records[ordinal])

    def _records_of(self, origin_code: int) -> list:
        cached = self._raw_cache.get(origin_code)
        if cached is not None:
            return cached
        origin = self.origins[origin_code]
        if origin.stamp is not None:
            try:
                info = os.stat(origin.path)
            except OSError:
                raise SourceError(f"{origin.label} can no longer be read") from None
            if (info.st_size, info.st_mtime_ns) != origin.stamp:
                raise SourceError(f"{origin.label} changed since it was loaded")
        records = split_records(read_source(origin.path, bounded=not origin.appendable)).records
        with self._lock:  # a loader thread may be dropping a grown file's entry meanwhile
            if len(self._raw_cache) >= 8:
                self._raw_cache.pop(next(iter(self._raw_cache)), None)
            self._raw_cache[origin_code] = records
        return records

    def record(self, row: int) -> dict:
        """The original record, parsed; SourceError when it cannot be read back."""
        raw = self.raw(row)
        try:
            value = msgspec.json.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError):
            raise SourceError("the record read back is not valid JSON") from None
        if not isinstance(value, dict):
            raise SourceError("the record read back is not a JSON object")
        return value


def _consistent(a: object, b: object) -> bool:
    """Whether two JSON values can be copies of one record: objects agree on every field both
    have (one copy may lack fields, as a thinner export does); anything else is equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        return all(_consistent(a[name], b[name]) for name in a.keys() & b.keys())
    return a == b
