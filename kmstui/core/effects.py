"""What a management call did, in words: the line a responder reads first in the detail view.

Works from the original record (request and response), so it can say what the columns
do not keep: the deletion date, the grant's operations, the selectors that hid KMS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .timeutil import NO_TIME, parse_event_time, short
from .trails import selector_state

if TYPE_CHECKING:
    from .index import EventIndex

DAY = 86400


def _object(value: object) -> dict[str, Any]:
    """A record's member as an object, or an empty one when it is missing or not an object."""
    return value if isinstance(value, dict) else {}


def _get(mapping: object, *path: str) -> Any:
    for name in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(name)
    return mapping


def _field(mapping: dict[str, Any], name: str) -> Any:
    """A request or response member as CloudTrail spells it (``pendingWindowInDays``) or as
    ActionTrail does (``PendingWindowInDays``)."""
    value = mapping.get(name)
    return value if value is not None else mapping.get(name[:1].upper() + name[1:])


def pending_window(request: object, response: object) -> int | None:
    """ScheduleKeyDeletion's waiting period in days, from the request or the response: a
    number (CloudTrail) or its text (ActionTrail sends ``"7"``). None when neither says, or
    says something that is not a whole number of days."""
    for mapping in (_object(request), _object(response)):
        value = _field(mapping, "pendingWindowInDays")
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 100_000:
            return value
    return None


def deletion_time(event_time: int, request: object, response: object) -> int | None:
    """When a key scheduled for deletion at ``event_time`` is deleted: the call's time and
    its waiting period (CloudTrail's response also says it as text, ActionTrail's does not)."""
    days = pending_window(request, response)
    if days is None or event_time == NO_TIME:
        return None
    return event_time + days * DAY


def _text(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def key_before(index: EventIndex, row: int) -> str | None:
    """The key the event's alias pointed to until the event (what the loaded events taught),
    or None when the index does not know: what an UpdateAlias moved its alias away from,
    which ActionTrail's record does not say (it names the alias and the new key only)."""
    alias = int(index.columns["alias"].data[row])
    time = int(index.columns["time"].data[row])
    if not alias or time == NO_TIME:
        return None
    key = index.alias_history.key_of(alias, time - 1)
    return index.vocab["key"].values[key] if key else None


def describe(record: dict, before: str | None = None) -> list[str]:
    """Sentences on the effect of a call; empty for calls that change nothing worth saying.
    ``before``: the key the call's alias pointed to until then (:func:`key_before`)."""
    name = record.get("eventName")
    request = _object(record.get("requestParameters"))
    response = _object(record.get("responseElements"))
    failed = bool(record.get("errorCode"))
    out: list[str] = []
    if name == "ScheduleKeyDeletion":
        days = pending_window(request, response)
        when = response.get("deletionDate")
        if not when:  # ActionTrail's response does not say it: the call's time and the waiting period
            time = record.get("eventTime")
            at = deletion_time(parse_event_time(time if isinstance(time, str) else None), request, response)
            when = f"{short(at)} UTC" if at is not None else None
        state = response.get("keyState")
        sentence = "Key deletion scheduled"
        if when:
            sentence += f" for {_text(when)}"
        if days:
            sentence += f" ({_text(days)}-day waiting period)"
        if state and state != "PendingDeletion":
            sentence += f"; key state {_text(state)}"
        out.append(sentence + ". CancelKeyDeletion can still stop it.")
    elif name == "CancelKeyDeletion":
        out.append("Key deletion cancelled; the key stays disabled until EnableKey.")
    elif name == "DisableKey":
        out.append("Key disabled: every cryptographic call with it fails until EnableKey.")
    elif name == "EnableKey":
        out.append("Key enabled.")
    elif name in ("CreateAlias", "UpdateAlias"):
        target = _field(request, "targetKeyId") or request.get("KeyId")  # ActionTrail: AliasName, KeyId
        verb = "now points to" if name == "UpdateAlias" else "created for"
        sentence = f"{_text(_field(request, 'aliasName') or 'alias')} {verb} key {_text(target)}"
        if name == "UpdateAlias" and before:
            if not str(target).startswith(("arn:", "acs:")):  # the request names the key by id: so does this
                before = before.rsplit(":key/", 1)[-1]
            if before != target:
                sentence += f"; until then key {before}"
        out.append(sentence + ".")
    elif name == "DeleteAlias":
        out.append(f"{_text(_field(request, 'aliasName') or 'alias')} deleted.")
    elif name == "PutKeyPolicy":
        policy = request.get("policy")
        size = f" ({len(policy):,} characters)" if isinstance(policy, str) else ""
        out.append(f"Key policy {_text(request.get('policyName') or 'default')} replaced{size}: see the request below.")
    elif name == "CreateGrant":
        grantee = request.get("granteePrincipal")
        operations = request.get("operations")
        sentence = f"Grant to {_text(grantee)}" if grantee else "Grant created"
        if operations:
            sentence += f" for {_text(operations)}"
        if response.get("grantId"):
            sentence += f" (grant {_text(response['grantId'])[:16]}…)"
        out.append(sentence + ".")
    elif name in ("RetireGrant", "RevokeGrant"):
        grant = request.get("grantId") or _get(record, "additionalEventData", "grantId")
        out.append(
            f"Grant {'retired' if name == 'RetireGrant' else 'revoked'}" + (f": {_text(grant)[:16]}…" if grant else ".")
        )
    elif name in ("EnableKeyRotation", "DisableKeyRotation"):
        out.append(f"Automatic key rotation {'enabled' if name.startswith('Enable') else 'disabled'}.")
    elif name == "ImportKeyMaterial":
        valid_to = request.get("validTo")
        out.append("Key material imported" + (f", valid to {_text(valid_to)}." if valid_to else "."))
    elif name == "CreateKey":
        metadata = _object(response.get("keyMetadata"))
        spec = request.get("keySpec") or metadata.get("keySpec")
        usage = request.get("keyUsage") or metadata.get("keyUsage")
        details = ", ".join(_text(v) for v in (spec, usage, request.get("origin")) if v)
        out.append(
            "Key created"
            + (f" ({details})" if details else "")
            + ("; multi-Region" if request.get("multiRegion") else "")
            + "."
        )
    elif name == "PutEventSelectors":
        effect = selector_state(request, response)
        state, how = effect.state, effect.how
        trail = request.get("trailName") or response.get("trailARN")
        sentence = {
            "logged": "The trail logs KMS events",
            "excluded": "KMS events excluded from the trail",
            "write-only": "Read-only KMS events (Decrypt, GenerateDataKey...) excluded from the trail",
        }.get(state, "Event selectors changed")
        out.append(f"{sentence}" + (f" ({how})" if how else "") + (f": {_text(trail)}." if trail else "."))
    elif name == "StopLogging":
        trail = _text(_field(request, "name") or "the trail")
        out.append(f"Logging stopped for {trail}: nothing is recorded until StartLogging.")
    elif name == "StartLogging":
        out.append(f"Logging started for {_text(_field(request, 'name') or 'the trail')}.")
    elif name == "DeleteTrail":
        out.append(f"Trail {_text(_field(request, 'name') or '')} deleted.")
    elif name == "UpdateTrail":
        changed = ", ".join(k for k in request if k != "name")
        out.append(f"Trail {_text(request.get('name', ''))} updated" + (f": {changed}." if changed else "."))
    if failed and out:
        return [f"Attempted, and failed ({_text(record.get('errorCode'))}): " + out[0][0].lower() + out[0][1:]]
    return out
