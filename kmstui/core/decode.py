"""Normalising CloudTrail records into columns: the loader's hot path.

Each source becomes a :class:`Batch`: one numpy column per field, with strings
dictionary-encoded against the batch's own small vocabularies. The index re-codes
a batch against its global vocabularies when it merges it. Batches are plain data
so that worker processes can build them and pickle them back cheaply.

Two paths lead to the same columns. The main one: a delivered log file goes through
the C column scanner (``_scan.c``), which gives every KMS and CloudTrail record a code
per field into that field's distinct raw texts; each distinct text is then decoded once
(msgspec), and principals, keys, aliases and contexts are resolved once per distinct
combination, numpy spreading the answers over the rows. The general path, the reference
(and the only one where no C compiler built the scanner), decodes typed msgspec records,
a whole file in one call, then record by record where a field has an unexpected type,
then leniently: one odd record never costs its file. It interns its records into the
same columns, so the semantics exist once; ``tests/test_core_scan.py`` holds the two
paths equal value by value.
"""

from __future__ import annotations

import gc
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, compress, repeat
from operator import is_
from types import ModuleType
from typing import Any

import msgspec
import numpy as np
import orjson

from .model import UNKNOWN_IDENTITY, AliasBinding, Identity, LogFile, Place
from .sources import Delivery, SourceError, SourceFile, delivery_of, read_source, split_records
from .timeutil import parse_event_times

_scan: ModuleType | None
try:  # the C column scanner, built at install time when a compiler is at hand (hatch_build.py)
    from . import _scan
except ImportError:  # pragma: no cover - every file then takes the general path
    _scan = None

KMS = "kms.amazonaws.com"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
TRAIL_EVENTS = frozenset(
    {
        "CreateTrail",
        "UpdateTrail",
        "DeleteTrail",
        "StartLogging",
        "StopLogging",
        "PutEventSelectors",
        "PutInsightSelectors",
    }
)
ALIAS_CHANGES = frozenset({"CreateAlias", "UpdateAlias", "DeleteAlias"})
EVENT_ID_WIDTH = 36  # a UUID; longer or unusual ids live in an overflow map
RECORDS_AT_ONCE = 1 << 16  # records of a source decoded together (typed records take ~500 bytes each)
WHOLE_FILE_BYTES = 64 << 20  # a delivered log file up to this size is decoded in one call
_NOT_OBJECTS = ("not a JSON object skipped", "not JSON objects skipped")  # said once, counted over chunks

# a delivered log file however it is laid out: compact as CloudTrail writes it, or re-serialised
# with spaces or indentation (the scanner and the typed decoder skip whitespace anywhere)
_DELIVERED = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"Records"[ \t\r\n]*:[ \t\r\n]*\[')
_NULL = msgspec.Raw(b"null")
# what msgspec raises for text it cannot read: bad JSON, a type it was not asked for, or bytes
# that are not UTF-8 (a UnicodeDecodeError, not a DecodeError), or nesting deeper than its stack
# (a RecursionError: sources.split_records then replaces what is too deep)
_UNREADABLE = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError)


class _Identity(msgspec.Struct, frozen=True, gc=False):  # frozen: hashable, a cache key as it is
    type: str | None = None
    principalId: str | None = None
    arn: str | None = None
    accountId: str | None = None
    userName: str | None = None
    invokedBy: str | None = None


class _KmsRequest(msgspec.Struct, gc=False):
    """The request fields kmstui reads, typed loosely (Any) and checked in code: they vary
    more than the envelope does. The encryption context stays raw: its text is a cache key."""

    keyId: Any = None
    targetKeyId: Any = None
    sourceKeyId: Any = None
    destinationKeyId: Any = None
    primaryKeyArn: Any = None
    aliasName: Any = None
    encryptionContext: msgspec.Raw = _NULL
    sourceEncryptionContext: Any = None
    destinationEncryptionContext: Any = None
    constraints: Any = None


class _Resource(msgspec.Struct, gc=False):
    ARN: Any = None


class _Record(msgspec.Struct, gc=False):
    eventSource: str | None = None
    eventName: str | None = None
    eventTime: str | None = None
    eventID: str | None = None
    awsRegion: str | None = None
    sourceIPAddress: str | None = None
    userAgent: str | None = None
    errorCode: str | None = None
    errorMessage: str | None = None
    readOnly: bool | None = None
    eventType: str | None = None
    eventCategory: str | None = None
    recipientAccountId: str | None = None
    userIdentity: _Identity | None = None
    requestParameters: _KmsRequest | None = None
    responseElements: msgspec.Raw = _NULL
    resources: list[_Resource] | None = None
    serviceEventDetails: msgspec.Raw = _NULL


class _Envelope(msgspec.Struct, gc=False):
    Records: list[_Record]


class _KmsResponse(msgspec.Struct, gc=False):
    keyId: Any = None
    sourceKeyId: Any = None
    keyMetadata: Any = None
    replicaKeyMetadata: Any = None


class _ServiceDetails(msgspec.Struct, gc=False):
    keyId: Any = None


_SCALARS = (
    "eventSource",
    "eventName",
    "eventTime",
    "eventID",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "eventType",
    "eventCategory",
    "recipientAccountId",
)
_IDENTITY_FIELDS = tuple(_Identity.__struct_fields__)

_record_decoder = msgspec.json.Decoder(_Record)
_envelope_decoder = msgspec.json.Decoder(_Envelope)
_response_decoder = msgspec.json.Decoder(_KmsResponse)
_details_decoder = msgspec.json.Decoder(_ServiceDetails)
_context_decoder = msgspec.json.Decoder(dict)
_string_context_decoder = msgspec.json.Decoder(dict[str, str])
_string_contexts_decoder = msgspec.json.Decoder(list[dict[str, str]])


class _Codes(dict):
    """A batch-local vocabulary: value -> code, codes in first-seen order, None is 0."""

    def __init__(self):
        super().__init__({None: 0})

    def __missing__(self, value):
        code = self[value] = len(self)
        return code


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


@dataclass
class ContextPart:
    """A batch's encryption contexts, flattened for a cheap merge: local context ``i``
    (from 1) owns the next ``counts[i - 1]`` pairs of the label, key and value arrays,
    which index the batch's own ``labels``, ``keys`` and ``values`` lists."""

    labels: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    label: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    key: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    value: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))


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
    contexts: ContextPart = field(default_factory=ContextPart)
    extra_keys: dict[int, tuple[int, ...]] = field(default_factory=dict)
    event_id_overflow: dict[int, str] = field(default_factory=dict)
    trail_changes: list[TrailChange] = field(default_factory=list)
    # what the events taught about aliases, each with the first and last time it was seen
    alias_bindings: list[tuple[AliasBinding, list[int]]] = field(default_factory=list)
    # CloudTrail's own use of a key to encrypt a log file
    log_files: list[LogFile] = field(default_factory=list)
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

    # A worker pickles its batch back to the main process. The principal vocabulary can hold
    # a new Identity for nearly every event, and pickle handles a NamedTuple through Python
    # calls (its __reduce__ and __getnewargs__, then its class on loading): about 4 ms a file,
    # as much as decoding the principals. As plain tuples they pickle in C.
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        principals = self.vocab.get("principal")
        if principals and principals[0] is None:
            state["vocab"] = {**self.vocab, "principal": [None, *map(tuple, principals[1:])]}
        return state

    def __setstate__(self, state: dict) -> None:
        principals = state["vocab"].get("principal")
        if principals and principals[0] is None:
            state["vocab"]["principal"] = [None, *map(_new_identity, principals[1:])]
        self.__dict__.update(state)


# Vocabulary names, shared with the index.
STRING_COLUMNS = ("name", "evsource", "evtype", "evcat", "region", "account", "ip", "agent", "errcode", "errmsg")
VOCABS = (*STRING_COLUMNS, "principal", "key", "alias", "trail")


def load_many(files: list[SourceFile]) -> Batch:
    """Load several sources into one batch (the worker-process entry point). Never raises
    for bad input: a source that cannot be read says why in its SourceInfo."""
    builder = _BatchBuilder()
    # A file adds thousands of small containers (principals, contexts, lists of values) and
    # no cycles: the cyclic collector would walk them again and again (about 7% of a busy
    # trail's decoding). It is paused for the batch; reference counting still frees everything.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for source in files:
            builder.add_file(source.path, source.label, source.growing)
        return builder.finish()
    finally:
        if collecting:
            gc.enable()


def decode_records(
    records: list, source: str, path: str, first_ordinal: int = 0, appendable: bool = False, format: str = "records"
) -> Batch:
    """A Batch from raw records already in hand (LookupEvents pages, tests). ``first_ordinal``
    is the position of the first record in ``path``, where the detail view reads it again."""
    builder = _BatchBuilder()
    info = SourceInfo(source, path, None, format=format, appendable=appendable)
    builder.add_records(info, list(_one_by_one(records)), records, None, first_ordinal)
    return builder.finish()


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


def _typed(data: bytes) -> list[_Record] | None:
    """A CloudTrail log file decoded in one call; None when some field has an unexpected
    type (the records are then decoded one by one, leniently where needed)."""
    try:
        return _envelope_decoder.decode(data).Records
    except _UNREADABLE:
        return None


def _partition(region: str | None) -> str:
    if region:
        if region.startswith("cn-"):
            return "aws-cn"
        if region.startswith("us-gov-"):
            return "aws-us-gov"
        if region.startswith("us-iso"):
            return "aws-iso" if region.startswith("us-iso-") else "aws-iso-b"
    return "aws"


def _one_by_one(raws: list):
    """Typed records for raw records decoded one at a time: None for what is not a record."""
    decode = _record_decoder.decode
    for raw in raws:
        try:
            yield decode(raw)
        except msgspec.ValidationError:
            yield _lenient(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            yield None


class _BatchBuilder:
    """Decodes files into one Batch, column by column.

    A file first becomes columns: for each field it reads, a code per kept record and
    the field's distinct values (the C scanner gives these for a delivered log file, in
    one pass over its text; records already decoded are interned in Python). Everything
    after works on distinct values, not on records: a value is decoded, resolved or
    looked up once however many records repeat it, and numpy spreads the answers over
    the rows. Only the rare events (alias changes, trail configuration) are read one by one.
    """

    def __init__(self):
        self.batch = Batch()
        self.vocab = {name: _Codes() for name in VOCABS}
        self.principal_codes = _PrincipalCodes(self.vocab["principal"])
        self.contexts = _ContextBuilder()
        self.bindings: dict[AliasBinding, list[int]] = {}
        self.chunks: dict[str, list[np.ndarray]] = {}
        self.rows = 0

    def add_file(self, path: str, label: str, appendable: bool = False) -> None:
        info = SourceInfo(label, path, delivery_of(label), appendable=appendable)
        scanned = typed = raws = None
        try:
            data = read_source(path, bounded=not appendable)  # a cache of ours is as big as it is
            delivered = _DELIVERED.match(data) is not None
            scanned = _scan_columns(data) if delivered else None
            # a whole file of typed records takes ~500 bytes a record: only for files of usual size
            whole = delivered and scanned is None and len(data) <= WHOLE_FILE_BYTES
            typed = _typed(data) if whole else None
            if scanned is not None or typed is not None:  # a delivered log file, the common case
                info.format = "cloudtrail"
            else:
                split = split_records(data)
                info.format = split.format
                info.problems.extend(split.problems)
                raws = split.records
                del split
                data = b""  # the records are copies: the file's text is not needed any more
        except SourceError as error:
            info.error = str(error)
            self.batch.sources.append(info)
            return
        except MemoryError:
            info.error = "too large to load into memory"
            self.batch.sources.append(info)
            return
        except Exception as error:  # a bug must cost one file, never the load
            info.error = f"could not be read ({type(error).__name__}: {error})"
            self.batch.sources.append(info)
            return
        mark = self._mark()
        try:
            if scanned is not None:
                self._add_scanned(info, scanned, data)
            elif raws is not None and info.format.startswith("actiontrail"):
                from .actiontrail import add_records  # Alibaba Cloud ActionTrail: its own module

                add_records(self, info, raws)
            elif raws is not None:
                self._add_raw_records(info, raws)
            elif typed is not None:
                self.add_records(info, typed, raws, data)
        except Exception as error:  # a bug must cost one file, never the load
            self._rollback(mark)
            info = SourceInfo(
                label,
                path,
                info.delivery,
                error=f"could not be decoded ({type(error).__name__}: {error})",
                appendable=appendable,
            )
            self.batch.sources.append(info)

    def _add_raw_records(self, info: SourceInfo, raws: list) -> None:
        """Add a source's raw records a chunk at a time, so that only one chunk of them is
        ever decoded into typed records at once (two million tiny lines would otherwise
        take a gigabyte of them)."""
        for start in range(0, max(1, len(raws)), RECORDS_AT_ONCE):
            chunk = raws[start : start + RECORDS_AT_ONCE]
            self.add_records(info, list(_one_by_one(chunk)), chunk, None, start)

    def _mark(self) -> tuple:
        batch = self.batch
        return (
            self.rows,
            {k: len(v) for k, v in self.chunks.items()},
            len(batch.trail_changes),
            len(batch.log_files),
            len(batch.sources),
        )

    def _rollback(self, mark: tuple) -> None:
        rows, chunks, changes, logs, sources = mark
        batch = self.batch
        self.rows = rows
        for name, count in chunks.items():
            del self.chunks[name][count:]
        for name in list(self.chunks):
            if name not in chunks:
                del self.chunks[name]
        del batch.trail_changes[changes:]
        del batch.log_files[logs:]
        del batch.sources[sources:]
        for mapping in (batch.extra_keys, batch.event_id_overflow, batch.parameters):
            for row in [r for r in mapping if r >= rows]:
                del mapping[row]

    def _add_scanned(self, info: SourceInfo, scanned: tuple, data: bytes) -> None:
        """Add a log file the scanner read: its records are picked out with numpy."""
        count, spans, columns = scanned
        source_codes, sources = columns["eventSource"]
        name_codes, names = columns["eventName"]
        keep = _rows_of(source_codes, sources, KMS)
        config = _rows_of(source_codes, sources, CLOUDTRAIL) & np.isin(name_codes, _codes_of(names, TRAIL_EVENTS))
        keep |= config
        read_only_codes, read_only = columns["readOnly"]
        changes = keep & ~np.isin(read_only_codes, [code for code, value in enumerate(read_only) if value is True])
        for code, records in enumerate(np.bincount(source_codes[~keep], minlength=len(sources)).tolist()):
            if records:
                info.ignored[sources[code] or "(no event source)"] += records
        kept = np.flatnonzero(keep)
        info.records = count
        info.events = len(kept)
        # Configuration events are read whole, from their spans; a file with some is measured
        # too, as the general path does (the others are measured by the index when it must).
        # Calls that change something keep their parameters, read from their spans as well.
        measured = bool(config.any())
        bounds = np.frombuffer(spans, dtype=np.uint32) if (changes | config).any() else None

        def raw(i: int) -> bytes:
            assert bounds is not None  # asked only of configuration events and changes, which have spans
            return data[int(bounds[2 * i]) : int(bounds[2 * i + 1])]

        self._add_columns(
            info,
            {name: (codes[kept], values) for name, (codes, values) in columns.items()},
            kept,
            raw if bounds is not None else None,
            measured=measured,
        )

    def add_records(
        self, info: SourceInfo, records: list, raws: list | None, data: bytes | None, first_ordinal: int = 0
    ) -> None:
        """Add one source's typed records (None where a record could not be read); called
        again for the same ``info`` with the next chunk of them, ``first_ordinal`` on."""
        bad = records.count(None)
        counts = Counter(r.eventSource for r in records if r is not None)
        kept = [i for i, r in enumerate(records) if r is not None and r.eventSource == KMS]
        measured = raws is not None  # a delivered log file is measured when it has configuration events
        if counts.get(CLOUDTRAIL):
            config = [
                i
                for i, r in enumerate(records)
                if r is not None and r.eventSource == CLOUDTRAIL and r.eventName in TRAIL_EVENTS
            ]
            counts[CLOUDTRAIL] -= len(config)
            kept = sorted(kept + config)
            measured = measured or bool(config)
        if (
            raws is None
            and data is not None
            and any(records[i].readOnly is not True or records[i].eventSource != KMS for i in kept)
        ):
            raws = split_records(data).records  # configuration events are read whole, parameters kept
        counts.pop(KMS, None)
        for source, count in counts.items():
            if count:
                info.ignored[source or "(no event source)"] += count
        info.records += len(records) - bad
        info.events += len(kept)
        if bad:
            bad += info.unreadable
            info.unreadable = bad
            info.problems[:] = [p for p in info.problems if not p.endswith(_NOT_OBJECTS)]
            info.problems.append(
                "1 record that is not a JSON object skipped"
                if bad == 1
                else f"{bad} records that are not JSON objects skipped"
            )
        columns = _typed_columns([records[i] for i in kept])
        self._add_columns(
            info,
            columns,
            np.array(kept, dtype=np.int64),
            None if raws is None else raws.__getitem__,
            measured=measured,
            first_ordinal=first_ordinal,
        )

    def _add_columns(
        self, info: SourceInfo, columns: dict, kept: np.ndarray, raw, measured: bool, first_ordinal: int = 0
    ) -> None:
        """Add one source's kept records, given as columns (codes into distinct values, one
        code per kept record). ``raw(i)`` is the text of the source's record ``i``."""
        batch = self.batch
        vocab = self.vocab
        again = bool(batch.sources) and batch.sources[-1] is info  # the next chunk of a source
        origin = len(batch.sources) - again
        base = self.rows
        count = len(kept)

        def encode(vocab_name: str, field: str, lookup=None, dtype=np.uint32) -> np.ndarray:
            codes, values = columns[field]
            if lookup is None:  # a plain text column: its new values (thousands of addresses) added in bulk
                return _recode(codes, values, None, dtype, partial(_intern_many, vocab[vocab_name]))
            return _recode(codes, values, lookup, dtype)

        time_codes, times = columns["eventTime"]
        time_column = _recode(time_codes, times, None, np.int64, parse_event_times)
        principal_column = self._principals(columns)
        id_codes, ids = columns["eventID"]
        overflow: dict[int, str] = {}
        out = {
            "time": time_column,
            "origin": np.full(count, origin, dtype=np.uint32),
            "ordinal": (kept + first_ordinal).astype(np.uint32),
            "rawlen": (
                np.fromiter((record_length(raw(i)) for i in kept.tolist()), dtype=np.uint32, count=count)
                if measured
                else np.zeros(count, dtype=np.uint32)
            ),
            "name": encode("name", "eventName"),
            "evsource": encode("evsource", "eventSource"),
            "evtype": encode("evtype", "eventType"),
            "evcat": encode("evcat", "eventCategory"),
            "region": encode("region", "awsRegion"),
            "account": encode("account", "recipientAccountId"),
            "ip": encode("ip", "sourceIPAddress"),
            "agent": encode("agent", "userAgent"),
            "errcode": encode("errcode", "errorCode", lambda v: vocab["errcode"][v or None]),
            "errmsg": encode("errmsg", "errorMessage", lambda v: vocab["errmsg"][v or None]),
            "readonly": encode("", "readOnly", _READ_ONLY.__getitem__, np.int8),
            "principal": principal_column,
            "eid": _event_id_column(id_codes, ids, overflow),
            "cloud": np.zeros(count, dtype=np.uint8),  # CloudTrail: aws (actiontrail.py writes alibaba)
        }
        for row, event_id in overflow.items():
            batch.event_id_overflow[base + row] = event_id

        def value(field: str, row: int):
            codes, values = columns[field]
            return values[codes[row]]

        source_codes, sources = columns["eventSource"]
        is_kms = _rows_of(source_codes, sources, KMS)
        kms_rows = np.flatnonzero(is_kms)
        error_codes, errors = columns["errorCode"]
        failed = np.array([bool(error) for error in errors])[error_codes]
        key0 = np.zeros(count, dtype=np.uint32)
        key1 = np.zeros(count, dtype=np.uint32)
        alias = np.zeros(count, dtype=np.uint32)
        trail = np.zeros(count, dtype=np.uint32)
        self._resolve_references(columns, kms_rows, failed, time_column, key0, key1, alias, base)
        ctx = self._resolve_contexts(columns, kms_rows, time_column, trail)

        # CloudTrail configuration events: few, each read whole
        keys, aliases, trails = (vocab[n] for n in ("key", "alias", "trail"))
        for row in np.flatnonzero(~is_kms).tolist():
            place = _PLACES[value("awsRegion", row), value("recipientAccountId", row)]
            change = _trail_change(
                value("eventName", row),
                value("errorCode", row),
                raw(int(kept[row])),
                base + row,
                int(time_column[row]),
                place,
                int(principal_column[row]),
            )
            if change is None:
                continue
            trail[row] = trails[change.trail]
            batch.trail_changes.append(change)
            log_key = change.response.get("kmsKeyId") or change.request.get("kmsKeyId")
            if isinstance(log_key, str) and log_key:
                key_arn = _key_arn(log_key, place)
                if key_arn and ":alias/" in key_arn:
                    alias[row] = aliases[key_arn]
                elif key_arn:
                    key0[row] = keys[key_arn]
        out.update(key0=key0, key1=key1, alias=alias, ctx=ctx, trail=trail)
        if raw is not None:
            for row in np.flatnonzero(out["readonly"] != 1).tolist():
                parameters = _parameters(raw(int(kept[row])))
                if parameters is not None:
                    batch.parameters[base + row] = parameters
        for name, column in out.items():
            self.chunks.setdefault(name, []).append(column)
        self.rows += count
        if not again:
            batch.sources.append(info)

    def _principals(self, columns: dict) -> np.ndarray:
        """The principal column: resolved once per distinct combination of the identity's fields.
        Assumed-role sessions the scanner resolved (``SESSIONS``) need only their account and
        caller service besides: their principal is built here, straight."""
        fields = [columns[name] for name, _ in _IDENTITY_COLUMNS]
        sessions = columns.get(SESSIONS)
        if sessions is None or len(sessions[1]) == 1:  # the general path, or no session resolved
            group, firsts = _combinations(fields)
            identities = zip(*(_gather(values, codes[firsts]) for codes, values in fields), strict=True)
            return np.fromiter(map(self.principal_codes.__getitem__, identities), dtype=np.uint32, count=len(firsts))[
                group
            ]
        group, firsts = _combinations([sessions, *fields])
        answers = np.zeros(len(firsts), dtype=np.uint32)
        resolved = sessions[0][firsts] != 0
        general = firsts[~resolved]
        if len(general):
            identities = zip(*(_gather(values, codes[general]) for codes, values in fields), strict=True)
            answers[~resolved] = np.fromiter(
                map(self.principal_codes.__getitem__, identities), dtype=np.uint32, count=len(general)
            )
        shortcut = firsts[resolved]
        if len(shortcut):  # new on nearly every record of a busy trail: C-level loops only
            (account_codes, accounts), (invoked_codes, invoked) = (
                columns[f"userIdentity.{name}"] for name in ("accountId", "invokedBy")
            )
            shortcuts: list[Identity] = list(
                map(
                    _new_identity,
                    zip(
                        _gather(sessions[1], sessions[0][shortcut]),
                        repeat(None),
                        repeat("AssumedRole"),
                        _gather(list(map(_shared, accounts)), account_codes[shortcut]),
                        _gather(list(map(_shared, invoked)), invoked_codes[shortcut]),
                    ),
                )
            )
            answers[resolved] = _intern_many(self.vocab["principal"], shortcuts)
        return answers[group]

    def _resolve_references(
        self,
        columns: dict,
        rows: np.ndarray,
        failed: np.ndarray,
        times: np.ndarray,
        key0: np.ndarray,
        key1: np.ndarray,
        alias: np.ndarray,
        base: int,
    ) -> None:
        """Keys and aliases of KMS events: resolved once per distinct combination of the
        fields that name them (a file has a few dozen), then spread over the rows."""
        keys, aliases = self.vocab["key"], self.vocab["alias"]
        fields = [(codes[rows], values) for codes, values in (columns[name] for name in _REFERENCE_FIELDS)]
        combo_of, firsts_rows = _combinations(fields)
        firsts = np.zeros((len(firsts_rows), 3), dtype=np.uint32)  # first key, second key, first alias
        found: list[tuple[list, list]] = []
        for c, first in enumerate(firsts_rows.tolist()):
            resources, key_id, source, destination, target, primary, alias_name, response, details, region, account = (
                values[codes[first]] for codes, values in fields
            )
            found_keys: list[str] = []
            found_aliases: list[str] = []
            _references(
                resources,
                (key_id, source, destination, target, primary),
                alias_name,
                response,
                details,
                _PLACES[region, account],
                found_keys,
                found_aliases,
            )
            found.append((found_keys, found_aliases))
            if found_keys:
                firsts[c, 0] = keys[found_keys[0]]
                if len(found_keys) > 1:
                    firsts[c, 1] = keys[found_keys[1]]
            if found_aliases:
                firsts[c, 2] = aliases[found_aliases[0]]
        key0[rows] = firsts[combo_of, 0]
        key1[rows] = firsts[combo_of, 1]
        alias[rows] = firsts[combo_of, 2]

        name_codes, names = columns["eventName"]
        changes = np.isin(name_codes, _codes_of(names, ALIAS_CHANGES))
        for c, (found_keys, found_aliases) in enumerate(found):
            if len(found_keys) > 2:
                extra = tuple(keys[k] for k in found_keys[2:])
                for row in rows[combo_of == c].tolist():
                    self.batch.extra_keys[base + row] = extra
            if found_keys and found_aliases:
                # calls that named an alias and its key: the alias pointed there then. The alias
                # calls themselves name old and new keys alike and are bindings of their own.
                seen = rows[combo_of == c]
                seen = seen[~failed[seen] & ~changes[seen]]
                if len(seen):
                    alias_code, key_code = int(firsts[c, 2]), int(firsts[c, 0])
                    _note(self.bindings, alias_code, key_code, "observed", int(times[seen].min()))
                    _note(self.bindings, alias_code, key_code, "observed", int(times[seen].max()))
        for i in np.flatnonzero(changes[rows] & ~failed[rows]).tolist():
            row = int(rows[i])
            name, alias_name, target, region, account = (
                values[codes[row]]
                for codes, values in (
                    columns[n] for n in ("eventName", "aliasName", "targetKeyId", "awsRegion", "recipientAccountId")
                )
            )
            _alias_change(
                name,
                alias_name,
                target,
                _PLACES[region, account],
                found[combo_of[i]][0],
                int(times[row]),
                aliases,
                keys,
                self.bindings,
            )

    def _resolve_contexts(self, columns: dict, rows: np.ndarray, times: np.ndarray, trail: np.ndarray) -> np.ndarray:
        """The encryption context column; CloudTrail's own log-file contexts also name their trail."""
        contexts = self.contexts
        ctx = np.zeros(len(times), dtype=np.uint32)
        own_codes, owns = columns["encryptionContext"]
        others = [columns[name] for name in ("sourceEncryptionContext", "destinationEncryptionContext", "constraints")]
        plain = np.ones(len(rows), dtype=bool)
        for codes, _ in others:
            plain &= codes[rows] == 0
        plain_rows = rows[plain]
        used = np.flatnonzero(np.bincount(own_codes[plain_rows], minlength=len(owns)))
        table = np.zeros(len(owns), dtype=np.uint32)
        table[used] = contexts.of_plain_many([owns[code] for code in used.tolist()])
        ctx[plain_rows] = table[own_codes[plain_rows]]
        mixed_rows = rows[~plain]  # ReEncrypt, CreateGrant: labelled contexts
        if len(mixed_rows):
            fields = [(codes[mixed_rows], values) for codes, values in (columns["encryptionContext"], *others)]
            group, firsts = _combinations(fields)
            codes = [
                contexts.of_parts(*(values[codes[first]] for codes, values in fields)) for first in firsts.tolist()
            ]
            ctx[mixed_rows] = np.array(codes, dtype=np.uint32)[group]
        trails = self.vocab["trail"]
        logs: list[tuple[int, int, str]] = []  # (row, trail code, S3 object ARN)
        found = np.unique(ctx[rows]).tolist()  # ascending, as the trail vocabulary has always been filled
        for code in filter(contexts.with_trail.__contains__, found):  # CloudTrail's own log files
            trail_arn, s3_arn = contexts.trail_info[code]
            matching = rows[ctx[rows] == code]
            trail[matching] = trails[trail_arn]
            if s3_arn:
                logs.extend((row, trails[trail_arn], s3_arn) for row in matching.tolist())
        self.batch.log_files.extend(
            LogFile(trail_code, s3_arn, int(times[row])) for row, trail_code, s3_arn in sorted(logs)
        )
        return ctx

    def finish(self) -> Batch:
        batch = self.batch
        batch.columns = {name: np.concatenate(chunks) for name, chunks in self.chunks.items()} if self.rows else {}
        batch.vocab = {name: list(codes) for name, codes in self.vocab.items()}
        batch.contexts = self.contexts.part()
        batch.alias_bindings = list(self.bindings.items())
        return batch


class _Parameters(msgspec.Struct, gc=False):
    requestParameters: msgspec.Raw = _NULL
    responseElements: msgspec.Raw = _NULL


_parameters_decoder = msgspec.json.Decoder(_Parameters)


def _parameters(raw: bytes) -> bytes | None:
    """``[requestParameters, responseElements]`` of a record, as JSON; None when it has neither."""
    try:
        found = _parameters_decoder.decode(raw)
    except _UNREADABLE:
        return None
    request, response = bytes(found.requestParameters), bytes(found.responseElements)
    if request == b"null" and response == b"null":
        return None
    return b"[" + request + b"," + response + b"]"


def _codes_of(values: list, wanted) -> list[int]:
    """The codes of a column whose value is in ``wanted`` (several, when the raw texts differ:
    an escape spells the same value another way)."""
    return [code for code, value in enumerate(values) if code and value in wanted]


def _rows_of(codes: np.ndarray, values: list, value: str) -> np.ndarray:
    """Which rows have ``value``, as a mask."""
    return np.isin(codes, _codes_of(values, (value,)))


def _recode(codes: np.ndarray, values: list, lookup, dtype=np.uint32, lookup_all=None) -> np.ndarray:
    """A column in another code: ``lookup`` each distinct value the rows use, once (or
    ``lookup_all`` all of them together)."""
    used = np.flatnonzero(np.bincount(codes, minlength=len(values)))
    table = np.zeros(len(values), dtype=dtype)
    wanted = [values[code] for code in used.tolist()]
    table[used] = lookup_all(wanted) if lookup_all else np.fromiter(map(lookup, wanted), dtype=dtype, count=len(used))
    return table[codes]


# ---------------------------------------------------------------------------
# Columns: the fields kmstui reads, each as codes into its distinct values

# (column, kind): the record's own fields
_FIELDS = (
    ("eventSource", "str"),
    ("eventName", "str"),
    ("eventTime", "str"),
    ("eventID", "str"),
    ("awsRegion", "str"),
    ("sourceIPAddress", "str"),
    ("userAgent", "str"),
    ("errorCode", "str"),
    ("errorMessage", "str"),
    ("readOnly", "bool"),
    ("eventType", "str"),
    ("eventCategory", "str"),
    ("recipientAccountId", "str"),
    ("resources", "resources"),
    ("responseElements", "raw"),
    ("serviceEventDetails", "raw"),
)
# (column, kind) of the fields inside an object of the record: its principal, its request
_IDENTITY_COLUMNS = tuple((f"userIdentity.{name}", "str") for name in _IDENTITY_FIELDS)
_REQUEST_FIELDS = (
    ("keyId", "any"),
    ("targetKeyId", "any"),
    ("sourceKeyId", "any"),
    ("destinationKeyId", "any"),
    ("primaryKeyArn", "any"),
    ("aliasName", "any"),
    ("encryptionContext", "raw"),
    ("sourceEncryptionContext", "any"),
    ("destinationEncryptionContext", "any"),
    ("constraints", "any"),
)
_NESTED = (("userIdentity", _IDENTITY_COLUMNS), ("requestParameters", _REQUEST_FIELDS))
# what names keys and aliases, with where the event happened: resolved together
_REFERENCE_FIELDS = (
    "resources",
    "keyId",
    "sourceKeyId",
    "destinationKeyId",
    "targetKeyId",
    "primaryKeyArn",
    "aliasName",
    "responseElements",
    "serviceEventDetails",
    "awsRegion",
    "recipientAccountId",
)


def _scan_spec() -> tuple[tuple, tuple]:
    """The scanner's fields, (name, parent index), and the (column, kind) each one fills (None
    for an object scanned into)."""
    fields = [(name.encode(), -1) for name, _ in _FIELDS]
    columns: list = list(_FIELDS)
    for parent, nested in _NESTED:
        at = len(fields)
        fields.append((parent.encode(), -1))
        columns.append(None)
        for column, kind in nested:
            fields.append((column.rpartition(".")[2].encode(), at))
            columns.append((column, kind))
    return tuple(fields), tuple(columns)


_SCAN_FIELDS, _SCANNED = _scan_spec()
# only KMS and CloudTrail records are read whole; of the others the scanner keeps the event source, to count them
_SCAN_KEEP = ([name for name, _ in _FIELDS].index("eventSource"), (orjson.dumps(KMS), orjson.dumps(CLOUDTRAIL)))


def _roles_spec() -> tuple[int, int, int, tuple[int, ...]]:
    """The scanner's assumed-role shortcut: the type, ARN and account fields it reads, and the
    fields it leaves out of the records it resolves (what only _principal's general way reads)."""
    at = {column[0]: f for f, column in enumerate(_SCANNED) if column is not None}
    field = {name: at[f"userIdentity.{name}"] for name in _IDENTITY_FIELDS}
    return (
        field["type"],
        field["arn"],
        field["accountId"],
        tuple(field[n] for n in ("type", "arn", "principalId", "userName")),
    )


_SCAN_ROLES = _roles_spec()
SESSIONS = "userIdentity.session"  # the scanner's column of resolved assumed-role sessions (short forms)
_VALUES: dict[str, msgspec.json.Decoder[Any]] = {
    "str": msgspec.json.Decoder(list[str]),
    "bool": msgspec.json.Decoder(list[bool]),
    "resources": msgspec.json.Decoder(list[list[_Resource]]),
    "any": msgspec.json.Decoder(list[Any]),
}


def _scan_columns(data: bytes) -> tuple | None:
    """A delivered log file as (record count, record spans, columns over every record), from
    the C scanner: each field's distinct texts are decoded together, in one call. None when
    the scanner is not built, or the file is not plain (then it is decoded the general way)."""
    if _scan is None:
        return None
    scanned = _scan.scan(data, _SCAN_FIELDS, _SCAN_KEEP, _SCAN_ROLES)
    if scanned is None:
        return None
    count, spans, found = scanned
    session_codes, sessions = found.pop()
    columns = {SESSIONS: (np.frombuffer(session_codes, dtype=np.uint32), [None, *sessions])}
    for spec, column in zip(_SCANNED, found, strict=True):
        if spec is None:
            continue
        (name, kind), (codes, texts) = spec, column
        if kind == "raw" or not texts:
            values = texts
        else:
            try:
                values = _VALUES[kind].decode(b"[" + b",".join(texts) + b"]")
            except _UNREADABLE:
                return None  # a field of an unexpected type: the general path is lenient with it
        columns[name] = (np.frombuffer(codes, dtype=np.uint32), [None, *values])
    return count, spans, columns


def _typed_columns(records: list[_Record]) -> dict:
    """Columns of records already decoded (every source but a plainly delivered log file)."""
    columns = {name: _interned([getattr(record, name) for record in records], kind) for name, kind in _FIELDS}
    for parent, nested in _NESTED:
        objects = [getattr(record, parent) for record in records]
        for column, kind in nested:
            name = column.rpartition(".")[2]
            columns[column] = _interned([None if o is None else getattr(o, name) for o in objects], kind)
    return columns


def _interned(items: list, kind: str) -> tuple[np.ndarray, list]:
    """Codes into distinct values, the scanner's way: 0 is None (absent or null)."""
    if kind == "raw":
        items = [None if raw is None or raw == _NULL else bytes(raw) for raw in items]
    if kind in ("str", "bool", "raw"):  # hashable, and of one type
        vocabulary = _Codes()
        return np.fromiter(map(vocabulary.__getitem__, items), dtype=np.uint32, count=len(items)), list(vocabulary)
    index: dict = {None: 0}
    values: list = [None]
    codes = []
    for item in items:  # anything JSON holds: keyed by its text
        key = item if item is None or type(item) is str else msgspec.json.encode(item)
        code = index.get(key)
        if code is None:
            code = index[key] = len(values)
            values.append(item)
        codes.append(code)
    return np.array(codes, dtype=np.uint32), values


def _combinations(columns: list[tuple[np.ndarray, list]]) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped by the combination of their codes in ``columns``: (each row's group, a
    row of each group), groups in the order they first occur."""
    rows = len(columns[0][0]) if columns else 0
    key = np.zeros(rows, dtype=np.int64)
    stride = 1
    for codes, values in columns:
        if len(values) == 1:  # None throughout
            continue
        if stride > (1 << 62) // len(values):  # too many to number: hashed as tuples instead
            groups: dict = {}
            key = np.fromiter(
                (
                    groups.setdefault(combo, len(groups))
                    for combo in zip(*(c.tolist() for c, _ in columns), strict=True)
                ),
                dtype=np.int64,
                count=rows,
            )
            break
        key += codes.astype(np.int64) * stride
        stride *= len(values)
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[group.reshape(-1)], first[order]


_new_identity = partial(tuple.__new__, Identity)  # Identity(*fields) without a Python-level __new__


def _intern_many(vocab: _Codes, values: list) -> np.ndarray:
    """The codes of ``values`` in a batch vocabulary, the new ones added in bulk (in order)."""
    codes = list(map(vocab.get, values))
    if None in codes:
        new = dict.fromkeys(compress(values, map(is_, codes, repeat(None))))
        vocab.update(zip(new, range(len(vocab), len(vocab) + len(new)), strict=True))
        codes = list(map(vocab.__getitem__, values))
    return np.array(codes, dtype=np.uint32)


def _gather(values: list, codes: np.ndarray) -> list:
    """The values of ``codes``, as a list."""
    return list(map(values.__getitem__, codes.tolist()))


def _event_id_column(codes: np.ndarray, ids: list, overflow: dict[int, str]) -> np.ndarray:
    """Event ids as fixed 36-byte strings; odd ones (long, non-ASCII, upper case) kept whole in ``overflow``."""
    joined = "".join(ids[1:]) if None not in ids[1:] else None
    if (
        joined is not None
        and joined.isascii()
        and joined == joined.lower()
        and max(map(len, ids[1:]), default=0) <= EVENT_ID_WIDTH
    ):
        return np.array(["", *ids[1:]], dtype=f"S{EVENT_ID_WIDTH}")[codes]  # the usual: lower-case UUIDs, none odd
    plain = [
        event_id
        if event_id and len(event_id) <= EVENT_ID_WIDTH and event_id.isascii() and event_id == event_id.lower()
        else ""
        for event_id in ids
    ]
    column = np.array(plain, dtype=f"S{EVENT_ID_WIDTH}")[codes]
    odd = [code for code, (event_id, kept) in enumerate(zip(ids, plain, strict=True)) if event_id and not kept]
    if odd:
        for row in np.flatnonzero(np.isin(codes, odd)).tolist():
            overflow[row] = ids[codes[row]]
    return column


_READ_ONLY = {None: -1, True: 1, False: 0}


class _PrincipalCodes(dict):
    """An identity's fields (a tuple, as _Identity orders them) -> principal code."""

    __slots__ = ("vocab",)

    def __init__(self, vocab: _Codes):
        super().__init__()
        self.vocab = vocab

    def __missing__(self, ident):
        principal = _PRINCIPALS.get(ident)
        if principal is None:
            if len(_PRINCIPALS) > 200_000:  # bounded: a worker process sees many files
                _PRINCIPALS.clear()
            principal = _PRINCIPALS[ident] = _principal(_Identity(*ident))
        code = self[ident] = self.vocab[principal]
        return code


_PRINCIPALS: dict = {}  # identity fields -> principal, across the files one process decodes


class _ContextBuilder:
    """A batch's encryption contexts, built flat as they are met.

    A request's own context is looked up by its raw text: within a file the same context
    (a bucket, a volume, a table) comes back again and again, and is decoded once. Pairs
    stay in the order the record gives them."""

    def __init__(self):
        self.codes: dict = {}  # raw text, or a labelled tuple -> local code (from 1)
        self.trail_info: list[tuple[str | None, str | None]] = [
            (None, None)
        ]  # code -> (aws:cloudtrail:arn, aws:s3:arn)
        self.with_trail: set[int] = set()  # the codes whose trail_info names a trail
        self.counts: list[int] = []
        self.labels: list[str] = []
        self.keys: list[str] = []
        self.values: list[str] = []

    def of_plain_many(self, raws: list) -> list[int]:
        """Local codes for contexts given by their raw text (None for none); the new ones
        are decoded together, in one call, and appended in bulk."""
        codes = self.codes
        new = [raw for raw in raws if raw is not None and len(raw) > 4 and raw not in codes]
        if new:
            joined = b"[" + b",".join(new) + b"]"
            try:  # the usual shape, string to string
                contexts = _string_contexts_decoder.decode(joined)
            except _UNREADABLE:
                for raw in new:
                    codes[raw] = self._of_plain(raw)
            else:
                self._add_plain(new, contexts, b'"aws:cloudtrail:arn"' in joined)
        return [0 if raw is None or len(raw) <= 4 else codes[raw] for raw in raws]

    def _add_plain(self, raws: list[bytes], contexts: list[dict[str, str]], trails: bool) -> None:
        """Add new contexts, decoded; ``trails``: whether any may be CloudTrail's own."""
        first = len(self.counts) + 1
        if all(contexts):
            self.codes.update(zip(raws, range(first, first + len(raws)), strict=True))
        else:
            code = first - 1
            for raw, context in zip(raws, contexts, strict=True):
                code += bool(context)
                self.codes[raw] = code if context else 0
            contexts = [context for context in contexts if context]
        sizes = list(map(len, contexts))
        self.counts.extend(sizes)
        self.labels.extend([""] * sum(sizes))
        self.keys.extend(chain.from_iterable(contexts))
        self.values.extend(chain.from_iterable(map(dict.values, contexts)))
        self.trail_info.extend([(None, None)] * len(contexts))
        for raw in raws if trails else ():
            if b'"aws:cloudtrail:arn"' in raw:  # CloudTrail encrypting one of its log files
                code = self.codes[raw]
                context = contexts[code - first]
                trail = context.get("aws:cloudtrail:arn") or None
                self.trail_info[code] = (trail, context.get("aws:s3:arn") or None)
                if trail:
                    self.with_trail.add(code)

    def _of_plain(self, raw: bytes) -> int:
        """One context that is not string to string: values are kept as their JSON text."""
        try:
            context = _string_context_decoder.decode(raw)
        except _UNREADABLE:
            try:
                return self._add([("", _context_decoder.decode(raw))])
            except _UNREADABLE:
                return 0
        return self._add_strings(context)

    def of_parts(self, own: bytes | None, source, destination, constraints) -> int:
        """The local code of a request's labelled contexts: its own (raw text), ReEncrypt's
        source and destination, CreateGrant's constraints (0 for none)."""
        if source is None and destination is None and constraints is None:
            return self.of_plain_many([own])[0]
        decoded = None
        if own is not None and len(own) > 4:
            try:
                decoded = _context_decoder.decode(own)
            except _UNREADABLE:
                decoded = None
        constraints = constraints if isinstance(constraints, dict) else {}
        groups = [
            ("", decoded),
            ("source", source),
            ("destination", destination),
            ("grant constraint (subset)", constraints.get("encryptionContextSubset")),
            ("grant constraint (equals)", constraints.get("encryptionContextEquals")),
        ]
        identity = tuple(
            (label, tuple(_pairs(context))) for label, context in groups if isinstance(context, dict) and context
        )
        code = self.codes.get(identity)
        if code is None:
            code = self.codes[identity] = self._add(groups)
        return code

    def _add_strings(self, context: dict[str, str]) -> int:
        count = len(context)
        if not count:
            return 0
        self.labels.extend([""] * count)
        self.keys.extend(context)
        self.values.extend(context.values())
        self.counts.append(count)
        self._note_trail(context.get("aws:cloudtrail:arn") or None, context.get("aws:s3:arn") or None)
        return len(self.counts)

    def _add(self, groups: list) -> int:
        count = 0
        trail = s3 = None
        for label, context in groups:
            if not isinstance(context, dict) or not context:
                continue
            for key, value in context.items():
                self.labels.append(label)
                self.keys.append(str(key))
                self.values.append(value if isinstance(value, str) else as_text(value) or "")
                count += 1
            trail = trail or _text_or_none(context.get("aws:cloudtrail:arn"))
            s3 = s3 or _text_or_none(context.get("aws:s3:arn"))
        if not count:
            return 0
        self.counts.append(count)
        self._note_trail(trail, s3)
        return len(self.counts)

    def _note_trail(self, trail: str | None, s3: str | None) -> None:
        """The trail and log file of the context just added (CloudTrail encrypting a log file)."""
        if trail:
            self.with_trail.add(len(self.trail_info))
        self.trail_info.append((trail, s3))

    def part(self) -> ContextPart:
        part = ContextPart(counts=np.array(self.counts, dtype=np.uint32))
        for name, column in (("labels", self.labels), ("keys", self.keys), ("values", self.values)):
            unique = list(dict.fromkeys(column))
            index = {value: code for code, value in enumerate(unique)}
            setattr(part, name, unique)
            setattr(part, name[:-1], np.fromiter(map(index.__getitem__, column), dtype=np.uint32, count=len(column)))
        return part


def _text_or_none(value) -> str | None:
    return value if isinstance(value, str) and value else None


class _Places(dict):
    """(region, account) -> :class:`Place`, the partition worked out once per region."""

    def __missing__(self, where: tuple[str | None, str | None]) -> Place:
        region, account = where
        place = self[where] = Place(region, account, _partition(region))
        return place


_PLACES = _Places()


def _alias_change(
    name: str,
    alias_name: object,
    target: object,
    place: Place,
    found_keys: list[str],
    time: int,
    aliases: _Codes,
    keys: _Codes,
    bindings: dict[AliasBinding, list[int]],
) -> None:
    """What a successful CreateAlias, UpdateAlias or DeleteAlias teaches about its alias."""
    if not isinstance(alias_name, str) or not alias_name.startswith("alias/"):
        return
    alias_arn = place.arn("kms", alias_name)
    key_arn = _key_arn(target, place) if isinstance(target, str) else None
    if key_arn is not None and ":alias/" in key_arn:
        key_arn = None
    kind = "delete" if name == "DeleteAlias" else name
    _note(bindings, aliases[alias_arn], keys[key_arn] if key_arn else 0, kind, time)
    # The record also names the key the alias left (UpdateAlias needs rights on both,
    # DeleteAlias names its key): where it pointed until this moment.
    for previous in found_keys:
        if previous != key_arn:
            _note(bindings, aliases[alias_arn], keys[previous], "before", time)
            break


_LAYOUT = (0x20, 0x0A, 0x0D, 0x09)  # whitespace right after "{": a pretty-printed record


def record_length(raw) -> int:
    """How full a record is, for choosing between two copies of an event: its length, a
    pretty-printed one measured without its layout."""
    return len(raw) if memoryview(raw)[1] not in _LAYOUT else _compact_len(raw)


def _compact_len(raw) -> int:
    """The length of a pretty-printed record without its layout, so that the fuller of two
    copies of an event wins, not the more indented one."""
    try:
        return len(orjson.dumps(orjson.loads(bytes(raw))))
    except orjson.JSONDecodeError:
        return len(raw)


# ---------------------------------------------------------------------------
# The lenient path


def _lenient(raw) -> _Record | None:
    """Decode a record whose fields have unexpected types: keep what fits, stringify the rest."""
    try:
        value = orjson.loads(bytes(raw))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    for name in _SCALARS:
        item = value.get(name)
        if item is not None and not isinstance(item, str):
            value[name] = as_text(item)
    item = value.get("readOnly")
    if item is not None and not isinstance(item, bool):
        value["readOnly"] = str(item).lower() == "true"
    item = value.get("userIdentity")
    if item is not None:
        value["userIdentity"] = (
            {k: as_text(item.get(k)) for k in _IDENTITY_FIELDS if item.get(k) is not None}
            if isinstance(item, dict)
            else None
        )
    if not isinstance(value.get("requestParameters"), (dict, type(None))):
        value["requestParameters"] = None
    resources = value.get("resources")
    if resources is not None:
        value["resources"] = [r for r in resources if isinstance(r, dict)] if isinstance(resources, list) else None
    try:
        return _record_decoder.decode(orjson.dumps(value))
    except (msgspec.ValidationError, msgspec.DecodeError, TypeError):
        return None


def as_text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


# ---------------------------------------------------------------------------
# Principals


def _principal(ident: _Identity | None) -> Identity:
    """The principal vocabulary's entry for a record's userIdentity.
    Whether a call crosses accounts depends on the event too: the index works it out."""
    if ident is None:
        return UNKNOWN_IDENTITY
    kind = _shared(ident.type)
    arn = ident.arn
    account = _shared(ident.accountId)
    invoked = _shared(ident.invokedBy)
    if kind == "AssumedRole" and arn:  # the commonest shape, on the shortest path
        at = arn.find(":assumed-role/")
        if at > 0:
            role, _, session = arn[at + 14 :].partition("/")
            short = f"role/{role} ({session})" if session else f"role/{role}"
            if session and account and arn == assumed_role_arn(short, account):
                arn = None  # rebuilt from the short form when wanted: a session-unique string less to keep
            return Identity(short, arn, kind, account, invoked)
    if kind == "Root" or (arn and arn.endswith(":root")):
        short = "root"
    elif kind == "AWSService":
        short = f"service:{invoked or ident.principalId or '?'}"
    elif kind == "AWSAccount":
        short = f"account:{account or ident.principalId or '?'}"
    elif arn:
        short = _short_from_arn(arn)
        if ident.userName and short.startswith("user/"):
            short = f"user/{ident.userName}"  # CloudTrail's userName has no IAM path to strip
    elif kind is None and invoked:
        short = invoked
    else:
        short = ident.userName or ident.principalId or invoked or "(unknown)"
    return Identity(short, arn, kind, account, invoked)


_SHARED: dict[str, str] = {}


def _shared(text: str | None) -> str | None:
    """One string object for values that repeat across principals (types, accounts, services)."""
    if text is None:
        return None
    shared = _SHARED.get(text)
    if shared is None:
        if len(_SHARED) > 10_000:
            _SHARED.clear()
        shared = _SHARED[text] = text
    return shared


def assumed_role_arn(short: str, account: str) -> str | None:
    """The STS ARN behind ``role/Name (session)`` in the aws partition, or None if it is not one."""
    if not short.startswith("role/") or not short.endswith(")") or " (" not in short:
        return None
    role, _, session = short[5:-1].partition(" (")
    return f"arn:aws:sts::{account}:assumed-role/{role}/{session}"


def _short_from_arn(arn: str) -> str:
    parts = arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else arn
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        role, _, session = rest.partition("/")
        return f"role/{role} ({session})" if session else f"role/{role}"
    if kind in ("user", "role", "group") and "/" in rest:
        return f"{kind}/{rest.rsplit('/', 1)[1]}"  # drop the IAM path
    if kind == "federated-user":
        return f"federated/{rest}"
    return resource


# ---------------------------------------------------------------------------
# Keys and aliases


def _key_arn(value: str, place: Place) -> str | None:
    """A key or alias ARN for a key reference as written in a request."""
    value = value.strip()
    if not value:
        return None
    if value.startswith("arn:"):
        return value
    if value.startswith("alias/"):
        return place.arn("kms", value)
    return place.arn("kms", f"key/{value}")


def _add_reference(value: object, place: Place, keys: list[str], aliases: list[str]) -> None:
    if not isinstance(value, str):
        return
    if not value.startswith(("arn:", "alias/")):
        # A bare key id: CloudTrail's resources usually give its full ARN (and the right
        # region, which can differ from the event's); prefer that to building one.
        suffix = f":key/{value.strip()}"
        if any(known.endswith(suffix) for known in keys):
            return
    arn = _key_arn(value, place)
    if arn is None:
        return
    if ":alias/" in arn:
        if arn not in aliases:
            aliases.append(arn)
    elif ":key/" in arn or not arn.startswith("arn:"):
        if arn not in keys:
            keys.append(arn)


def _note(bindings: dict[AliasBinding, list[int]], alias: int, key: int, kind: str, time: int) -> None:
    """Remember an alias binding: every change with its own time; an observation by the
    first and last time it was seen."""
    binding = AliasBinding(alias, key, kind, 0 if kind == "observed" else time)
    span = bindings.get(binding)
    if span is None:
        bindings[binding] = [time, time]
    elif time < span[0]:
        span[0] = time
    elif time > span[1]:
        span[1] = time


def _references(
    resources,
    key_values: tuple,
    alias_name,
    response: bytes | None,
    details: bytes | None,
    place: Place,
    keys: list[str],
    aliases: list[str],
) -> None:
    """Collect every key and alias a KMS record names: its resources; its request
    (``key_values``: keyId, sourceKeyId, destinationKeyId, targetKeyId, primaryKeyArn, then
    the alias name); its response and service details (raw text)."""
    if resources:
        for resource in resources:
            arn = resource.ARN
            if isinstance(arn, str):
                if ":alias/" in arn:
                    if arn not in aliases:
                        aliases.append(arn)
                elif ":key/" in arn and arn not in keys:
                    keys.append(arn)
    for value in key_values:
        if value is not None and value not in keys:  # usually the ARN resources gave already
            _add_reference(value, place, keys, aliases)
    if isinstance(alias_name, str) and alias_name.startswith("alias/"):
        _add_reference(alias_name, place, keys, aliases)
    if response is not None and len(response) > 4:
        try:
            answer = _response_decoder.decode(response)
        except _UNREADABLE:
            answer = None
        if answer is not None:
            _add_reference(answer.keyId, place, keys, aliases)
            _add_reference(answer.sourceKeyId, place, keys, aliases)
            for metadata in (answer.keyMetadata, answer.replicaKeyMetadata):
                if isinstance(metadata, dict):
                    _add_reference(metadata.get("arn"), place, keys, aliases)
    if details is not None and len(details) > 4:
        try:
            _add_reference(_details_decoder.decode(details).keyId, place, keys, aliases)
        except _UNREADABLE:
            pass


# ---------------------------------------------------------------------------
# Encryption contexts


def _pairs(context) -> tuple:
    """A context as hashable pairs, in the record's order (an identity for labelled sets)."""
    if not isinstance(context, dict) or not context:
        return ()
    return tuple((str(k), v if isinstance(v, str) else as_text(v) or "") for k, v in context.items())


# ---------------------------------------------------------------------------
# CloudTrail configuration events


def _trail_change(
    name: str | None, error: str | None, raw: bytes | memoryview, row: int, time: int, place: Place, principal: int
) -> TrailChange | None:
    try:
        whole = orjson.loads(bytes(raw))
    except orjson.JSONDecodeError:
        return None
    request = whole.get("requestParameters")
    response = whole.get("responseElements")
    request = request if isinstance(request, dict) else {}
    response = response if isinstance(response, dict) else {}
    trail = response.get("trailARN") or request.get("trailName") or request.get("name")
    if not isinstance(trail, str) or not trail:
        return None
    if not trail.startswith("arn:"):
        trail = place.arn("cloudtrail", f"trail/{trail}")
    return TrailChange(row, time, name or "", trail, request, response, error or None, principal)


__all__ = [
    "CLOUDTRAIL",
    "KMS",
    "Batch",
    "SourceError",
    "SourceInfo",
    "TrailChange",
    "decode_records",
    "load_many",
]
