"""The Batch: what a worker sends back for the files it decoded, as plain data (numpy
columns of codes into the batch's own vocabularies), and the index merges."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from .arena import _CODEC, Positional, decoded, encoded, text_digests, with_arns
from .model import AliasBinding, Identity, LogFile
from .sources import Delivery

EVENT_ID_WIDTH = 36  # a UUID; longer or unusual ids live in an overflow map

_packed_ids: Callable[[object], tuple[bytearray, bytes, list[int]]] | None
try:  # event ids packed in one C pass, where the column scanner is built (hatch_build.py)
    from ._scan import packed_ids as _packed_ids
except ImportError:  # pragma: no cover - numpy does it (_packed_ids_numpy)
    _packed_ids = None


_HEX = np.full(256, 255, dtype=np.uint8)  # an ASCII byte -> its value as a hex digit, in either case
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16, dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789abcdef", np.uint8)
_DASHES = (8, 13, 18, 23)  # where a UUID's text has its dashes
_NIBBLES = np.array([i for i in range(36) if i not in _DASHES])  # and its 32 hex digits


def _hex_pairs() -> np.ndarray:
    """Two bytes of text (read as one uint16, in memory order) -> the byte their two hex digits
    spell in the low 8 bits, and above them flags: not two hex digits, an upper-case letter,
    a lower-case letter. A UUID's 16 bytes are then 16 lookups, and its flags their OR."""
    pair = np.arange(1 << 16, dtype=np.uint16).view(np.uint8).reshape(-1, 2)
    flags = np.zeros(1 << 16, np.uint16)
    for chars in (pair[:, 0], pair[:, 1]):
        flags |= np.where(_HEX[chars] == 255, _NOT_HEX, 0).astype(np.uint16)
        flags |= np.where((chars >= ord("A")) & (chars <= ord("F")), _UPPER_CASE, 0).astype(np.uint16)
        flags |= np.where((chars >= ord("a")) & (chars <= ord("f")), _LOWER_CASE, 0).astype(np.uint16)
    valid = flags & _NOT_HEX == 0
    flags[valid] |= (_HEX[pair[valid, 0]].astype(np.uint16) << 4) | _HEX[pair[valid, 1]]
    return flags


_NOT_HEX, _UPPER_CASE, _LOWER_CASE = 1 << 8, 1 << 9, 1 << 10
_HEX_PAIRS = _hex_pairs()
_A_UUID = np.array([True, False, True, False, True, False, False, False])  # by flags: hex, in one case
_ID_TYPE = np.dtype(f"S{EVENT_ID_WIDTH}")
PACKED_ID = np.dtype("V16")


def packed_ids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Event ids as the index keeps them (see _packed_ids_numpy): in one C pass where the
    scanner is built (_scan.packed_ids, a tenth of numpy's time), else in numpy."""
    if _packed_ids is None or values.dtype != _ID_TYPE or not values.flags.c_contiguous:
        return _packed_ids_numpy(values)
    packed, upper, odd = _packed_ids(values)
    return (
        np.frombuffer(packed, PACKED_ID),
        np.frombuffer(upper, np.bool_),
        {row: values[row].decode("utf-8", "surrogateescape") for row in odd},
    )


def _packed_ids_numpy(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Event ids (36-byte texts) as the index keeps them: a UUID, as CloudTrail (lower case)
    and ActionTrail (upper case) write them, as its 16 bytes and whether it was written in
    upper case; any other id (mixed case, longer, not a UUID, the nil UUID) as 16 zero bytes
    and its text, exact, in the map returned (by row); no id is 16 zero bytes. Done by the
    worker that decoded them (:meth:`Decoder.finish <kmstui.core.decode.Decoder.finish>`):
    17 bytes an id cross the pipe, not 36, and the main process only copies them."""
    count = len(values)
    if values.dtype == _ID_TYPE and values.flags.c_contiguous:  # as the decoder makes them: no copy
        text = values.view(np.uint8).reshape(count, EVENT_ID_WIDTH)
    else:
        text = np.frombuffer(values.astype(_ID_TYPE).tobytes(), np.uint8).reshape(count, EVENT_ID_WIDTH)
    digits = np.ascontiguousarray(text[:, _NIBBLES])
    coded = _HEX_PAIRS.take(digits.view(np.uint16))  # (count, 16): a byte and its flags each
    words = coded.view(np.uint64)  # the flags of an id's 16 pairs ORed, 4 lanes at a time
    flags = words[:, 0] | words[:, 1] | words[:, 2] | words[:, 3]
    flags |= flags >> np.uint64(32)
    flags |= flags >> np.uint64(16)
    kinds = (flags >> np.uint64(8)).astype(np.uint8) & 7
    packed = coded.astype(np.uint8)
    halves = packed.view(np.uint64)
    # hex digits in one case or the other (mixed, it is kept whole), its dashes, not the nil UUID
    uuid = _A_UUID.take(kinds)
    uuid &= (text[:, _DASHES] == ord("-")).all(axis=1)
    uuid &= (halves[:, 0] | halves[:, 1]) != 0
    upper = kinds & (_UPPER_CASE >> 8) != 0
    packed[~uuid] = 0
    odd = {
        row: values[row].decode("utf-8", "surrogateescape")
        for row in np.flatnonzero(~uuid & (text[:, 0] != 0)).tolist()
    }
    return packed.view(PACKED_ID).reshape(count), upper & uuid, odd


@dataclass
class TrailChange:
    """A CloudTrail configuration event, kept whole: rare, and the trails pane reads it closely."""

    row: int  # batch-local row; the index rebases it
    time: int
    action: str
    trail: str  # trail ARN (built from the name and the event's region and account when only a name is given)
    request: dict
    response: dict
    error: str | None
    principal: int  # batch-local principal code


class Texts(Positional[str]):
    """Many distinct texts as one UTF-8 blob and their ends, the way they cross the pipe: a
    batch's context values (S3 object ARNs, unique per call on a busy trail) pickle as one
    bytes object, not a str each, and the index appends the blob to its arena as it is."""

    __slots__ = ("blob", "ends")

    def __init__(self, texts: Sequence[str] = ()):
        self.blob, lengths = encoded(texts)
        self.ends = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=self.ends[1:])

    def lengths(self) -> np.ndarray:
        """Each text's length in bytes."""
        return np.diff(self.ends)

    def __len__(self) -> int:
        return len(self.ends) - 1

    _what = "text index"

    def _item(self, i: int) -> str:
        return self.blob[int(self.ends[i]) : int(self.ends[i + 1])].decode(*_CODEC)

    def __iter__(self) -> Iterator[str]:
        return iter(decoded(np.frombuffer(self.blob, np.uint8), self.ends))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> tuple[bytes, np.ndarray]:
        return self.blob, self.ends

    def __setstate__(self, state: tuple[bytes, np.ndarray]) -> None:
        self.blob, self.ends = state


class LogFiles(Positional[LogFile]):
    """A batch's log files (CloudTrail's own GenerateDataKey calls, about 50 a file) as
    columns, the way they cross the pipe: their trail codes and times as arrays and their
    S3 object ARNs as :class:`Texts`, where a LogFile each pickled and unpickled one Python
    call at a time (a third of what a varied batch cost to pickle besides its arrays).
    ``files[i]`` and iterating build the LogFiles again."""

    __slots__ = ("arns", "times", "trails")

    def __init__(self, files: Sequence[LogFile] = ()):
        self.trails = np.fromiter((f.trail for f in files), np.uint32, len(files))
        self.arns = Texts([f.s3_arn for f in files])
        self.times = np.fromiter((f.time for f in files), np.int64, len(files))

    def __len__(self) -> int:
        return len(self.times)

    _what = "log file"

    def _item(self, i: int) -> LogFile:
        return LogFile(int(self.trails[i]), self.arns[i], int(self.times[i]))

    def __iter__(self) -> Iterator[LogFile]:
        return map(LogFile, self.trails.tolist(), self.arns, self.times.tolist())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> tuple[np.ndarray, Texts, np.ndarray]:
        return narrowed(self.trails), self.arns, self.times

    def __setstate__(self, state: tuple[np.ndarray, Texts, np.ndarray]) -> None:
        self.trails, self.arns, self.times = state


@dataclass
class ContextPart:
    """A batch's encryption contexts, flattened for a cheap merge: local context ``i``
    (from 1) owns the next ``counts[i - 1]`` pairs of the label, key and value arrays,
    which index the batch's own ``labels``, ``keys`` and ``values`` (the values as
    :class:`Texts` once the worker's decoder finishes the batch)."""

    labels: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    values: Sequence[str] = field(default_factory=list)
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    label: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    key: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    value: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))


Kind = tuple[str | None, str | None, str | None]  # a principal's (identity_type, account, invoked_by)


@dataclass(eq=False)
class PrincipalPart(Positional[Identity | None]):
    """A batch's principals as columns, for a cheap pickle and merge: a busy trail brings a
    new assumed-role session every few calls (about 900 principals a file), and as Identity
    objects they cost more to build, pickle, unpickle and match than everything else a
    principal needs. Principal ``i`` (from 1; 0 is none) is the short form
    ``shorts[ends[i - 1]:ends[i]]`` (UTF-8, as the index's arena keeps it), the type, account
    and calling service ``kinds[kind[i]]``, and the ARN ``arns.get(i)`` (kept only where the
    short form cannot rebuild it: no assumed-role session has one). Distinct by value.
    ``digests[i - 1]`` is the short form's digest (:func:`~kmstui.core.arena.text_digests`,
    with the ARN's added where there is one: :func:`~kmstui.core.arena.with_arns`), computed
    by the worker: what the index matches principals by, less for the main process to do.
    ``part[i]`` builds the Identity again, for the rare reader (trail changes, tests)."""

    shorts: bytes = b""
    ends: np.ndarray = field(default_factory=lambda: np.zeros(1, np.uint32))
    kind: np.ndarray = field(default_factory=lambda: np.zeros(1, np.uint32))
    kinds: list[Kind] = field(default_factory=list)
    arns: dict[int, str] = field(default_factory=dict)
    digests: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))

    @classmethod
    def of(cls, shorts: Sequence[str], kind: Sequence[int], kinds: list[Kind], arns: dict[int, str]) -> PrincipalPart:
        """The part for principals 1.. given as their short forms (``shorts[0]`` is code 0's
        and empty), codes into ``kinds``, and ARNs by code: the short forms encoded at once."""
        blob, lengths = encoded(shorts)
        ends = np.cumsum(lengths)
        return cls.of_encoded(blob, ends, text_digests(np.frombuffer(blob, np.uint8), ends), kind, kinds, arns)

    @classmethod
    def of_encoded(
        cls,
        blob: bytes,
        ends: np.ndarray,
        digests: np.ndarray,
        kind: Sequence[int],
        kinds: list[Kind],
        arns: dict[int, str],
    ) -> PrincipalPart:
        """The part for short forms already encoded: ``blob``, the ``ends`` of its texts from
        code 0's (empty) and the digests of the texts from code 1 on, as
        :func:`~kmstui.core.arena.text_digests` gives them (the worker's C computes them
        in the same pass: principals.PrincipalTable.part); the ARNs' digests are added here."""
        digests = with_arns(digests, {i - 1: arn for i, arn in arns.items()})
        narrow = ends.astype(np.uint32) if len(blob) <= 0xFFFFFFFF else ends
        return cls(blob, narrow, np.array(kind, dtype=np.uint32), kinds, arns, digests)

    @classmethod
    def of_identities(cls, identities: Iterable[Identity]) -> PrincipalPart:
        """The part holding ``identities`` (distinct), in order, as codes 1.."""
        kinds: dict[Kind, int] = {}
        shorts, kind, arns = [""], [0], {}
        for code, identity in enumerate(identities, 1):
            shorts.append(identity.short)
            kind.append(kinds.setdefault((identity.identity_type, identity.account, identity.invoked_by), len(kinds)))
            if identity.arn is not None:
                arns[code] = identity.arn
        return cls.of(shorts, kind, list(kinds), arns)

    def __len__(self) -> int:
        return len(self.ends)

    _what = "principal code"

    def _item(self, i: int) -> Identity | None:
        if i == 0:
            return None
        short = self.shorts[int(self.ends[i - 1]) : int(self.ends[i])].decode(*_CODEC)
        return Identity(short, self.arns.get(i), *self.kinds[int(self.kind[i])])

    def __iter__(self) -> Iterator[Identity | None]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        """The same principals in the same order, however they are laid out."""
        if not isinstance(other, PrincipalPart):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


@dataclass
class SourceInfo:
    """One source file of a batch: what the load summary says about it."""

    label: str  # shown to the user
    path: str  # what to read again for a raw record
    delivery: Delivery | None
    format: str = ""
    records: int = 0  # records read
    events: int = 0  # records kept
    ignored: Counter = field(default_factory=Counter)  # event source -> records not kept
    problems: list[str] = field(default_factory=list)  # partial damage, one sentence each
    error: str | None = None  # the source was skipped, and why
    appendable: bool = False  # a file that grows (a LookupEvents cache): one origin however often it is added to
    unreadable: int = 0  # records that are not JSON objects, so far


@dataclass
class Batch:
    """What one or more sources contributed (a worker decodes several files into one batch,
    so that what repeats across them, sessions, addresses, contexts, is sent once).
    Codes are local to the batch; the ``origin`` column indexes ``sources``."""

    sources: list[SourceInfo] = field(default_factory=list)
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    vocab: dict[str, list] = field(default_factory=dict)
    principals: PrincipalPart = field(default_factory=PrincipalPart)
    contexts: ContextPart = field(default_factory=ContextPart)
    extra_keys: dict[int, tuple[int, ...]] = field(default_factory=dict)
    event_id_overflow: dict[int, str] = field(default_factory=dict)
    trail_changes: list[TrailChange] = field(default_factory=list)
    # what the events taught about aliases, each with the first and last time it was seen
    alias_bindings: list[tuple[AliasBinding, list[int]]] = field(default_factory=list)
    # CloudTrail's own use of a key to encrypt a log file (as LogFiles once the decoder finishes the batch)
    log_files: Sequence[LogFile] = field(default_factory=list)
    # row -> JSON [requestParameters, responseElements] of a call that changes something (not
    # read-only) or a configuration event: what the filter's record paths read
    parameters: dict[int, bytes] = field(default_factory=dict)

    @property
    def n(self) -> int:
        column = self.columns.get("time")
        return 0 if column is None else len(column)

    @property
    def records(self) -> int:
        return sum(source.records for source in self.sources)


# Vocabulary names, shared with the index.
STRING_COLUMNS = ("name", "evsource", "evtype", "evcat", "region", "account", "ip", "agent", "errcode", "errmsg")
VOCABS = (*STRING_COLUMNS, "key", "alias", "trail")  # and the principals, a PrincipalPart of their own


def narrowed(codes: np.ndarray) -> np.ndarray:
    """Unsigned codes in the narrowest of uint8, uint16 and their own type that holds them all:
    how a worker sends a batch's columns (a batch's own vocabularies are small, and its
    principals and contexts a few thousand), so a third as many bytes cross the pipe and
    are unpickled; the index widens them as it copies them into its columns anyway."""
    if codes.dtype.kind != "u" or codes.dtype.itemsize == 1 or not len(codes):
        return codes
    largest = int(codes.max())
    if largest <= 0xFF:
        return codes.astype(np.uint8)
    if largest <= 0xFFFF and codes.dtype.itemsize > 2:
        return codes.astype(np.uint16)
    return codes


def within(batch: Batch, start: int, end: int) -> tuple[Batch, int]:
    """The batch with only the events timed in [start, end] (epoch seconds), and how many
    others it held. A trail's bucket is read by delivery folder, and a folder holds events
    up to a day older than its date: what falls outside the window asked for is dropped
    here, after decoding, so the events kept are exactly the window's. What the dropped
    events taught about aliases is kept (it is true whenever it was learned)."""
    n = batch.n
    if n == 0:
        return batch, 0
    times = batch.columns["time"]
    keep = (times >= start) & (times <= end)
    dropped = n - int(keep.sum())
    if dropped == 0:
        return batch, 0
    moved = np.cumsum(keep) - 1  # old row -> new row, for the rows kept
    batch.columns = {name: column[keep] for name, column in batch.columns.items()}

    def rows(mapping: dict) -> dict:
        return {int(moved[row]): value for row, value in mapping.items() if keep[row]}

    batch.extra_keys = rows(batch.extra_keys)
    batch.event_id_overflow = rows(batch.event_id_overflow)
    batch.parameters = rows(batch.parameters)
    changes = []
    for change in batch.trail_changes:
        if keep[change.row]:
            change.row = int(moved[change.row])
            changes.append(change)
    batch.trail_changes = changes
    counts = np.bincount(batch.columns["origin"], minlength=len(batch.sources)).tolist()
    for source, count in zip(batch.sources, counts, strict=False):
        source.events = count
    return batch, dropped
