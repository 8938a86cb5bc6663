"""CloudTrail LookupEvents: the event history of the last 90 days, one region at a time.

LookupEvents takes one lookup attribute (it silently ignores more), 50 events a page,
newest first, and 2 requests a second per account and region. kmstui asks for
``EventSource=kms.amazonaws.com`` and narrows the rest on the client, unless the filter
names one key or one event: then ``ResourceName`` (exact: a key ARN) or ``EventName``
(exact) cuts the pages down on the server, the key first since it cuts more.

Each region's events are kept in a cache (see :mod:`.cache`) as pages arrive: a later run
shows them at once and asks only for what is missing. Pages are screened before they are
kept: events outside the time range asked for, or whose CloudTrailEvent is not a JSON
object, are dropped and counted; a NextToken seen before (paging in a loop) or an answer
that is not a page of events stops the region with a sentence.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.exceptions
import platformdirs

from ..query import Filter
from ..sources import flatten_deep, repair_surrogates
from ..text import clean
from ..timeutil import moment, parse_iso
from .cache import Cache, CacheRefused, open_private, private_folder
from .errors import LiveError, sentence

PAGE_SIZE = 50
REQUESTS_PER_SECOND = 2.0  # the LookupEvents quota per account and region
RATE_VARIABLE = "KMSTUI_LOOKUP_RATE"  # fewer a second, to leave the rest of the quota to other tools
PACE_MARGIN = 1.1  # requests leave 10% further apart: arrival jitter must not make three in a second
HISTORY_DAYS = 90
SLACK = timedelta(seconds=1)  # events are timed to the second: a window edge is not exact
MAX_AHEAD = 60.0  # a shared pace turn further ahead than this is stale (written before a reboot)
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
    try:
        return moment(text, now, flag)
    except ValueError as error:
        raise LiveError(str(error)) from None


# ---------------------------------------------------------------------------
# Pacing


@dataclass
class Turn:
    """One request's booked turn: ``id`` finds it again when its answer comes."""

    id: str
    at: float


class Pace:
    """At most ``rate`` requests a second for one account and region, as AWS counts them: on
    arrival. A request may arrive late (a busy machine, the network), so the one two turns
    later waits a second from when the answer came back (the latest it can have arrived),
    not only from when it went. With a ``path`` (a private file per account and region) the
    turns are shared with every kmstui process of the user on this machine, under a lock."""

    def __init__(self, rate: float = REQUESTS_PER_SECOND, path: Path | None = None):
        self.interval = PACE_MARGIN / rate
        self.window = PACE_MARGIN * 2 / rate  # two requests at most in any such span
        self.state: dict[str, Any] = {"next": 0.0, "recent": []}  # recent: [[turn id, latest arrival]]
        self.lock = threading.Lock()
        self.path = path
        self.fd: int | None = None
        if path is not None:
            try:
                private_folder(path.parent)
                self.fd = open_private(path, os.O_RDWR | os.O_CREAT)
            except (CacheRefused, OSError):
                self.fd = None  # this process paces itself alone

    def _update(self, change: Callable[[dict[str, Any]], float | None]) -> float | None:
        """Apply ``change`` to the pace state, shared through the file when there is one
        (time.monotonic is the machine's clock since boot: the same in every process)."""
        with self.lock:
            fd = self.fd
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except OSError:
                    fd = None
            try:
                if fd is not None:
                    self.state = self._read(fd)
                result = change(self.state)
                if fd is not None:
                    with contextlib.suppress(OSError):
                        text = json.dumps(self.state).encode()
                        os.ftruncate(fd, 0)
                        os.pwrite(fd, text, 0)
                return result
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def _read(self, fd: int) -> dict[str, Any]:
        try:
            state = json.loads(os.pread(fd, 4096, 0) or b"{}")
            after = float(state.get("next", 0.0))
            recent: list[tuple[str, float]] = [(str(i), float(t)) for i, t in state.get("recent", [])][-2:]
        except (OSError, ValueError, TypeError, AttributeError):
            return {"next": 0.0, "recent": []}
        limit = time.monotonic() + MAX_AHEAD  # further ahead: from before a reboot, or nonsense
        if after > limit or any(t > limit for _, t in recent):
            return {"next": 0.0, "recent": []}
        return {"next": after, "recent": [list(entry) for entry in recent]}

    def wait(self, cancelled: Callable[[], bool]) -> Turn | None:
        """Wait for a turn; None when cancelled meanwhile. Call done(turn) when answered."""
        turn_id = secrets.token_hex(6)

        def book(state: dict[str, Any]) -> float:
            recent = state["recent"]
            turn = max(time.monotonic(), state["next"])
            if len(recent) >= 2:
                turn = max(turn, recent[-2][1] + self.window)
            state["next"] = turn + self.interval
            state["recent"] = [*recent, [turn_id, turn]][-2:]
            return turn

        turn = self._update(book)
        assert turn is not None
        while (left := turn - time.monotonic()) > 0:
            if cancelled():
                return None
            time.sleep(min(0.05, left))

        def went(state: dict[str, Any]) -> None:  # maybe later than its turn: the next waits from here
            now = time.monotonic()
            state["next"] = max(state["next"], now + self.interval)
            for entry in state["recent"]:
                if entry[0] == turn_id:
                    entry[1] = max(entry[1], now)

        self._update(went)
        return Turn(turn_id, time.monotonic())

    def done(self, turn: Turn) -> None:
        """The answer came: the request arrived by now at the latest."""

        def answered(state: dict[str, Any]) -> None:
            now = time.monotonic()
            for entry in state["recent"]:
                if entry[0] == turn.id:
                    entry[1] = max(entry[1], now)

        self._update(answered)


def lookup_rate(option: float | None = None) -> float:
    """LookupEvents requests a second per account and region: the option (LiveOptions.rate),
    else KMSTUI_LOOKUP_RATE, else AWS's quota, 2. What is not a positive number is not used."""
    for value in (option, os.environ.get(RATE_VARIABLE)):
        if value is None or value == "":
            continue
        try:
            rate = float(value)
        except ValueError:
            continue
        if math.isfinite(rate) and rate > 0:
            return rate
    return REQUESTS_PER_SECOND


_paces: dict[tuple[str, str, Path, float], Pace] = {}
_paces_lock = threading.Lock()


def pace_for(account: str, region: str, rate: float | None = None) -> Pace:
    """The pace of LookupEvents for one account and region (at ``lookup_rate(rate)``), shared
    by this process's threads and, through a private file beside the cache, by every kmstui
    process of this user."""
    path = Path(platformdirs.user_cache_dir("kmstui")) / "pace" / f"{account}-{region}.pace"
    rate = lookup_rate(rate)
    with _paces_lock:
        pace = _paces.get((account, region, path, rate))
        if pace is None:
            pace = _paces[(account, region, path, rate)] = Pace(rate=rate, path=path)
        return pace


# ---------------------------------------------------------------------------
# The cache


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("kmstui")) / "lookup"


def clear_cache() -> list[Path]:
    """Remove every cached LookupEvents file; the paths removed."""
    folder = cache_dir()
    removed = sorted(folder.glob("*")) if folder.is_dir() and not folder.is_symlink() else []
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def open_cache(account: str, region: str, source: str) -> Cache:
    """The region's cache of one pass, shared between runs."""
    name = f"{account}-{region}-{source.split('.')[0]}"
    return Cache.open(cache_dir(), name, _describe(region, source))


def run_cache(account: str, region: str, source: str) -> Cache:
    """A cache for this run only (--no-cache, or a pushed-down subset of the events)."""
    return Cache(f"{account}-{region}-{source.split('.')[0]}")


def _describe(region: str, source: str) -> str:
    return f"LookupEvents events of {region}" + (" (trail configuration)" if source == CLOUDTRAIL_SOURCE else "")


# ---------------------------------------------------------------------------
# Fetching


def event_json(event: dict) -> dict:
    """A LookupEvents event as JSON (boto3 gives EventTime as a datetime)."""
    out = dict(event)
    when = out.get("EventTime")
    if isinstance(when, datetime):
        out["EventTime"] = when.astimezone(UTC).isoformat()
    return out


RETRIED = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",  # 503: slow down, as throttling says it
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
MAX_RETRIES = 10  # in a row, with backoff up to 30 s: a few minutes, then the region stops with a sentence


def pages(
    client: Any,
    attribute: dict,
    start: datetime,
    end: datetime,
    pace: Pace,
    cancelled: Callable[[], bool],
    on_wait: Callable[[str], None] | None = None,
    region: str = "",
) -> Iterator[tuple[list[dict], bool]]:
    """LookupEvents pages, newest first, each with whether more follow. NextToken goes with
    the unchanged parameters of the first call; throttling and SlowDown are waited out with
    backoff. A page that is no LookupEvents answer, or a NextToken seen before, is a LiveError."""
    where = f" in {region}" if region else ""
    params = {"LookupAttributes": [attribute], "StartTime": start, "EndTime": end, "MaxResults": PAGE_SIZE}
    token = None
    seen: set[str] = set()
    count = 0
    while True:
        call = dict(params)
        if token:
            call["NextToken"] = token
        backoff = pace.window / PACE_MARGIN  # the quota's span of two requests: a second at AWS's 2 a second
        retries = 0
        while True:
            turn = pace.wait(cancelled)
            if turn is None:
                return
            try:
                try:
                    response = client.lookup_events(**call)
                finally:
                    pace.done(turn)  # answered (or failed): it arrived by now at the latest
                break
            except botocore.exceptions.ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code not in RETRIED:
                    raise
                retries += 1
                if retries > MAX_RETRIES:
                    raise LiveError(
                        f"LookupEvents{where} kept answering {clean(str(code))} after {MAX_RETRIES} tries "
                        "with growing waits: older events of the time range were not fetched."
                    ) from None
                if on_wait is not None:
                    on_wait(f"throttled by AWS: waiting {backoff:.3g}s")
                deadline = time.monotonic() + backoff * (0.5 + random.random())
                while time.monotonic() < deadline:
                    if cancelled():
                        return
                    time.sleep(0.05)
                backoff = min(backoff * 2, 30.0)
        events = response.get("Events") if isinstance(response, dict) else None
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise LiveError(
                f"LookupEvents{where} answered with something that is not a page of events (not JSON): "
                f"stopped after {count} pages, older events of the time range were not fetched."
            )
        count += 1
        token = response.get("NextToken")
        if token is not None and (not isinstance(token, str) or token in seen):
            yield [event_json(e) for e in events], True  # older ones remain: not held
            raise LiveError(
                f"LookupEvents{where} sent a NextToken it had already sent (paging in a loop): "
                f"stopped after {count} pages, older events of the time range were not fetched."
            )
        if token:
            seen.add(token)
        yield [event_json(e) for e in events], bool(token)
        if not token or cancelled():
            return


def screen(events: list[dict], start: datetime, end: datetime) -> tuple[list[dict], int, int]:
    """The events to keep from a page asked for [start, end]: (kept, how many fell outside
    the time range, how many had a CloudTrailEvent that is not a JSON object). The time is
    the record's own eventTime (what the index shows), else the page's EventTime."""
    kept: list[dict] = []
    outside = broken = 0
    low, high = start - SLACK, end + SLACK
    for event in events:
        inner = event.get("CloudTrailEvent")
        record: object = None
        if isinstance(inner, str):
            record, repaired = _read_record(inner)
            if repaired != inner:  # what is kept, cached and decoded is the repaired text
                event["CloudTrailEvent"] = repaired
        if inner is not None and not isinstance(record, dict):
            broken += 1
            continue
        stamp = record.get("eventTime") if isinstance(record, dict) else None
        when = parse_iso(stamp) if isinstance(stamp, str) else None
        if when is None and isinstance(event.get("EventTime"), str):
            when = parse_iso(event["EventTime"])
        if when is not None and not low <= when <= high:
            outside += 1
            continue
        kept.append(event)
    return kept, outside, broken


def _read_record(text: str) -> tuple[object, str]:
    """A CloudTrailEvent read as the file loaders read a record: a lone surrogate escape
    becomes U+FFFD, and values nested deeper than any decoder's stack allows become
    "(nested too deeply)"; (the value or None, the text as repaired)."""
    raw = repair_surrogates(text.encode("utf-8", "surrogatepass"))
    try:
        try:
            value = json.loads(raw)
        except RecursionError:
            raw = flatten_deep(raw)[0]
            value = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8): the caller drops it and says so
        return None, text
    return value, raw.decode("utf-8", "replace")


def event_time(event: dict) -> datetime | None:
    """A LookupEvents event's EventTime (what AWS pages by)."""
    when = event.get("EventTime")
    return parse_iso(when) if isinstance(when, str) else None


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
    "event_time",
    "lookup_rate",
    "open_cache",
    "pace_for",
    "pages",
    "plan",
    "records_of",
    "run_cache",
    "screen",
    "sentence",
    "window",
]
