"""What a management call did, in words: the line a responder reads first in the detail view.

Works from the original record (request and response), so it can say what the columns
do not keep: the deletion date, the grant's operations, the selectors that hid KMS.
"""

from __future__ import annotations

from typing import Any

from .trails import selector_state


def _object(value: object) -> dict[str, Any]:
    """A record's member as an object, or an empty one when it is missing or not an object."""
    return value if isinstance(value, dict) else {}


def _get(mapping: object, *path: str) -> Any:
    for name in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(name)
    return mapping


def _text(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def describe(record: dict) -> list[str]:
    """Sentences on the effect of a call; empty for calls that change nothing worth saying."""
    name = record.get("eventName")
    request = _object(record.get("requestParameters"))
    response = _object(record.get("responseElements"))
    failed = bool(record.get("errorCode"))
    out: list[str] = []
    if name == "ScheduleKeyDeletion":
        days = request.get("pendingWindowInDays") or response.get("pendingWindowInDays")
        when = response.get("deletionDate")
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
        target = request.get("targetKeyId")
        verb = "now points to" if name == "UpdateAlias" else "created for"
        out.append(f"{_text(request.get('aliasName', 'alias'))} {verb} key {_text(target)}.")
    elif name == "DeleteAlias":
        out.append(f"{_text(request.get('aliasName', 'alias'))} deleted.")
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
        out.append(
            f"Logging stopped for {_text(request.get('name', 'the trail'))}: nothing is recorded until StartLogging."
        )
    elif name == "StartLogging":
        out.append(f"Logging started for {_text(request.get('name', 'the trail'))}.")
    elif name == "DeleteTrail":
        out.append(f"Trail {_text(request.get('name', ''))} deleted.")
    elif name == "UpdateTrail":
        changed = ", ".join(k for k in request if k != "name")
        out.append(f"Trail {_text(request.get('name', ''))} updated" + (f": {changed}." if changed else "."))
    if failed and out:
        return [f"Attempted, and failed ({_text(record.get('errorCode'))}): " + out[0][0].lower() + out[0][1:]]
    return out
