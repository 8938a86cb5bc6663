"""Keys and aliases a KMS record names (its resources, request, response, service details),
what alias changes teach about where an alias pointed, and CloudTrail configuration events."""

from __future__ import annotations

import orjson

from .batch import TrailChange
from .cloudtrail import _UNREADABLE, _Codes, _details_decoder, _response_decoder
from .model import AliasBinding, Place


def _partition(region: str | None) -> str:
    if region:
        if region.startswith("cn-"):
            return "aws-cn"
        if region.startswith("us-gov-"):
            return "aws-us-gov"
        if region.startswith("us-iso"):
            return "aws-iso" if region.startswith("us-iso-") else "aws-iso-b"
    return "aws"


class _Places(dict):
    """(region, account) -> :class:`Place`, the partition worked out once per region."""

    def __missing__(self, where: tuple[str | None, str | None]) -> Place:
        region, account = where
        place = self[where] = Place(region, account, _partition(region))
        return place


_PLACES = _Places()


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


def _note(
    bindings: dict[AliasBinding, list[int]], alias: int, key: int, kind: str, time: int, last: int | None = None
) -> None:
    """Remember an alias binding: every change with its own time; an observation by the
    first and last time it was seen (``time`` to ``last``: a span of observations at once)."""
    last = time if last is None else last
    binding = AliasBinding(alias, key, kind, 0 if kind == "observed" else time)
    span = bindings.get(binding)
    if span is None:
        bindings[binding] = [time, last]
    else:
        span[0], span[1] = min(span[0], time), max(span[1], last)


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
