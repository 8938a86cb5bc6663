"""Alibaba Cloud ActionTrail events: KMS calls and ActionTrail's own trail changes, as columns.

ActionTrail writes events of its own shape (``acsRegion``, ``eventRW``, ``userIdentity``
with ``ram-user`` and ``assumed-role``, request parameters capitalised: ``KeyId``,
``EncryptionContext``). :mod:`kmstui.core.sources` tells them from CloudTrail's by content
and hands the raw records over as delivered: a file from OSS (gzipped, a JSON array or
lines of events), or a Simple Log Service export (JSON lines whose event is under
``event``, as an object, a JSON string or ``event.``-prefixed fields; or CSV with an
``event`` column). This module maps each event onto the same columns as a CloudTrail
record, with the ``cloud`` column saying ``alibaba``: the panes, the filter language,
group-by and the exports then work on both clouds alike.

Where Alibaba's documentation spells a field two ways (``eventId`` and ``eventID``,
``sourceIpAddress`` and ``sourceIPAddress``, ``KeyId`` and ``keyId``) both are read.
Every value is kept as the record gives it; what is not text is written as its JSON.
"""

from __future__ import annotations

from itertools import chain
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import orjson

from .decode import (
    EVENT_ID_WIDTH,
    UNREADABLE,
    as_text,
    combinations,
    interned,
    note_binding,
    parameters_of,
    recode,
)
from .model import Identity
from .timeutil import parse_event_times

if TYPE_CHECKING:
    from .decode import SourceInfo

CLOUD = "alibaba"
# what the cloud column holds: a code into this tuple (0 for AWS, every record before this one)
CLOUDS = ("aws", "alibaba")
ALIBABA = CLOUDS.index(CLOUD)

# ActionTrail's own trail changes, as CloudTrail names its (the trails pane replays them)
TRAIL_EVENTS = frozenset({"CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"})
ALIAS_CHANGES = frozenset({"CreateAlias", "UpdateAlias", "DeleteAlias"})

# request fields that name a key (first the key the call is about), in both spellings
_KEY_FIELDS = (
    "KeyId",
    "keyId",
    "SourceKeyId",
    "sourceKeyId",
    "DestinationKeyId",
    "destinationKeyId",
    "TargetKeyId",
    "targetKeyId",
)
_ALIAS_FIELDS = ("AliasName", "aliasName")
_CONTEXT_FIELDS = (
    ("", ("EncryptionContext", "encryptionContext")),
    ("source", ("SourceEncryptionContext", "sourceEncryptionContext")),
    ("destination", ("DestinationEncryptionContext", "destinationEncryptionContext")),
)
_TRAIL_NAME_FIELDS = ("Name", "name", "TrailName", "trailName")


def is_kms(source: str | None, service: object) -> bool:
    """An event of Alibaba Cloud KMS: ``kms.REGION.aliyuncs.com``, ``kms-intranet...`` or
    ``kms-vpc...``, or an event whose serviceName is Kms."""
    if isinstance(service, str) and service.lower() == "kms":
        return True
    return bool(source) and source.startswith(("kms.", "kms-")) and source.endswith(".aliyuncs.com")  # type: ignore[union-attr]


def is_actiontrail(source: str | None) -> bool:
    """ActionTrail's own API (``actiontrail.REGION.aliyuncs.com``, ``actiontrail-openapi-share...``)."""
    return bool(source) and source.startswith("actiontrail") and source.endswith(".aliyuncs.com")  # type: ignore[union-attr]


def unwrap(value: object) -> dict | None:
    """The ActionTrail event of a record as delivered: the event itself (OSS), or a Simple
    Log Service log with it under ``event`` (an object or a JSON string) or spread over
    ``event.``-prefixed fields. None when there is no event in it."""
    if not isinstance(value, dict):
        return None
    if "eventName" in value or "acsRegion" in value or "eventRW" in value or "eventSource" in value:
        return value
    event = value.get("event")
    if isinstance(event, str):
        try:
            event = orjson.loads(event)
        except orjson.JSONDecodeError:
            event = None
    if isinstance(event, dict):
        return event
    nested: dict = {}
    for name, item in value.items():
        if isinstance(name, str) and name.startswith("event."):
            *parents, last = name[6:].split(".")
            at = nested
            for part in parents:
                inner = at.get(part)
                if not isinstance(inner, dict):
                    inner = at[part] = {}
                at = inner
            at[last] = item
    return nested or None


def _first(mapping: dict, names: tuple[str, ...]) -> Any:
    for name in names:
        value = mapping.get(name)
        if value is not None:
            return value
    return None


def _object(value: object) -> dict:
    """A member that should be an object: itself, or one parsed from a JSON string, or empty."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value[:1] == "{":
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


# ---------------------------------------------------------------------------
# Principals


def principal(ident: object) -> Identity:
    """The principal of an ActionTrail userIdentity, in short form: ``root``,
    ``ram-user/alice``, ``assumed-role/Admin (session)``, ``service:...``."""
    if not isinstance(ident, dict):
        return Identity("(unknown)", None, None, None, None)
    kind = as_text(ident.get("type"))
    account = as_text(ident.get("accountId"))
    arn = as_text(ident.get("arn"))
    name = as_text(ident.get("userName"))
    principal_id = as_text(ident.get("principalId"))
    invoked = as_text(ident.get("invokedBy"))
    if kind == "root-account":
        short = "root"
    elif kind == "assumed-role":
        role = session = None
        if arn and ":assumed-role/" in arn:
            role, _, session = arn.split(":assumed-role/", 1)[1].partition("/")
        issuer = _object(_object(ident.get("sessionContext")).get("sessionIssuer"))
        role = role or as_text(issuer.get("userName"))
        for text in (name, principal_id):  # role:session, or roleId:session
            if text and ":" in text:
                head, _, tail = text.partition(":")
                role = role or (head if text is name else None)
                session = session or tail
        role = role or name or principal_id or "?"
        short = f"assumed-role/{role} ({session})" if session else f"assumed-role/{role}"
    elif kind == "system":
        short = f"service:{invoked or name or principal_id or '?'}"
    elif kind:
        short = f"{kind}/{name or principal_id or '?'}"
    else:
        short = name or principal_id or invoked or "(unknown)"
    return Identity(short, arn, kind, account, invoked)


# ---------------------------------------------------------------------------
# Keys and aliases


def key_arn(value: str, region: str | None, account: str | None) -> str | None:
    """An Alibaba key or alias ARN (``acs:kms:REGION:ACCOUNT:key/ID``) for a reference as a
    request writes it: an ARN, ``alias/name`` or a key id."""
    value = value.strip()
    if not value:
        return None
    if value.startswith("acs:"):
        return value
    where = f"acs:kms:{region or ''}:{account or ''}:"
    return where + value if value.startswith("alias/") else f"{where}key/{value}"


def _references(event: dict, request: dict, region, account) -> tuple[list[str], list[str]]:
    """Every key and alias the event names: its request, its response, its referenced resources."""
    keys: list[str] = []
    aliases: list[str] = []

    def add(value: object) -> None:
        if not isinstance(value, str):
            return
        arn = key_arn(value, region, account)
        if arn is None:
            return
        target = aliases if ":alias/" in arn else keys
        if arn not in target:
            target.append(arn)

    for name in _KEY_FIELDS:
        add(request.get(name))
    alias = _first(request, _ALIAS_FIELDS)
    if isinstance(alias, str) and alias.startswith("alias/"):
        add(alias)
    response = _object(event.get("responseElements"))
    if response:
        add(response.get("KeyId"))
        metadata = response.get("KeyMetadata")
        if isinstance(metadata, dict):
            add(metadata.get("Arn"))
            add(metadata.get("KeyId"))
    resources = event.get("referencedResources")
    if isinstance(resources, dict):  # {"ACS::KMS::Key": ["id", ...]}
        for kind, names in resources.items():
            if isinstance(kind, str) and "kms" in kind.lower() and isinstance(names, list):
                for item in names:
                    add(item)
    kind, names = event.get("resourceType"), event.get("resourceName")
    if isinstance(kind, str) and "kms" in kind.lower() and isinstance(names, str):
        for item in names.split(";"):
            add(item)
    return keys, aliases


def _context_groups(request: dict) -> list[tuple[str, dict]]:
    """The event's encryption contexts, labelled as CloudTrail's are (a JSON object, or a
    JSON string of one, as Alibaba's SDKs send it)."""
    groups = []
    for label, names in _CONTEXT_FIELDS:
        context = _object(_first(request, names))
        if context:
            groups.append((label, context))
    return groups


# ---------------------------------------------------------------------------
# The columns
#
# As CloudTrail's general path does (decode.py), a source's events are decoded into typed
# records (msgspec: only the fields kmstui reads); then each field becomes codes into its
# distinct values, and everything after works on distinct values or combinations of them: a
# principal, the keys a call names, a context is resolved once however many events repeat it,
# numpy spreading the answers over the rows. Only the rare events (alias and trail changes,
# calls that change something) are read one by one.

_NULL = msgspec.Raw(b"null")


class _Request(msgspec.Struct, gc=False):
    """The request fields kmstui reads, in both spellings; the contexts raw (their text is a key)."""

    KeyId: Any = None
    keyId: Any = None
    SourceKeyId: Any = None
    sourceKeyId: Any = None
    DestinationKeyId: Any = None
    destinationKeyId: Any = None
    TargetKeyId: Any = None
    targetKeyId: Any = None
    AliasName: Any = None
    aliasName: Any = None
    EncryptionContext: msgspec.Raw = _NULL
    encryptionContext: msgspec.Raw = _NULL
    SourceEncryptionContext: msgspec.Raw = _NULL
    sourceEncryptionContext: msgspec.Raw = _NULL
    DestinationEncryptionContext: msgspec.Raw = _NULL
    destinationEncryptionContext: msgspec.Raw = _NULL


class _Response(msgspec.Struct, gc=False):
    KeyId: Any = None
    KeyMetadata: msgspec.Raw = _NULL


class _Event(msgspec.Struct, gc=False):
    """An ActionTrail event as kmstui reads it: values typed loosely (Any) and made text where
    read, the identity and resources raw (their text is a key), request and response typed
    (an object, or a JSON string of one)."""

    eventId: Any = None
    eventID: Any = None
    eventName: Any = None
    eventSource: Any = None
    serviceName: Any = None
    eventTime: Any = None
    eventType: Any = None
    eventCategory: Any = None
    acsRegion: Any = None
    regionId: Any = None
    recipientAccountId: Any = None
    sourceIpAddress: Any = None
    sourceIPAddress: Any = None
    userAgent: Any = None
    errorCode: Any = None
    errorMessage: Any = None
    eventRW: Any = None
    userIdentity: msgspec.Raw = _NULL
    requestParameters: _Request | str | None = None
    responseElements: _Response | str | None = None
    referencedResources: msgspec.Raw = _NULL
    resourceType: Any = None
    resourceName: Any = None


_event_decoder = msgspec.json.Decoder(_Event)
_request_decoder = msgspec.json.Decoder(_Request)
_response_decoder = msgspec.json.Decoder(_Response)
_EMPTY_REQUEST = _Request()
_EMPTY_RESPONSE = _Response()
_PLAIN = {str, type(None)}
_READ_WRITE = {"read": 1, "write": 0}
_REQUEST_KEYS = (*_KEY_FIELDS, *_ALIAS_FIELDS)
# an event's fields of few values, which repeat together: read and interned as one (the first
# three, in this order, decide whether an event is kept: _kind)
_ENVELOPE = (
    "eventSource",
    "serviceName",
    "eventName",
    "eventType",
    "eventCategory",
    "eventRW",
    "acsRegion",
    "regionId",
    "recipientAccountId",
    "errorCode",
)
_RECIPIENT = _ENVELOPE.index("recipientAccountId")
_REQUEST_CONTEXTS = tuple(name for _, names in _CONTEXT_FIELDS for name in names)


def _typed(text) -> _Event | None:
    """One event's text as a typed record; a request or response that is neither an object nor
    text is read as none (as it always was); None for what is not a JSON object."""
    try:
        return _event_decoder.decode(text)
    except msgspec.ValidationError:
        pass
    except UNREADABLE:
        return None
    try:
        value = msgspec.json.decode(text)
    except UNREADABLE:
        return None
    if not isinstance(value, dict):
        return None
    for name in ("requestParameters", "responseElements"):
        if not isinstance(value.get(name), (dict, str, type(None))):
            value[name] = None
    try:
        return _event_decoder.decode(msgspec.json.encode(value))
    except (*UNREADABLE, TypeError):
        return None


def _unwrapped(raw) -> tuple[Any, _Event | None]:
    """A record that is not an event itself (a Simple Log Service log): its event's text and
    typed record, as :func:`unwrap` finds it; (None, None) when there is none."""
    try:
        value = msgspec.json.decode(raw)
    except UNREADABLE:
        return None, None
    event = unwrap(value)
    if event is None:
        return None, None
    text = raw if event is value else msgspec.json.encode(event)
    return text, _typed(text)


def _decoded(raws: list) -> tuple[list[_Event], list, list[int], int]:
    """A source's records as typed events (each leniently where one of them does not fit): the
    events, each one's text, its record's position, and how many records held none."""
    try:
        typed: list[_Event | None] = list(map(_event_decoder.decode, raws))
    except UNREADABLE:  # some field of an unexpected type, or a record that is not an object
        typed = [_typed(raw) for raw in raws]
    odd = [  # what is not an event itself (a Simple Log Service log), or not one at all
        i
        for i, event in enumerate(typed)
        if event is None
        or (event.eventName is None and event.eventSource is None and event.acsRegion is None and event.eventRW is None)
    ]
    if not odd:  # every record an event, as delivered to OSS
        return typed, raws, list(range(len(raws))), 0  # type: ignore[return-value]
    texts = list(raws)
    for i in odd:
        texts[i], typed[i] = _unwrapped(raws[i])
    kept = [i for i, event in enumerate(typed) if event is not None]
    return [typed[i] for i in kept], [texts[i] for i in kept], kept, len(raws) - len(kept)  # type: ignore[misc]


def _column(items: list) -> tuple[np.ndarray, list]:
    """Codes into distinct values (0 is None); values of other types than text kept apart by their JSON."""
    if items.count(None) == len(items):  # a field (or a spelling of one) these events do not have
        return np.zeros(len(items), dtype=np.uint32), [None]
    return _interned_text(items, lambda values: values)


def _interned_text(items: list, values_of) -> tuple[np.ndarray, list]:
    """``items`` interned as they are when every distinct one is text (``values_of`` gives the
    values inside one), else by their JSON text: 1 and true, or 1 and 1.0, stay apart."""
    try:
        column = interned(items, "str")
    except TypeError:  # a list or an object: not hashable
        return interned(items, "any")
    if set(map(type, values_of(column[1][1:]))) <= _PLAIN:
        return column
    return interned(items, "any")


class _RawCodes(dict):
    """Raw JSON text -> code, codes in first-seen order; null is 0."""

    def __init__(self):
        super().__init__({b"null": 0})

    def __missing__(self, text: bytes) -> int:
        code = self[text] = len(self)
        return code


def _together(objects: list, names: tuple[str, ...]) -> tuple[np.ndarray, list]:
    """Codes into the distinct combinations of several fields of each object (a tuple each),
    read in one pass: fields that repeat together are interned once, not once each."""
    return _interned_text(list(map(attrgetter(*names), objects)), chain.from_iterable)


def _raw_column(items: list) -> tuple[np.ndarray, list]:
    """Codes into distinct raw JSON texts (0 is null or absent)."""
    if items.count(_NULL) == len(items):  # absent throughout: one pass in C
        return np.zeros(len(items), dtype=np.uint32), [None]
    codes = _RawCodes()
    column = np.fromiter(map(codes.__getitem__, map(bytes, items)), dtype=np.uint32, count=len(items))
    return column, [None, *list(codes)[1:]]


def _decoded_texts(values: list) -> list:
    """Distinct raw JSON texts decoded (None stays None)."""
    return [None if text is None else msgspec.json.decode(text) for text in values]


def _resolve(columns: list[tuple[np.ndarray, Any]], rows: np.ndarray, answer, dtype=np.uint32) -> np.ndarray:
    """``answer(*values)`` once per distinct combination of the columns' values over ``rows``
    (``columns``: codes over every row, and the values they index), spread over those rows."""
    if not len(rows):
        return np.zeros(0, dtype=dtype)
    fields = [(codes[rows], values) for codes, values in columns]
    group, firsts = combinations(fields)
    answers = [answer(*(values[codes[first]] for codes, values in fields)) for first in firsts.tolist()]
    return np.array(answers, dtype=dtype)[group]


def _kind(source, service, name) -> int:
    """0: not kept; 1: a KMS event; 2: one of ActionTrail's own trail changes."""
    source, name = as_text(source), as_text(name)
    if is_kms(source, service):
        return 1
    return 2 if name in TRAIL_EVENTS and is_actiontrail(source) else 0


def _request(value: object) -> _Request:
    if type(value) is _Request:
        return value
    if isinstance(value, str) and value[:1] == "{":  # a JSON string of an object
        try:
            return _request_decoder.decode(value)
        except UNREADABLE:
            pass
    return _EMPTY_REQUEST


def _response(value: object) -> _Response:
    if type(value) is _Response:
        return value
    if isinstance(value, str) and value[:1] == "{":
        try:
            return _response_decoder.decode(value)
        except UNREADABLE:
            pass
    return _EMPTY_RESPONSE


def _named(requested: tuple[str, ...], region, account, *fields) -> tuple[list[str], list[str]]:
    """:func:`_references` of one combination of what names keys: the request's fields named in
    ``requested`` (those the source's events have), the response's KeyId and KeyMetadata, the
    referenced resources, resource type and name (raw JSON texts where so typed)."""
    *values, response_key, metadata, resources, kind, names = fields
    request = {name: value for name, value in zip(requested, values, strict=True) if value is not None}
    response: dict = {}
    if response_key is not None:
        response["KeyId"] = response_key
    if metadata is not None:
        response["KeyMetadata"] = msgspec.json.decode(metadata)
    event = {
        "responseElements": response,
        "referencedResources": None if resources is None else msgspec.json.decode(resources),
        "resourceType": kind,
        "resourceName": names,
    }
    return _references(event, request, region, account)


def _event_id_column(ids: list, overflow: dict[int, str]) -> np.ndarray:
    """Event ids as the index's fixed 36-byte strings: ActionTrail's upper-case UUIDs go
    there as CloudTrail's lower-case ones do (the index keeps either as 16 bytes and a case
    flag); an id the strings cannot hold exactly (longer, not ASCII, a NUL) is kept whole
    in ``overflow``, by row."""
    column = np.zeros(len(ids), dtype=f"S{EVENT_ID_WIDTH}")
    fits = [
        row
        for row, event_id in enumerate(ids)
        if event_id and len(event_id) <= EVENT_ID_WIDTH and event_id.isascii() and "\0" not in event_id
    ]
    if fits:
        column[fits] = [ids[row] for row in fits]
    overflow.update((row, event_id) for row, event_id in enumerate(ids) if event_id and len(column[row]) == 0)
    return column


def _kept(column: tuple[np.ndarray, list], rows: np.ndarray) -> tuple[np.ndarray, list]:
    codes, values = column
    return codes[rows], values


class _Contexts:
    """A source's encryption contexts: each distinct set once (the same context as an object and
    as a JSON string is one set)."""

    def __init__(self, contexts):
        self.contexts = contexts  # the batch's (decode's _ContextBuilder)
        self.codes: dict[bytes, int] = {}

    def code(self, *texts) -> int:
        """The context code of one combination of the request's context fields (raw JSON texts,
        in ``_REQUEST_CONTEXTS`` order)."""
        request = {name: msgspec.json.decode(text) for name, text in zip(_REQUEST_CONTEXTS, texts, strict=True) if text}
        groups = _context_groups(request)
        if not groups:
            return 0
        try:
            identity: bytes | None = orjson.dumps(groups)
        except TypeError:  # a value orjson cannot write (an integer past 64 bits): not shared
            identity = None
        code = self.codes.get(identity) if identity is not None else None
        if code is None:
            code = self.contexts._add(groups)
            if identity is not None:
                self.codes[identity] = code
        return code


def _trail_change(text, row: int, time: int, region: str | None, account: str | None, principal: int):
    """One of ActionTrail's own trail changes, read whole; None when it names no trail."""
    from .decode import TrailChange  # decode imports this module lazily, for its dispatch

    try:
        event = msgspec.json.decode(text)
    except UNREADABLE:
        return None
    request = _object(event.get("requestParameters"))
    response = _object(event.get("responseElements"))
    name = _first(request, _TRAIL_NAME_FIELDS) or _first(response, _TRAIL_NAME_FIELDS)
    if not isinstance(name, str) or not name:
        return None
    arn = name if name.startswith("acs:") else f"acs:actiontrail:{region}:{account}:trail/{name}"
    error = as_text(event.get("errorCode")) or None
    return TrailChange(row, time, as_text(event.get("eventName")) or "", arn, request, response, error, principal)


def _learn_aliases(
    builder,
    names: tuple[np.ndarray, list],
    rows: np.ndarray,
    errors: np.ndarray,
    times: np.ndarray,
    key0,
    alias,
    found,
    combo,
) -> None:
    """What successful calls teach about aliases, as CloudTrail's do: an alias change at its time
    (and the key a change names besides its target: where the alias pointed until then), a call
    that named an alias and a key as the span it was seen in. ``names``: codes of the events'
    names (by ``rows``, the KMS events among the kept ones) and the names they index."""
    named = (alias[rows] != 0) & (errors[rows] == 0)
    if not named.any():
        return
    keys = builder.vocab["key"]
    observed: dict[tuple[int, int], list[int]] = {}
    for i in np.flatnonzero(named).tolist():
        row = int(rows[i])
        name, key, time = as_text(names[1][names[0][i]]), int(key0[row]), int(times[row])
        if name in ALIAS_CHANGES:
            target = key if name != "DeleteAlias" else 0
            note_binding(builder.bindings, int(alias[row]), target, "delete" if name == "DeleteAlias" else name, time)
            for other in found[combo[i]][0]:
                if keys[other] != target:
                    note_binding(builder.bindings, int(alias[row]), keys[other], "before", time)
                    break
        elif key:
            span = observed.setdefault((int(alias[row]), key), [time, time])
            span[0], span[1] = min(span[0], time), max(span[1], time)
    for (alias_code, key), (first, last) in observed.items():
        note_binding(builder.bindings, alias_code, key, "observed", first)
        note_binding(builder.bindings, alias_code, key, "observed", last)


def _add_events(
    builder, info: SourceInfo, events: list[_Event], texts: list, lengths: list[int], ordinals: list[int]
) -> None:
    """Add a source's typed events (``texts``: each one's JSON) to the builder's columns."""
    batch = builder.batch
    vocab = builder.vocab

    def field(name: str) -> list:
        return list(map(attrgetter(name), events))

    def either(first: str, second: str) -> list:
        """The first field, or where it is absent or null the second (two spellings of one)."""
        one, other = field(first), field(second)
        if set(map(type, other)) == {type(None)}:
            return one
        return [a if a is not None else b for a, b in zip(one, other, strict=True)]

    envelope, combos = _together(events, _ENVELOPE)
    source, name = (
        (envelope, [None, *(c[_ENVELOPE.index(n)] for c in combos[1:])]) for n in ("eventSource", "eventName")
    )
    kind = recode(envelope, combos, lambda fields: _kind(*fields[:3]), np.uint8)
    for code, ignored in enumerate(np.bincount(source[0][kind == 0], minlength=len(source[1])).tolist()):
        if ignored:
            info.ignored[as_text(source[1][code]) or "(no event source)"] += ignored
    kept = np.flatnonzero(kind)
    count = len(kept)
    info.events += count
    kind = kind[kept]

    def text_column(vocab_name: str, column: tuple[np.ndarray, list], blank_is_none: bool = False) -> np.ndarray:
        lookup = vocab[vocab_name]
        if blank_is_none:
            return recode(*_kept(column, kept), lambda value: lookup[as_text(value) or None])
        return recode(*_kept(column, kept), lambda value: lookup[as_text(value)])

    def envelope_columns() -> dict[str, np.ndarray]:
        """The columns the envelope decides, worked out once per distinct envelope of the kept events."""
        used = np.flatnonzero(np.bincount(envelope[kept], minlength=len(combos)))
        table = np.zeros((len(combos), 7), dtype=np.int64)
        for code in used.tolist():
            e = dict(zip(_ENVELOPE, combos[code], strict=True))
            rw = e["eventRW"]
            table[code] = (
                vocab["name"][as_text(e["eventName"])],
                vocab["evsource"][as_text(e["eventSource"])],
                vocab["evtype"][as_text(e["eventType"])],
                vocab["evcat"][as_text(e["eventCategory"])],
                vocab["region"][as_text(e["acsRegion"] or e["regionId"])],
                vocab["errcode"][as_text(e["errorCode"]) or None],
                _READ_WRITE.get(rw.lower(), -1) if isinstance(rw, str) else -1,
            )
        picked = table[envelope[kept]]
        names = ("name", "evsource", "evtype", "evcat", "region", "errcode")
        columns = {name: picked[:, i].astype(np.uint32) for i, name in enumerate(names)}
        columns["readonly"] = picked[:, 6].astype(np.int8)
        return columns

    identity_codes, identity_texts = _raw_column(field("userIdentity"))
    identity = (identity_codes, _decoded_texts(identity_texts))

    def account_of(recipient, ident) -> int:
        account = as_text(recipient)
        if account is None and isinstance(ident, dict):
            account = as_text(ident.get("accountId"))
        return vocab["account"][account]

    texts_of_times = list(map(field("eventTime").__getitem__, kept.tolist()))  # nearly one a second: not shared
    if not set(map(type, texts_of_times)) <= _PLAIN:
        texts_of_times = list(map(as_text, texts_of_times))
    times = parse_event_times(texts_of_times)
    ids = either("eventId", "eventID")  # one per event: no repeats to share
    if not set(map(type, ids)) <= _PLAIN:
        ids = list(map(as_text, ids))
    ids = [ids[i] for i in kept.tolist()]
    overflow: dict[int, str] = {}
    eid = _event_id_column(ids, overflow)
    out: dict[str, np.ndarray] = {
        "time": times,
        "ordinal": np.array(ordinals, dtype=np.uint32)[kept],
        "rawlen": np.array(lengths, dtype=np.uint32)[kept],
        "eid": eid,
        "cloud": np.full(count, ALIBABA, dtype=np.uint8),
        "account": _resolve([(envelope, combos), identity], kept, lambda e, ident: account_of(e[_RECIPIENT], ident)),
        "ip": text_column("ip", _column(either("sourceIpAddress", "sourceIPAddress"))),
        "agent": text_column("agent", _column(field("userAgent"))),
        "errmsg": text_column("errmsg", _column(field("errorMessage")), blank_is_none=True),
        "principal": recode(identity_codes[kept], identity[1], lambda ident: builder.principals[principal(ident)]),
        **envelope_columns(),
    }
    regions, accounts = list(vocab["region"]), list(vocab["account"])  # code -> text
    key0, key1, alias, ctx, trail = (np.zeros(count, dtype=np.uint32) for _ in range(5))
    kms = np.flatnonzero(kind == 1)  # KMS events, as rows of the kept ones
    base = builder.rows
    if len(kms):
        rows = kept[kms]  # the same, as positions among the source's events
        requests = [value if type(value) is _Request else _request(value) for value in field("requestParameters")]
        responses = [value if type(value) is _Response else _response(value) for value in field("responseElements")]
        asked = {name: list(map(attrgetter(name), requests)) for name in _REQUEST_KEYS}
        requested = tuple(name for name, values in asked.items() if values.count(None) != len(values))
        naming = [
            (out["region"][kms], regions),
            (out["account"][kms], accounts),
            *(_kept(_column(asked[name]), rows) for name in requested),
            _kept(_column(list(map(attrgetter("KeyId"), responses))), rows),
            _kept(_raw_column(list(map(attrgetter("KeyMetadata"), responses))), rows),
            _kept(_raw_column(field("referencedResources")), rows),
            _kept(_column(field("resourceType")), rows),
            _kept(_column(field("resourceName")), rows),
        ]
        combo, firsts = combinations(naming)
        found = [_named(requested, *(values[codes[first]] for codes, values in naming)) for first in firsts.tolist()]
        keys, aliases = vocab["key"], vocab["alias"]
        table = np.zeros((len(found), 3), dtype=np.uint32)  # first key, second key, first alias
        for c, (found_keys, found_aliases) in enumerate(found):
            codes = [keys[k] for k in found_keys]
            table[c, : min(2, len(codes))] = codes[:2]
            table[c, 2] = aliases[found_aliases[0]] if found_aliases else 0
            if len(codes) > 2:
                extra = tuple(codes[2:])
                for row in kms[combo == c].tolist():
                    batch.extra_keys[base + row] = extra
        key0[kms], key1[kms], alias[kms] = table[combo, 0], table[combo, 1], table[combo, 2]
        ctx[kms] = _resolve(
            [_raw_column(list(map(attrgetter(n), requests))) for n in _REQUEST_CONTEXTS],
            rows,
            _Contexts(builder.contexts).code,
        )
        _learn_aliases(builder, _kept(name, rows), kms, out["errcode"], times, key0, alias, found, combo)
    for row in np.flatnonzero(kind == 2).tolist():  # ActionTrail's own trail changes: few, each read whole
        change = _trail_change(
            texts[int(kept[row])],
            base + row,
            int(times[row]),
            regions[out["region"][row]],
            accounts[out["account"][row]],
            int(out["principal"][row]),
        )
        if change is not None:
            trail[row] = vocab["trail"][change.trail]
            batch.trail_changes.append(change)
    out.update(key0=key0, key1=key1, alias=alias, ctx=ctx, trail=trail)
    for row in np.flatnonzero(out["readonly"] != 1).tolist():  # calls that change something keep their parameters
        parameters = parameters_of(texts[int(kept[row])])
        if parameters is not None:
            batch.parameters[base + row] = parameters
    batch.event_id_overflow.update((base + row, event_id) for row, event_id in overflow.items())
    again = bool(batch.sources) and batch.sources[-1] is info  # the next part of a source already added
    out["origin"] = np.full(count, len(batch.sources) - again, dtype=np.uint32)
    for column_name, column in out.items():
        builder.chunks.setdefault(column_name, []).append(column)
    builder.rows += count
    if not again:
        batch.sources.append(info)


def add_records(builder, info: SourceInfo, raws: list) -> None:
    """Add a source's ActionTrail records (raw, as delivered) to a batch builder
    (:class:`kmstui.core.decode._BatchBuilder`): one clear sentence for what cannot be read."""
    events, texts, ordinals, unreadable = _decoded(raws)
    info.records += len(events)
    if unreadable:
        info.problems.append(
            "1 record that is not an ActionTrail event skipped"
            if unreadable == 1
            else f"{unreadable:,} records that are not ActionTrail events skipped"
        )
    lengths = list(map(len, raws)) if len(ordinals) == len(raws) else [len(raws[i]) for i in ordinals]
    _add_events(builder, info, events, texts, lengths, ordinals)


def cloud_of_arn(arn: str | None) -> str:
    """The cloud of a key or trail ARN: ``acs:`` is Alibaba's."""
    return CLOUD if arn and arn.startswith("acs:") else "aws"


__all__ = ["ALIBABA", "CLOUD", "CLOUDS", "add_records", "cloud_of_arn", "key_arn", "principal", "unwrap"]
