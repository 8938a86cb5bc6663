"""A trail's bucket, read in place: ``kmstui s3://BUCKET/PREFIX``.

CloudTrail delivers log files to ``[PREFIX/]AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/``
(an organization trail: ``AWSLogs/o-ORG/ACCOUNT/...``). kmstui finds that layout under the
prefix it is given (the shallowest ``AWSLogs/`` folder, at most three levels down; or the
prefix already points into it), lists the accounts and regions there (ListObjectsV2 with a
delimiter: one request per folder level), keeps those the filter's ``account:`` and
``region:`` terms and ``--region`` allow, and lists only the day folders of the window:
from the day of ``--since`` to the day after ``--until`` (a folder is dated by delivery,
up to about 15 minutes after the events it holds: a day of padding), every listing paginated
and side by side. Files delivered before the window or more than a day after it are not read.

Objects are downloaded a bounded number at a time (``GET_THREADS`` side by side, at most
``AHEAD`` waiting for the loader, each streamed to its file in 1 MB pieces: memory stays
small whatever the bucket holds), into the object cache (:mod:`.objects`), and handed in
key order to the same loader as local files. Events outside the window are dropped after
decoding, so what is kept is exactly the window's. Digest files and other objects in the
day folders are counted, never read. A failure costs its object one sentence (deleted
after listing, refused by KMS, cut short), never the rest.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import botocore.config
import botocore.exceptions

from .. import loader
from ..decode import Batch, within
from ..index import Damage, EventIndex
from ..query import Filter, Term
from ..sources import Skipped, SourceFile, max_input, size_text
from ..text import clean
from ..timeutil import parse_iso
from .errors import LiveError, sentence, session
from .lookup import _moment
from .objects import ObjectStore, cache_size

SCHEME = "s3://"
LIST_THREADS = 16  # day folders listed side by side
GET_THREADS = 8  # objects downloaded side by side
AHEAD = 64  # objects downloaded ahead of the loader, at most
GROUP_FILES = 256  # objects handed to the loader at once, at most
CHUNK = 1 << 20  # bytes of an object held in memory at once
SKEW = timedelta(minutes=15)  # a file delivered this long before the window may still hold its first events
LATE = timedelta(days=1)  # how long after an event its file may be delivered (the padding day)
DEFAULT_SPAN = timedelta(days=1)  # the window without --since, --until or a day in the prefix
SEARCH_DEPTH = 3  # folder levels under the prefix searched for AWSLogs/
SEARCH_FOLDERS = 200  # folders at one level searched, at most

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_ACCOUNT = re.compile(r"^\d{12}$")
_ORG = re.compile(r"^o-[a-z0-9]{10,32}$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
_LOG_NAME = re.compile(
    r"^(?P<account>\d{12})_CloudTrail_(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)_(?P<stamp>\d{8}T\d{4})Z_[^/]*\.json(?:\.gz)?$"
)
_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+")
_DENIED = ("AccessDenied", "AccessDeniedException", "Forbidden", "403")
_CLIENT_CONFIG = botocore.config.Config(
    retries={"mode": "standard", "max_attempts": 5},  # S3's 503 SlowDown is waited out by botocore
    max_pool_connections=LIST_THREADS + GET_THREADS,
    connect_timeout=10,
    read_timeout=60,
)


def is_bucket(source: str) -> bool:
    return source.startswith(SCHEME)


class BucketUrl(NamedTuple):
    bucket: str
    prefix: str  # "" or a folder, ending with "/"

    @property
    def text(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}"


def parse_url(text: str) -> BucketUrl:
    """``s3://BUCKET[/PREFIX]``; LiveError when it names no bucket."""
    bucket, _, prefix = text.removeprefix(SCHEME).partition("/")
    if not text.startswith(SCHEME) or not _BUCKET.match(bucket):
        raise LiveError(f"{clean(text)} does not name an S3 bucket: write s3://BUCKET or s3://BUCKET/PREFIX.")
    prefix = prefix.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return BucketUrl(bucket, prefix)


@dataclass
class BucketOptions:
    urls: list[str]
    profile: str | None = None
    regions: list[str] = field(default_factory=list)  # the trail's regions to read (empty or "all": every one)
    since: str | None = None
    until: str | None = None
    cache: bool = True
    cache_size: str | None = None  # --cache-size (else KMSTUI_S3_CACHE_SIZE, else 2G)
    filter: Filter = field(default_factory=Filter)
    now: datetime | None = None  # the present (the clock, unless a reproducible run fixes it)


class Pinned(NamedTuple):
    """What a prefix that points into the delivery layout fixes below ``AWSLogs/``."""

    org: str | None = None
    account: str | None = None
    region: str | None = None
    date: tuple[int, ...] = ()  # (year,), (year, month) or (year, month, day)


def pinned(parts: list[str]) -> Pinned | None:
    """The folders after ``AWSLogs/`` read as the layout, or None when they are not it."""
    org = account = region = None
    numbers: list[int] = []
    rest = list(parts)
    if rest and _ORG.match(rest[0]):
        org = rest.pop(0)
    if rest:
        if not _ACCOUNT.match(rest[0]):
            return None
        account = rest.pop(0)
    if rest:
        if rest.pop(0) != "CloudTrail":
            return None
    if rest:
        if not _REGION.match(rest[0]):
            return None
        region = rest.pop(0)
    for width in (4, 2, 2):
        if rest:
            if not (len(rest[0]) == width and rest[0].isdigit()):
                return None
            numbers.append(int(rest.pop(0)))
    if rest:
        return None
    try:
        _span_of(tuple(numbers))
    except ValueError:
        return None
    return Pinned(org, account, region, tuple(numbers))


def _span_of(numbers: tuple[int, ...]) -> tuple[datetime, datetime] | None:
    """The days a dated prefix covers, as [first moment, last second]."""
    if not numbers:
        return None
    year, month, day = (*numbers, 1, 1)[:3]
    first = datetime(year, month, day, tzinfo=UTC)
    if len(numbers) == 3:
        after = first + timedelta(days=1)
    elif len(numbers) == 2:
        after = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    else:
        after = datetime(year + 1, 1, 1, tzinfo=UTC)
    return first, after - timedelta(seconds=1)


@dataclass
class Scope:
    """What of one prefix is read: the window, and the accounts and regions allowed."""

    url: BucketUrl
    start: datetime
    end: datetime
    regions: frozenset[str]  # from --region; empty: any
    terms: list[Term]  # the filter's top-level account: and region: terms

    def allows(self, what: str, name: str) -> bool:
        if what == "region" and self.regions and name not in self.regions:
            return False
        for term in self.terms:
            if term.field == what:
                hit = any(_hit(value, term.op, name) for value in term.values)
                if hit == term.negate:
                    return False
        return True

    def days(self, numbers: tuple[int, ...]) -> list[date]:
        """The day folders to list: the window's, padded, within a dated prefix."""
        first = (self.start - SKEW).date()
        last = (self.end + LATE).date()
        span = _span_of(numbers)
        if span is not None:
            first, last = max(first, span[0].date()), min(last, span[1].date())
        out = []
        while first <= last:
            out.append(first)
            first += timedelta(days=1)
        return out

    def delivered_in_time(self, delivered: datetime) -> bool:
        return self.start - SKEW <= delivered <= self.end + LATE


def _hit(value: str, op: str, name: str) -> bool:
    return name.lower() == value.lower() if op == ":=" else value.lower() in name.lower()


def scope_of(url: BucketUrl, options: BucketOptions, pin: Pinned) -> Scope:
    """The window (``--since``/``--until``, narrowed by the filter's ISO ``since:``/``until:``,
    else a dated prefix's days, else the last day) and the account and region terms."""
    now = options.now or datetime.now(UTC)
    start = _moment(options.since, now, "--since") if options.since else None
    end = _moment(options.until, now, "--until") if options.until else None
    terms = []
    for term in options.filter.terms:
        if term.field in ("account", "region") and term.op in (":", ":="):
            terms.append(term)
        elif term.field in ("since", "until") and not term.negate:
            moment = parse_iso(term.values[0])
            if moment is None:  # a span back from the newest event: known only once loaded
                continue
            if term.field == "since":
                start = moment if start is None else max(start, moment)
            else:
                if len(term.values[0].strip()) == 10:  # until:2026-11-20 includes that day
                    moment += timedelta(seconds=86399)
                end = moment if end is None else min(end, moment)
    span = _span_of(pin.date)
    if span is not None:
        start = span[0] if start is None else start
        end = span[1] if end is None else end
    end = end or now
    start = start or end - DEFAULT_SPAN
    if start >= end:
        raise LiveError("The time range is empty: --since must come before --until.")
    regions = frozenset(r for r in options.regions if r != "all")
    return Scope(url, start, end, regions, terms)


class DayFolder(NamedTuple):
    prefix: str
    account: str
    region: str


class LogObject(NamedTuple):
    key: str
    size: int
    etag: str


class Fetched(NamedTuple):
    """One object, read: where it is now, or why it could not be."""

    item: LogObject
    path: Path | None
    problem: str | None = None
    cached: bool = False


@dataclass
class BucketProgress:
    urls: list[str] = field(default_factory=list)
    folders: int = 0  # day folders to list
    folders_listed: int = 0
    files: int = 0  # log files listed, to read
    bytes: int = 0
    files_done: int = 0
    bytes_done: int = 0
    cached: int = 0  # of them read from the cache
    failed: int = 0
    records: int = 0
    events: int = 0
    digests: int = 0  # digest files in the day folders: not read
    other: int = 0  # other objects in the day folders: not read
    outside: int = 0  # log files delivered outside the window: not read
    dropped: int = 0  # events in the files read, outside the window
    folders_skipped: Counter = field(default_factory=Counter)  # CloudTrail-Digest/ etc.: accounts that have one
    strangers: list[str] = field(default_factory=list)  # under AWSLogs/: neither an organization nor an account
    started: float = field(default_factory=time.monotonic)
    listed_in: float | None = None  # seconds the listing took
    finished: bool = False
    cancelled: bool = False

    @property
    def listing(self) -> bool:
        return self.folders_listed < self.folders or (self.folders == 0 and not self.finished)

    @property
    def rate(self) -> float:
        """Bytes read per second."""
        elapsed = time.monotonic() - self.started
        return self.bytes_done / elapsed if elapsed > 0 else 0.0

    @property
    def fraction(self) -> float:
        """How much is read, of what is listed; while listing, of what the folders listed so far
        suggest the rest holds."""
        if self.finished:
            return 1.0
        if not self.folders or not self.folders_listed:
            return 0.0
        expected = self.bytes * self.folders / self.folders_listed
        if expected <= 0:
            return self.folders_listed / self.folders
        return min(1.0, self.bytes_done / expected)

    @property
    def where(self) -> str:
        return ", ".join(self.urls)


class BucketLoader:
    """Reads a trail's bucket into an index: discovery, listing, downloads, loading."""

    def __init__(self, index: EventIndex, options: BucketOptions):
        self.index = index
        self.options = options
        self.urls = [parse_url(text) for text in options.urls]
        self.progress = BucketProgress(urls=[url.text for url in self.urls])
        self.problems: list[str] = []  # what failed without stopping the rest, one sentence each
        self.skipped: list[Skipped] = []  # objects not read or not loaded, and why
        self.damaged: list[str] = []  # objects loaded in part: what was not, one sentence each
        self.store: ObjectStore | None = None
        self.s3: Any = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ before anything

    def prepare(self) -> None:
        """Credentials and the client; LiveError when there are none."""
        made = session(self.options.profile)
        region = made.region_name or "us-east-1"
        self.s3 = made.client("s3", region_name=region, config=_CLIENT_CONFIG)
        self.store = ObjectStore(self.options.cache, cache_size(self.options.cache_size))
        self.problems.extend(self.store.problems)

    # ------------------------------------------------------------------ the whole run

    def run(
        self,
        on_progress: Callable[[BucketProgress], None] = lambda p: None,
        cancelled: Callable[[], bool] = lambda: False,
        refresh_every: float | None = 0.3,
    ) -> BucketProgress:
        progress = self.progress
        try:
            if self.s3 is None:
                self.prepare()
            for url in self.urls:
                if cancelled():
                    break
                try:
                    self._read(url, on_progress, cancelled, refresh_every)
                except LiveError as error:
                    self.problems.append(str(error))
                except Exception as error:
                    self.problems.append(sentence(error, action=f"Reading {url.text}"))
        except LiveError as error:
            self.problems.append(str(error))
        finally:
            self.index.refresh()
            progress.finished = True
            progress.cancelled = cancelled()
            self._report()
            on_progress(progress)
        return progress

    def _read(
        self,
        url: BucketUrl,
        on_progress: Callable[[BucketProgress], None],
        cancelled: Callable[[], bool],
        refresh_every: float | None,
    ) -> None:
        started = time.monotonic()
        lister = ThreadPoolExecutor(LIST_THREADS, thread_name_prefix="kmstui-list")
        getter = ThreadPoolExecutor(GET_THREADS, thread_name_prefix="kmstui-get")
        try:
            roots = self._roots(url, lister)
            scope = scope_of(url, self.options, roots[0][1])
            folders = sorted({folder for root, pin in roots for folder in self._day_folders(root, pin, scope, lister)})
            with self._lock:
                self.progress.folders += len(folders)
            on_progress(self.progress)
            listings = [lister.submit(self._list_day, folder, scope) for folder in folders]
            items = self._items(listings, cancelled, started, on_progress)
            pending: deque[tuple[LogObject, Future]] = deque()
            more = True
            while True:
                while more and len(pending) < AHEAD:
                    item = next(items, None)
                    if item is None:
                        more = False
                        break
                    pending.append((item, getter.submit(self._fetch, url, item, cancelled)))
                if not pending or cancelled():
                    break
                if not _wait(pending[0][1], cancelled, lambda: on_progress(self.progress)) or cancelled():
                    break
                group: list[Fetched] = []
                while pending and pending[0][1].done() and len(group) < GROUP_FILES:
                    group.append(pending.popleft()[1].result())
                self._load(url, scope, group, on_progress, cancelled, refresh_every)
        finally:
            lister.shutdown(wait=False, cancel_futures=True)
            getter.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ finding the layout

    def _folders(self, prefix: str, bucket: str) -> list[str]:
        """The folder names directly under ``prefix`` (ListObjectsV2 with a delimiter, paged)."""
        names = []
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes") or []:
                    names.append(common["Prefix"][len(prefix) :].rstrip("/"))
        except Exception as error:
            raise LiveError(_list_sentence(error, bucket, prefix)) from None
        return names

    def _roots(self, url: BucketUrl, pool: ThreadPoolExecutor) -> list[tuple[str, Pinned]]:
        """The ``AWSLogs/`` folders to read, with what the prefix fixes below them."""
        parts = url.prefix.split("/")[:-1]
        for at in reversed([i for i, part in enumerate(parts) if part == "AWSLogs"]):
            pin = pinned(parts[at + 1 :])
            if pin is not None:
                return [("".join(p + "/" for p in parts[: at + 1]), pin)]
        if "AWSLogs" in parts:
            raise LiveError(
                f"{clean(url.text)} is not a folder of CloudTrail's delivery layout "
                "(AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/)."
            )
        level = [url.prefix]
        for depth in range(SEARCH_DEPTH + 1):
            listed = list(pool.map(lambda prefix: self._folders(prefix, url.bucket), level))
            found = [
                (prefix + "AWSLogs/", Pinned())
                for prefix, names in zip(level, listed, strict=True)
                if "AWSLogs" in names
            ]
            if found:
                return found
            level = [prefix + name + "/" for prefix, names in zip(level, listed, strict=True) for name in names]
            if not level or depth == SEARCH_DEPTH:
                break
            if len(level) > SEARCH_FOLDERS:
                raise LiveError(
                    f"No AWSLogs/ folder directly under {clean(url.text)}, and too many folders below it to search "
                    "(name the trail's prefix: s3://BUCKET/PREFIX/AWSLogs/)."
                )
        raise LiveError(
            f"No CloudTrail log files under {clean(url.text)}: no AWSLogs/ folder there or {SEARCH_DEPTH} levels "
            "below it (name the trail's S3 key prefix: s3://BUCKET/PREFIX)."
        )

    def _day_folders(self, root: str, pin: Pinned, scope: Scope, pool: ThreadPoolExecutor) -> list[DayFolder]:
        bucket = scope.url.bucket
        if pin.account:
            accounts = [(f"{root}{pin.org + '/' if pin.org else ''}{pin.account}/", pin.account)]
        else:
            base = f"{root}{pin.org}/" if pin.org else root
            names = self._folders(base, bucket)
            orgs = [base + name + "/" for name in names if _ORG.match(name)] if not pin.org else []
            accounts = [(base + name + "/", name) for name in names if _ACCOUNT.match(name)]
            with self._lock:
                self.progress.strangers += [
                    base + name + "/"
                    for name in names
                    if not (_ORG.match(name) and not pin.org) and not _ACCOUNT.match(name)
                ]
            for org, listed in zip(orgs, pool.map(lambda p: self._folders(p, bucket), orgs), strict=True):
                accounts += [(org + name + "/", name) for name in listed if _ACCOUNT.match(name)]
        accounts = [(prefix, account) for prefix, account in accounts if scope.allows("account", account)]

        def regions(prefix: str) -> list[str]:
            if pin.region:
                return [pin.region]
            names = self._folders(prefix, bucket)
            with self._lock:
                self.progress.folders_skipped.update(name for name in names if name != "CloudTrail")
            if "CloudTrail" not in names:
                return []
            return [name for name in self._folders(prefix + "CloudTrail/", bucket) if _REGION.match(name)]

        days = scope.days(pin.date)
        folders = []
        for (prefix, account), names in zip(accounts, pool.map(lambda a: regions(a[0]), accounts), strict=True):
            for region in names:
                if scope.allows("region", region):
                    folders += [
                        DayFolder(f"{prefix}CloudTrail/{region}/{day:%Y/%m/%d}/", account, region) for day in days
                    ]
        return folders

    # ------------------------------------------------------------------ listing the days

    def _list_day(self, folder: DayFolder, scope: Scope) -> list[LogObject]:
        items: list[LogObject] = []
        digests = other = outside = 0
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=scope.url.bucket, Prefix=folder.prefix
            ):
                for entry in page.get("Contents") or []:
                    key = entry["Key"]
                    match = _LOG_NAME.match(key[len(folder.prefix) :])
                    if match is None:
                        if "_CloudTrail-Digest_" in key:
                            digests += 1
                        else:
                            other += 1
                        continue
                    delivered = datetime.strptime(match["stamp"], "%Y%m%dT%H%M").replace(tzinfo=UTC)
                    if not scope.delivered_in_time(delivered):
                        outside += 1
                        continue
                    items.append(LogObject(key, int(entry.get("Size") or 0), str(entry.get("ETag") or "")))
        except Exception as error:
            with self._lock:
                self.problems.append(_list_sentence(error, scope.url.bucket, folder.prefix))
        with self._lock:
            progress = self.progress
            progress.folders_listed += 1
            progress.files += len(items)
            progress.bytes += sum(item.size for item in items)
            progress.digests += digests
            progress.other += other
            progress.outside += outside
        return items

    def _items(
        self,
        listings: list[Future],
        cancelled: Callable[[], bool],
        started: float,
        on_progress: Callable[[BucketProgress], None],
    ) -> Iterator[LogObject]:
        """The objects to read, in key order (folders in order, keys in order within each)."""
        for future in listings:
            if not _wait(future, cancelled):
                return
            yield from future.result()
        self.progress.listed_in = (self.progress.listed_in or 0.0) + time.monotonic() - started
        on_progress(self.progress)

    # ------------------------------------------------------------------ reading objects

    def _fetch(self, url: BucketUrl, item: LogObject, cancelled: Callable[[], bool]) -> Fetched:
        store = self.store
        assert store is not None
        if cancelled():
            return Fetched(item, None, "stopped")
        path = store.get(url.bucket, item.key, item.etag, item.size)
        if path is not None:
            return Fetched(item, path, cached=True)
        limit = max_input()
        if item.size > limit:
            return Fetched(
                item,
                None,
                f"it holds more than {size_text(limit)}, the limit for one input (raise it with --max-input)",
            )
        try:
            response = self.s3.get_object(Bucket=url.bucket, Key=item.key)
        except botocore.exceptions.ClientError as error:
            return Fetched(item, None, self._refused(url, item, error))
        except Exception as error:
            return Fetched(item, None, sentence(error, action="GetObject").rstrip("."))
        body = response["Body"]
        etag = str(response.get("ETag") or item.etag)
        download = store.start(url.bucket, item.key, etag, item.size)
        try:
            for chunk in body.iter_chunks(CHUNK):
                if cancelled():
                    store.abandon(download)
                    return Fetched(item, None, "stopped")
                download.write(chunk)
                if download.size > limit:
                    store.abandon(download)
                    return Fetched(item, None, f"it holds more than {size_text(limit)}, the limit for one input")
        except Exception as error:  # the connection cut, a short body (IncompleteReadError), a timeout
            store.abandon(download)
            return Fetched(item, None, f"the download was cut off ({clean(_first_line(error))})")
        finally:
            body.close()
        return Fetched(item, store.finish(download))

    def _refused(self, url: BucketUrl, item: LogObject, error: botocore.exceptions.ClientError) -> str:
        """Why GetObject was refused, in words: SSE-KMS objects say which key."""
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        message = str(details.get("Message", ""))
        if code in ("NoSuchKey", "404", "NotFound"):
            return "the object was deleted between listing and reading it (NoSuchKey)"
        if code in ("InvalidObjectState",):
            return "it is archived (a Glacier storage class): restore it to read it"
        if code in _DENIED:
            key = self._encryption_key(url, item)
            named = _KEY_ARN.search(message)
            if key is None and named is not None:
                key = named.group()
            if key is not None or "kms:" in message.lower():
                which = clean(key) if key else "(not named by S3)"
                return (
                    f"S3 could not decrypt it: access denied to the KMS key {which} it is encrypted with (SSE-KMS); "
                    "the credentials need kms:Decrypt on that key"
                )
            return "access denied: the credentials need s3:GetObject on it"
        return sentence(error, action="GetObject").rstrip(".")

    def _encryption_key(self, url: BucketUrl, item: LogObject) -> str | None:
        """The KMS key of an SSE-KMS object (HeadObject needs no kms:Decrypt), or None."""
        try:
            head = self.s3.head_object(Bucket=url.bucket, Key=item.key)
        except Exception:
            return None
        if head.get("ServerSideEncryption") == "aws:kms":
            return str(head.get("SSEKMSKeyId") or "") or None
        return None

    # ------------------------------------------------------------------ loading

    def _load(
        self,
        url: BucketUrl,
        scope: Scope,
        group: list[Fetched],
        on_progress: Callable[[BucketProgress], None],
        cancelled: Callable[[], bool],
        refresh_every: float | None,
    ) -> None:
        progress = self.progress
        files = []
        for fetched in group:
            label = f"{SCHEME}{url.bucket}/{fetched.item.key}"
            if fetched.path is None:
                if fetched.problem == "stopped":
                    continue
                skipped = Skipped(label, fetched.problem or "not read")
                self.skipped.append(skipped)
                self.index.report.skipped.append(skipped)
                progress.failed += 1
                progress.files_done += 1
                progress.bytes_done += fetched.item.size
                continue
            progress.cached += fetched.cached
            files.append(SourceFile(str(fetched.path), label))
        start, end = int(scope.start.timestamp()), int(scope.end.timestamp())
        before = (progress.files_done, progress.bytes_done, progress.records, progress.events)

        def narrow(batch: Batch) -> Batch:
            batch, dropped = within(batch, start, end)
            progress.dropped += dropped
            return batch

        def loaded(inner: loader.Progress) -> None:
            progress.files_done = before[0] + inner.files_done
            progress.bytes_done = before[1] + inner.bytes_done
            progress.records = before[2] + inner.records
            progress.events = before[3] + inner.events
            on_progress(progress)

        def said(batch: Batch) -> None:  # what the loader could not read, or read in part
            for source in batch.sources:
                if source.error:
                    self.skipped.append(Skipped(source.label, source.error))
                self.damaged.extend(f"{source.label}: {problem}" for problem in source.problems)

        if files:
            loader.load(
                self.index,
                files,
                on_progress=loaded,
                on_batch=said,
                cancelled=cancelled,
                refresh_every=refresh_every,
                narrow=narrow,
            )
        else:
            on_progress(progress)

    # ------------------------------------------------------------------ saying what happened

    def sentences(self) -> list[str]:
        """What was read and what was not, for the load summary and standard error."""
        p = self.progress
        out = [
            f"Read {p.files_done - p.failed:,} of {p.files:,} log files ({size_text(p.bytes_done)}) from {p.where}"
            f" ({p.cached:,} from the cache), in {p.folders_listed:,} day folders"
            + (f" listed in {p.listed_in:.1f} s" if p.listed_in is not None else "")
            + "."
        ]
        if p.dropped:
            out.append(f"Dropped {p.dropped:,} events outside the window (the folders hold a day more).")
        if p.outside:
            out.append(f"Not read: {p.outside:,} log files delivered outside the window.")
        if p.other:
            out.append(f"Not read: {p.other:,} objects in the day folders that are not CloudTrail log files.")
        for stranger in p.strangers:
            out.append(
                f"Not read: {clean(stranger)} is neither an organization id (o- and 10 to 32 letters or digits) "
                "nor a 12-digit account, so it is not CloudTrail's layout."
            )
        for name, count in sorted(p.folders_skipped.items()):
            kind = " (digest files: hashes of log files, not events)" if name == "CloudTrail-Digest" else ""
            out.append(f"Not read: {clean(name)}/ of {count:,} account{'s' if count != 1 else ''}{kind}.")
        return out

    def _report(self) -> None:
        """The load summary learns what the bucket held besides the files read."""
        report = self.index.report
        report.digests += self.progress.digests
        label = self.progress.where
        for line in self.sentences():
            report.problems.append(Damage(label, line.rstrip(".")))


def _wait(future: Future, cancelled: Callable[[], bool], idle: Callable[[], None] = lambda: None) -> bool:
    """Wait for ``future``, calling ``idle`` now and then (the rate and the last figures are
    shown while a download is slow); False when stopped first."""
    while True:
        if cancelled():
            return False
        try:
            future.result(timeout=0.1)
            return True
        except FutureTimeout:
            idle()
            continue
        except Exception:  # its own result says what went wrong
            return True


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _list_sentence(error: BaseException, bucket: str, prefix: str) -> str:
    where = clean(f"{SCHEME}{bucket}/{prefix}")
    if isinstance(error, botocore.exceptions.ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code == "NoSuchBucket":
            return f"There is no S3 bucket named {clean(bucket)} (or not in this partition)."
        if code in _DENIED:
            return (
                f"Access denied to ListObjectsV2 on {where}: the credentials need s3:ListBucket on the bucket "
                "(for this prefix)."
            )
    return sentence(error, action=f"ListObjectsV2 on {where}")
