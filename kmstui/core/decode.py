"""Normalising CloudTrail records into columns: the loader's hot path.

Each source becomes a :class:`Batch`: one numpy column per field, with strings
dictionary-encoded against the batch's own small vocabularies. The index re-codes
a batch against its global vocabularies when it merges it. Batches are plain data
so that worker processes can build them and pickle them back cheaply.

Only the fields kmstui needs are decoded, with typed msgspec structs, a whole log
file in one call (several times faster than parsing whole records). A file whose
fields have unexpected types is decoded record by record instead, and a record that
still does not fit takes a lenient path: one odd record never costs its file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import orjson

from .sources import Delivery, SourceError, delivery_of, read_source, split_records
from .timeutil import parse_event_time

KMS = "kms.amazonaws.com"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
TRAIL_EVENTS = frozenset(
    {"CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging", "PutEventSelectors", "PutInsightSelectors"}
)
ALIAS_CHANGES = frozenset({"CreateAlias", "UpdateAlias", "DeleteAlias"})
EVENT_ID_WIDTH = 36  # a UUID; longer or unusual ids live in an overflow map

_NULL = msgspec.Raw(b"null")


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


_SCALARS = ("eventSource", "eventName", "eventTime", "eventID", "awsRegion", "sourceIPAddress", "userAgent",
            "errorCode", "errorMessage", "eventType", "recipientAccountId")
_IDENTITY_FIELDS = tuple(_Identity.__struct_fields__)

_record_decoder = msgspec.json.Decoder(_Record)
_envelope_decoder = msgspec.json.Decoder(_Envelope)
_response_decoder = msgspec.json.Decoder(_KmsResponse)
_details_decoder = msgspec.json.Decoder(_ServiceDetails)
_context_decoder = msgspec.json.Decoder(dict)
_string_context_decoder = msgspec.json.Decoder(dict[str, str])


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
    # (alias code, key code or 0, kind, first time, last time): what events taught about aliases
    alias_bindings: list[tuple[int, int, str, int, int]] = field(default_factory=list)
    # CloudTrail's own use of a key to encrypt a log file: (trail code, S3 object ARN, time)
    log_files: list[tuple[int, str, int]] = field(default_factory=list)

    @property
    def n(self) -> int:
        column = self.columns.get("time")
        return 0 if column is None else len(column)

    # The single-source view, for one file loaded on its own.
    @property
    def error(self) -> str | None:
        return self.sources[0].error if len(self.sources) == 1 else None

    @property
    def format(self) -> str:
        return self.sources[0].format if len(self.sources) == 1 else "batch"

    @property
    def records(self) -> int:
        return sum(source.records for source in self.sources)


# Vocabulary names, shared with the index.
STRING_COLUMNS = ("name", "evsource", "evtype", "region", "account", "ip", "agent", "errcode", "errmsg")
VOCABS = (*STRING_COLUMNS, "principal", "key", "alias", "trail")


def load_many(paths: list[tuple]) -> Batch:
    """Load several sources, given as (path, label) or (path, label, growing), into one batch
    (the worker-process entry point). Never raises for bad input: a source that cannot be
    read says why in its SourceInfo."""
    builder = _BatchBuilder()
    for path, label, *growing in paths:
        builder.add_file(path, label, bool(growing and growing[0]))
    return builder.finish()


def load_file(path: str, label: str | None = None) -> Batch:
    """Read one source into a Batch."""
    return load_many([(path, label or path)])


def decode_records(records: list, source: str, path: str, first_ordinal: int = 0, appendable: bool = False,
                   format: str = "records") -> Batch:
    """A Batch from raw records already in hand (LookupEvents pages, tests). ``first_ordinal``
    is the position of the first record in ``path``, where the detail view reads it again."""
    builder = _BatchBuilder()
    info = SourceInfo(source, path, None, format=format, appendable=appendable)
    builder.add_records(info, list(_one_by_one(records)), records, None, first_ordinal)
    return builder.finish()


def _typed(data: bytes) -> list[_Record] | None:
    """A CloudTrail log file decoded in one call; None when some field has an unexpected
    type (the records are then decoded one by one, leniently where needed)."""
    try:
        return _envelope_decoder.decode(data).Records
    except (msgspec.ValidationError, msgspec.DecodeError):
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
        except msgspec.DecodeError:
            yield None


class _Computed(dict):
    """A cache that computes what it lacks: ``cache[key]`` calls ``make(key)`` once."""

    __slots__ = ("make",)

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        value = self[key] = self.make(key)
        return value


class _BatchBuilder:
    """Decodes files into one Batch, column by column.

    For each file the kept records are picked out first, then each field is
    dictionary-encoded in one pass (``map`` over a dict's lookup, in C), against
    vocabularies shared by all the batch's files. Only references (keys, aliases,
    contexts) need Python per record, and the common shape takes a short path.
    """

    def __init__(self):
        self.batch = Batch()
        self.vocab = {name: _Codes() for name in VOCABS}
        self.times = _Computed(parse_event_time)
        self.principal_codes = _PrincipalCodes(self.vocab["principal"])
        self.contexts = _ContextBuilder()
        self.bindings: dict[tuple[int, int, str, int], list[int]] = {}
        self.chunks: dict[str, list[np.ndarray]] = {}
        self.rows = 0

    def add_file(self, path: str, label: str, appendable: bool = False) -> None:
        info = SourceInfo(label, path, delivery_of(label), appendable=appendable)
        try:
            data = read_source(path)
            typed = _typed(data) if data.startswith(b'{"Records":[') else None
            if typed is not None:  # the common case, a delivered log file: one typed decode, no split
                info.format = "cloudtrail"
                raws = None
            else:
                split = split_records(data)
                info.format = split.format
                info.problems.extend(split.problems)
                raws = split.records
                typed = list(_one_by_one(raws))
        except SourceError as error:
            info.error = str(error)
            self.batch.sources.append(info)
            return
        except MemoryError:
            info.error = "too large to load into memory"
            self.batch.sources.append(info)
            return
        mark = self._mark()
        try:
            self.add_records(info, typed, raws, data)
        except Exception as error:  # a bug must cost one file, never the load
            self._rollback(mark)
            info = SourceInfo(label, path, info.delivery, error=f"could not be decoded ({type(error).__name__}: {error})",
                              appendable=appendable)
            self.batch.sources.append(info)

    def _mark(self) -> tuple:
        batch = self.batch
        return (self.rows, {k: len(v) for k, v in self.chunks.items()}, len(batch.trail_changes), len(batch.log_files), len(batch.sources))

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
        for mapping in (batch.extra_keys, batch.event_id_overflow):
            for row in [r for r in mapping if r >= rows]:
                del mapping[row]

    def add_records(self, info: SourceInfo, records: list, raws: list | None, data: bytes | None, first_ordinal: int = 0) -> None:
        """Add one source's typed records (None where a record could not be read)."""
        batch = self.batch
        vocab = self.vocab
        origin = len(batch.sources)
        base = self.rows
        bad = records.count(None)
        counts = Counter(r.eventSource for r in records if r is not None)
        kept = [i for i, r in enumerate(records) if r is not None and r.eventSource == KMS]
        if counts.get(CLOUDTRAIL):
            config = [i for i, r in enumerate(records) if r is not None and r.eventSource == CLOUDTRAIL and r.eventName in TRAIL_EVENTS]
            counts[CLOUDTRAIL] -= len(config)
            kept = sorted(kept + config)
            if raws is None and config:  # configuration events are read whole: find their raw records
                raws = split_records(data).records
        counts.pop(KMS, None)
        for source, count in counts.items():
            if count:
                info.ignored[source or "(no event source)"] += count
        info.records = len(records) - bad
        info.events = len(kept)
        if bad:
            info.problems.append(f"{bad} record{'s' if bad != 1 else ''} that are not JSON objects skipped")

        recs = [records[i] for i in kept]
        count = len(recs)

        def encode(name: str, values) -> np.ndarray:
            return np.fromiter(map(vocab[name].__getitem__, values), dtype=np.uint32, count=count)

        regions = [r.awsRegion for r in recs]
        accounts = [r.recipientAccountId for r in recs]
        time_column = np.fromiter(map(self.times.__getitem__, [r.eventTime for r in recs]), dtype=np.int64, count=count)
        principal_column = np.fromiter(map(self.principal_codes.__getitem__, [r.userIdentity for r in recs]), dtype=np.uint32, count=count)
        overflow: dict[int, str] = {}
        columns = {
            "time": time_column,
            "origin": np.full(count, origin, dtype=np.uint32),
            "ordinal": np.array(kept, dtype=np.uint32) + np.uint32(first_ordinal),
            "rawlen": _raw_lengths(raws, kept),
            "name": encode("name", [r.eventName for r in recs]),
            "evsource": encode("evsource", [r.eventSource for r in recs]),
            "evtype": encode("evtype", [r.eventType for r in recs]),
            "region": encode("region", regions),
            "account": encode("account", accounts),
            "ip": encode("ip", [r.sourceIPAddress for r in recs]),
            "agent": encode("agent", [r.userAgent for r in recs]),
            "errcode": encode("errcode", [r.errorCode or None for r in recs]),
            "errmsg": encode("errmsg", [r.errorMessage or None for r in recs]),
            "readonly": np.fromiter(map(_READ_ONLY.__getitem__, [r.readOnly for r in recs]), dtype=np.int8, count=count),
            "principal": principal_column,
            "eid": _event_ids([r.eventID for r in recs], overflow),
        }
        for row, event_id in overflow.items():
            batch.event_id_overflow[base + row] = event_id

        # References: keys, aliases, encryption contexts, trails. Per record, with caches.
        keys, aliases, trails = (vocab[n] for n in ("key", "alias", "trail"))
        contexts = self.contexts
        bindings = self.bindings
        key0 = np.zeros(count, dtype=np.uint32)
        key1 = np.zeros(count, dtype=np.uint32)
        alias = np.zeros(count, dtype=np.uint32)
        ctx = np.zeros(count, dtype=np.uint32)
        trail = np.zeros(count, dtype=np.uint32)
        for row, record in enumerate(recs):
            params = record.requestParameters
            if record.eventSource == KMS:
                resources = record.resources
                key_id = params.keyId if params is not None else None
                if (  # most calls: one key, named in resources and again as the request's keyId
                    resources is not None
                    and len(resources) == 1
                    and key_id == resources[0].ARN
                    and type(key_id) is str
                    and ":key/" in key_id
                    and params.targetKeyId is None
                    and params.sourceKeyId is None
                    and params.destinationKeyId is None
                    and params.primaryKeyArn is None
                    and params.aliasName is None
                    and len(record.responseElements) <= 4
                    and len(record.serviceEventDetails) <= 4
                ):
                    key0[row] = keys[key_id]
                    found_keys = None
                else:
                    region = regions[row]
                    account = accounts[row]
                    partition = _PARTITIONS[region]
                    found_keys = []
                    found_aliases: list[str] = []
                    _kms_references(record, params, region, account, partition, found_keys, found_aliases)
                    if record.eventName in ALIAS_CHANGES and not record.errorCode and params is not None:
                        _alias_change(record, params, region, account, partition, found_keys, int(time_column[row]), aliases, keys, bindings)
                if params is not None:
                    code = contexts.of_request(params)
                    if code:
                        ctx[row] = code
                        trail_arn, s3_arn = contexts.trail_info[code]
                        if trail_arn:
                            trail[row] = trails[trail_arn]
                            if s3_arn:
                                batch.log_files.append((int(trail[row]), s3_arn, int(time_column[row])))
            else:  # a CloudTrail configuration event
                region = regions[row]
                account = accounts[row]
                partition = _PARTITIONS[region]
                found_keys = []
                found_aliases = []
                change = _trail_change(
                    record, raws[kept[row]], base + row, int(time_column[row]), region, account, partition, int(principal_column[row])
                )
                if change is not None:
                    trail[row] = trails[change.trail]
                    batch.trail_changes.append(change)
                    log_key = change.response.get("kmsKeyId") or change.request.get("kmsKeyId")
                    if isinstance(log_key, str) and log_key:
                        key_arn = _key_arn(log_key, region, account, partition)
                        if key_arn:
                            (found_aliases if ":alias/" in key_arn else found_keys).append(key_arn)
            if found_keys is None:
                continue
            if found_keys:
                key0[row] = keys[found_keys[0]]
                if len(found_keys) > 1:
                    key1[row] = keys[found_keys[1]]
                    if len(found_keys) > 2:
                        batch.extra_keys[base + row] = tuple(keys[k] for k in found_keys[2:])
            if found_aliases:
                alias[row] = code = aliases[found_aliases[0]]
                if found_keys and not record.errorCode and record.eventName not in ALIAS_CHANGES:
                    # a call that named the alias and its key: the alias pointed there then. The alias
                    # calls themselves name old and new keys alike and are bindings of their own.
                    _note(bindings, (code, keys[found_keys[0]], "observed"), int(time_column[row]))
        columns.update(key0=key0, key1=key1, alias=alias, ctx=ctx, trail=trail)
        for name, column in columns.items():
            self.chunks.setdefault(name, []).append(column)
        self.rows += count
        batch.sources.append(info)

    def finish(self) -> Batch:
        batch = self.batch
        batch.columns = {name: np.concatenate(chunks) for name, chunks in self.chunks.items()} if self.rows else {}
        batch.vocab = {name: list(codes) for name, codes in self.vocab.items()}
        batch.contexts = self.contexts.part()
        batch.alias_bindings = [(a, k, kind, first, last) for (a, k, kind, _), (first, last) in self.bindings.items()]
        return batch


_READ_ONLY = {None: -1, True: 1, False: 0}


class _PrincipalCodes(dict):
    """Identity struct -> principal code (identities are frozen structs: hashed in C)."""

    __slots__ = ("vocab",)

    def __init__(self, vocab: _Codes):
        super().__init__()
        self.vocab = vocab

    def __missing__(self, ident):
        principal = _PRINCIPALS.get(ident)
        if principal is None:
            if len(_PRINCIPALS) > 200_000:  # bounded: a worker process sees many files
                _PRINCIPALS.clear()
            principal = _PRINCIPALS[ident] = _principal(ident)
        code = self[ident] = self.vocab[principal]
        return code


_PRINCIPALS: dict = {}  # identity -> principal, across the files one process decodes


class _ContextBuilder:
    """A batch's encryption contexts, built flat as they are met.

    A request's own context is looked up by its raw text: within a file the same context
    (a bucket, a volume, a table) comes back again and again, and is decoded once. Pairs
    stay in the order the record gives them."""

    def __init__(self):
        self.codes: dict = {}  # raw text, or a labelled tuple -> local code (from 1)
        self.trail_info: list[tuple[str | None, str | None]] = [(None, None)]  # code -> (aws:cloudtrail:arn, aws:s3:arn)
        self.counts: list[int] = []
        self.labels: list[str] = []
        self.keys: list[str] = []
        self.values: list[str] = []

    def of_request(self, params: _KmsRequest) -> int:
        """The local code of a request's contexts (0 for none)."""
        raw = params.encryptionContext
        plain = params.sourceEncryptionContext is None and params.destinationEncryptionContext is None and params.constraints is None
        if plain:
            if len(raw) <= 4:
                return 0
            text = bytes(raw)
            code = self.codes.get(text)
            if code is None:
                try:  # the usual shape, string to string: appended in bulk
                    context = _string_context_decoder.decode(text)
                except (msgspec.ValidationError, msgspec.DecodeError):
                    try:
                        code = self._add([("", _context_decoder.decode(text))])
                    except (msgspec.ValidationError, msgspec.DecodeError):
                        code = 0
                else:
                    code = self._add_strings(context)
                self.codes[text] = code
            return code
        own = None
        if len(raw) > 4:
            try:
                own = _context_decoder.decode(raw)
            except (msgspec.ValidationError, msgspec.DecodeError):
                own = None
        constraints = params.constraints if isinstance(params.constraints, dict) else {}
        groups = [
            ("", own),
            ("source", params.sourceEncryptionContext),
            ("destination", params.destinationEncryptionContext),
            ("grant constraint (subset)", constraints.get("encryptionContextSubset")),
            ("grant constraint (equals)", constraints.get("encryptionContextEquals")),
        ]
        identity = tuple((label, tuple(_pairs(context))) for label, context in groups if isinstance(context, dict) and context)
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
        self.trail_info.append((context.get("aws:cloudtrail:arn") or None, context.get("aws:s3:arn") or None))
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
                self.values.append(value if isinstance(value, str) else _as_text(value) or "")
                count += 1
            trail = trail or _text_or_none(context.get("aws:cloudtrail:arn"))
            s3 = s3 or _text_or_none(context.get("aws:s3:arn"))
        if not count:
            return 0
        self.counts.append(count)
        self.trail_info.append((trail, s3))
        return len(self.counts)

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


class _Partitions(dict):
    def __missing__(self, region):
        value = self[region] = _partition(region)
        return value


_PARTITIONS = _Partitions()


def _raw_lengths(raws: list | None, kept: list[int]) -> np.ndarray:
    """Each kept record's length, by which duplicates keep the fuller copy; 0 when the raw
    records were not split out (a delivered log file: the index measures them if it must)."""
    if raws is None:
        return np.zeros(len(kept), dtype=np.uint32)
    return np.fromiter((record_length(raws[i]) for i in kept), dtype=np.uint32, count=len(kept))


def _event_ids(ids: list, overflow: dict[int, str]) -> np.ndarray:
    """Event ids as fixed 36-byte strings; odd ones (long, non-ASCII, upper case) in ``overflow``."""
    joined = "".join(ids) if None not in ids else None
    if joined is not None and joined.isascii() and joined == joined.lower() and max(map(len, ids), default=0) <= EVENT_ID_WIDTH:
        return np.array(ids, dtype=f"S{EVENT_ID_WIDTH}")
    plain = []
    for row, event_id in enumerate(ids):
        if event_id and len(event_id) <= EVENT_ID_WIDTH and event_id.isascii() and event_id == event_id.lower():
            plain.append(event_id)
        else:
            plain.append("")
            if event_id:
                overflow[row] = event_id
    return np.array(plain, dtype=f"S{EVENT_ID_WIDTH}")


def _alias_change(record, params, region, account, partition, found_keys, time, aliases, keys, bindings) -> None:
    """What a successful CreateAlias, UpdateAlias or DeleteAlias teaches about its alias."""
    alias_name = params.aliasName
    if not isinstance(alias_name, str) or not alias_name.startswith("alias/"):
        return
    alias_arn = f"arn:{partition}:kms:{region}:{account}:{alias_name}"
    target = params.targetKeyId
    key_arn = _key_arn(target, region, account, partition) if isinstance(target, str) else None
    if key_arn is not None and ":alias/" in key_arn:
        key_arn = None
    kind = "delete" if record.eventName == "DeleteAlias" else record.eventName
    _note(bindings, (aliases[alias_arn], keys[key_arn] if key_arn else 0, kind), time)
    # The record also names the key the alias left (UpdateAlias needs rights on both,
    # DeleteAlias names its key): where it pointed until this moment.
    for previous in found_keys:
        if previous != key_arn:
            _note(bindings, (aliases[alias_arn], keys[previous], "before"), time)
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
            value[name] = _as_text(item)
    item = value.get("readOnly")
    if item is not None and not isinstance(item, bool):
        value["readOnly"] = str(item).lower() == "true"
    item = value.get("userIdentity")
    if item is not None:
        value["userIdentity"] = (
            {k: _as_text(item.get(k)) for k in _IDENTITY_FIELDS if item.get(k) is not None} if isinstance(item, dict) else None
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


def _as_text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


# ---------------------------------------------------------------------------
# Principals


def _principal(ident: _Identity | None) -> tuple:
    """(short, arn, identity type, caller account, invoked by) for the principal vocabulary.
    Whether a call crosses accounts depends on the event too: the index works it out."""
    if ident is None:
        return ("(unknown)", None, None, None, None)
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
            return (short, arn, kind, account, invoked)
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
    return (short, arn, kind, account, invoked)


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


def _key_arn(value: str, region: str | None, account: str | None, partition: str) -> str | None:
    """A key or alias ARN for a key reference as written in a request."""
    value = value.strip()
    if not value:
        return None
    if value.startswith("arn:"):
        return value
    if value.startswith("alias/"):
        return f"arn:{partition}:kms:{region}:{account}:{value}"
    return f"arn:{partition}:kms:{region}:{account}:key/{value}"


def _add_reference(value, region, account, partition, keys: list, aliases: list) -> None:
    if not isinstance(value, str):
        return
    if not value.startswith(("arn:", "alias/")):
        # A bare key id: CloudTrail's resources usually give its full ARN (and the right
        # region, which can differ from the event's); prefer that to building one.
        suffix = f":key/{value.strip()}"
        if any(known.endswith(suffix) for known in keys):
            return
    arn = _key_arn(value, region, account, partition)
    if arn is None:
        return
    if ":alias/" in arn:
        if arn not in aliases:
            aliases.append(arn)
    elif ":key/" in arn or not arn.startswith("arn:"):
        if arn not in keys:
            keys.append(arn)


def _note(bindings: dict, binding: tuple, time: int) -> None:
    """Remember an alias binding: every change with its own time; an observation by the
    first and last time it was seen."""
    alias, key, kind = binding
    binding = (alias, key, kind, 0 if kind == "observed" else time)
    span = bindings.get(binding)
    if span is None:
        bindings[binding] = [time, time]
    elif time < span[0]:
        span[0] = time
    elif time > span[1]:
        span[1] = time


def _kms_references(record: _Record, params: _KmsRequest | None, region, account, partition, keys: list, aliases: list) -> None:
    """Collect every key and alias a KMS record names: resources, request, response, service details."""
    resources = record.resources
    if resources:
        for resource in resources:
            arn = resource.ARN
            if isinstance(arn, str):
                if ":alias/" in arn:
                    if arn not in aliases:
                        aliases.append(arn)
                elif ":key/" in arn and arn not in keys:
                    keys.append(arn)
    if params is not None:
        for value in (params.keyId, params.sourceKeyId, params.destinationKeyId, params.targetKeyId, params.primaryKeyArn):
            if value is not None and value not in keys:  # usually the ARN resources gave already
                _add_reference(value, region, account, partition, keys, aliases)
        if isinstance(params.aliasName, str) and params.aliasName.startswith("alias/"):
            _add_reference(params.aliasName, region, account, partition, keys, aliases)
    response = record.responseElements
    if len(response) > 4:
        try:
            answer = _response_decoder.decode(response)
        except (msgspec.ValidationError, msgspec.DecodeError):
            answer = None
        if answer is not None:
            _add_reference(answer.keyId, region, account, partition, keys, aliases)
            _add_reference(answer.sourceKeyId, region, account, partition, keys, aliases)
            for metadata in (answer.keyMetadata, answer.replicaKeyMetadata):
                if isinstance(metadata, dict):
                    _add_reference(metadata.get("arn"), region, account, partition, keys, aliases)
    details = record.serviceEventDetails
    if len(details) > 4:
        try:
            _add_reference(_details_decoder.decode(details).keyId, region, account, partition, keys, aliases)
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass


# ---------------------------------------------------------------------------
# Encryption contexts


def _pairs(context) -> tuple:
    """A context as hashable pairs, in the record's order (an identity for labelled sets)."""
    if not isinstance(context, dict) or not context:
        return ()
    return tuple((str(k), v if isinstance(v, str) else _as_text(v) or "") for k, v in context.items())


# ---------------------------------------------------------------------------
# CloudTrail configuration events


def _trail_change(record: _Record, raw, row, time, region, account, partition, principal) -> TrailChange | None:
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
        trail = f"arn:{partition}:cloudtrail:{region}:{account}:trail/{trail}"
    return TrailChange(row, time, record.eventName or "", trail, request, response, record.errorCode or None, principal)


__all__ = ["Batch", "SourceInfo", "TrailChange", "load_file", "decode_records", "load_many", "KMS", "CLOUDTRAIL", "SourceError"]
