"""CloudTrail LookupEvents: the event history of the last 90 days, one region at a time.

LookupEvents takes one lookup attribute (it silently ignores more), 50 events a page,
newest first, and 2 requests a second per account and region. kmstui asks for
``EventSource=kms.amazonaws.com`` and narrows the rest on the client, unless the filter
names one key or one event: then ``ResourceName`` (exact: a key ARN) or ``EventName``
(exact) cuts the pages down on the server, the key first since it cuts more.

Each region's events are kept in a cache file under the user's cache directory (0600 in a
0700 folder), appended to as pages arrive: a later run shows them at once and asks only
for what is newer. The cache file is also where the detail view reads a record again.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.exceptions
import platformdirs

from ..query import Filter
from ..timeutil import parse_iso, parse_span
from .errors import LiveError, sentence

PAGE_SIZE = 50
REQUESTS_PER_SECOND = 2.0  # the LookupEvents quota per account and region
PACE_MARGIN = 1.1  # requests leave 10% further apart: arrival jitter must not make three in a second
HISTORY_DAYS = 90
OVERLAP = timedelta(minutes=10)  # asked again at the edge of the cache: events arrive late
KMS_SOURCE = "kms.amazonaws.com"
CLOUDTRAIL_SOURCE = "cloudtrail.amazonaws.com"

# Every KMS API call and service event name. An event: filter is a substring; it is pushed
# to the server (exact EventName) only when it names one of these and no other contains it.
KMS_EVENTS = frozenset(
    """CancelKeyDeletion ConnectCustomKeyStore CreateAlias CreateCustomKeyStore CreateGrant CreateKey Decrypt
    DeleteAlias DeleteCustomKeyStore DeleteImportedKeyMaterial DeriveSharedSecret DescribeCustomKeyStores
    DescribeKey DisableKey DisableKeyRotation DisconnectCustomKeyStore EnableKey EnableKeyRotation Encrypt
    GenerateDataKey GenerateDataKeyPair GenerateDataKeyPairWithoutPlaintext GenerateDataKeyWithoutPlaintext
    GenerateMac GenerateRandom GetKeyPolicy GetKeyRotationStatus GetParametersForImport GetPublicKey
    ImportKeyMaterial ListAliases ListGrants ListKeyPolicies ListKeyRotations ListKeys ListResourceTags
    ListRetirableGrants PutKeyPolicy ReEncrypt ReplicateKey RetireGrant RevokeGrant RotateKeyOnDemand
    ScheduleKeyDeletion Sign TagResource UntagResource UpdateAlias UpdateCustomKeyStore UpdateKeyDescription
    UpdatePrimaryRegion Verify VerifyMac DeleteExpiredKeyMaterial DeleteKey RotateKey
    SynchronizeMultiRegionKey""".split()
)


# ---------------------------------------------------------------------------
# What to ask for


@dataclass(frozen=True)
class Plan:
    """The lookup attribute sent to the server, and how to say it."""

    key: str  # EventSource, ResourceName or EventName
    value: str

    @property
    def attribute(self) -> dict:
        return {"AttributeKey": self.key, "AttributeValue": self.value}

    @property
    def describe(self) -> str:
        return f"{self.key}={self.value}"

    @property
    def cacheable(self) -> bool:
        return self.key == "EventSource"


def plan(compiled: Filter, account: str | None, region: str) -> Plan:
    """The one lookup attribute that cuts the pages most for this filter in this region."""
    resource = event = None
    for term in compiled.terms:
        if term.negate or len(term.values) != 1:
            continue
        value = term.values[0]
        if term.field == "key" and resource is None:
            resource = _key_arn(value, account, region)
        elif term.field == "event" and event is None:
            if value in KMS_EVENTS and not any(value != other and value in other for other in KMS_EVENTS):
                event = value
    if resource:
        return Plan("ResourceName", resource)
    if event:
        return Plan("EventName", event)
    return Plan("EventSource", KMS_SOURCE)


def _key_arn(value: str, account: str | None, region: str) -> str | None:
    """The exact key ARN a key: filter names in this region, or None (ResourceName is exact)."""
    if value.startswith("arn:") and ":key/" in value:
        return value if value.split(":")[3] == region else None
    looks_like_id = (len(value) == 36 and value.count("-") == 4) or (value.startswith("mrk-") and len(value) == 36)
    if looks_like_id and account:
        return f"arn:aws:kms:{region}:{account}:key/{value}"
    return None


def window(since: str | None, until: str | None, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The [start, end] to ask for: ``since`` a span back from now or a time; at most 90 days."""
    now = now or datetime.now(UTC)
    end = now
    if until:
        end = _moment(until, now, "--until")
    start = end - timedelta(days=1)
    if since:
        start = _moment(since, now, "--since")
    oldest = now - timedelta(days=HISTORY_DAYS)
    if start < oldest:
        start = oldest
    if start >= end:
        raise LiveError("The time range is empty: --since must come before --until (and LookupEvents keeps 90 days).")
    return start, end


def _moment(text: str, now: datetime, flag: str) -> datetime:
    span = parse_span(text)
    if span is not None:
        return now - timedelta(seconds=span)
    parsed = parse_iso(text)
    if parsed is None:
        raise LiveError(f"{flag} {text!r} is neither a time (2026-11-20T10:00Z) nor a span (15m, 2h, 7d).")
    return parsed


# ---------------------------------------------------------------------------
# Pacing


class Pace:
    """At most ``rate`` requests a second for one account and region."""

    def __init__(self, rate: float = REQUESTS_PER_SECOND):
        self.interval = PACE_MARGIN / rate
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self, cancelled: Callable[[], bool]) -> bool:
        """Wait for a turn; False when cancelled meanwhile."""
        with self.lock:
            now = time.monotonic()
            turn = max(now, self.next)
            self.next = turn + self.interval
        while (left := turn - time.monotonic()) > 0:
            if cancelled():
                return False
            time.sleep(min(0.05, left))
        with self.lock:  # the request goes now, maybe later than its turn: the next waits from here
            self.next = max(self.next, time.monotonic() + self.interval)
        return True


_paces: dict[tuple[str, str], Pace] = {}
_paces_lock = threading.Lock()


def pace_for(account: str, region: str) -> Pace:
    with _paces_lock:
        return _paces.setdefault((account, region), Pace())


# ---------------------------------------------------------------------------
# The cache


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("kmstui")) / "lookup"


def clear_cache() -> list[Path]:
    """Remove every cached LookupEvents file; the paths removed."""
    folder = cache_dir()
    removed = sorted(folder.glob("*")) if folder.is_dir() else []
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


@dataclass
class Cache:
    """One region's cached events: a JSON Lines file of LookupEvents events, and what it covers."""

    path: Path
    oldest: datetime | None = None
    newest: datetime | None = None
    lines: int = 0
    recent_ids: set[str] = field(default_factory=set)  # ids near the newest edge, not to append twice
    persist: bool = True  # keep what it covers between runs (a private per-run file does not)

    @classmethod
    def open(cls, account: str, region: str, source: str) -> Cache:
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        path = folder / f"{account}-{region}-{source.split('.')[0]}.jsonl"
        cache = cls(path)
        meta = path.with_suffix(".meta.json")
        if path.exists() and meta.exists():
            try:
                info = json.loads(meta.read_text())
                cache.oldest = datetime.fromisoformat(info["oldest"])
                cache.newest = datetime.fromisoformat(info["newest"])
                cache.lines = int(info["lines"])
                cache.recent_ids = set(info.get("recent_ids", []))
            except (ValueError, KeyError, TypeError, OSError):
                cache = cls(path)
        if cache.lines == 0 and path.exists():
            path.unlink()  # no trustworthy record of what it covers: start again
        return cache

    def append(self, events: list[dict], start: datetime, end: datetime) -> tuple[int, list[dict]]:
        """Append the events not cached yet: (line number of the first written, those written)."""
        first = self.lines
        fresh = [e for e in events if e.get("EventId") not in self.recent_ids]
        if fresh:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                for event in fresh:
                    out.write(json.dumps(event, separators=(",", ":")) + "\n")
            os.chmod(self.path, 0o600)
            self.lines += len(fresh)
        for event in fresh:
            self.recent_ids.add(event.get("EventId"))
        self.oldest = min(filter(None, (self.oldest, start)))
        self.newest = max(filter(None, (self.newest, end)))
        self._save()
        return first, fresh

    def _save(self) -> None:
        if not self.persist:
            return
        meta = self.path.with_suffix(".meta.json")
        info = {
            "oldest": self.oldest.isoformat() if self.oldest else None,
            "newest": self.newest.isoformat() if self.newest else None,
            "lines": self.lines,
            "recent_ids": sorted(i for i in self.recent_ids if i)[-2000:],
        }
        fd = os.open(meta, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(info, out)
        os.chmod(meta, 0o600)

    def missing(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The parts of [start, end] the cache does not cover (with an overlap at its newest edge)."""
        if self.oldest is None or self.newest is None or self.lines == 0:
            return [(start, end)]
        gaps = []
        if end > self.newest - OVERLAP:
            gaps.append((max(start, self.newest - OVERLAP), end))
        if start < self.oldest:
            gaps.append((start, min(end, self.oldest)))
        return gaps


# ---------------------------------------------------------------------------
# Fetching


def event_json(event: dict) -> dict:
    """A LookupEvents event as JSON (boto3 gives EventTime as a datetime)."""
    out = dict(event)
    when = out.get("EventTime")
    if isinstance(when, datetime):
        out["EventTime"] = when.astimezone(UTC).isoformat()
    return out


def pages(
    client,
    attribute: dict,
    start: datetime,
    end: datetime,
    pace: Pace,
    cancelled: Callable[[], bool],
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[list[dict]]:
    """LookupEvents pages, newest first. NextToken goes with the unchanged parameters of the
    first call; throttling is waited out with backoff and never raised."""
    params = {"LookupAttributes": [attribute], "StartTime": start, "EndTime": end, "MaxResults": PAGE_SIZE}
    token = None
    while True:
        call = dict(params)
        if token:
            call["NextToken"] = token
        backoff = 1.0
        while True:
            if not pace.wait(cancelled):
                return
            try:
                response = client.lookup_events(**call)
                break
            except botocore.exceptions.ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code not in (
                    "ThrottlingException",
                    "Throttling",
                    "TooManyRequestsException",
                    "RequestLimitExceeded",
                ):
                    raise
                if on_wait is not None:
                    on_wait(f"throttled by AWS: waiting {backoff:.0f}s")
                deadline = time.monotonic() + backoff * (0.5 + random.random())
                while time.monotonic() < deadline:
                    if cancelled():
                        return
                    time.sleep(0.05)
                backoff = min(backoff * 2, 30.0)
        yield [event_json(e) for e in response.get("Events", [])]
        token = response.get("NextToken")
        if not token or cancelled():
            return


def records_of(events: list[dict]) -> list[bytes]:
    """The CloudTrail records inside LookupEvents events, as the loader reads them."""
    out = []
    for event in events:
        inner = event.get("CloudTrailEvent")
        out.append(inner.encode() if isinstance(inner, str) else json.dumps(event).encode())
    return out


__all__ = [
    "CLOUDTRAIL_SOURCE",
    "KMS_SOURCE",
    "Cache",
    "Pace",
    "Plan",
    "cache_dir",
    "clear_cache",
    "event_json",
    "pace_for",
    "pages",
    "plan",
    "records_of",
    "sentence",
    "window",
]
