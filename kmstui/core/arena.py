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

import operator
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from itertools import compress, repeat
from typing import Any, overload

import numpy as np

from . import model
from .vocab import Vocabulary, lowered

_CODEC = ("utf-8", "surrogatepass")  # a lone surrogate (repaired upstream, but stay total) survives


def _position(i: int, length: int, what: str) -> int:
    """``i`` as a position in a sequence of ``length`` (negative from the end); IndexError else."""
    i = int(i)
    if i < 0:
        i += length
    if not 0 <= i < length:
        raise IndexError(f"{what} out of range")
    return i


class TextArena(Sequence[str]):
    """Append-only strings in one blob: ``arena[i]`` decodes text ``i`` again."""

    __slots__ = ("_blob", "_counts", "_ends")
    _NARROW_UNTIL = 0xFFFFFFFF  # the largest offset kept in 4 bytes

    def __init__(self, texts: Sequence[str] = ()):
        self._blob = bytearray()
        self._ends = array("I", [0])  # 4 bytes a text, 8 once the blob passes 4 GiB
        # how often each byte value occurs in the blob's first bytes (a search starts from the
        # needle's rarest byte), and how many bytes that counts: brought up to date by searches
        self._counts: tuple[np.ndarray, int] = (np.zeros(256, np.int64), 0)
        self.extend(texts)

    def __len__(self) -> int:
        return len(self._ends) - 1

    def append(self, text: str) -> int:
        self._blob += text.encode(*_CODEC)
        end = len(self._blob)
        if end > self._NARROW_UNTIL and self._ends.typecode == "I":
            self._ends = array("q", self._ends)
        self._ends.append(end)
        return len(self._ends) - 2

    def extend(self, texts: Sequence[str]) -> None:
        """Append many texts at once: one encoding of them all joined, their ends summed in
        numpy (a batch brings a thousand or more context values and session principals)."""
        if not texts:
            return
        joined = "".join(texts)
        blob = joined.encode(*_CODEC)
        if len(blob) == len(joined):  # ASCII, the usual: a text's length in bytes is its length
            lengths = np.fromiter(map(len, texts), np.int64, len(texts))
        else:
            lengths = np.fromiter((len(text.encode(*_CODEC)) for text in texts), np.int64, len(texts))
        ends = np.cumsum(lengths)
        ends += len(self._blob)
        if int(ends[-1]) > self._NARROW_UNTIL and self._ends.typecode == "I":
            self._ends = array("q", self._ends)
        self._blob += blob
        self._ends.frombytes(ends.astype(np.uint32 if self._ends.typecode == "I" else np.int64).tobytes())

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = _position(i, len(self), "arena index")
        return self._blob[self._ends[i] : self._ends[i + 1]].decode(*_CODEC)

    def __iter__(self) -> Iterator[str]:
        blob, ends = self._blob, self._ends
        for i in range(len(ends) - 1):
            yield blob[ends[i] : ends[i + 1]].decode(*_CODEC)

    def nbytes(self) -> int:
        return len(self._blob) + self._ends.itemsize * len(self._ends)

    def same(self, codes: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """True where text ``codes[i]`` is ``texts[i]``: the texts encoded at once and compared
        byte by byte with the blob in numpy, no text decoded (the writer's own check, on the
        thread that appends: the blob is viewed, not copied)."""
        count = len(texts)
        joined = "".join(texts)
        ours = joined.encode(*_CODEC)
        if len(ours) == len(joined):
            lengths = np.fromiter(map(len, texts), np.int64, count)
        else:
            lengths = np.fromiter((len(text.encode(*_CODEC)) for text in texts), np.int64, count)
        ends = np.frombuffer(self._ends, dtype=np.uint32 if self._ends.typecode == "I" else np.int64)
        starts = ends[codes].astype(np.int64)
        same = ends[codes + 1] - starts == lengths
        del ends
        check = np.flatnonzero(same & (lengths > 0))
        if len(check):
            sizes = lengths[check]
            item = np.repeat(np.arange(len(check)), sizes)
            step = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            theirs = np.frombuffer(self._blob, np.uint8)[np.repeat(starts[check], sizes) + step]
            offsets = np.cumsum(lengths) - lengths
            differ = theirs != np.frombuffer(ours, np.uint8)[np.repeat(offsets[check], sizes) + step]
            same[check[item[differ]]] = False
        return same

    def _view(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The bytes of the first ``count`` texts and their ends, as copies: a loader thread
        may append meanwhile, and a bytearray or array with a view into it cannot grow."""
        ends = self._offsets(0, count + 1)
        data = np.frombuffer(self._blob[: int(ends[-1])], dtype=np.uint8)
        return data, ends

    def _offsets(self, start: int, stop: int) -> np.ndarray:
        """``_ends[start:stop]`` as int64, a copy."""
        ends = self._ends[start:stop]
        return np.frombuffer(ends, dtype=np.uint32 if ends.typecode == "I" else np.int64).astype(np.int64)

    def _byte_counts(self, data: np.ndarray) -> np.ndarray:
        counts, counted = self._counts
        if counted < len(data):
            counts = counts + np.bincount(data[counted:], minlength=256)
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
            chunk = np.frombuffer(self._blob[at : min(at + step, int(ends[-1]))], dtype=np.uint8)
            high = np.flatnonzero(chunk >= 0x80) + at
            if len(high):
                found.append(np.unique(np.searchsorted(ends, high, side="right") - 1) + start)
        return np.unique(np.concatenate(found)).tolist() if found else []


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


def _pick(values: Sequence, positions: np.ndarray) -> list:
    """``[values[i] for i in positions]``, with the loop in C (operator.itemgetter)."""
    if len(positions) == len(values):
        return list(values)
    if len(positions) == 0:
        return []
    if len(positions) == 1:
        return [values[int(positions[0])]]
    return list(operator.itemgetter(*positions.tolist())(values))


def _or_none(code: int | None) -> int:
    return -1 if code is None else code  # a part never kept: no principal has it


class IdentityVocabulary(Vocabulary[model.Identity]):
    """The principal vocabulary, compact: a new session is a new principal, so on a varied
    trail there are nearly as many principals as events. Each is kept as its short form in
    a :class:`TextArena`, its type, account and calling service as one code into a small
    vocabulary of those three, and its ARN (None for an assumed role, which the short form
    rebuilds) in a sparse map. ``values[code]`` builds the :class:`~kmstui.core.model.Identity`
    again. A principal is searched by its short form and its ARN (``role/Admin (s)``,
    ``user/Alice arn:aws:iam::…:user/Alice``), case-insensitively, in the arena itself: only
    the principals with an ARN kept a search text of their own.

    Finding a principal's code goes by its hash: a sorted numpy array of the hashes of the
    principals folded so far, a dictionary for the ones added since; a hash that matches is
    checked against the principal itself, so a collision costs time, never a wrong code."""

    _FOLD = 1 << 15  # principals added before the dictionary is folded into the sorted arrays

    def __init__(self):
        super().__init__(search_text)
        self.values = _Identities(self)  # type: ignore[assignment]
        self._recent: dict[int, int] = {}  # a hash -> code of principals added since the last fold
        self._shorts = TextArena([""])
        self._parts = Vocabulary[tuple[Any, ...]]()  # (identity_type, account, invoked_by)
        self._part_codes = array("I", [0])
        self._arns: dict[int, str] = {}
        self._sorted_hashes = np.zeros(0, np.int64)
        self._sorted_codes = np.zeros(0, np.uint32)
        self._collided: dict[model.Identity, int] = {}
        self._texts = LoweredArena(self._shorts, self._arn_texts)

    def __len__(self) -> int:
        return len(self._shorts)

    def identity(self, code: int) -> model.Identity | None:
        if code == 0:
            return None
        type_, account, invoked_by = self._parts.values[self._part_codes[code]]
        return model.Identity(self._shorts[code], self._arns.get(code), type_, account, invoked_by)

    def find(self, value: model.Identity | None) -> int | None:
        if value is None:
            return 0
        collided = self._collided.get(value)
        if collided is not None:
            return collided
        digest = hash(value)
        code = self._recent.get(digest)
        if code is None:
            at = int(np.searchsorted(self._sorted_hashes, digest))
            if at < len(self._sorted_hashes) and int(self._sorted_hashes[at]) == digest:
                code = int(self._sorted_codes[at])
        if code is not None and self.identity(code) == value:
            return code
        return None

    def code(self, value: model.Identity | None) -> int:
        code = self.find(value)
        if code is not None:
            return code
        assert value is not None
        digest = hash(value)
        code = self._add(value, digest, digest in self._recent or self._in_sorted(digest))
        self._maybe_fold()
        return code

    def _add(self, value: model.Identity, digest: int, clash: bool) -> int:
        code = len(self._shorts)
        self._part_codes.append(self._parts.code((value.identity_type, value.account, value.invoked_by)))
        if value.arn is not None:
            self._arns[code] = value.arn
        self._shorts.append(value.short)  # last: see _add_many
        if clash:
            self._collided[value] = code  # another principal has this hash: kept by value
        else:
            self._recent[digest] = code
        return code

    def _in_sorted(self, digest: int) -> bool:
        at = int(np.searchsorted(self._sorted_hashes, digest))
        return at < len(self._sorted_hashes) and int(self._sorted_hashes[at]) == digest

    def _maybe_fold(self) -> None:
        if len(self._recent) < self._FOLD:
            return
        hashes = np.concatenate([self._sorted_hashes, np.fromiter(self._recent.keys(), np.int64, len(self._recent))])
        codes = np.concatenate([self._sorted_codes, np.fromiter(self._recent.values(), np.uint32, len(self._recent))])
        order = np.argsort(hashes, kind="stable")
        self._sorted_hashes, self._sorted_codes = hashes[order], codes[order]
        self._recent = {}

    def remap(self, local_values: list) -> np.ndarray:
        """Global codes for a batch's principals, in numpy rather than one by one: the hashes
        looked up all at once (the sorted arrays, then the recent dictionary), every match
        checked against the principal kept (:meth:`_same`), the new ones added together.
        What is left (a hash that matched another principal, two new ones sharing a hash) goes
        through :meth:`code` one at a time, in order, so codes are those a plain
        vocabulary would give."""
        n = len(local_values)
        out = np.zeros(n, dtype=np.uint32)
        if not n:
            return out
        if local_values[0] is None and local_values.count(None) == 1:  # the batch's usual shape
            rows = np.arange(1, n)
            values = local_values[1:]
        else:
            rows = np.flatnonzero(np.fromiter(map(operator.is_not, local_values, repeat(None)), bool, n))
            values = _pick(local_values, rows)
        if not values:
            return out
        digests = np.fromiter(map(hash, values), np.int64, len(values))
        codes = self._candidates(digests)
        known = np.flatnonzero(codes)
        same = self._same(codes[known], _pick(values, known))
        out[rows[known[same]]] = codes[known[same]]
        fresh = np.flatnonzero(codes == 0)
        # one at a time: a hash that matched another principal, and a new principal whose
        # hash another new one of this batch has (kept apart from it, added after it)
        _, first = np.unique(digests[fresh], return_index=True)
        later = np.ones(len(fresh), bool)
        later[first] = False
        singly = np.union1d(known[~same], fresh[later])
        fresh = fresh[~later]
        done = 0  # of fresh, added so far
        for at in singly.tolist():
            upto = int(np.searchsorted(fresh, at))
            self._add_fresh(out, rows, values, digests, fresh[done:upto])
            done = upto
            out[rows[at]] = self.code(values[at])
        self._add_fresh(out, rows, values, digests, fresh[done:])
        self._maybe_fold()
        return out

    def _candidates(self, digests: np.ndarray) -> np.ndarray:
        """The code of the principal kept under each hash (0 where there is none), not yet
        checked: a hash can match a different principal."""
        codes = np.zeros(len(digests), np.uint32)
        known = self._sorted_hashes
        if len(known):
            at = np.minimum(np.searchsorted(known, digests), len(known) - 1)
            codes = np.where(known[at] == digests, self._sorted_codes[at], codes)
        if self._recent:
            recent = np.fromiter(map(self._recent.get, digests.tolist(), repeat(0)), np.uint32, len(digests))
            codes = np.where(codes == 0, recent, codes)
        return codes

    def _same(self, codes: np.ndarray, values: Sequence[model.Identity]) -> np.ndarray:
        """True where principal ``codes[i]`` is ``values[i]``: short forms compared as bytes in
        the arena, the (type, account, service) part as its code, the ARN as text."""
        if not values:
            return np.zeros(0, bool)
        shorts, arns, *parts = zip(*values, strict=True)
        same = self._shorts.same(codes, shorts)
        triples = list(zip(*parts, strict=True))
        part_code = {triple: _or_none(self._parts.find(triple)) for triple in dict.fromkeys(triples)}
        wanted = np.fromiter(map(part_code.__getitem__, triples), np.int64, len(triples))
        same &= np.frombuffer(self._part_codes, np.uint32)[codes] == wanted
        kept = map(self._arns.get, codes.tolist())
        same &= np.fromiter(map(operator.eq, kept, arns), bool, len(values))
        return same

    def _add_fresh(self, out: np.ndarray, rows: np.ndarray, values: list, digests: np.ndarray, which: np.ndarray):
        """Add the principals ``values[which]``, new and with distinct new hashes, together."""
        if len(which):
            first = self._add_many(_pick(values, which), digests[which].tolist())
            out[rows[which]] = np.arange(first, first + len(which), dtype=np.uint32)

    def _add_many(self, values: list[model.Identity], digests: list[int]) -> int:
        """Add principals that are new and whose hashes are new (and distinct): their short
        forms in one arena extension, their (type, account, service) looked up once per
        distinct one. Returns the code of the first; the others follow in order."""
        first = len(self._shorts)
        shorts, arns, *parts = zip(*values, strict=True)
        triples = list(zip(*parts, strict=True))
        code_of = {triple: self._parts.code(triple) for triple in dict.fromkeys(triples)}
        self._part_codes.extend(map(code_of.__getitem__, triples))
        self._arns.update(
            compress(
                zip(range(first, first + len(values)), arns, strict=True), map(operator.is_not, arns, repeat(None))
            )
        )
        # the short forms last: the vocabulary's length is theirs, so a reader on another
        # thread sees the new principals only once every part of them is in place
        self._shorts.extend(shorts)
        self._recent.update(zip(digests, range(first, first + len(values)), strict=True))
        return first

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
        )


def search_text(identity: model.Identity) -> str:
    """What a principal is searched by: its short form and its ARN."""
    return f"{identity.short} {identity.arn}" if identity.arn else identity.short


class _Identities(Sequence[model.Identity | None]):
    """``vocabulary.values`` of an :class:`IdentityVocabulary`: identities built on demand."""

    __slots__ = ("_vocabulary",)

    def __init__(self, vocabulary: IdentityVocabulary):
        self._vocabulary = vocabulary

    def __len__(self) -> int:
        return len(self._vocabulary)

    @overload
    def __getitem__(self, i: int) -> model.Identity | None: ...
    @overload
    def __getitem__(self, i: slice) -> list[model.Identity | None]: ...
    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._vocabulary.identity(j) for j in range(*i.indices(len(self)))]
        return self._vocabulary.identity(_position(i, len(self), "principal code"))

    def __iter__(self) -> Iterator[model.Identity | None]:
        identity = self._vocabulary.identity
        for i in range(len(self)):
            yield identity(i)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class LoweredArena(Sequence[str]):
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

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.search_text(_position(i, len(self), "arena index"))

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
