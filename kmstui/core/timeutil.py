"""Times: CloudTrail's, the filter language's, and how kmstui shows them.

Events are stored as whole seconds since the epoch, UTC, in an int64 column.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import numpy as np

NO_TIME = -(2**62)  # an event whose eventTime is missing or unreadable sorts last

_EPOCH = date(1970, 1, 1)
_day_seconds: dict[str, int] = {}


def parse_event_time(text: str | None) -> int:
    """Seconds since the epoch for a CloudTrail time, or NO_TIME.

    Accepts ``2026-11-20T10:00:00Z`` (the fast path: the common case costs a dict
    lookup and three int() calls), offsets, fractions, and the
    ``2022-02-08 09:23:37+11:00`` shape that some tools print.
    """
    if not text:
        return NO_TIME
    if len(text) == 20 and text[19] == "Z" and text[10] == "T":
        day = _day_seconds.get(text[:10])
        if day is None:
            try:
                day = (date.fromisoformat(text[:10]) - _EPOCH).days * 86400
            except ValueError:
                return _parse_slow(text)
            _day_seconds[text[:10]] = day
        try:
            hours, minutes, seconds = int(text[11:13]), int(text[14:16]), int(text[17:19])
        except ValueError:
            return _parse_slow(text)
        if hours > 23 or minutes > 59 or seconds > 59:
            return _parse_slow(text)  # not a time: rejected there, never wrapped into the next day
        return day + hours * 3600 + minutes * 60 + seconds
    return _parse_slow(text)


def parse_event_times(texts: list) -> np.ndarray:
    """``parse_event_time`` of many texts: those of CloudTrail's own shape
    (``2026-11-20T10:00:00Z``) checked and converted by numpy together, the rest one by one."""
    times = np.empty(len(texts), dtype=np.int64)
    usual = [
        i
        for i, text in enumerate(texts)
        if text and len(text) == 20 and text[19] == "Z" and text[10] == "T" and text.isascii()
    ]
    seconds = _usual_times([texts[i] for i in usual])
    if seconds is None:
        usual = []
    else:
        times[usual] = seconds
    done = set(usual)
    for i, text in enumerate(texts):
        if i not in done:
            times[i] = parse_event_time(text)
    return times


def _usual_times(texts: list[str]) -> np.ndarray | None:
    """Seconds for ASCII texts of 20 characters ending in Z; None when one of them is not
    a time (then each is parsed on its own)."""
    if not texts:
        return None
    chars = np.array([text[:19] for text in texts], dtype="S19")
    grid = chars.view(np.uint8).reshape(-1, 19)
    digits = grid[:, _DIGITS] - np.uint8(48)  # bytes below "0" wrap around to above 9
    if not (
        (digits <= 9).all() and (grid[:, _SEPARATORS] == _SEPARATOR_BYTES).all() and digits[:, :4].any(axis=1).all()
    ):
        return None
    try:  # numpy checks the ranges (month, day of the month, hour...) as date.fromisoformat does
        return chars.astype("datetime64[s]").astype(np.int64)
    except ValueError:
        return None


_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_SEPARATORS = [4, 7, 10, 13, 16]
_SEPARATOR_BYTES = np.frombuffer(b"--T::", dtype=np.uint8)


def _parse_slow(text: str) -> int:
    parsed = parse_iso(text)
    return NO_TIME if parsed is None else int(parsed.timestamp())


def parse_iso(text: str) -> datetime | None:
    """A datetime for an ISO 8601 time (``Z``, offsets, a space instead of ``T``, a bare
    date); times without an offset are UTC. None when it is not a time."""
    text = text.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def iso(seconds: int) -> str | None:
    """ISO 8601 UTC with ``Z``, as in CloudTrail; None for NO_TIME."""
    if seconds == NO_TIME:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short(seconds: int) -> str:
    """How the panes show a time: ``2026-11-20 14:02:11`` (always UTC)."""
    if seconds == NO_TIME:
        return "(no time)"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


_SPAN = re.compile(r"^(\d+)\s*([smhdw])$", re.IGNORECASE)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_span(text: str) -> int | None:
    """Seconds in a relative span such as ``15m``, ``2h``, ``7d`` (s, m, h, d, w); None if not one."""
    match = _SPAN.match(text.strip())
    if match is None:
        return None
    return int(match.group(1)) * _UNIT[match.group(2).lower()]


def moment(text: str, now: datetime, flag: str) -> datetime:
    """A --since or --until: a span back from ``now`` (15m, 2h, 7d) or a time; ValueError with the
    sentence to say otherwise."""
    span = parse_span(text)
    if span is not None:
        return now - timedelta(seconds=span)
    parsed = parse_iso(text)
    if parsed is None:
        raise ValueError(f"{flag} {text!r} is neither a time (2026-11-20T10:00Z) nor a span (15m, 2h, 7d).")
    return parsed
