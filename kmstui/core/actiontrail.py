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

from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from .decode import as_text
from .model import AliasBinding, Identity
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
_IDENTITY_KEYS = ("type", "accountId", "arn", "userName", "principalId", "invokedBy")


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


class _Columns:
    """The kept events of one source, as the builder's columns and side tables."""

    def __init__(self, builder, info: SourceInfo):
        self.builder = builder
        self.info = info
        self.contexts: dict[bytes, int] = {}
        self.rows: dict[str, list] = {
            name: []
            for name in (
                "time",
                "ordinal",
                "rawlen",
                "name",
                "evsource",
                "evtype",
                "evcat",
                "region",
                "account",
                "ip",
                "agent",
                "errcode",
                "errmsg",
                "readonly",
                "principal",
                "key0",
                "key1",
                "alias",
                "ctx",
                "trail",
            )
        }
        self.ids: list[str | None] = []
        self.extra: list[tuple[int, tuple[int, ...]]] = []
        self.parameters: list[tuple[int, bytes]] = []
        self.changes: list[tuple[int, str, str, dict, dict, str | None]] = []
        self.bindings: list[tuple[int, int, int, str]] = []  # (row, alias, key, kind)
        self.principals: dict[tuple, int] = {}
        self.references: dict[tuple, tuple[list[str], list[str]]] = {}

    def add(self, ordinal: int, raw, event: dict) -> bool:
        """Add one event; False when it is neither KMS nor an ActionTrail trail change."""
        source = as_text(event.get("eventSource"))
        name = as_text(event.get("eventName"))
        kms = is_kms(source, event.get("serviceName"))
        trail_change = not kms and name in TRAIL_EVENTS and is_actiontrail(source)
        if not kms and not trail_change:
            self.info.ignored[source or "(no event source)"] += 1
            return False
        vocab = self.builder.vocab
        rows = self.rows
        row = len(rows["time"])
        ident = event.get("userIdentity")
        region = as_text(event.get("acsRegion") or event.get("regionId"))
        account = as_text(event.get("recipientAccountId"))
        if account is None and isinstance(ident, dict):
            account = as_text(ident.get("accountId"))
        error = as_text(event.get("errorCode")) or None
        rows["time"].append(as_text(event.get("eventTime")))
        rows["ordinal"].append(ordinal)
        rows["rawlen"].append(len(raw))
        rows["name"].append(vocab["name"][name])
        rows["evsource"].append(vocab["evsource"][source])
        rows["evtype"].append(vocab["evtype"][as_text(event.get("eventType"))])
        rows["evcat"].append(vocab["evcat"][as_text(event.get("eventCategory"))])
        rows["region"].append(vocab["region"][region])
        rows["account"].append(vocab["account"][account])
        rows["ip"].append(vocab["ip"][as_text(_first(event, ("sourceIpAddress", "sourceIPAddress")))])
        rows["agent"].append(vocab["agent"][as_text(event.get("userAgent"))])
        rows["errcode"].append(vocab["errcode"][error])
        rows["errmsg"].append(vocab["errmsg"][as_text(event.get("errorMessage")) or None])
        rw = event.get("eventRW")
        read_only = rw.lower() if isinstance(rw, str) else None
        rows["readonly"].append(1 if read_only == "read" else 0 if read_only == "write" else -1)
        rows["principal"].append(self._principal(ident))
        self.ids.append(as_text(_first(event, ("eventId", "eventID"))))
        request = _object(event.get("requestParameters"))
        keys: list[str] = []
        aliases: list[str] = []
        trail = 0
        if kms:
            keys, aliases = self._references(event, request, region, account)
            rows["ctx"].append(self._context(request))
        else:
            rows["ctx"].append(0)
            trail_name = _first(request, _TRAIL_NAME_FIELDS) or _first(
                _object(event.get("responseElements")), _TRAIL_NAME_FIELDS
            )
            if isinstance(trail_name, str) and trail_name:
                arn = (
                    trail_name
                    if trail_name.startswith("acs:")
                    else f"acs:actiontrail:{region}:{account}:trail/{trail_name}"
                )
                trail = vocab["trail"][arn]
                self.changes.append((row, name or "", arn, request, _object(event.get("responseElements")), error))
        key_codes = [vocab["key"][k] for k in keys]
        alias_code = vocab["alias"][aliases[0]] if aliases else 0
        rows["key0"].append(key_codes[0] if key_codes else 0)
        rows["key1"].append(key_codes[1] if len(key_codes) > 1 else 0)
        rows["alias"].append(alias_code)
        rows["trail"].append(trail)
        if len(key_codes) > 2:
            self.extra.append((row, tuple(key_codes[2:])))
        if alias_code and error is None:
            if name in ALIAS_CHANGES:
                target = key_codes[0] if key_codes and name != "DeleteAlias" else 0
                self.bindings.append((row, alias_code, target, "delete" if name == "DeleteAlias" else name or ""))
            elif key_codes:
                self.bindings.append((row, alias_code, key_codes[0], "observed"))
        if read_only != "read":
            response = event.get("responseElements")
            self.parameters.append((row, orjson.dumps([event.get("requestParameters"), response])))
        return True

    def _references(self, event: dict, request: dict, region, account) -> tuple[list[str], list[str]]:
        """:func:`_references`, once per distinct combination of what names keys (a file
        repeats a few dozen)."""
        response = event.get("responseElements")
        try:
            shape = (
                region,
                account,
                *map(request.get, _KEY_FIELDS),
                *map(request.get, _ALIAS_FIELDS),
                orjson.dumps(response) if isinstance(response, dict) and response.get("KeyMetadata") else None,
                response.get("KeyId") if isinstance(response, dict) else None,
                orjson.dumps(event.get("referencedResources")),
                event.get("resourceType"),
                event.get("resourceName"),
            )
            found = self.references.get(shape)
        except TypeError:  # a value that is not text (a hostile record): resolved on its own
            return _references(event, request, region, account)
        if found is None:
            found = self.references[shape] = _references(event, request, region, account)
        return found

    def _principal(self, ident: object) -> int:
        shape: tuple | None
        if isinstance(ident, dict):
            issuer = ident.get("sessionContext")
            issuer = issuer.get("sessionIssuer") if isinstance(issuer, dict) else issuer
            try:
                shape = (*map(ident.get, _IDENTITY_KEYS), orjson.dumps(issuer) if issuer is not None else None)
                hash(shape)
            except TypeError:  # a value that is not text (a hostile record): resolved on its own
                shape = None
        else:
            shape = (ident,)
        code = self.principals.get(shape) if shape is not None else None
        if code is None:
            code = self.builder.vocab["principal"][principal(ident)]
            if shape is not None:
                self.principals[shape] = code
        return code

    def _context(self, request: dict) -> int:
        groups = _context_groups(request)
        if not groups:
            return 0
        try:
            identity = orjson.dumps(groups)
        except TypeError:
            identity = None
        code = self.contexts.get(identity) if identity is not None else None
        if code is None:
            code = self.builder.contexts._add(groups)
            if identity is not None:
                self.contexts[identity] = code
        return code

    def finish(self) -> None:
        """Hand the columns to the builder, as its own decoding would."""
        builder = self.builder
        batch = builder.batch
        rows = self.rows
        count = len(rows["time"])
        base = builder.rows
        again = bool(batch.sources) and batch.sources[-1] is self.info
        origin = len(batch.sources) - again
        times = parse_event_times(rows.pop("time"))
        out: dict[str, np.ndarray] = {
            "time": times,
            "origin": np.full(count, origin, dtype=np.uint32),
            "ordinal": np.array(rows.pop("ordinal"), dtype=np.uint32),
            "rawlen": np.array(rows.pop("rawlen"), dtype=np.uint32),
            "readonly": np.array(rows.pop("readonly"), dtype=np.int8),
            "eid": np.zeros(count, dtype="S36"),
            "cloud": np.full(count, ALIBABA, dtype=np.uint8),
        }
        for name, values in rows.items():
            out[name] = np.array(values, dtype=np.uint32)
        for row, event_id in enumerate(self.ids):
            if event_id:
                if len(event_id) <= 36 and event_id.isascii() and event_id == event_id.lower():
                    out["eid"][row] = event_id.encode()
                else:  # Alibaba's ids are upper case: kept whole, as delivered
                    batch.event_id_overflow[base + row] = event_id
        for row, extra in self.extra:
            batch.extra_keys[base + row] = extra
        for row, parameters in self.parameters:
            batch.parameters[base + row] = parameters
        from .decode import TrailChange  # decode imports this module lazily, for its dispatch

        principal_column = out["principal"]
        for row, action, arn, request, response, error in self.changes:
            batch.trail_changes.append(
                TrailChange(
                    base + row, int(times[row]), action, arn, request, response, error, int(principal_column[row])
                )
            )
        for row, alias, key, kind in self.bindings:
            _note(builder.bindings, alias, key, kind, int(times[row]))
        for name, column in out.items():
            builder.chunks.setdefault(name, []).append(column)
        builder.rows += count
        if not again:
            batch.sources.append(self.info)


def _note(bindings: dict[AliasBinding, list[int]], alias: int, key: int, kind: str, time: int) -> None:
    """Remember an alias binding as CloudTrail's are remembered: each change at its time, an
    observation as the span it was seen in."""
    binding = AliasBinding(alias, key, kind, 0 if kind == "observed" else time)
    span = bindings.get(binding)
    if span is None:
        bindings[binding] = [time, time]
    else:
        span[0], span[1] = min(span[0], time), max(span[1], time)


def add_records(builder, info: SourceInfo, raws: list) -> None:
    """Add a source's ActionTrail records (raw, as delivered) to a batch builder
    (:class:`kmstui.core.decode._BatchBuilder`): one clear sentence for what cannot be read."""
    columns = _Columns(builder, info)
    unreadable = 0
    loads = orjson.loads
    for ordinal, raw in enumerate(raws):
        try:
            event = unwrap(loads(memoryview(raw) if type(raw) is not bytes else raw))
        except orjson.JSONDecodeError:
            event = None
        if event is None:
            unreadable += 1
            continue
        info.records += 1
        if columns.add(ordinal, raw, event):
            info.events += 1
    if unreadable:
        info.problems.append(
            "1 record that is not an ActionTrail event skipped"
            if unreadable == 1
            else f"{unreadable:,} records that are not ActionTrail events skipped"
        )
    columns.finish()


def cloud_of_arn(arn: str | None) -> str:
    """The cloud of a key or trail ARN: ``acs:`` is Alibaba's."""
    return CLOUD if arn and arn.startswith("acs:") else "aws"


__all__ = ["ALIBABA", "CLOUD", "CLOUDS", "add_records", "cloud_of_arn", "key_arn", "principal", "unwrap"]
