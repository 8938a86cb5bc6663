"""Encryption contexts, decoded once per distinct raw text and kept flat for the batch: a
request's own context, and ReEncrypt's and CreateGrant's labelled ones.

A context set is known by its pairs, not by its text: the same pairs written in another key
order, with other spaces or with escapes (``\\u0041`` for ``A``, ``\\/`` for ``/``) are one set
(:func:`identity`), on the scanner's C path (``_scan.context_codes``) and the general path alike.
A key written twice in one object holds its last value, as JSON decoders read it (CloudTrail
never writes one). A set shows its pairs in the order of the first record that brought it."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from itertools import chain, compress, count, repeat
from operator import is_
from typing import NamedTuple

import msgspec
import numpy as np

from .batch import ContextPart
from .cloudtrail import _UNREADABLE, as_text
from .vocab import gather

_context_codes: Callable[..., tuple[bytes, bytes, bytes, bytes, bytes, list[int], int]] | None
try:  # a file's contexts into the batch's in one pass, where the C scanner is built (hatch_build.py)
    from ._scan import context_codes as _context_codes
except ImportError:  # pragma: no cover - the scanner is optional: _of_scanned does the same
    _context_codes = None

_context_decoder = msgspec.json.Decoder(dict)
_string_context_decoder = msgspec.json.Decoder(dict[str, str])


_string_contexts_decoder = msgspec.json.Decoder(list[dict[str, str]])
NOT_PLAIN = 0xFFFFFFFF  # the scanner's count for a context it left to Python
_TRAIL_KEY = "aws:cloudtrail:arn"
# the labels of a request's contexts, in the order they are kept: its own, ReEncrypt's, CreateGrant's
_LABELS = ("", "source", "destination", "grant constraint (subset)", "grant constraint (equals)")


def identity(groups: Iterable[tuple[str, Iterable[tuple[str, str]]]]) -> bytes:
    """What a context set is known by: its pairs, sorted (by key, then value) within each group
    of ``groups`` ((label, pairs) each, in ``_LABELS``' order). A request's own context alone
    (label "") is its pairs as one compact JSON object, so that a compact text in key order is
    its own identity; with labelled groups, b"\\0" (which no raw text begins with) and each
    group with pairs as "label":{...}, comma-separated. Texts are written quoted, their quotes
    and backslashes escaped (all else as it is: one text, one way). ``_scan.context_codes``
    writes the same bytes from the scanner's pairs (None for no pairs)."""
    found = [(label, sorted(pairs)) for label, pairs in groups]
    found = [(label, pairs) for label, pairs in found if pairs]
    if all(not label for label, _ in found):
        return _object([pair for _, pairs in found for pair in pairs])
    return b"\0" + b",".join(_quoted(label) + b":" + _object(pairs) for label, pairs in found)


def _quoted(text: str) -> bytes:
    return b'"' + text.replace("\\", "\\\\").replace('"', '\\"').encode("utf-8", "surrogatepass") + b'"'


def _object(pairs: list[tuple[str, str]]) -> bytes:
    """Sorted pairs as a compact JSON object."""
    return b"{" + b",".join(_quoted(key) + b":" + _quoted(value) for key, value in pairs) + b"}"


def _pairs(context: dict) -> list[tuple[str, str]]:
    """A decoded context's pairs as a set keeps them: keys and values as text (a value that is
    not a string as its JSON text)."""
    return [(str(key), value if isinstance(value, str) else as_text(value) or "") for key, value in context.items()]


class ScannedContexts(NamedTuple):
    """A file's encryption contexts as the scanner read them (``_scan.c``, context_pairs): for
    each distinct raw text of the field (its code - 1), how many pairs it holds (NOT_PLAIN:
    not an object of plain strings, for Python to read), where they start, and the pairs of
    every text in turn as codes (from 1) into the distinct key and value texts. CreateGrant's
    constraints likewise (``grants``: the pairs of a distinct text's encryptionContextSubset,
    then of its encryptionContextEquals; NOT_PLAIN first for one left to Python), their pairs
    after those, their raw texts in ``grant_texts`` (None first)."""

    counts: np.ndarray
    starts: np.ndarray
    keys: np.ndarray
    values: np.ndarray
    key_texts: list[str]
    value_texts: list[str]
    grants: np.ndarray  # (distinct texts, 2)
    grant_starts: np.ndarray
    grant_texts: list

    @classmethod
    def of(cls, found: tuple, grant_texts: list | None = None) -> ScannedContexts:
        counts, keys, values, key_texts, value_texts, grants = found
        counts = np.frombuffer(counts, dtype=np.uint32)
        sizes = np.where(counts == NOT_PLAIN, 0, counts).astype(np.int64)
        starts = np.cumsum(sizes) - sizes
        keys, values = (np.frombuffer(codes, dtype=np.uint32) for codes in (keys, values))
        grants = np.zeros((0, 2), np.uint32) if grants is None else np.frombuffer(grants, np.uint32).reshape(-1, 2)
        grant_sizes = np.where(grants[:, 0] == NOT_PLAIN, 0, grants.astype(np.int64).sum(axis=1))
        grant_starts = int(sizes.sum()) + np.cumsum(grant_sizes) - grant_sizes
        return cls(counts, starts, keys, values, key_texts, value_texts, grants, grant_starts, grant_texts or [None])


class _PairColumn:
    """One column of a batch's context pairs (labels, keys or values): each distinct text
    once, a code per pair. Texts come one by one (the general path) or as codes into a
    file's distinct texts (the scanner's), in the order of the pairs."""

    def __init__(self):
        self.vocab: dict[str, int] = {}
        self.chunks: list[np.ndarray] = []
        self.pending: list[str] = []

    def append(self, text: str) -> None:
        self.pending.append(text)

    def extend(self, texts) -> None:
        self.pending.extend(texts)

    def add_coded(self, codes: np.ndarray, texts: list[str]) -> None:
        """Pairs given by ``codes`` (from 1) into ``texts``: each distinct text looked up once,
        the new ones (a file's S3 object ARNs: nearly all of them) numbered in numpy."""
        self._flush()
        wanted = np.zeros(len(texts) + 1, dtype=bool)
        wanted[codes] = True
        wanted[0] = False
        table = np.zeros(len(texts) + 1, dtype=np.int64)
        used = list(compress(texts, wanted[1:].tolist()))
        vocab = self.vocab
        found = np.fromiter(map(vocab.get, used, repeat(-1)), dtype=np.int64, count=len(used))
        new = found < 0
        if new.any():  # numbered in order (a join's files may each bring the same new text: once)
            fresh = list(compress(used, new.tolist()))
            vocab.update(zip(dict.fromkeys(fresh), count(len(vocab))))
            found[new] = np.fromiter(map(vocab.__getitem__, fresh), dtype=np.int64, count=len(fresh))
        table[wanted] = found
        self.chunks.append(table.astype(np.uint32)[codes])

    def add_same(self, text: str, count: int) -> None:
        self._flush()
        self.chunks.append(np.full(count, self._codes([text])[0], dtype=np.uint32))

    def _codes(self, texts: list[str]) -> np.ndarray:
        """The codes of ``texts``, the new ones added in order."""
        vocab = self.vocab
        codes = list(map(vocab.get, texts))
        if None in codes:
            new = compress(texts, map(is_, codes, repeat(None)))
            vocab.update(zip(dict.fromkeys(new), count(len(vocab))))
            codes = list(map(vocab.__getitem__, texts))
        return np.array(codes, dtype=np.uint32)

    def _flush(self) -> None:
        if self.pending:
            self.chunks.append(self._codes(self.pending))
            self.pending = []

    def part(self) -> tuple[list[str], np.ndarray]:
        self._flush()
        return list(self.vocab), np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.uint32)


class _Added(NamedTuple):
    """The contexts _scan.context_codes added to a batch: the first one's code, each one's
    count of pairs, where its pairs are among the scanner's, and the pairs as codes into the
    batch's key and value texts."""

    first: int
    counts: np.ndarray
    pairs: np.ndarray
    keys: np.ndarray
    values: np.ndarray


class _ContextBuilder:
    """A batch's encryption contexts, built flat as they are met.

    A context set is known by its pairs: ``codes`` holds each set's local code under its
    :func:`identity`, and under raw texts met before (a grant's constraints as ("grant",
    text)): within a file the same context (a bucket, a volume, a table) comes back again and
    again, and is decoded once. A set's pairs stay in the order of the first record that
    brought it."""

    def __init__(self):
        self.codes: dict = {}  # a set's identity, a raw text or ("grant", raw text) -> local code (0: none)
        self.trail_info: list[tuple[str | None, str | None]] = [
            (None, None)
        ]  # code -> (aws:cloudtrail:arn, aws:s3:arn)
        self.trails = bytearray(1)  # 1 for the codes whose trail_info names a trail (a flag per code)
        self.counts = array("I")  # each set's count of pairs (as they cross the pipe, without a list between)
        self.labels = _PairColumn()
        self.keys = _PairColumn()
        self.values = _PairColumn()

    def of_plain_many(self, raws: list) -> list[int]:
        """Local codes for contexts given by their raw text (None for none); the new ones
        are decoded together, in one call, and appended in bulk."""
        known = self.codes
        new = list(dict.fromkeys(raw for raw in raws if raw is not None and len(raw) > 4 and raw not in known))
        if new:
            joined = b"[" + b",".join(new) + b"]"
            try:  # the usual shape, string to string
                contexts = _string_contexts_decoder.decode(joined)
            except _UNREADABLE:
                for raw in new:
                    known[raw] = self._of_plain(raw)
            else:
                self._add_plain(new, contexts)
        return [0 if raw is None or len(raw) <= 4 else known[raw] for raw in raws]

    def of_scanned(self, raws: list, used: np.ndarray, scanned: ScannedContexts) -> np.ndarray:
        """Local codes for the contexts ``used`` (codes into ``raws``, the scanner's distinct
        texts of the field, None first). Those new to the batch that the scanner read are
        added in bulk, from its pairs; the rest are read as of_plain_many reads them. In C
        where the scanner is built (_scan.context_codes), else as _of_scanned does it."""
        if _context_codes is None:
            return self._of_scanned(raws, used, scanned)
        answers, added, left = self._codes_in_c(raws, used, scanned.counts, scanned.starts, scanned)
        if added is not None:
            self.labels.add_same("", int(added.counts.sum()))
            self._take(added, scanned)
        for at in left:
            answers[at] = self.of_plain_many([raws[int(used[at])]])[0]
        return answers

    def _of_scanned(self, raws: list, used: np.ndarray, scanned: ScannedContexts) -> np.ndarray:
        """of_scanned in numpy and Python: the reference for _scan.context_codes, and the way
        without it."""
        texts = list(map(raws.__getitem__, used.tolist()))
        found = np.fromiter(map(self.codes.get, texts, repeat(-1)), dtype=np.int64, count=len(texts))
        new = (found < 0) & (used > 0)  # code 0 (no context) is None, which is never known
        answers = np.where(found < 0, 0, found).astype(np.uint32)
        if not new.any():
            return answers
        fresh = used[new]
        read = scanned.counts[fresh - 1] != NOT_PLAIN
        at = np.flatnonzero(new)
        if read.any():
            fresh = fresh[read]
            answers[at[read]] = self._known_runs(
                gather(texts, at[read]),
                scanned.counts[fresh - 1].astype(np.int64),
                scanned.starts[fresh - 1],
                scanned,
            )
        for i in at[~read].tolist():
            answers[i] = self.of_plain_many([texts[i]])[0]
        return answers

    def of_scanned_grants(self, used: np.ndarray, scanned: ScannedContexts) -> np.ndarray:
        """Local codes for CreateGrant constraints the scanner read (``used``: codes, from 1, into
        its distinct texts of the field, none of them NOT_PLAIN), known by their pairs; the
        new ones added in bulk, labelled as of_parts labels them. In C where the scanner is
        built (_scan.context_codes, as of_scanned), else as _of_scanned_grants does it."""
        if _context_codes is None or not len(used):
            return self._of_scanned_grants(used, scanned)
        grants = scanned.grants.astype(np.int64)
        subsets, sizes = grants[:, 0], np.where(scanned.grants[:, 0] == NOT_PLAIN, 0, grants.sum(axis=1))
        names = [None, *(("grant", text) for text in scanned.grant_texts[1:])]  # not a context's text
        # (none NOT_PLAIN among those used)
        answers, added, _left = self._codes_in_c(
            names, used, sizes.astype(np.uint32), scanned.grant_starts, scanned, np.where(sizes > 0, subsets, 0)
        )
        if added is not None:
            counts, pairs = added.counts, added.pairs
            # each pair's place in its context, and the subset count of the grant it came from
            # (found by where its context starts among the scanner's pairs)
            starts = np.cumsum(counts) - counts
            within = np.arange(len(pairs)) - np.repeat(starts, counts)
            with_pairs = sizes > 0
            subset_at = dict(zip(scanned.grant_starts[with_pairs].tolist(), subsets[with_pairs].tolist(), strict=True))
            held = np.array([subset_at[place] for place in pairs[starts].tolist()], dtype=np.int64)
            self.labels.add_coded(np.where(within < np.repeat(held, counts), 1, 2), list(_LABELS[3:]))
            self._take(added, scanned)
        return answers

    def _codes_in_c(
        self,
        names: list,
        used: np.ndarray,
        counts: np.ndarray,
        starts: np.ndarray,
        scanned: ScannedContexts,
        subsets: np.ndarray | None = None,
    ) -> tuple[np.ndarray, _Added | None, list[int]]:
        """_scan.context_codes over the contexts ``used`` (codes into ``names``, each the run of
        ``counts`` pairs from ``starts`` among the scanner's; with ``subsets``, a grant's, how
        many of its first pairs are its subset constraint): their local codes, the contexts
        it added (None for none; their labels are the caller's to add, then _take's), and the
        places of those it left to Python."""
        assert _context_codes is not None
        for column in (self.labels, self.keys, self.values):
            column._flush()  # texts met on the general path are numbered first, as add_coded does
        first = len(self.counts) + 1
        answered, sized, placed, keys, values, left, added = _context_codes(
            self.codes,
            self.keys.vocab,
            self.values.vocab,
            names,
            used.astype(np.int64, copy=False),
            counts,
            starts.astype(np.int64, copy=False),
            scanned.keys,
            scanned.values,
            scanned.key_texts,
            scanned.value_texts,
            first,
            None if subsets is None else subsets.astype(np.uint32),
            None if subsets is None else _LABELS[3:],
        )
        answers = np.frombuffer(answered, dtype=np.uint32).copy()
        if not added:
            return answers, None, left
        found = _Added(
            first,
            np.frombuffer(sized, dtype=np.int64),
            np.frombuffer(placed, dtype=np.int64),
            np.frombuffer(keys, dtype=np.uint32),
            np.frombuffer(values, dtype=np.uint32),
        )
        return answers, found, left

    def _take(self, added: _Added, scanned: ScannedContexts) -> None:
        """Keep the contexts _scan.context_codes added, as _add_runs keeps them (their labels
        already added)."""
        self.keys.chunks.append(added.keys)
        self.values.chunks.append(added.values)
        self.counts.frombytes(added.counts.astype(np.uint32).tobytes())
        self.trail_info.extend([(None, None)] * len(added.counts))
        self.trails.extend(bytes(len(added.counts)))
        if _TRAIL_KEY in scanned.key_texts:  # CloudTrail encrypting one of its log files
            pairs = added.pairs
            keys = scanned.keys[pairs]
            if (keys == scanned.key_texts.index(_TRAIL_KEY) + 1).any():  # (never among a file's grants)
                ends = np.cumsum(added.counts)
                self._note_scanned_trails(added.first, ends, keys, scanned.values[pairs], scanned)

    def _of_scanned_grants(self, used: np.ndarray, scanned: ScannedContexts) -> np.ndarray:
        """of_scanned_grants in numpy and Python: the reference, and the way without the C."""
        texts = [("grant", scanned.grant_texts[code]) for code in used.tolist()]  # not a context's text
        found = np.fromiter(map(self.codes.get, texts, repeat(-1)), dtype=np.int64, count=len(texts))
        new = found < 0
        answers = np.where(new, 0, found).astype(np.uint32)
        if not new.any():
            return answers
        fresh = used[new]
        counts = scanned.grants[fresh - 1].astype(np.int64)
        names = list(compress(texts, new.tolist()))
        answers[new] = self._known_runs(
            names, counts.sum(axis=1), scanned.grant_starts[fresh - 1], scanned, counts[:, 0]
        )
        return answers

    def _known_runs(
        self,
        names: list,
        sizes: np.ndarray,
        starts: np.ndarray,
        scanned: ScannedContexts,
        subsets: np.ndarray | None = None,
    ) -> np.ndarray:
        """The codes of contexts the scanner read, whose raw texts ``names`` are not known yet:
        each the run of ``sizes`` pairs from ``starts`` among the scanner's pairs (a request's
        own), or with ``subsets``, a grant's, how many of its first pairs are its subset
        constraint (the rest its equals one). Those whose pairs are new to the batch are added,
        numbered in order; 0 for a context without pairs. What _scan.context_codes does."""
        codes = np.zeros(len(sizes), dtype=np.uint32)
        fresh = np.zeros(len(sizes), dtype=bool)
        known, following = self.codes, len(self.counts) + 1
        key_texts, value_texts = scanned.key_texts, scanned.value_texts
        all_keys, all_values = scanned.keys.tolist(), scanned.values.tolist()
        for i, (size, start) in enumerate(zip(sizes.tolist(), starts.tolist(), strict=True)):
            if not size:
                continue
            keys, values = all_keys[start : start + size], all_values[start : start + size]
            pairs = [(key_texts[k - 1], value_texts[v - 1]) for k, v in zip(keys, values, strict=True)]
            if subsets is None:
                found = _object(pairs) if size == 1 else identity([("", pairs)])
            else:
                held = int(subsets[i])
                found = identity([(_LABELS[3], pairs[:held]), (_LABELS[4], pairs[held:])])
            code = known.get(found)
            if code is None:
                code = known[found] = following
                following += 1
                fresh[i] = True
            codes[i] = code
        self.codes.update(zip(names, codes.tolist(), strict=True))
        if fresh.any():
            self._add_runs(sizes[fresh], starts[fresh], scanned, None if subsets is None else subsets[fresh])
        return codes

    def _add_runs(
        self,
        sizes: np.ndarray,
        starts: np.ndarray,
        scanned: ScannedContexts,
        subsets: np.ndarray | None = None,
    ) -> None:
        """Add contexts the scanner read, each new to the batch and with pairs: the run of
        ``sizes`` pairs from ``starts`` among the scanner's pairs, unlabelled (a request's own),
        or with ``subsets``, how many of its first pairs are a grant's subset constraint (the
        rest its equals one)."""
        first = len(self.counts) + 1
        total = int(sizes.sum())
        within = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)  # each pair's place in its context
        pairs = np.repeat(starts, sizes) + within
        keys, values = scanned.keys[pairs], scanned.values[pairs]
        if subsets is None:
            self.labels.add_same("", total)
        else:
            self.labels.add_coded(np.where(within < np.repeat(subsets, sizes), 1, 2), list(_LABELS[3:]))
        self.keys.add_coded(keys, scanned.key_texts)
        self.values.add_coded(values, scanned.value_texts)
        self.counts.frombytes(sizes.astype(np.uint32).tobytes())
        self.trail_info.extend([(None, None)] * len(sizes))
        self.trails.extend(bytes(len(sizes)))
        if _TRAIL_KEY in scanned.key_texts:  # CloudTrail encrypting one of its log files
            self._note_scanned_trails(first, np.cumsum(sizes), keys, values, scanned)

    def _note_scanned_trails(
        self, first: int, ends: np.ndarray, keys: np.ndarray, values: np.ndarray, scanned: ScannedContexts
    ) -> None:
        """The trail and log file of the contexts just added (from code ``first``, their pairs
        ``keys`` and ``values`` ending at ``ends``) that name a trail: of each key, the first
        value that is not empty, in the pairs' order (a labelled context may hold a key in
        each of its groups), as _add takes it."""
        texts = scanned.value_texts

        def firsts(key: str, among: np.ndarray | None = None) -> dict[int, str]:
            """The contexts holding ``key`` with a value (only those flagged in ``among``, when
            given), and their first such value."""
            found: dict[int, str] = {}
            if key in scanned.key_texts:
                at = np.flatnonzero(keys == scanned.key_texts.index(key) + 1)
                contexts = np.searchsorted(ends, at, side="right")
                if among is not None:  # a file's S3 object ARNs: read only those of its trails' contexts
                    at, contexts = at[among[contexts]], contexts[among[contexts]]
                for c, text in zip(contexts.tolist(), gather(texts, values[at] - 1), strict=True):
                    if text and c not in found:
                        found[c] = text
            return found

        trails = firsts(_TRAIL_KEY)
        if not trails:
            return
        naming = np.zeros(len(ends), dtype=bool)
        naming[list(trails)] = True
        logs = firsts("aws:s3:arn", naming)
        for c, trail in trails.items():
            self.trail_info[first + c] = (trail, logs.get(c))
            self.trails[first + c] = 1

    def _add_plain(self, raws: list[bytes], contexts: list[dict[str, str]]) -> None:
        """Add new raw texts, decoded: each a set of its own unless its pairs are known."""
        known = self.codes
        first = following = len(self.counts) + 1
        added = []
        for raw, context in zip(raws, contexts, strict=True):
            if not context:
                known[raw] = 0
                continue
            found = _object(sorted(context.items()))  # identity([("", context.items())]): strings
            code = known.get(found)
            if code is None:
                code = known[found] = following
                following += 1
                added.append(context)
            known[raw] = code
        sizes = list(map(len, added))
        self.counts.extend(sizes)
        self.labels.extend([""] * sum(sizes))
        self.keys.extend(chain.from_iterable(added))
        self.values.extend(chain.from_iterable(map(dict.values, added)))
        self.trail_info.extend([(None, None)] * len(added))
        self.trails.extend(bytes(len(added)))
        for code, context in enumerate(added, first):
            if _TRAIL_KEY in context:  # CloudTrail encrypting one of its log files
                trail = context[_TRAIL_KEY] or None
                self.trail_info[code] = (trail, context.get("aws:s3:arn") or None)
                if trail:
                    self.trails[code] = 1

    def _of_plain(self, raw: bytes) -> int:
        """One context that is not string to string: values are kept as their JSON text."""
        try:
            context = _string_context_decoder.decode(raw)
        except _UNREADABLE:
            try:
                context = _context_decoder.decode(raw)
            except _UNREADABLE:
                return 0
        return self._add([("", context)])

    def of_parts(self, own: bytes | None, source, destination, constraints) -> int:
        """The local code of a request's labelled contexts: its own (raw text), ReEncrypt's
        source and destination, CreateGrant's constraints (0 for none), known by their pairs."""
        if source is None and destination is None and constraints is None:
            return self.of_plain_many([own])[0]
        decoded = None
        if own is not None and len(own) > 4:
            try:
                decoded = _context_decoder.decode(own)
            except _UNREADABLE:
                decoded = None
        subset = equals = None
        if isinstance(constraints, dict):
            subset, equals = constraints.get("encryptionContextSubset"), constraints.get("encryptionContextEquals")
        return self._add(list(zip(_LABELS, (decoded, source, destination, subset, equals), strict=True)))

    def _add(self, groups: list) -> int:
        """The local code of labelled contexts ((label, decoded object) each, in ``_LABELS``'
        order; one that is not an object, or empty, holds none), added if their pairs are new
        to the batch: 0 for none."""
        kept = [(label, context, _pairs(context)) for label, context in groups if isinstance(context, dict) and context]
        if not kept:  # no pairs (identity would give "{}", which names no set)
            return 0
        found = identity((label, pairs) for label, _, pairs in kept)
        code = self.codes.get(found)
        if code is not None:
            return code
        count = 0
        trail = s3 = None
        for label, context, pairs in kept:
            for key, value in pairs:
                self.labels.append(label)
                self.keys.append(key)
                self.values.append(value)
            count += len(pairs)
            trail = trail or _text_or_none(context.get(_TRAIL_KEY))
            s3 = s3 or _text_or_none(context.get("aws:s3:arn"))
        self.counts.append(count)
        self._note_trail(trail, s3)
        code = self.codes[found] = len(self.counts)
        return code

    def _note_trail(self, trail: str | None, s3: str | None) -> None:
        """The trail and log file of the context just added (CloudTrail encrypting a log file)."""
        self.trails.append(1 if trail else 0)
        self.trail_info.append((trail, s3))

    def naming_trails(self, codes: np.ndarray) -> list[int]:
        """The distinct codes among ``codes`` whose context names a trail (CloudTrail encrypting
        one of its log files), ascending."""
        if 1 not in self.trails:
            return []
        flags = np.frombuffer(bytes(self.trails), dtype=np.bool_)
        return np.unique(codes[flags[codes]]).tolist()

    def part(self) -> ContextPart:
        labels, label = self.labels.part()
        keys, key = self.keys.part()
        values, value = self.values.part()
        counts = np.array(self.counts, dtype=np.uint32)
        return ContextPart(labels, keys, values, counts, label, key, value)


def _text_or_none(value) -> str | None:
    return value if isinstance(value, str) and value else None
