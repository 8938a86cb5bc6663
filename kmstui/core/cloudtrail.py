"""CloudTrail records as kmstui reads them: the msgspec types of the fields it keeps, their
list as columns, and the general path that decodes typed records (a whole file in one call,
then record by record where a field has an unexpected type, then leniently). This is the
reference the C scanner (``_scan.c``, glued in decode.py) is held equal to."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import orjson

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


class _Codes(dict):
    """A batch-local vocabulary: value -> code, codes in first-seen order, None is 0."""

    def __init__(self):
        super().__init__({None: 0})

    def __missing__(self, value):
        code = self[value] = len(self)
        return code


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


def _typed(data: bytes) -> list[_Record] | None:
    """A CloudTrail log file decoded in one call; None when some field has an unexpected
    type (the records are then decoded one by one, leniently where needed)."""
    try:
        return _envelope_decoder.decode(data).Records
    except _UNREADABLE:
        return None


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


_READ_ONLY = {None: -1, True: 1, False: 0}


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
