"""Compact stores for high-cardinality text: one bytes blob and the offsets into it.

A trail with realistic cardinality has a new session name for nearly every few calls and
an S3 object ARN for every SSE-KMS call. As Python objects each such value costs about 250
bytes (the string, a tuple, a dictionary entry, list slots); here it costs its UTF-8 bytes
and four bytes of offset. Values are built back into ``str`` (or :class:`Identity`) only
when asked for, and a substring search runs over the whole blob at once in numpy, folding
ASCII letters as it compares (no lowercase copy of each text) and starting from the
needle's rarest byte (not its first, which for ``role/…`` is in every principal).
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from itertools import compress
from typing import TYPE_CHECKING, Any, TypeVar, overload

import numpy as np

from . import model
from .vocab import Vocabulary, first_seen, lowered, spans

if TYPE_CHECKING:
    from .batch import PrincipalPart

try:  # the index's principal merge in C, where the scanner is built; else in numpy
    from ._scan import digest_find as _digest_find
    from ._scan import digest_insert as _digest_insert
    from ._scan import merge_principals as _merge_principals

    COMPILED_MERGE = True
except ImportError:
    COMPILED_MERGE = False

_CODEC = ("utf-8", "surrogatepass")  # a lone surrogate (repaired upstream, but stay total) survives


def encoded(texts: Sequence[str]) -> tuple[bytes, np.ndarray]:
    """``texts`` encoded (as ``_CODEC`` says) and joined, with each one's length in bytes: one
    encoding of them all, the lengths counted in characters when every text is ASCII (the
    usual: then a text's length in bytes is its length)."""
    joined = "".join(texts)
    blob = joined.encode(*_CODEC)
    if len(blob) == len(joined):
        return blob, np.fromiter(map(len, texts), np.int64, len(texts))
    return blob, np.fromiter((len(text.encode(*_CODEC)) for text in texts), np.int64, len(texts))


def decoded(data: np.ndarray, ends: np.ndarray) -> list[str]:
    """The texts ``data[ends[i]:ends[i + 1]]`` (UTF-8 bytes, one after another), decoded at
    once and cut apart: a slice of one str each, no bytes object or decode call per text."""
    joined = data.tobytes().decode(*_CODEC)
    if len(joined) != len(data):  # not all ASCII: the texts' ends counted in characters
        starting = np.zeros(len(data) + 1, np.int64)  # characters before each byte
        np.cumsum((data & 0xC0) != 0x80, out=starting[1:])
        ends = starting[ends]
    bounds = ends.tolist()
    return list(map(joined.__getitem__, map(slice, bounds[:-1], bounds[1:])))


def _position(i: int, length: int, what: str) -> int:
    """``i`` as a position in a sequence of ``length`` (negative from the end); IndexError else."""
    i = int(i)
    if i < 0:
        i += length
    if not 0 <= i < length:
        raise IndexError(f"{what} out of range")
    return i


_T = TypeVar("_T", covariant=True)
_SAMPLE = 1 << 16  # bytes a search's rarity estimate counts at most (TextArena._byte_counts)


class Positional(Sequence[_T]):
    """A sequence read by position, as the arenas and columns here are: each class says how
    to read one item (``_item``, given a position in range) and what its positions are called;
    slices and positions from the end are read here, the same for all."""

    __slots__ = ()
    _what = "index"

    def _item(self, i: int) -> _T:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> _T: ...
    @overload
    def __getitem__(self, i: slice) -> list[_T]: ...
    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._item(j) for j in range(*i.indices(len(self)))]
        return self._item(_position(i, len(self), self._what))


class TextArena(Positional[str]):
    """Append-only strings in one blob: ``arena[i]`` decodes text ``i`` again.

    The blob is a numpy array with room to grow, as the index's columns are: appending writes
    past the bytes in use, and growing copies them into a larger array, so a search on another
    thread reads the bytes of the texts it counted in place (a view of the array it took),
    never a copy of the blob (15 MB of principals, more of context values, on a varied trail).
    The room not yet written is address space, not memory in use."""

    __slots__ = ("_counts", "_data", "_ends", "_size")
    _NARROW_UNTIL = 0xFFFFFFFF  # the largest offset kept in 4 bytes

    def __init__(self, texts: Sequence[str] = ()):
        self._data = np.zeros(0, np.uint8)  # the blob: its first _size bytes are in use
        self._size = 0
        self._ends = array("I", [0])  # 4 bytes a text, 8 once the blob passes 4 GiB
        # how often each byte value occurs in the blob's first bytes (a search starts from the
        # needle's rarest byte), and how many bytes that counts: brought up to date by searches
        self._counts: tuple[np.ndarray, int] = (np.zeros(256, np.int64), 0)
        self.extend(texts)

    def __len__(self) -> int:
        return len(self._ends) - 1

    def _put(self, blob: bytes) -> None:
        """Append bytes to the blob: in place where there is room (readers view only bytes
        before the end they read), else into an array half as large again."""
        end = self._size + len(blob)
        if end > len(self._data):
            self.reserve(max(end, len(self._data) + (len(self._data) >> 1), 1 << 12))
        self._data[self._size : end] = np.frombuffer(blob, np.uint8)
        self._size = end

    def reserve(self, size: int) -> None:
        """Room for ``size`` bytes in all: the bytes in use copied once into an array that large
        (a reader still viewing the old one keeps it until it is done)."""
        if size > len(self._data):
            grown = np.empty(size, np.uint8)
            grown[: self._size] = self._data[: self._size]
            self._data = grown

    def fit(self) -> None:
        """Give back the room to grow (a third of the blob at most): when a load ends. A
        reader still viewing the larger array keeps it until it is done."""
        if len(self._data) > self._size:
            self._data = self._data[: self._size].copy()

    @property
    def blob(self) -> np.ndarray:
        """The bytes in use, viewed (not copied): what the texts' ends index."""
        return self._data[: self._size]

    def append(self, text: str) -> int:
        self._put(text.encode(*_CODEC))
        end = self._size
        if end > self._NARROW_UNTIL and self._ends.typecode == "I":
            self._ends = array("q", self._ends)
        self._ends.append(end)
        return len(self._ends) - 2

    def extend(self, texts: Sequence[str]) -> None:
        """Append many texts at once: one encoding of them all joined, their ends summed in
        numpy (a batch brings a thousand or more context values and session principals)."""
        if not texts:
            return
        self.extend_encoded(*encoded(texts))

    def extend_encoded(self, blob: bytes, lengths: np.ndarray) -> None:
        """Append texts already encoded (as ``_CODEC`` does) and joined, given their lengths in bytes."""
        if not len(lengths):
            return
        ends = np.cumsum(lengths, dtype=np.int64)
        ends += self._size
        if int(ends[-1]) > self._NARROW_UNTIL and self._ends.typecode == "I":
            self._ends = array("q", self._ends)
        self._put(blob)
        self._ends.frombytes(ends.astype(np.uint32 if self._ends.typecode == "I" else np.int64).tobytes())

    _what = "arena index"

    def _item(self, i: int) -> str:
        return self._data[self._ends[i] : self._ends[i + 1]].tobytes().decode(*_CODEC)

    def __iter__(self) -> Iterator[str]:
        data, ends = self._data, self._ends
        for i in range(len(ends) - 1):
            yield data[ends[i] : ends[i + 1]].tobytes().decode(*_CODEC)

    def nbytes(self) -> int:
        return self._size + self._ends.itemsize * len(self._ends)

    def same(self, codes: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """True where text ``codes[i]`` is ``texts[i]``: the texts encoded at once, then compared
        as :meth:`same_encoded` does."""
        ours, lengths = encoded(texts)
        return self.same_encoded(codes, np.frombuffer(ours, np.uint8), np.cumsum(lengths) - lengths, lengths)

    def same_encoded(self, codes: np.ndarray, data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """True where text ``codes[i]`` is the bytes ``data[starts[i]:starts[i] + lengths[i]]``,
        compared byte by byte with the blob in numpy, no text decoded."""
        ends = np.frombuffer(self._ends, dtype=np.uint32 if self._ends.typecode == "I" else np.int64)
        kept = ends[codes].astype(np.int64)
        same = ends[codes + 1] - kept == lengths
        del ends
        same[same] = _equal_bytes(self._data, kept[same], data, starts[same], lengths[same])
        return same

    def _view(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The bytes of the first ``count`` texts (viewed: a loader thread may append
        meanwhile, past them or into a new array) and their ends (a copy)."""
        ends = self._offsets(0, count + 1)
        return self._data[: int(ends[-1])], ends

    def _offsets(self, start: int, stop: int) -> np.ndarray:
        """``_ends[start:stop]`` as int64, a copy."""
        ends = self._ends[start:stop]
        return np.frombuffer(ends, dtype=np.uint32 if ends.typecode == "I" else np.int64).astype(np.int64)

    def _byte_counts(self, data: np.ndarray) -> np.ndarray:
        """How often each byte value occurs in ``data``, estimated from an even sample of the
        bytes not counted yet (about _SAMPLE of them: numpy counts a byte in some 10 ns, and
        the first search after a load would count the whole arena, tens of megabytes on a
        varied trail). It only orders the search's bytes: an estimate is as good."""
        counts, counted = self._counts
        if counted < len(data):
            step = max(1, (len(data) - counted) // _SAMPLE)
            counts = counts + np.bincount(data[counted::step], minlength=256) * step
            self._counts = (counts, len(data))
        return counts

    def containing(self, needle: str, fold: bool = False) -> np.ndarray:
        """True for each text that contains ``needle``; with ``fold``, ASCII letters match in
        either case (give a lowercase needle: other characters match exactly as they are).
        One pass of numpy over the blob: the positions of the needle's rarest byte, narrowed
        byte by byte in order of rarity, then mapped to texts. UTF-8 is self-synchronising,
        so a byte match is a character match."""
        count = len(self)  # a loader thread may append meanwhile: look at these texts only
        table = np.zeros(count, dtype=bool)
        want = needle.encode(*_CODEC)
        if not want or not count:
            table[:] = bool(not want)
            return table
        data, ends = self._view(count)
        last = len(data) - len(want)
        if last < 0:
            return table
        wanted, letters = _pattern(want, fold)
        counts = self._byte_counts(data)
        rarity = counts[wanted] + np.where(letters, counts[wanted ^ 0x20], 0)
        order = np.argsort(rarity, kind="stable").tolist()
        first = order[0]
        if letters[first]:
            found = (data | np.uint8(0x20)) == wanted[first]
        else:
            found = data == wanted[first]
        starts = np.flatnonzero(found)
        del found
        starts -= first
        starts = starts[(starts >= 0) & (starts <= last)]
        starts = _narrow(data, starts, wanted, letters, order[1:])
        if not len(starts):
            return table
        owner = np.searchsorted(ends, starts, side="right") - 1
        inside = starts + len(want) <= ends[owner + 1]
        table[owner[inside]] = True
        return table

    def equal(self, needle: str, fold: bool = False) -> np.ndarray:
        """True for each text that is ``needle`` (with ``fold``, ASCII letters in either case)."""
        count = len(self)
        table = np.zeros(count, dtype=bool)
        if not count:
            return table
        want = needle.encode(*_CODEC)
        data, ends = self._view(count)
        candidates = np.flatnonzero(np.diff(ends) == len(want))
        if len(want) and len(candidates):
            wanted, letters = _pattern(want, fold)
            starts = _narrow(data, ends[candidates], wanted, letters, range(len(want)))
            candidates = np.searchsorted(ends, starts, side="right") - 1
        table[candidates] = True
        return table

    def non_ascii(self, start: int, stop: int) -> list[int]:
        """The codes in ``start:stop`` of texts with a byte outside ASCII."""
        ends = self._offsets(start, stop + 1)
        found: list[np.ndarray] = []
        step = 1 << 20  # a megabyte at a time: no copy of the whole blob to look at its new part
        for at in range(int(ends[0]), int(ends[-1]), step):
            chunk = self._data[at : min(at + step, int(ends[-1]))]
            high = np.flatnonzero(chunk >= 0x80) + at
            if len(high):
                found.append(np.unique(np.searchsorted(ends, high, side="right") - 1) + start)
        return np.unique(np.concatenate(found)).tolist() if found else []


class DistinctTexts(Positional[str | None]):
    """The distinct texts of a growing :class:`TextArena`, each given a code (from 1, in the
    order first met; text 0 of the arena is "none", code 0) and brought up to date on demand:
    ``codes[i]`` is text ``i``'s code and ``self[code]`` its text. What a group-by or an
    ordering by principal as shown needs (one caller however many sessions' principals share
    its short form), worked out in numpy from the arena's bytes: digests grouped and looked
    up in a sorted array, every match compared byte for byte; a text whose digest another
    text has is found by a search of the arena instead (rare: a collision costs time, never
    a wrong code). No str is built, nor a dictionary entry per text."""

    __slots__ = ("_arena", "_first", "_hash_codes", "_hashes", "codes")

    def __init__(self, arena: TextArena):
        self._arena = arena
        self._first = np.zeros(1, np.int64)  # code -> the arena text that first had it
        self._hashes = np.zeros(0, np.int64)  # the digests of the codes' texts, ascending
        self._hash_codes = np.zeros(0, np.uint32)
        self.codes = np.zeros(0, np.uint32)  # arena text -> code (replaced whole as it grows)

    def __len__(self) -> int:
        return len(self._first)

    _what = "text code"

    def _item(self, i: int) -> str | None:
        return None if i == 0 else self._arena[self._first[i]]

    def __iter__(self) -> Iterator[str | None]:
        """Every text in code order, their bytes gathered and decoded at once."""
        first = self._first
        ends = self._arena._offsets(0, int(first.max(initial=0)) + 2) if len(first) > 1 else np.zeros(1, np.int64)
        yield None
        if len(first) < 2:
            return
        starts, lengths = ends[first[1:]], ends[first[1:] + 1] - ends[first[1:]]
        data = self._arena.blob[: int(ends[-1])]
        at = spans(starts, lengths)
        yield from decoded(data[at], np.r_[0, np.cumsum(lengths)])

    def catch_up(self, count: int) -> np.ndarray:
        """The codes of the arena's first ``count`` texts (more than last time: the new ones
        are coded now)."""
        if count and not len(self.codes):
            self.codes = np.zeros(1, np.uint32)  # the arena's first text is "none"
        start = len(self.codes)
        if count <= start:
            return self.codes[:count]
        ends = self._arena._offsets(start, count + 1)
        data = self._arena.blob[int(ends[0]) : int(ends[-1])]
        ends -= ends[0]
        starts, lengths = ends[:-1], np.diff(ends)
        digests = _mixed(text_digests(data, ends)).view(np.int64)
        group, firsts = first_seen(digests)  # texts with one digest: each one's first leads
        leader = firsts[group]
        odd = lengths != lengths[leader]  # not the text its digest's first is: found apart
        check = np.flatnonzero(~odd & (leader != np.arange(len(leader))))
        odd[check] = ~_equal_bytes(data, starts[check], data, starts[leader[check]], lengths[check])
        found = _looked_up(self._hashes, self._hash_codes, digests[firsts])
        known = np.flatnonzero(found)
        same = self._arena.same_encoded(self._first[found[known]], data, starts[firsts[known]], lengths[firsts[known]])
        clash = known[~same]  # a digest a text of another code has
        found[clash] = 0
        fresh = np.flatnonzero(found == 0)
        fresh = fresh[~np.isin(fresh, clash)]
        first_code = len(self._first)
        found[fresh] = np.arange(first_code, first_code + len(fresh), dtype=np.uint32)
        self._first = np.concatenate([self._first, firsts[fresh] + start])
        codes = self.codes = np.concatenate([self.codes, found[group]])
        odd[np.isin(group, clash)] = True
        codes[start + np.flatnonzero(odd)] = 0  # searched below: none may lead to another's provisional code
        for at in np.flatnonzero(odd).tolist():
            codes[start + at] = self._searched(start + at)
        fresh_codes = found[fresh]
        if len(self._first) > first_code + len(fresh):  # texts searched for were new: codes in the order first met
            added = self._first[first_code:]
            order = np.argsort(added, kind="stable")
            renamed = np.arange(len(self._first), dtype=np.uint32)
            renamed[first_code + order] = np.arange(first_code, len(self._first), dtype=np.uint32)
            codes[start:] = renamed[codes[start:]]
            self._first[first_code:] = added[order]
            fresh_codes = renamed[fresh_codes]
        order = np.argsort(digests[firsts[fresh]])
        self._hashes, self._hash_codes = _merged(
            self._hashes, self._hash_codes, digests[firsts[fresh]][order], fresh_codes[order]
        )
        return codes

    def _searched(self, text: int) -> int:
        """The code of arena text ``text``, found by searching the arena for texts equal to it
        (below it, coded already), or a new code."""
        equal = np.flatnonzero(self._arena.equal(self._arena[text])[1:text]) + 1
        coded = self.codes[equal]
        coded = coded[coded != 0]
        if len(coded):
            return int(coded[0])
        self._first = np.append(self._first, text)
        return len(self._first) - 1


def _windows(data: np.ndarray) -> np.ndarray:
    """Every 8 bytes of ``data`` from each position, read as one uint64 (a view, not a copy):
    ``_windows(data)[i] == data[i:i + 8]`` read as a word."""
    data = np.ascontiguousarray(data)
    windows = np.lib.stride_tricks.as_strided(data, shape=(len(data) - 7, 8), strides=(1, 1), writeable=False)
    return windows.view(np.uint64).reshape(len(data) - 7)


def _equal_bytes(
    left: np.ndarray, left_starts: np.ndarray, right: np.ndarray, right_starts: np.ndarray, lengths: np.ndarray
) -> np.ndarray:
    """True where ``left[left_starts[i]:][:lengths[i]]`` and ``right[right_starts[i]:][:lengths[i]]``
    hold the same bytes, all compared at once in numpy: texts of 8 bytes or more as 8-byte
    words (a text's last word overlaps the one before it: a principal is 3 to 6 words, not
    30 to 50 bytes, gathered and compared), shorter ones byte by byte."""
    lengths = np.asarray(lengths, np.int64)
    same = np.ones(len(lengths), bool)
    if len(left) < 8 or len(right) < 8:
        return _equal_bytewise(left, left_starts, right, right_starts, lengths)
    long = np.flatnonzero(lengths >= 8)
    short = np.flatnonzero(lengths < 8)
    if len(short):
        same[short] = _equal_bytewise(left, left_starts[short], right, right_starts[short], lengths[short])
    if not len(long):
        return same
    sizes = lengths[long]
    words = (sizes + 7) >> 3  # each text's words
    firsts = np.cumsum(words) - words  # where each text's words start among all those compared
    owner = np.repeat(np.arange(len(long)), words)
    nth = np.arange(int(firsts[-1] + words[-1]), dtype=np.int64) - firsts[owner]
    offset = np.minimum(nth << 3, sizes[owner] - 8)  # the last word ends where the text does
    at_left = np.asarray(left_starts, np.int64)[long][owner] + offset
    at_right = np.asarray(right_starts, np.int64)[long][owner] + offset
    differ = _windows(left)[at_left] != _windows(right)[at_right]
    same[long] = ~np.logical_or.reduceat(differ, firsts)
    return same


def _equal_bytewise(
    left: np.ndarray, left_starts: np.ndarray, right: np.ndarray, right_starts: np.ndarray, lengths: np.ndarray
) -> np.ndarray:
    """:func:`_equal_bytes` a byte at a time (the right texts read as one slice where they
    follow one another)."""
    same = np.ones(len(lengths), bool)
    check = np.flatnonzero(lengths > 0)
    if not len(check):
        return same
    sizes = lengths[check]
    offsets = np.cumsum(sizes) - sizes  # where each text starts among all the bytes compared
    total = int(offsets[-1] + sizes[-1])
    step = np.arange(total, dtype=np.int64 if max(len(left), len(right)) >= 1 << 31 else np.int32)

    def gathered(data: np.ndarray, starts: np.ndarray) -> np.ndarray:
        starts = starts[check]
        if int(starts[-1]) - int(starts[0]) == total - int(sizes[-1]) and (np.diff(starts) == sizes[:-1]).all():
            return data[int(starts[0]) : int(starts[0]) + total]
        at = np.repeat((starts - offsets).astype(step.dtype), sizes)
        at += step
        return data[at]

    same[check] = ~np.logical_or.reduceat(gathered(left, left_starts) != gathered(right, right_starts), offsets)
    return same


def rows_containing(texts: np.ndarray, needle: bytes) -> np.ndarray:
    """True for each fixed-width byte string (``S{width}``, NUL-padded) that contains
    ``needle`` (not empty, without NUL), searched as :meth:`TextArena.containing` does."""
    width = texts.dtype.itemsize
    found = np.zeros(len(texts), dtype=bool)
    if not len(texts) or len(needle) > width:
        return found
    data = texts.view(np.uint8)
    wanted, letters = _pattern(needle, False)
    starts = np.flatnonzero(data == wanted[0])
    starts = starts[starts % width <= width - len(needle)]
    starts = _narrow(data, starts, wanted, letters, range(1, len(needle)))
    found[starts // width] = True
    return found


def _pattern(want: bytes, fold: bool) -> tuple[np.ndarray, np.ndarray]:
    """The needle's bytes as compared (letters in lowercase when folding) and which are letters."""
    wanted = np.frombuffer(want, dtype=np.uint8).copy()
    if not fold:
        return wanted, np.zeros(len(wanted), dtype=bool)
    folded = wanted | np.uint8(0x20)
    letters = (folded >= ord("a")) & (folded <= ord("z"))
    wanted[letters] = folded[letters]
    return wanted, letters


def _narrow(data: np.ndarray, starts: np.ndarray, wanted: np.ndarray, letters: np.ndarray, order) -> np.ndarray:
    """The starts at which every byte of the pattern in ``order`` matches."""
    for at in order:
        if not len(starts):
            break
        found = data[starts + at]
        if letters[at]:
            found |= np.uint8(0x20)
        starts = starts[found == wanted[at]]
    return starts


# Principal digests: a 64-bit number per principal, computed for a whole batch at once in
# numpy (a Python hash of an Identity per principal costed more than everything else the
# merge did with it). A short form's bytes are a polynomial in _MULTIPLIER modulo 2**64,
# summed over a span of texts in one multiply and one reduceat, each text's sum then brought
# to its own start by the multiplier's inverse powers; its length and the principal's
# (type, account, service, has an ARN) code are mixed in. Equal principals always have
# equal digests; a matching digest is checked against the principal kept, never trusted.
_MULTIPLIER = 0x100000001B3  # FNV's 64-bit prime: odd, so it has an inverse modulo 2**64
_SPAN = 1 << 15  # bytes a numpy pass hashes: the length of the powers tables (longer for a longer text)
_powers_tables: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.uint64), np.zeros(0, np.uint64))


def _powers(length: int) -> tuple[np.ndarray, np.ndarray]:
    """The multiplier's powers 0..``length`` - 1 and their inverses (modulo 2**64), made once."""
    global _powers_tables
    if len(_powers_tables[0]) < length:
        tables = []
        for factor in (_MULTIPLIER, pow(_MULTIPLIER, -1, 1 << 64)):
            table = np.full(length, factor, dtype=np.uint64)
            table[0] = 1
            tables.append(np.cumprod(table, dtype=np.uint64))  # wraps modulo 2**64, as wanted
        _powers_tables = (tables[0], tables[1])
    return _powers_tables


def text_digests(data: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A 64-bit digest of each text ``data[ends[i]:ends[i + 1]]`` (bytes, one after another)."""
    ends = ends.astype(np.int64, copy=False)
    count = len(ends) - 1
    lengths = np.diff(ends)
    digests = np.zeros(count, dtype=np.uint64)
    powers, inverse = _powers(_SPAN)
    first = 0
    while first < count:
        base = int(ends[first])
        stop = int(np.searchsorted(ends, base + len(powers), side="right")) - 1  # texts first..stop-1 fit
        if stop <= first:  # this text alone is longer than the tables
            powers, inverse = _powers(int(lengths[first]))
            continue
        chunk = data[base : int(ends[stop])].astype(np.uint64)
        chunk *= powers[: len(chunk)]
        filled = np.flatnonzero(lengths[first:stop]) + first
        if len(filled):
            at = ends[filled] - base
            sums = np.add.reduceat(chunk, at)
            sums *= inverse[at]
            digests[filled] = sums
        first = stop
    digests += lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # "a" and "a\0" apart
    return digests


def _mixed(digests: np.ndarray) -> np.ndarray:
    """The digests' bits spread (splitmix64's finaliser), in place."""
    digests ^= digests >> np.uint64(30)
    digests *= np.uint64(0xBF58476D1CE4E5B9)
    digests ^= digests >> np.uint64(27)
    digests *= np.uint64(0x94D049BB133111EB)
    digests ^= digests >> np.uint64(31)
    return digests


def principal_digests(
    data: np.ndarray, ends: np.ndarray, parts: np.ndarray, texts: np.ndarray | None = None
) -> np.ndarray:
    """The digest of each principal: its short form ``data[ends[i]:ends[i + 1]]`` and its
    (type, account, service, has an ARN) code ``parts[i]``. ``texts``: the short forms'
    digests (:func:`text_digests`) when the worker that sent them computed them already, with
    the ARNs' mixed in by :func:`with_arns`."""
    digests = text_digests(data, ends) if texts is None else texts.astype(np.uint64)
    digests += parts.astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93)
    return _mixed(digests)


def with_arns(texts: np.ndarray, arns: dict[int, str]) -> np.ndarray:
    """The short forms' digests ``texts`` with the digest of each principal's ARN (by its
    position) added: principals that differ only there (one user name under two IAM paths,
    or a userName that is not the ARN's) then rarely share a digest, which would send each
    through the one-at-a-time path (a few hundred a load on the varied trail)."""
    if not arns:
        return texts
    texts_of = [arn.encode(*_CODEC) for arn in arns.values()]  # few: users, roots, services
    ends = np.zeros(len(texts_of) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, texts_of), np.int64, len(texts_of)), out=ends[1:])
    blob = b"".join(texts_of)
    digests = texts.astype(np.uint64)  # a copy: the batch's own stay as the worker sent them
    at = np.fromiter(arns.keys(), np.int64, len(arns))
    digests[at] += text_digests(np.frombuffer(blob, np.uint8), ends) * np.uint64(0x8CB92BA72F3D8DD7)
    return digests


def _looked_up(hashes: np.ndarray, codes: np.ndarray, digests: np.ndarray) -> np.ndarray:
    """The code kept under each digest in sorted ``hashes`` (``codes`` beside them), 0 where
    there is none. The digests come ascending: each search then starts where the last ended
    (several times faster than in any order, on a large array)."""
    if not len(hashes):
        return np.zeros(len(digests), np.uint32)
    at = np.searchsorted(hashes, digests)
    at[at == len(hashes)] = 0
    return np.where(hashes[at] == digests, codes[at], np.uint32(0))


def _merged(hashes: np.ndarray, codes: np.ndarray, more: np.ndarray, more_codes: np.ndarray):
    """Two sorted arrays of digests (with their codes) as one, sorted: one copy of each."""
    at = np.searchsorted(hashes, more) + np.arange(len(more))
    kept = np.ones(len(hashes) + len(more), bool)
    kept[at] = False
    merged, merged_codes = np.empty(len(kept), hashes.dtype), np.empty(len(kept), codes.dtype)
    merged[at], merged_codes[at] = more, more_codes
    merged[kept], merged_codes[kept] = hashes, codes
    return merged, merged_codes


def _alike(which: np.ndarray, others: np.ndarray, data: np.ndarray, ends: np.ndarray, parts: np.ndarray, arns: dict):
    """True where a batch's principal ``which[i]`` is its principal ``others[i]`` (``parts``
    tell whether each has an ARN, and ``arns`` give them)."""
    lengths = ends[which + 1] - ends[which]
    alike = (lengths == ends[others + 1] - ends[others]) & (parts[which] == parts[others])
    alike[alike] = _equal_bytes(data, ends[which[alike]], data, ends[others[alike]], lengths[alike])
    for i in np.flatnonzero(alike).tolist() if arns else ():
        alike[i] = arns.get(int(which[i])) == arns.get(int(others[i]))
    return alike


class IdentityVocabulary(Vocabulary[model.Identity]):
    """The principal vocabulary, compact: a new session is a new principal, so on a varied
    trail there are nearly as many principals as events. Each is kept as its short form in
    a :class:`TextArena`, its type, account and calling service (and whether it has an ARN)
    as one code into a small vocabulary of those, and its ARN (None for an assumed role,
    which the short form rebuilds) in a sparse map. ``values[code]`` builds the
    :class:`~kmstui.core.model.Identity` again. A principal is searched by its short form and
    its ARN (``role/Admin (s)``, ``user/Alice arn:aws:iam::…:user/Alice``), case-insensitively,
    in the arena itself: only the principals with an ARN kept a search text of their own.

    A batch's principals come as columns (:class:`~kmstui.core.batch.PrincipalPart`) and are
    matched in numpy, with no Identity built: their digests (:func:`principal_digests`),
    sorted, are looked up in a sorted array of the digests of the principals folded so far
    and a smaller one of those added since; every match is checked against the principal
    kept (its bytes, part and ARN), and the new ones are added together, their short forms'
    bytes straight into the arena. A principal whose digest another has is kept by value in
    a dictionary of its own: a collision costs time, never a wrong code."""

    _FOLD = 1 << 14  # principals added before the recent digests are merged into the sorted arrays
    _LOAD = 0.7  # the C digest table's fill before it doubles

    def __init__(self, compiled: bool | None = None):
        super().__init__(search_text)
        compiled = COMPILED_MERGE if compiled is None else compiled
        # Where the scanner is built the digests are kept in a hash table the C merge reads and
        # writes (_scan.merge_principals): slots of codes (0: empty, 4 bytes each, filled at most
        # _LOAD) and each code's digest (8 bytes); else in the sorted arrays below (the reference).
        self._compiled = compiled
        self._slots = np.zeros(1 << 10 if compiled else 0, np.uint32)
        self._digests = np.zeros(1 << 10 if compiled else 0, np.int64)  # by code, with room to grow
        self._held = 0  # codes in the slots
        self._expected = 0  # principals a load expects to have in all (reserve)
        self.values = _Identities(self)  # type: ignore[assignment]
        self._shorts = TextArena([""])
        self._parts = Vocabulary[tuple[Any, ...]]()  # (identity_type, account, invoked_by, has an ARN)
        self._part_codes = array("I", [0])
        self._arns: dict[int, str] = {}
        self._sorted_hashes = np.zeros(0, np.int64)  # digests, as int64 (faster to search)
        self._sorted_codes = np.zeros(0, np.uint32)
        self._recent_hashes = np.zeros(0, np.int64)  # the same for the principals added since
        self._recent_codes = np.zeros(0, np.uint32)
        self._collided: dict[model.Identity, int] = {}
        self._texts = LoweredArena(self._shorts, self._arn_texts)

    def __len__(self) -> int:
        return len(self._shorts)

    def identity(self, code: int) -> model.Identity | None:
        if code == 0:
            return None
        type_, account, invoked_by, _ = self._parts.values[self._part_codes[code]]
        return model.Identity(self._shorts[code], self._arns.get(code), type_, account, invoked_by)

    @staticmethod
    def _part(value: model.Identity) -> tuple[Any, ...]:
        return (value.identity_type, value.account, value.invoked_by, value.arn is not None)

    def _digest(self, value: model.Identity, part: int) -> np.ndarray:
        data = np.frombuffer(value.short.encode(*_CODEC), np.uint8)
        ends = np.array([0, len(data)], np.int64)
        texts = with_arns(text_digests(data, ends), {0: value.arn} if value.arn is not None else {})
        return principal_digests(data, ends, np.array([part], np.uint32), texts).view(np.int64)

    def find(self, value: model.Identity | None, digest: np.ndarray | None = None) -> int | None:
        """The code of ``value``, or None; ``digest``, its digest when the caller has it."""
        if value is None:
            return 0
        collided = self._collided.get(value)
        if collided is not None:
            return collided
        part = self._parts.find(self._part(value))
        if part is None:
            return None
        code = int(self._candidates(self._digest(value, part) if digest is None else digest)[0])
        if code and self.identity(code) == value:
            return code
        return None

    def code(self, value: model.Identity | None, digest: np.ndarray | None = None) -> int:
        code = self.find(value, digest)
        if code is not None:
            return code
        assert value is not None
        part = self._parts.code(self._part(value))
        if digest is None:
            digest = self._digest(value, part)
        code = len(self._shorts)
        self._part_codes.append(part)
        if value.arn is not None:
            self._arns[code] = value.arn
        self._shorts.append(value.short)  # last: see _add_many
        if self._candidates(digest)[0]:
            self._collided[value] = code  # another principal has this digest: kept by value
        else:
            self._remember(digest, np.array([code], np.uint32))
        return code

    def _candidates(self, digests: np.ndarray) -> np.ndarray:
        """The code of the principal kept under each digest (ascending), 0 where there is
        none: not yet checked, a digest can match a different principal."""
        if self._compiled:
            found = np.frombuffer(_digest_find(self._slots, self._digests, digests.astype(np.int64)), np.uint32)
            # a code a merge has put in the table but not yet kept (read on another thread) is not found yet
            return np.where(found < len(self), found, np.uint32(0))
        codes = _looked_up(self._sorted_hashes, self._sorted_codes, digests)
        if len(self._recent_hashes):
            codes |= _looked_up(self._recent_hashes, self._recent_codes, digests)  # a digest is in one or neither
        return codes

    def _remember(self, digests: np.ndarray, codes: np.ndarray) -> None:
        """Keep the digests (ascending, distinct, new) of principals just added; merge them
        into the sorted arrays once there are many (a merge copies the arrays)."""
        if self._compiled:
            self._reserve(len(codes))
            _digest_insert(self._slots, self._digests, codes.astype(np.uint32), digests.astype(np.int64))
            self._held += len(codes)
            return
        self._recent_hashes, self._recent_codes = _merged(self._recent_hashes, self._recent_codes, digests, codes)
        # folded once they are a fraction of the sorted ones: each fold copies every digest,
        # so a fixed number between folds would copy them all again every few batches
        if len(self._recent_hashes) >= max(self._FOLD, len(self._sorted_hashes) >> 2):
            self._sorted_hashes, self._sorted_codes = _merged(
                self._sorted_hashes, self._sorted_codes, self._recent_hashes, self._recent_codes
            )
            self._recent_hashes = np.zeros(0, np.int64)
            self._recent_codes = np.zeros(0, np.uint32)

    def remap(self, part: PrincipalPart | list[model.Identity]) -> np.ndarray:
        """Global codes for a batch's principals (local code -> global code), in numpy: their
        digests sorted and looked up all at once, every match checked against the principal
        kept (:meth:`_same`), a principal the batch holds twice (from two of its files)
        checked against its first, the new ones added together. What is left (a digest that
        matched another principal) goes through :meth:`code` one at a time, in order, so
        codes are those a plain vocabulary would give. A list of identities (None for none)
        is taken as a part holding them."""
        if isinstance(part, list):
            from .batch import PrincipalPart  # the batch module imports this one

            rows = [i for i, value in enumerate(part) if value is not None]
            codes = np.zeros(len(part), dtype=np.uint32)
            codes[rows] = self.remap(PrincipalPart.of_identities(part[i] for i in rows))[1:]
            return codes
        n = len(part) - 1  # principals: local code i + 1 is principal i here
        out = np.zeros(n + 1, dtype=np.uint32)
        if n <= 0:
            return out
        data = np.frombuffer(part.shorts, np.uint8)
        ends = part.ends.astype(np.int64)  # principal i's short form is data[ends[i]:ends[i + 1]]
        arns = {code - 1: arn for code, arn in part.arns.items()}
        kind = part.kind[1:].astype(np.int64) * 2
        if arns:
            kind[np.fromiter(arns.keys(), np.int64, len(arns))] += 1
        wanted = np.flatnonzero(np.bincount(kind)).tolist()
        table = np.zeros(max(wanted) + 1, np.uint32)
        table[wanted] = [self._parts.code((*part.kinds[k // 2], bool(k % 2))) for k in wanted]
        parts = table[kind]  # each principal's (type, account, service, has an ARN) code
        texts = part.digests if len(part.digests) == n else None  # computed by the worker
        if texts is None and arns:
            texts = with_arns(text_digests(data, ends), arns)
        digests = principal_digests(data, ends, parts, texts).view(np.int64)
        if self._compiled:
            return self._remap_compiled(part, data, ends, parts, digests, arns, out)
        order = np.argsort(digests, kind="stable")
        ordered = digests[order]
        codes = np.empty(n, np.uint32)
        codes[order] = self._candidates(ordered)
        # the principals the batch holds again: each one's first, in the batch's order, leads
        again = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
        if len(again):
            first = np.ones(n, bool)
            first[again] = False
            leader = np.empty(n, np.int64)
            leader[order] = order[np.maximum.accumulate(np.where(first, np.arange(n), 0))]
            again = np.flatnonzero(leader != np.arange(n))
        known = np.flatnonzero(codes)
        same = self._same(codes[known], known, data, ends, parts, arns)
        out[known[same] + 1] = codes[known[same]]
        fresh = np.flatnonzero(codes == 0)
        singly = known[~same]  # one at a time: a digest that matched another principal
        if len(again):
            again = again[codes[again] == 0]
            alike = _alike(again, leader[again], data, ends, parts, arns)
            # and a new principal whose digest another new one of this batch has
            singly = np.union1d(singly, again[~alike])
            fresh = np.setdiff1d(fresh, again, assume_unique=True)
        done = 0  # of fresh, added so far
        added = (out, data, ends, parts, arns, digests)
        for at in singly.tolist():
            upto = int(np.searchsorted(fresh, at))
            self._add_many(fresh[done:upto], *added)
            done = upto
            out[at + 1] = self.code(part[at + 1], digests[at : at + 1])
        self._add_many(fresh[done:], *added)
        if len(again):
            out[again[alike] + 1] = out[leader[again[alike]] + 1]
        return out

    def _reserve(self, more: int) -> None:
        """Room in the C digest table for ``more`` principals (and their codes' digests). When it
        must grow, it grows toward the principals a load expects (reserve), but to at most 8 times
        what is needed now: a first batch's principals stand for the rest on a varied trail, not on
        one where they repeat, and a table far too large would be written all over (a hash table's
        codes land anywhere), 4 MB resident for 18,000 principals."""
        needed = len(self) + more
        ahead = max(needed, min(self._expected, 8 * needed))
        if len(self._digests) < needed:
            grown = np.zeros(max(ahead, len(self._digests) + (len(self._digests) >> 1)), np.int64)
            grown[: len(self._digests)] = self._digests
            self._digests = grown
        if self._held + more <= self._LOAD * len(self._slots) and needed <= len(self._slots) - 1:
            return
        size = len(self._slots)
        held = self._held + more + (ahead - needed)
        while held > self._LOAD * size or ahead > size - 1:
            size *= 2
        held = self._slots[self._slots != 0]
        slots = np.zeros(size, np.uint32)
        _digest_insert(slots, self._digests, held, self._digests[held])
        self._slots = slots

    def _remap_compiled(
        self,
        part: PrincipalPart,
        data: np.ndarray,
        ends: np.ndarray,
        parts: np.ndarray,
        digests: np.ndarray,
        arns: dict,
        out: np.ndarray,
    ) -> np.ndarray:
        """:meth:`remap` in C (_scan.merge_principals): each principal looked up in the digest
        table and checked byte for byte, the new ones numbered in order and kept together; a
        digest another principal has stops the pass, and that principal goes through
        :meth:`code` before it goes on, so codes are those the numpy path gives."""
        n = len(parts)
        new = np.empty(n, np.int64)
        start = 0
        while True:
            base = len(self._shorts)
            self._reserve(n - start)
            ends_of = self._shorts._ends
            stop, added = _merge_principals(
                self._slots, self._digests, base, self._shorts.blob, ends_of, ends_of.typecode == "q",
                self._part_codes, self._arns, data, ends, parts, digests, arns, out, new, start,
            )  # fmt: skip
            if added:
                self._append(new[:added], data, ends, parts, arns)
                self._held += added
            if stop == n:
                return out
            out[stop + 1] = self.code(part[stop + 1], digests[stop : stop + 1])
            start = stop + 1

    def _same(
        self, codes: np.ndarray, which: np.ndarray, data: np.ndarray, ends: np.ndarray, parts: np.ndarray, arns: dict
    ) -> np.ndarray:
        """True where principal ``codes[i]`` is the batch's principal ``which[i]``: short forms
        compared as bytes with the arena's, the (type, account, service, has an ARN) part as
        its code, and the ARN as text where there is one."""
        if not len(codes):
            return np.zeros(0, bool)
        same = np.frombuffer(self._part_codes, np.uint32)[codes] == parts[which]
        same[same] = self._shorts.same_encoded(codes[same], data, ends[which[same]], np.diff(ends)[which[same]])
        if arns:  # the part says whether there is an ARN: only those with one compare it
            named = np.zeros(len(ends) - 1, bool)
            named[np.fromiter(arns.keys(), np.int64, len(arns))] = True
            for i in np.flatnonzero(same & named[which]).tolist():
                same[i] = self._arns.get(int(codes[i])) == arns[int(which[i])]
        return same

    def _add_many(
        self,
        which: np.ndarray,
        out: np.ndarray,
        data: np.ndarray,
        ends: np.ndarray,
        parts: np.ndarray,
        arns: dict,
        digests: np.ndarray,
    ) -> None:
        """Add the batch's principals ``which`` (ascending), new and with distinct new digests,
        together: their short forms' bytes in one arena extension."""
        if not len(which):
            return
        first = len(self._shorts)
        codes = np.arange(first, first + len(which), dtype=np.uint32)
        self._append(which, data, ends, parts, arns)
        order = np.argsort(digests[which])
        self._remember(digests[which][order], codes[order])
        out[which + 1] = codes

    def _append(self, which: np.ndarray, data: np.ndarray, ends: np.ndarray, parts: np.ndarray, arns: dict) -> None:
        """Keep the batch's principals ``which`` (ascending) as the next codes: their parts,
        their ARNs and their short forms' bytes in one arena extension."""
        first = len(self._shorts)
        self._part_codes.frombytes(parts[which].astype(np.uint32).tobytes())
        if arns:
            at = np.fromiter(arns.keys(), np.int64, len(arns))
            position = np.minimum(np.searchsorted(which, at), len(which) - 1)
            added = which[position] == at
            self._arns.update(
                zip((position[added] + first).tolist(), compress(arns.values(), added.tolist()), strict=True)
            )
        lengths = ends[which + 1] - ends[which]
        if len(which) == len(ends) - 1:  # every principal of the batch is new: its bytes as they are
            blob = data[int(ends[0]) : int(ends[-1])].tobytes()
        else:  # the runs of consecutive principals, each one slice of the batch's bytes
            breaks = np.flatnonzero(np.diff(which) != 1) + 1
            firsts, lasts = which[np.r_[0, breaks]], which[np.r_[breaks - 1, len(which) - 1]] + 1
            view = data.data  # a memoryview: slices of it are not copies
            blob = b"".join(map(view.__getitem__, map(slice, ends[firsts].tolist(), ends[lasts].tolist())))
        # the short forms last: the vocabulary's length is theirs, so a reader on another
        # thread sees the new principals only once every part of them is in place
        self._shorts.extend_encoded(blob, lengths)

    @property
    def short_forms(self) -> TextArena:
        """Every principal's short form, by principal code (code 0's is empty)."""
        return self._shorts

    def kinds(self, start: int, stop: int) -> tuple[np.ndarray, list[tuple[Any, ...] | None]]:
        """The (type, account, calling service, has an ARN) of principals ``start:stop``, as
        codes into the list given beside them (whose entry 0, no principal's, is None)."""
        codes = np.frombuffer(self._part_codes[start:stop], np.uint32)
        return codes, list(self._parts.values)

    def _arn_texts(self, start: int, stop: int) -> dict[int, str]:
        """The search texts of the principals in ``start:stop`` that keep an ARN."""
        arns = self._arns
        if stop - start < len(arns):
            found = ((code, arns.get(code)) for code in range(start, stop))
            return {code: f"{self._shorts[code]} {arn}" for code, arn in found if arn is not None}
        return {code: f"{self._shorts[code]} {arn}" for code, arn in list(arns.items()) if start <= code < stop}

    def search_texts(self) -> LoweredArena:  # type: ignore[override]
        self._texts.containing("")  # the principals added since are looked at now
        return self._texts

    def matching(self, needle: str) -> np.ndarray:
        table = self._texts.containing(needle.lower())
        table[0] = False
        return table

    def matching_exactly(self, needle: str) -> np.ndarray:
        """True for the principals whose short form or ARN is ``needle``, in any case."""
        want = needle.lower()
        count = len(self)
        table = self._shorts.equal(want, fold=True)[:count]
        for code in self._shorts.non_ascii(0, count):  # folding ASCII letters may not be enough
            table[code] = self._shorts[code].lower() == want
        for code, arn in list(self._arns.items()):
            if code < count and arn.lower() == want:
                table[code] = True
        table[0] = False
        return table

    def nbytes(self) -> int:
        """The bytes of the arenas and arrays (the small part vocabulary and the ARN map aside)."""
        return (
            self._shorts.nbytes()
            + self._texts.nbytes()
            + self._part_codes.itemsize * len(self._part_codes)
            + self._sorted_hashes.nbytes
            + self._sorted_codes.nbytes
            + self._recent_hashes.nbytes
            + self._recent_codes.nbytes
            + self._slots.nbytes
            + self._digests.nbytes
        )

    def reserve(self, factor: float) -> None:
        """Room for ``factor`` times the principals kept now (EventIndex.reserve): their short
        forms' bytes now; the C digest table, filled on the way (doubled and every code put in
        again each time), grows toward them when it must grow (_reserve)."""
        self._shorts.reserve(int(len(self._shorts.blob) * factor))
        self._expected = max(self._expected, int(len(self) * factor))

    def fit(self) -> None:
        """Give back the room to grow (of the short forms and the codes' digests): when a load ends."""
        self._shorts.fit()
        if len(self._digests) > len(self):
            self._digests = self._digests[: len(self)].copy()


def search_text(identity: model.Identity) -> str:
    """What a principal is searched by: its short form and its ARN."""
    return f"{identity.short} {identity.arn}" if identity.arn else identity.short


class _Identities(Positional[model.Identity | None]):
    """``vocabulary.values`` of an :class:`IdentityVocabulary`: identities built on demand."""

    __slots__ = ("_vocabulary",)

    def __init__(self, vocabulary: IdentityVocabulary):
        self._vocabulary = vocabulary

    def __len__(self) -> int:
        return len(self._vocabulary)

    _what = "principal code"

    def _item(self, i: int) -> model.Identity | None:
        return self._vocabulary.identity(i)

    def __iter__(self) -> Iterator[model.Identity | None]:
        identity = self._vocabulary.identity
        for i in range(len(self)):
            yield identity(i)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class LoweredArena(Positional[str]):
    """Texts in an arena, searched case-insensitively as their lowercase forms would be, with
    no lowercase copy of a text whose lowercase form differs only in ASCII letters (nearly all:
    ARNs, ids, names): the search folds those letters as it compares. Only a text whose
    lowercase form is otherwise different (``Ä``, ``İ``, the Kelvin sign), or whose search text
    is not the stored text (``special``: a principal's ARN beside its short form), keeps one."""

    __slots__ = ("_codes", "_copies", "_done", "_growing", "_special", "_texts")

    def __init__(self, texts: TextArena, special: Callable[[int, int], dict[int, str]] | None = None):
        self._texts = texts
        self._special = special  # (start, stop) -> {code: search text} where it is not the stored text
        self._copies = TextArena()  # the lowercase search text of each such text
        self._codes = array("q")  # the codes of those texts, ascending
        self._done = 0  # texts looked at so far
        self._growing = threading.Lock()

    def __len__(self) -> int:
        return len(self._texts)

    def _catch_up(self) -> None:
        if self._done >= len(self._texts):
            return
        with self._growing:
            start, stop = self._done, len(self._texts)
            if start >= stop:
                return
            special = self._special(start, stop) if self._special is not None else {}
            for code in sorted(special.keys() | self._texts.non_ascii(start, stop)):
                text = special.get(code)
                if text is None:
                    text = self._texts[code]
                    if text.lower() == text.translate(_ASCII_LOWER):
                        continue  # folding its ASCII letters is enough
                self._copies.append(text.lower())
                self._codes.append(code)
            self._done = stop

    def _exceptions(self) -> np.ndarray:
        self._catch_up()
        return np.frombuffer(self._codes[:], dtype=np.int64) if len(self._codes) else np.zeros(0, np.int64)

    def search_text(self, code: int) -> str:
        """The lowercase text a code is searched by."""
        codes = self._exceptions()
        at = int(np.searchsorted(codes, code))
        if at < len(codes) and codes[at] == code:
            return self._copies[at]
        return lowered(self._texts[code])

    _what = "arena index"

    def _item(self, i: int) -> str:
        return self.search_text(i)

    def __iter__(self) -> Iterator[str]:
        return (self.search_text(i) for i in range(len(self)))

    def containing(self, needle: str) -> np.ndarray:
        """True for each text whose lowercase form contains ``needle`` (lowercase)."""
        codes = self._exceptions()  # first: the copies then hold at least as many texts
        table = self._texts.containing(needle, fold=True)
        codes = codes[codes < len(table)]
        if len(codes):
            table[codes] = self._copies.containing(needle)[: len(codes)]
        return table

    def equal(self, needle: str) -> np.ndarray:
        """True for each text whose lowercase form is ``needle`` (lowercase)."""
        codes = self._exceptions()
        table = self._texts.equal(needle, fold=True)
        codes = codes[codes < len(table)]
        if len(codes):
            table[codes] = self._copies.equal(needle)[: len(codes)]
        return table

    def nbytes(self) -> int:
        return self._copies.nbytes() + self._codes.itemsize * len(self._codes)
