"""Normalising CloudTrail records into columns: the loader's hot path.

Each source becomes a :class:`Batch`: one numpy column per field, with strings
dictionary-encoded against the batch's own small vocabularies. The index re-codes
a batch against its global vocabularies when it merges it. Batches are plain data
so that worker processes can build them and pickle them back cheaply.

Only the fields kmstui needs are decoded, with typed msgspec structs (several
times faster than parsing whole records). A record whose fields have unexpected
types takes a slower lenient path instead of failing its file.
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


class _Identity(msgspec.Struct, gc=False):
    type: str | None = None
    principalId: str | None = None
    arn: str | None = None
    accountId: str | None = None
    userName: str | None = None
    invokedBy: str | None = None


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
    requestParameters: msgspec.Raw = _NULL
    responseElements: msgspec.Raw = _NULL
    resources: msgspec.Raw = _NULL
    serviceEventDetails: msgspec.Raw = _NULL


_TYPED_FIELDS = {name: t for name, t in _Record.__annotations__.items() if "Raw" not in str(t)}
_IDENTITY_FIELDS = tuple(_Identity.__struct_fields__)

# Request and response parts are only decoded for KMS records; their fields are typed
# loosely (Any) and checked in code, because they vary more than the envelope does.


class _KmsRequest(msgspec.Struct, gc=False):
    keyId: Any = None
    targetKeyId: Any = None
    sourceKeyId: Any = None
    destinationKeyId: Any = None
    primaryKeyArn: Any = None
    aliasName: Any = None
    encryptionContext: Any = None
    sourceEncryptionContext: Any = None
    destinationEncryptionContext: Any = None
    constraints: Any = None


class _KmsResponse(msgspec.Struct, gc=False):
    keyId: Any = None
    sourceKeyId: Any = None
    keyMetadata: Any = None
    replicaKeyMetadata: Any = None


class _Resource(msgspec.Struct, gc=False):
    ARN: Any = None


class _ServiceDetails(msgspec.Struct, gc=False):
    keyId: Any = None


_record_decoder = msgspec.json.Decoder(_Record)
_request_decoder = msgspec.json.Decoder(_KmsRequest)
_response_decoder = msgspec.json.Decoder(_KmsResponse)
_resources_decoder = msgspec.json.Decoder(list[_Resource])
_details_decoder = msgspec.json.Decoder(_ServiceDetails)


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
class Batch:
    """What one source contributed. Codes are local to the batch."""

    source: str  # label shown to the user
    path: str  # what to read again for the raw record
    delivery: Delivery | None
    format: str = ""
    records: int = 0  # records read
    ignored: Counter = field(default_factory=Counter)  # event source -> records not kept
    problems: list[str] = field(default_factory=list)
    error: str | None = None  # the source was skipped, and why
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    vocab: dict[str, list] = field(default_factory=dict)
    extra_keys: dict[int, tuple[int, ...]] = field(default_factory=dict)
    event_id_overflow: dict[int, str] = field(default_factory=dict)
    trail_changes: list[TrailChange] = field(default_factory=list)
    # (alias code, key code or 0, kind, first time, last time): what events taught about aliases
    alias_bindings: list[tuple[int, int, str, int, int]] = field(default_factory=list)
    # CloudTrail's own use of a key to encrypt a log file: (trail code, S3 object ARN)
    log_files: list[tuple[int, str]] = field(default_factory=list)

    @property
    def n(self) -> int:
        column = self.columns.get("time")
        return 0 if column is None else len(column)


# Vocabulary names, shared with the index.
STRING_COLUMNS = ("name", "evsource", "evtype", "region", "account", "ip", "agent", "errcode", "errmsg")
VOCABS = (*STRING_COLUMNS, "principal", "key", "alias", "ctx", "trail")


def load_file(path: str, label: str | None = None) -> Batch:
    """Read one source into a Batch. Never raises for bad input: the Batch says why it was skipped."""
    batch = Batch(source=label or path, path=path, delivery=delivery_of(label or path))
    try:
        split = split_records(read_source(path))
    except SourceError as error:
        batch.error = str(error)
        return batch
    except MemoryError:
        batch.error = "too large to load into memory"
        return batch
    batch.format = split.format
    batch.problems.extend(split.problems)
    try:
        _decode_records(batch, split.records)
    except Exception as error:  # a bug must cost one file, never the load
        failed = Batch(source=batch.source, path=path, delivery=batch.delivery)
        failed.error = f"could not be decoded ({type(error).__name__}: {error})"
        return failed
    return batch


def decode_records(records: list, source: str, path: str) -> Batch:
    """A Batch from raw records already in hand (LookupEvents pages, tests)."""
    batch = Batch(source=source, path=path, delivery=None, format="records")
    _decode_records(batch, records)
    return batch


def _partition(region: str | None) -> str:
    if region:
        if region.startswith("cn-"):
            return "aws-cn"
        if region.startswith("us-gov-"):
            return "aws-us-gov"
        if region.startswith("us-iso"):
            return "aws-iso" if region.startswith("us-iso-") else "aws-iso-b"
    return "aws"


def _decode_records(batch: Batch, records: list) -> None:
    vocab = {name: _Codes() for name in VOCABS}
    names, evsources, evtypes, regions, accounts = (vocab[n] for n in ("name", "evsource", "evtype", "region", "account"))
    ips, agents, errcodes, errmsgs = (vocab[n] for n in ("ip", "agent", "errcode", "errmsg"))
    principals, keys, aliases, contexts, trails = (vocab[n] for n in ("principal", "key", "alias", "ctx", "trail"))

    c_time: list[int] = []
    c_ordinal: list[int] = []
    c_rawlen: list[int] = []
    c_name: list[int] = []
    c_evsource: list[int] = []
    c_evtype: list[int] = []
    c_region: list[int] = []
    c_account: list[int] = []
    c_principal: list[int] = []
    c_ip: list[int] = []
    c_agent: list[int] = []
    c_errcode: list[int] = []
    c_errmsg: list[int] = []
    c_readonly: list[int] = []
    c_key0: list[int] = []
    c_key1: list[int] = []
    c_alias: list[int] = []
    c_ctx: list[int] = []
    c_trail: list[int] = []
    c_eid: list[bytes] = []
    extra_keys = batch.extra_keys
    eid_overflow = batch.event_id_overflow
    ignored = batch.ignored
    principal_cache: dict = {}
    bindings: dict[tuple[int, int, str, int], list[int]] = {}
    decode = _record_decoder.decode
    bad_records = 0

    for ordinal, raw in enumerate(records):
        try:
            record = decode(raw)
        except msgspec.ValidationError:
            record = _lenient(raw)
            if record is None:
                bad_records += 1
                continue
        except msgspec.DecodeError:
            bad_records += 1
            continue
        source = record.eventSource
        if source != KMS:
            if source != CLOUDTRAIL or record.eventName not in TRAIL_EVENTS:
                ignored[source or "(no event source)"] += 1
                continue
        row = len(c_time)
        region = record.awsRegion
        account = record.recipientAccountId
        time = parse_event_time(record.eventTime)
        c_time.append(time)
        c_ordinal.append(ordinal)
        c_rawlen.append(len(raw) if memoryview(raw)[1] not in _LAYOUT else _compact_len(raw))
        c_name.append(names[record.eventName])
        c_evsource.append(evsources[source])
        c_evtype.append(evtypes[record.eventType])
        c_region.append(regions[region])
        c_account.append(accounts[account])
        c_ip.append(ips[record.sourceIPAddress])
        c_agent.append(agents[record.userAgent])
        c_errcode.append(errcodes[record.errorCode or None])
        c_errmsg.append(errmsgs[record.errorMessage or None])
        read_only = record.readOnly
        c_readonly.append(-1 if read_only is None else int(read_only))

        ident = record.userIdentity
        if ident is None:
            cache_key = (None, account)
        else:
            cache_key = (ident.type, ident.arn, ident.accountId, ident.invokedBy, ident.userName, ident.principalId, account)
        principal = principal_cache.get(cache_key)
        if principal is None:
            principal = principal_cache[cache_key] = principals[_principal(ident, account)]
        c_principal.append(principal)

        event_id = record.eventID
        if event_id and len(event_id) <= EVENT_ID_WIDTH and event_id.isascii() and event_id == event_id.lower():
            c_eid.append(event_id.encode())
        else:
            c_eid.append(b"")
            if event_id:
                eid_overflow[row] = event_id

        # Keys, aliases, encryption contexts.
        found_keys: list[str] = []
        found_aliases: list[str] = []
        context_set: tuple = ()
        subject_trail = 0
        partition = _partition(region)
        if source == KMS:
            params = _kms_references(record, region, account, partition, found_keys, found_aliases)
            if params is not None:
                context_set = _contexts(params)
                if context_set:
                    trail_arn = _context_value(context_set, "aws:cloudtrail:arn")
                    if trail_arn:
                        subject_trail = trails[trail_arn]
                        s3_arn = _context_value(context_set, "aws:s3:arn")
                        if s3_arn:
                            batch.log_files.append((subject_trail, s3_arn))
                if not record.errorCode and record.eventName in ALIAS_CHANGES:
                    alias_name = params.aliasName
                    if isinstance(alias_name, str) and alias_name.startswith("alias/"):
                        alias_arn = f"arn:{partition}:kms:{region}:{account}:{alias_name}"
                        target = params.targetKeyId
                        key_arn = _key_arn(target, region, account, partition) if isinstance(target, str) else None
                        if key_arn is not None and ":alias/" in key_arn:
                            key_arn = None
                        kind = "delete" if record.eventName == "DeleteAlias" else record.eventName
                        _note(bindings, (aliases[alias_arn], keys[key_arn] if key_arn else 0, kind), time)
                        # The record also names the key the alias left (UpdateAlias needs rights on
                        # both, DeleteAlias names its key): where it pointed until this moment.
                        for previous in found_keys:
                            if previous != key_arn:
                                _note(bindings, (aliases[alias_arn], keys[previous], "before"), time)
                                break
        else:  # a CloudTrail configuration event
            change = _trail_change(record, raw, row, time, region, account, partition, principal)
            if change is not None:
                subject_trail = trails[change.trail]
                batch.trail_changes.append(change)
                log_key = change.response.get("kmsKeyId") or change.request.get("kmsKeyId")
                if isinstance(log_key, str) and log_key:
                    key_arn = _key_arn(log_key, region, account, partition)
                    if key_arn:
                        (found_aliases if ":alias/" in key_arn else found_keys).append(key_arn)

        if found_keys:
            c_key0.append(keys[found_keys[0]])
            c_key1.append(keys[found_keys[1]] if len(found_keys) > 1 else 0)
            if len(found_keys) > 2:
                extra_keys[row] = tuple(keys[k] for k in found_keys[2:])
        else:
            c_key0.append(0)
            c_key1.append(0)
        if found_aliases:
            alias_code = aliases[found_aliases[0]]
            c_alias.append(alias_code)
            if found_keys and not record.errorCode and record.eventName not in ALIAS_CHANGES:
                # a call that named the alias and its key: the alias pointed there then. The alias
                # calls themselves name old and new keys alike and are bindings of their own.
                _note(bindings, (alias_code, keys[found_keys[0]], "observed"), time)
        else:
            c_alias.append(0)
        c_ctx.append(contexts[context_set] if context_set else 0)
        c_trail.append(subject_trail)

    batch.records = len(records)
    if bad_records:
        batch.problems.append(f"{bad_records} record{'s' if bad_records != 1 else ''} that are not JSON objects skipped")
        batch.records -= bad_records
    u32 = np.uint32
    batch.columns = {
        "time": np.array(c_time, dtype=np.int64),
        "ordinal": np.array(c_ordinal, dtype=u32),
        "rawlen": np.array(c_rawlen, dtype=u32),
        "name": np.array(c_name, dtype=u32),
        "evsource": np.array(c_evsource, dtype=u32),
        "evtype": np.array(c_evtype, dtype=u32),
        "region": np.array(c_region, dtype=u32),
        "account": np.array(c_account, dtype=u32),
        "principal": np.array(c_principal, dtype=u32),
        "ip": np.array(c_ip, dtype=u32),
        "agent": np.array(c_agent, dtype=u32),
        "errcode": np.array(c_errcode, dtype=u32),
        "errmsg": np.array(c_errmsg, dtype=u32),
        "readonly": np.array(c_readonly, dtype=np.int8),
        "key0": np.array(c_key0, dtype=u32),
        "key1": np.array(c_key1, dtype=u32),
        "alias": np.array(c_alias, dtype=u32),
        "ctx": np.array(c_ctx, dtype=u32),
        "trail": np.array(c_trail, dtype=u32),
        "eid": np.array(c_eid, dtype=f"S{EVENT_ID_WIDTH}"),
    }
    batch.vocab = {name: list(codes) for name, codes in vocab.items()}
    batch.alias_bindings = [(a, k, kind, first, last) for (a, k, kind, _), (first, last) in bindings.items()]


_LAYOUT = (0x20, 0x0A, 0x0D, 0x09)  # whitespace right after "{": a pretty-printed record


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
    for name, annotation in _TYPED_FIELDS.items():
        if name not in value:
            continue
        item = value[name]
        if name == "userIdentity":
            if not isinstance(item, dict):
                value[name] = None
            else:
                value[name] = {k: _as_text(item.get(k)) for k in _IDENTITY_FIELDS if item.get(k) is not None}
        elif name == "readOnly":
            value[name] = item if isinstance(item, bool) else (str(item).lower() == "true" if item is not None else None)
        elif item is not None and not isinstance(item, str):
            value[name] = _as_text(item)
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


def _principal(ident: _Identity | None, recipient: str | None) -> tuple:
    """(short, arn, identity type, caller account, invoked by, cross-account) for the principal vocabulary."""
    if ident is None:
        return ("(unknown)", None, None, None, None, False)
    kind = ident.type
    arn = ident.arn
    account = ident.accountId
    invoked = ident.invokedBy
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
    cross = bool(account and recipient and account != recipient)
    return (short, arn, kind, account, invoked, cross)


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


def _kms_references(record: _Record, region, account, partition, keys: list, aliases: list) -> _KmsRequest | None:
    """Collect every key and alias a KMS record names (resources, request, response, service
    details) and return the decoded request for the caller's further use."""
    resources = record.resources
    if len(resources) > 4:
        try:
            for resource in _resources_decoder.decode(resources):
                arn = resource.ARN
                if isinstance(arn, str):
                    if ":alias/" in arn:
                        if arn not in aliases:
                            aliases.append(arn)
                    elif ":key/" in arn and arn not in keys:
                        keys.append(arn)
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
    params = None
    request = record.requestParameters
    if len(request) > 4:
        try:
            params = _request_decoder.decode(request)
        except (msgspec.ValidationError, msgspec.DecodeError):
            params = None
        if params is not None:
            for value in (params.keyId, params.sourceKeyId, params.destinationKeyId, params.targetKeyId, params.primaryKeyArn):
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
    return params


# ---------------------------------------------------------------------------
# Encryption contexts


def _pairs(context) -> tuple:
    if not isinstance(context, dict) or not context:
        return ()
    return tuple(sorted((str(k), v if isinstance(v, str) else _as_text(v) or "") for k, v in context.items()))


def _contexts(params: _KmsRequest) -> tuple:
    """Each encryption context of a request, labelled with where it came from."""
    found = []
    pairs = _pairs(params.encryptionContext)
    if pairs:
        found.append(("", pairs))
    pairs = _pairs(params.sourceEncryptionContext)
    if pairs:
        found.append(("source", pairs))
    pairs = _pairs(params.destinationEncryptionContext)
    if pairs:
        found.append(("destination", pairs))
    constraints = params.constraints
    if isinstance(constraints, dict):
        pairs = _pairs(constraints.get("encryptionContextSubset"))
        if pairs:
            found.append(("grant constraint (subset)", pairs))
        pairs = _pairs(constraints.get("encryptionContextEquals"))
        if pairs:
            found.append(("grant constraint (equals)", pairs))
    return tuple(found)


def _context_value(context_set: tuple, key: str) -> str | None:
    for _label, pairs in context_set:
        for k, v in pairs:
            if k == key:
                return v
    return None


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


def load_many(paths: list[tuple[str, str]]) -> list[Batch]:
    """Load several sources in this process (the worker-process entry point)."""
    return [load_file(path, label) for path, label in paths]


__all__ = ["Batch", "TrailChange", "load_file", "decode_records", "load_many", "KMS", "CLOUDTRAIL", "SourceError"]
