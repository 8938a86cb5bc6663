"""The cache of a trail bucket's objects: a second look at the same days reads no object twice.

Each object is kept as S3 sent it (gzipped log files stay gzipped), named by the SHA-256 of
its bucket, key and ETag: an object rewritten in place has another ETag, so another name,
and is read again. The folder is private (0700, files 0600, as the LookupEvents cache:
symbolic links, other users' files and hard links are refused). A download is written to a
private temporary name beside its place, fsynced and renamed into place, so a kill leaves
the object whole or absent, never cut. A cached file whose size is not the object's (as
listed) is not trusted: it is read again.

The cache holds at most a size the user sets (``--cache-size``, ``KMSTUI_S3_CACHE_SIZE``);
the least recently read objects go first, never one this run uses (the detail view reads
records back from it). What does not fit is kept for this run only, in a private
temporary folder removed when kmstui ends, and so is everything with ``--no-cache``.

Several kmstui processes can share the cache. Each one that uses it signs in: a file of its
own under ``.runs/`` holding its start time, locked (``fcntl.flock``) for as long as it
runs. Every object a run reads or writes is touched then, so an object another running
kmstui may still use is one touched since that run started: eviction leaves those alone.
A sign-in file nobody holds locked was left by a kmstui that ended without a word, and goes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import threading
import time
import weakref
from pathlib import Path

import platformdirs

from ..sources import CACHE_SIZE_VARIABLE, parse_size, private_dir, size_text
from .cache import CacheRefused, open_private, private_folder

DEFAULT_CACHE_SIZE = 2 << 30
_STALE = 3600.0  # a temporary download older than this was left by a killed kmstui
_RUNS = ".runs"  # the sign-in files of the kmstui processes using the cache
_CLOCK_MARGIN = 1.0  # seconds: a file's stamp and time.time() come from different clocks
_SIGNING_IN = 60.0  # an empty sign-in file younger than this is a kmstui between creating and locking it


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("kmstui")) / "s3"


def cache_size(option: str | None = None) -> int:
    """The cache's upper size: ``--cache-size``, else KMSTUI_S3_CACHE_SIZE, else 2G."""
    for text in (option, os.environ.get(CACHE_SIZE_VARIABLE)):
        if text:
            try:
                return parse_size(text)
            except ValueError:
                continue
    return DEFAULT_CACHE_SIZE


def clear_cache() -> list[Path]:
    """Remove every cached object; the paths removed."""
    folder = cache_dir()
    if not folder.is_dir() or folder.is_symlink():
        return []
    removed = []
    for path in sorted(folder.glob("*/*")):
        if path.is_file() and not path.is_symlink() and not path.parent.name.startswith("."):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _sign_out(fd: int, path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
    os.close(fd)


class Download:
    """One object being written: a private file, renamed into place by :meth:`ObjectStore.finish`."""

    def __init__(self, fd: int, temporary: Path, final: Path, kept: bool, reserved: int = 0):
        self.fd = fd
        self.reserved = reserved  # bytes set aside in the shared cache
        self.temporary = temporary
        self.final = final
        self.kept = kept  # in the shared cache (else for this run only)
        self.size = 0

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        self.size += len(data)


class ObjectStore:
    """Where this run keeps the objects it reads: the shared cache when it may, else a private
    folder of this run's own. Thread-safe: downloads run side by side."""

    def __init__(self, use_cache: bool = True, limit: int = DEFAULT_CACHE_SIZE, folder: Path | None = None):
        self.limit = limit
        self.folder: Path | None = None
        self.problems: list[str] = []  # one sentence each
        self.used: set[Path] = set()  # this run's files: never evicted
        self.total = 0  # bytes of the objects in the shared cache
        self.inflight = 0  # bytes set aside for downloads to it in progress
        self.full = False  # this run's objects alone fill it
        self.hits = 0
        self._lock = threading.Lock()
        self._run = Path(private_dir()) / f"s3-{secrets.token_hex(4)}"
        self._run.mkdir(mode=0o700)
        self._sign_in_name = ""
        self._sign_out: weakref.finalize | None = None  # while this run uses the cache
        if use_cache:
            folder = folder or cache_dir()
            try:
                private_folder(folder)
                self._sign_in(folder)
                self.total = self._scan(folder)
                self.folder = folder
            except (CacheRefused, OSError) as error:
                self.close()
                self._refuse(error)

    def _sign_in(self, folder: Path) -> None:
        """Say, for as long as this process lives, that it uses the cache and since when."""
        runs = folder / _RUNS
        private_folder(runs)
        self._sign_in_name = f"{os.getpid()}-{secrets.token_hex(4)}"
        fd = open_private(runs / self._sign_in_name, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # The start on the clock that stamps the objects touched (the kernel's coarse one,
            # which can lag time.time() by a tick), less a margin: an object this run touches
            # is never taken for older than its start.
            started = min(time.time(), os.fstat(fd).st_mtime) - _CLOCK_MARGIN
            os.write(fd, repr(started).encode())
        except BaseException:
            os.close(fd)
            raise
        self._sign_out = weakref.finalize(self, _sign_out, fd, runs / self._sign_in_name)

    def close(self) -> None:
        """Sign out of the cache (done at the process's end, or when the store is dropped)."""
        if self._sign_out is not None:
            self._sign_out()

    def _others_since(self) -> float:
        """The start of the oldest other kmstui using the cache now (infinity when none): an
        object touched since then may be theirs. Sign-ins nobody holds are removed."""
        oldest = float("inf")
        assert self.folder is not None
        runs = self.folder / _RUNS
        try:
            entries = list(os.scandir(runs))
        except OSError:
            return oldest
        for entry in entries:
            if entry.name == self._sign_in_name or not entry.is_file(follow_symlinks=False):
                continue
            try:
                fd = open_private(Path(entry.path), os.O_RDONLY)
            except (CacheRefused, OSError):
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:  # held: that kmstui is running
                    try:
                        started = float(os.read(fd, 64).decode() or "0")
                    except ValueError:
                        started = 0.0  # unreadable: assume it has used everything
                    oldest = min(oldest, started)
                else:
                    info = os.fstat(fd)
                    if info.st_size == 0 and time.time() - info.st_mtime < _SIGNING_IN:
                        # made but not yet locked: a kmstui signing in right now
                        oldest = min(oldest, info.st_mtime - _CLOCK_MARGIN)
                    else:  # nobody holds it: its kmstui has ended
                        os.unlink(entry.path)
            finally:
                os.close(fd)
        return oldest

    def _refuse(self, error: BaseException) -> None:
        reason = str(error) if isinstance(error, CacheRefused) else (getattr(error, "strerror", None) or str(error))
        self.folder = None
        self.problems.append(f"The cache of bucket objects is not used ({reason}): objects are read for this run only.")

    def _scan(self, folder: Path) -> int:
        """The bytes the cache holds; temporary files a killed kmstui left are removed."""
        total = 0
        now = time.time()
        for sub in folder.iterdir():
            if not sub.is_dir() or sub.is_symlink() or sub.name.startswith("."):
                continue
            for entry in os.scandir(sub):
                info = entry.stat(follow_symlinks=False)
                if entry.name.startswith(".") and now - info.st_mtime > _STALE:
                    os.unlink(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += info.st_size
        return total

    @staticmethod
    def name(bucket: str, key: str, etag: str) -> str:
        return hashlib.sha256(f"{bucket}\0{key}\0{etag}".encode("utf-8", "surrogatepass")).hexdigest()

    def _place(self, bucket: str, key: str, etag: str) -> Path | None:
        if self.folder is None:
            return None
        name = self.name(bucket, key, etag)
        return self.folder / name[:2] / name

    def get(self, bucket: str, key: str, etag: str, size: int) -> Path | None:
        """The cached copy of this object (these bytes, this size), or None. Under the lock:
        an object found is this run's before any eviction can see it."""
        path = self._place(bucket, key, etag)
        if path is None:
            return None
        with self._lock:
            try:
                fd = open_private(path, os.O_RDONLY)
            except FileNotFoundError:
                return None
            except (CacheRefused, OSError) as error:
                if self.folder is not None:
                    self._refuse(error)
                return None
            try:
                if os.fstat(fd).st_size != size:  # not what was listed: read it again
                    return None
                os.utime(fd)  # recently used: the last to go
            finally:
                os.close(fd)
            self.used.add(path)
            self.hits += 1
        return path

    def start(self, bucket: str, key: str, etag: str, size: int) -> Download:
        """A private file to write the object to; in the shared cache when it fits there."""
        place = self._place(bucket, key, etag)
        kept = place is not None and self._reserve(size)
        if kept:
            assert place is not None
            try:
                private_folder(place.parent)
            except (CacheRefused, OSError) as error:
                with self._lock:
                    self._refuse(error)
                    self.inflight -= size
                kept = False
        if not kept or place is None:
            place = self._run / self.name(bucket, key, etag)
        temporary = place.parent / f".{place.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = open_private(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        return Download(fd, temporary, place, kept, size if kept else 0)

    def finish(self, download: Download) -> Path:
        """Make the download whole in its place (fsync, rename, fsync the folder)."""
        try:
            os.fsync(download.fd)
        finally:
            os.close(download.fd)
        with self._lock:  # this run's before an eviction can see it
            self.used.add(download.final)
            os.rename(download.temporary, download.final)
            self.inflight -= download.reserved
            if download.kept:
                self.total += download.size
        folder = os.open(download.final.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        return download.final

    def abandon(self, download: Download) -> None:
        """A download that failed or was stopped: its temporary file goes."""
        try:
            os.close(download.fd)
        except OSError:
            pass
        download.temporary.unlink(missing_ok=True)
        with self._lock:
            self.inflight -= download.reserved

    def _reserve(self, size: int) -> bool:
        """Room for ``size`` more bytes in the shared cache, evicting the least recently read
        objects this run does not use; False when even that would not make room (then the
        object is kept for this run only)."""
        with self._lock:
            if self.total + self.inflight + size <= self.limit:
                self.inflight += size
                return True
            if self.folder is None or self.full or size > self.limit:
                return False
            candidates = []
            others_since = self._others_since()
            for sub in self.folder.iterdir():
                if sub.is_dir() and not sub.is_symlink() and not sub.name.startswith("."):
                    for entry in os.scandir(sub):
                        if entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
                            info = entry.stat(follow_symlinks=False)
                            candidates.append((info.st_mtime, info.st_size, Path(entry.path)))
            candidates.sort()
            self.total = sum(held for _, held, _ in candidates)
            for mtime, held, path in candidates:
                if self.total + self.inflight + size <= self.limit:
                    break
                if path not in self.used and mtime < others_since:
                    path.unlink(missing_ok=True)
                    self.total -= held
            if self.total + self.inflight + size <= self.limit:
                self.inflight += size
                return True
            self.full = True  # only objects in use are left: the rest of the run goes by
            return False

    def describe(self) -> str:
        if self.folder is None:
            return "no cache"
        return f"cache {size_text(self.total)} of {size_text(self.limit)}"
