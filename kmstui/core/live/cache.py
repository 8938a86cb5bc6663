"""The LookupEvents cache: what it holds, and only what it really holds.

Each account, region and pass has three files in a private folder (0700, files 0600):

- ``NAME.jsonl``, the LookupEvents events, one a line, only ever appended to;
- ``NAME.meta.json``, the commit record: how many bytes of the data are committed, their
  SHA-256, a generation (which file it describes) and the time ranges held;
- ``NAME.lock``, taken (``fcntl.flock``) around every read of the commit record and every
  commit, so that two kmstui processes never interleave their writes.

A commit appends the new events (those not in the file yet), fsyncs them, then writes the
commit record aside, fsyncs it and renames it over the old one: a kill at any moment
leaves the old commit or the new, and bytes past the committed length (a writer killed
half way) are cut off by the next writer. The ranges claimed are those paged through
without a break, from where paging started: after an interruption the rest is asked
again. A data file whose bytes do not match the commit record (truncated, altered) is
emptied and fetched again, with a sentence. Symbolic links, files of another user and
anything but regular files are refused (the cache is not used, with a sentence).

Each run reads records back from its own view (a private copy of the committed events
plus what it fetched), never from the shared file, so another process's writes can never
make the detail view show another event's record.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ..sources import private_dir

OVERLAP = timedelta(minutes=10)  # asked again at the newest edge of the cache: events arrive late
VERSION = 2
_CHUNK = 1 << 20

Range = tuple[datetime, datetime]
Sink = Callable[[str, bytes], None]  # (event id, its line)
Hash = Any  # hashlib's hash object


class CacheRefused(Exception):
    """The cache cannot be used (a symbolic link, another user's file...): one sentence."""


class CacheDamaged(Exception):
    """The cache's bytes do not match its commit record."""


class CacheOutdated(CacheDamaged):
    """A commit record of an older kmstui (no version): started again without a word."""


# ---------------------------------------------------------------------------
# Private files, opened as ssh opens its own


def private_folder(folder: Path) -> None:
    """Create ``folder`` (0700) or check that it is the user's own real directory."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder.is_symlink():
        raise CacheRefused(f"{folder} is a symbolic link")
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        raise CacheRefused(f"{folder} is not a plain directory ({_reason(error)})") from None
    try:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid():
            raise CacheRefused(f"{folder} belongs to another user")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def open_private(path: Path, flags: int) -> int:
    """A file descriptor on ``path``, refused when it is a symbolic link, not a regular file,
    has other names (hard links) or belongs to another user; made 0600."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise CacheRefused(f"{path} is a symbolic link") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CacheRefused(f"{path} is not a regular file")
        if info.st_uid != os.geteuid():
            raise CacheRefused(f"{path} belongs to another user")
        if info.st_nlink > 1:
            raise CacheRefused(f"{path} has other names (hard links)")
        if stat.S_IMODE(info.st_mode) != 0o600:
            os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _reason(error: OSError) -> str:
    return "a symbolic link" if error.errno == errno.ELOOP else (error.strerror or type(error).__name__)


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (a private lock file), released on exit or death."""
    fd = open_private(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


# ---------------------------------------------------------------------------
# Time ranges


def merge(ranges: list[Range]) -> list[Range]:
    """Sorted ranges, overlapping or touching ones joined."""
    out: list[Range] = []
    for start, end in sorted(r for r in ranges if r[0] <= r[1]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def gaps(ranges: list[Range], start: datetime, end: datetime) -> list[Range]:
    """The parts of [start, end] the ranges do not cover, newest first; the newest range is
    taken to end OVERLAP early (events arrive late)."""
    held = merge(ranges)
    if held:
        first, last = held[-1]
        held[-1] = (first, last - OVERLAP)
    missing: list[Range] = []
    cursor = end
    for low, high in reversed(held):
        if high >= cursor:
            cursor = min(cursor, low)
            continue
        if high < start:
            break
        missing.append((max(high, start), cursor))
        cursor = min(cursor, low)
    if cursor > start:
        missing.append((start, cursor))
    return [(a, b) for a, b in missing if a < b]


# ---------------------------------------------------------------------------
# The shared file


@dataclass
class Meta:
    """The commit record: which data file (generation), how much of it, its hash, what it holds."""

    generation: str
    size: int
    lines: int
    sha256: str
    ranges: list[Range]


class Store:
    """One account's, region's and pass's shared cache files, and this process's knowledge
    of them: what was committed when it last looked."""

    def __init__(self, folder: Path, name: str):
        self.data = folder / f"{name}.jsonl"
        self.meta = folder / f"{name}.meta.json"
        self.lock = folder / f"{name}.lock"
        self.folder = folder
        self.generation = ""
        self.size = 0
        self.lines = 0
        self.digest = hashlib.sha256()
        self.ids: set[str] = set()
        self.ranges: list[Range] = []

    def _read_meta(self) -> Meta | None:
        """The commit record, None when there is none; CacheDamaged when it is unreadable."""
        try:
            fd = open_private(self.meta, os.O_RDONLY)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as handle:
            text = handle.read(1 << 24)
        try:
            info = json.loads(text)
            if isinstance(info, dict) and "version" not in info and "oldest" in info:
                raise CacheOutdated
            if not isinstance(info, dict) or info.get("version") != VERSION:
                raise ValueError
            meta = Meta(
                str(info["generation"]),
                int(info["size"]),
                int(info["lines"]),
                str(info["sha256"]),
                [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in info["ranges"]],
            )
        except (ValueError, KeyError, TypeError):
            raise CacheDamaged from None
        if meta.size < 0 or meta.lines < 0 or any(a.tzinfo is None or b.tzinfo is None for a, b in meta.ranges):
            raise CacheDamaged
        return meta

    def _write_meta(self) -> None:
        """Write the commit record aside, fsync it, rename it into place, fsync the folder."""
        info = {
            "version": VERSION,
            "generation": self.generation,
            "size": self.size,
            "lines": self.lines,
            "sha256": self.digest.hexdigest(),
            "ranges": [[a.isoformat(), b.isoformat()] for a, b in self.ranges],
        }
        aside = self.folder / f".{self.meta.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = open_private(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            _write_all(fd, json.dumps(info).encode(), 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            aside.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.rename(aside, self.meta)
        folder = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def _read_lines(self, fd: int, start: int, end: int, digest: Hash, sink: Sink) -> int:
        """Read the committed bytes [start, end): hash them, check each line is an event,
        remember its id and hand it to ``sink``; the number of lines. CacheDamaged otherwise."""
        offset = start
        rest = b""
        count = 0
        while offset < end:
            chunk = os.pread(fd, min(_CHUNK, end - offset), offset)
            if not chunk:
                raise CacheDamaged  # shorter than committed
            offset += len(chunk)
            digest.update(chunk)
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            for line in parts:
                sink(self._check(line), line)
                count += 1
        if rest:
            raise CacheDamaged  # committed data always ends a line
        return count

    def _check(self, line: bytes) -> str:
        """The id of the event on this line (remembered); CacheDamaged when it is none."""
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise CacheDamaged from None
        if not isinstance(event, dict) or not isinstance(event.get("EventId"), str):
            raise CacheDamaged
        self.ids.add(event["EventId"])
        return event["EventId"]

    def _reset(self, fd: int) -> None:
        os.ftruncate(fd, 0)
        os.fsync(fd)
        self.generation = secrets.token_hex(8)
        self.size = self.lines = 0
        self.digest = hashlib.sha256()
        self.ids = set()
        self.ranges = []
        self._write_meta()

    def open(self, sink: Sink, clear_sink: Callable[[], None]) -> bool:
        """Check the files under the lock, hand every committed line to ``sink`` (the run's
        view); True when they were damaged and emptied (and ``clear_sink`` called)."""
        with locked(self.lock):
            fd = open_private(self.data, os.O_RDWR | os.O_CREAT)
            try:
                damaged = False
                outdated = False
                try:
                    meta = self._read_meta()
                except CacheOutdated:
                    meta, outdated = None, True
                except CacheDamaged:
                    meta, damaged = None, True
                if meta is None:
                    if os.fstat(fd).st_size and not (damaged or outdated):
                        damaged = True  # data without a commit record: nothing says what it is
                    self._reset(fd)
                    return damaged
                self.generation = meta.generation
                try:
                    digest = hashlib.sha256()
                    lines = self._read_lines(fd, 0, meta.size, digest, sink)
                    if digest.hexdigest() != meta.sha256 or lines != meta.lines:
                        raise CacheDamaged
                except CacheDamaged:
                    clear_sink()
                    self._reset(fd)
                    return True
                self.size, self.lines, self.digest, self.ranges = meta.size, lines, digest, meta.ranges
                if os.fstat(fd).st_size > self.size:  # a writer killed before its commit
                    os.ftruncate(fd, self.size)
                return False
            finally:
                os.close(fd)

    def commit(self, lines: list[tuple[str, bytes]], claim: Range | None) -> None:
        """Append the events not in the file yet and claim a range, atomically. CacheRefused
        when the files were removed, replaced or damaged meanwhile (this run stops using them)."""
        with locked(self.lock):
            fd = open_private(self.data, os.O_RDWR | os.O_CREAT)
            try:
                try:
                    meta = self._read_meta()
                except CacheDamaged:
                    meta = None
                if meta is None or meta.generation != self.generation or meta.size < self.size:
                    raise CacheRefused(f"{self.data} was cleared or replaced meanwhile")
                if meta.size > self.size:  # another process committed meanwhile: learn its ids
                    digest = self.digest.copy()
                    try:
                        added = self._read_lines(fd, self.size, meta.size, digest, lambda event_id, line: None)
                    except CacheDamaged:
                        raise CacheRefused(f"{self.data} was altered meanwhile") from None
                    if digest.hexdigest() != meta.sha256:
                        raise CacheRefused(f"{self.data} was altered meanwhile")
                    self.digest, self.size, self.lines = digest, meta.size, self.lines + added
                ranges = merge(meta.ranges + self.ranges + ([claim] if claim else []))
                new = []
                for event_id, line in lines:
                    if event_id not in self.ids:
                        self.ids.add(event_id)
                        new.append(line)
                if not new and ranges == meta.ranges:
                    self.ranges = ranges
                    return
                if os.fstat(fd).st_size != self.size:  # a writer killed before its commit
                    os.ftruncate(fd, self.size)
                if new:
                    blob = b"".join(line + b"\n" for line in new)
                    _write_all(fd, blob, self.size)
                    os.fsync(fd)
                    self.digest.update(blob)
                    self.size += len(blob)
                    self.lines += len(new)
                self.ranges = ranges
                self._write_meta()
            finally:
                os.close(fd)


# ---------------------------------------------------------------------------
# What a run uses


class Cache:
    """One region's and pass's events for this run: its private view (the file the index
    reads records back from), and the shared store when there is one."""

    def __init__(self, name: str, store: Store | None = None):
        self.path = Path(private_dir()) / f"{name}-{secrets.token_hex(4)}.jsonl"  # the view
        self.store = store
        self.lines = 0
        self.ids: set[str] = set()
        self.ranges: list[Range] = []
        self.problems: list[str] = []
        os.close(open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        self._view: BinaryIO | None = None

    @classmethod
    def open(cls, folder: Path, name: str, describe: str) -> Cache:
        """The cache for ``name`` in ``folder``: the committed events in the view, or, when
        the shared files cannot be used, an empty one for this run only (with a sentence)."""
        try:
            private_folder(folder)
            store: Store | None = Store(folder, name)
        except (CacheRefused, OSError) as error:
            cache = cls(name)
            cache.problems.append(_refused(describe, error))
            return cache
        cache = cls(name, store)
        assert store is not None
        cache._view = os.fdopen(open_private(cache.path, os.O_WRONLY), "wb")
        try:
            damaged = store.open(cache._keep, cache._clear)
        except (CacheRefused, OSError) as error:
            cache._clear()
            cache.store = None
            cache.problems.append(_refused(describe, error))
            return cache
        finally:
            cache._view.close()
            cache._view = None
        cache.ranges = list(store.ranges)
        if damaged:
            cache.problems.append(
                f"The cached {describe} did not match their commit record (truncated or altered): fetched again."
            )
        return cache

    def _keep(self, event_id: str, line: bytes) -> None:
        assert self._view is not None
        self._view.write(line + b"\n")
        self.ids.add(event_id)
        self.lines += 1

    def _clear(self) -> None:
        assert self._view is not None
        self._view.seek(0)
        self._view.truncate()
        self.ids.clear()
        self.lines = 0

    def missing(self, start: datetime, end: datetime) -> list[Range]:
        """The parts of [start, end] not held (the newest edge asked again), newest first."""
        return gaps(self.ranges, start, end)

    def take(self, events: list[dict], claim: Range | None, describe: str) -> tuple[int, list[dict]]:
        """Keep a page's events and claim a range as held: (line of the first event new to
        this run's view, those events). The shared store gets them too, when there is one."""
        first = self.lines
        fresh = []
        for event in events:
            event_id = event.get("EventId")
            if isinstance(event_id, str) and event_id in self.ids:
                continue
            if isinstance(event_id, str):
                self.ids.add(event_id)
            fresh.append(event)
        lines = [(str(e.get("EventId")), json.dumps(e, separators=(",", ":")).encode()) for e in fresh]
        if lines:
            fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)
            try:
                blob = b"".join(line + b"\n" for _, line in lines)
                view = memoryview(blob)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            self.lines += len(lines)
        if claim is not None:
            self.ranges = merge([*self.ranges, claim])
        if self.store is not None:
            try:
                self.store.commit(lines, claim)
            except (CacheRefused, OSError) as error:
                self.store = None
                self.problems.append(
                    f"The cache of {describe} can no longer be written ({error}): this run's events are not kept in it."
                )
        return first, fresh


def _refused(describe: str, error: BaseException) -> str:
    reason = str(error) if isinstance(error, CacheRefused) else (getattr(error, "strerror", None) or str(error))
    return f"The cache of {describe} is not used ({reason}): its events are fetched and kept for this run only."
