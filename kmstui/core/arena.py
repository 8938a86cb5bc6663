"""Compact stores for high-cardinality text: one bytes blob and the offsets into it.

A trail with realistic cardinality has a new session name for nearly every few calls and
an S3 object ARN for every SSE-KMS call. As Python objects each such value costs about 250
bytes (the string, a tuple, a dictionary entry, list slots); here it costs its UTF-8 bytes
and eight bytes of offset. Values are built back into ``str`` (or :class:`Identity`) only
when asked for, and a substring search runs over the whole blob at once in numpy.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

import numpy as np

from . import model
from .vocab import Vocabulary, lowered

_CODEC = ("utf-8", "surrogatepass")  # a lone surrogate (repaired upstream, but stay total) survives


class TextArena(Sequence[str]):
    """Append-only strings in one blob: ``arena[i]`` decodes text ``i`` again."""

    __slots__ = ("_blob", "_ends")

    def __init__(self, texts: Sequence[str] = ()):
        self._blob = bytearray()
        self._ends = array("q", [0])
        self.extend(texts)

    def __len__(self) -> int:
        return len(self._ends) - 1

    def append(self, text: str) -> int:
        self._blob += text.encode(*_CODEC)
        self._ends.append(len(self._blob))
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
        self._blob += blob
        self._ends.frombytes(ends.tobytes())

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("arena index out of range")
        return self._blob[self._ends[i] : self._ends[i + 1]].decode(*_CODEC)

    def __iter__(self) -> Iterator[str]:
        blob, ends = self._blob, self._ends
        for i in range(len(ends) - 1):
            yield blob[ends[i] : ends[i + 1]].decode(*_CODEC)

    def nbytes(self) -> int:
        return len(self._blob) + self._ends.itemsize * len(self._ends)

    def containing(self, needle: str) -> np.ndarray:
        """True for each text that contains ``needle`` (exactly as given: lower it first for a
        case-insensitive search over lowered texts). One pass of numpy over the blob: the
        positions of the needle's first byte, narrowed byte by byte, then mapped to texts.
        UTF-8 is self-synchronising, so a byte match is a character match."""
        count = len(self)  # a loader thread may append meanwhile: look at these texts only
        table = np.zeros(count, dtype=bool)
        want = needle.encode(*_CODEC)
        if not want or not count:
            table[:] = bool(not want)
            return table
        data = np.frombuffer(bytes(self._blob), dtype=np.uint8)  # a copy: the blob may grow meanwhile
        last = len(data) - len(want)
        if last < 0:
            return table
        positions = np.flatnonzero(data[: last + 1] == want[0])
        for offset in range(1, len(want)):
            if not len(positions):
                break
            positions = positions[data[positions + offset] == want[offset]]
        if not len(positions):
            return table
        ends = np.frombuffer(self._ends[: count + 1], dtype=np.int64)  # a copy: the array may grow
        positions = positions[positions < ends[-1]]
        owner = np.searchsorted(ends, positions, side="right") - 1
        inside = positions + len(want) <= ends[owner + 1]
        table[owner[inside]] = True
        return table


class IdentityVocabulary(Vocabulary[model.Identity]):
    """The principal vocabulary, compact: a new session is a new principal, so on a varied
    trail there are nearly as many principals as events. Each is kept as its short form in
    a :class:`TextArena`, its type, account and calling service as codes into small
    vocabularies, and its ARN (None for an assumed role, which the short form rebuilds) in
    a sparse map. ``values[code]`` builds the :class:`~kmstui.core.model.Identity` again.

    Finding a principal's code goes by its hash: a sorted numpy array of the hashes of the
    principals folded so far, a dictionary for the ones added since; a hash that matches is
    checked against the principal itself, so a collision costs time, never a wrong code."""

    _FOLD = 1 << 15  # principals added before the dictionary is folded into the sorted arrays

    def __init__(self, text: Callable[[model.Identity], str] | None = None):
        super().__init__(text)
        self.values = _Identities(self)  # type: ignore[assignment]
        self._recent: dict[int, int] = {}  # a hash -> code of principals added since the last fold
        self._shorts = TextArena([""])
        self._parts: tuple[Vocabulary[Any], ...] = (
            Vocabulary(),
            Vocabulary(),
            Vocabulary(),
        )  # type, account, invoked_by
        self._part_codes = (array("I", [0]), array("I", [0]), array("I", [0]))
        self._arns: dict[int, str] = {}
        self._sorted_hashes = np.zeros(0, np.int64)
        self._sorted_codes = np.zeros(0, np.uint32)
        self._collided: dict[model.Identity, int] = {}
        self._texts = TextArena([""])  # lowercase search texts, built as filters need them

    def __len__(self) -> int:
        return len(self._shorts)

    def identity(self, code: int) -> model.Identity | None:
        if code == 0:
            return None
        type_, account, invoked_by = (
            vocab.values[codes[code]] for vocab, codes in zip(self._parts, self._part_codes, strict=True)
        )
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
        code = self._shorts.append(value.short)
        for vocab, codes, part in zip(
            self._parts, self._part_codes, (value.identity_type, value.account, value.invoked_by), strict=True
        ):
            codes.append(vocab.code(part))
        if value.arn is not None:
            self._arns[code] = value.arn
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
        """Global codes for a batch's principals: the hashes looked up all at once, each match
        checked, the new ones added."""
        n = len(local_values)
        out = np.zeros(n, dtype=np.uint32)
        if not n:
            return out
        digests = np.fromiter(map(hash, local_values), np.int64, n)
        known = self._sorted_hashes
        if len(known):
            at = np.minimum(np.searchsorted(known, digests), len(known) - 1)
            candidates = np.where(known[at] == digests, self._sorted_codes[at], 0).tolist()
        else:
            candidates = [0] * n
        recent = self._recent
        collided = self._collided
        # Principals not seen before (on a varied trail, nearly every one) are added together,
        # by _add_many: their rows, values and hashes wait in these lists until then.
        rows: list[int] = []
        new: list[model.Identity] = []
        hashes: dict[int, None] = {}
        for i, (value, digest, candidate) in enumerate(zip(local_values, digests.tolist(), candidates, strict=True)):
            if value is None:
                continue
            if digest in hashes:  # two of the new ones share a hash (or are equal): add those first
                out[rows] = np.arange(self._add_many(new, list(hashes)), len(self), dtype=np.uint32)
                rows, new, hashes = [], [], {}
            code = candidate or recent.get(digest, 0)
            if code and self.identity(code) == value:
                out[i] = code
                continue
            again = collided.get(value) if collided else None
            if again is not None:
                out[i] = again
            elif code:
                out[i] = self._add(value, digest, True)
            else:
                rows.append(i)
                new.append(value)
                hashes[digest] = None
        if new:
            out[rows] = np.arange(self._add_many(new, list(hashes)), len(self), dtype=np.uint32)
        self._maybe_fold()
        return out

    def _add_many(self, values: list[model.Identity], digests: list[int]) -> int:
        """Add principals that are new and whose hashes are new (and distinct): their short
        forms in one arena extension, their parts looked up once per distinct part. Returns
        the code of the first; the others follow in order."""
        first = len(self._shorts)
        shorts, arns, *parts = zip(*values, strict=True)
        for vocab, codes, column in zip(self._parts, self._part_codes, parts, strict=True):
            distinct = list(dict.fromkeys(column))
            code_of = dict(zip(distinct, map(vocab.code, distinct), strict=True))
            codes.extend(map(code_of.__getitem__, column))
        self._arns.update((first + i, arn) for i, arn in enumerate(arns) if arn is not None)
        # the short forms last: the vocabulary's length is theirs, so a reader on another
        # thread sees the new principals only once every part of them is in place
        self._shorts.extend(shorts)
        self._recent.update(zip(digests, range(first, first + len(values)), strict=True))
        return first

    def search_texts(self) -> TextArena:  # type: ignore[override]
        texts = self._texts
        for code in range(len(texts), len(self)):
            identity = self.identity(code)
            texts.append(lowered(self._text(identity) or "") if identity is not None else "")
        return texts

    def matching(self, needle: str) -> np.ndarray:
        table = self.search_texts().containing(needle.lower())
        table[0] = False
        return table

    def nbytes(self) -> int:
        """The bytes of the arenas and arrays (the small part vocabularies and the ARN map aside)."""
        return (
            self._shorts.nbytes()
            + self._texts.nbytes()
            + sum(codes.itemsize * len(codes) for codes in self._part_codes)
            + self._sorted_hashes.nbytes
            + self._sorted_codes.nbytes
        )


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
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("principal code out of range")
        return self._vocabulary.identity(i)

    def __iter__(self) -> Iterator[model.Identity | None]:
        identity = self._vocabulary.identity
        for i in range(len(self)):
            yield identity(i)


class LoweredArena(Sequence[str]):
    """Texts in an arena, searched case-insensitively: a text that is lowercase already (most
    ARNs and ids are) is searched as it is stored; only the others keep a lowercase copy."""

    __slots__ = ("_copies", "_done", "_texts", "_upper")

    def __init__(self, texts: TextArena):
        self._texts = texts
        self._copies = TextArena()  # the lowercase copy of each text that is not lowercase
        self._upper = array("q")  # the codes of those texts, ascending
        self._done = 0  # texts looked at so far

    def __len__(self) -> int:
        return len(self._texts)

    def _catch_up(self) -> None:
        for code in range(self._done, len(self._texts)):
            text = self._texts[code]
            lower = text.lower()
            if lower != text:
                self._copies.append(lower)
                self._upper.append(code)
        self._done = len(self._texts)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return lowered(self._texts[i])

    def __iter__(self) -> Iterator[str]:
        return map(lowered, self._texts)

    def containing(self, needle: str) -> np.ndarray:
        """True for each text whose lowercase form contains ``needle`` (lowercase)."""
        self._catch_up()
        table = self._texts.containing(needle)
        upper = np.frombuffer(self._upper[:], dtype=np.int64) if len(self._upper) else np.zeros(0, np.int64)
        upper = upper[upper < len(table)]
        if len(upper):
            table[upper] = self._copies.containing(needle)[: len(upper)]
        return table

    def nbytes(self) -> int:
        return self._copies.nbytes() + self._upper.itemsize * len(self._upper)
