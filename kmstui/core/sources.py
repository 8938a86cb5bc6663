"""Sources: finding input files, reading them, and splitting them into raw records.

The format is told from the content, never the name: gzip by its magic bytes, then
a CloudTrail log file (``{"Records": [...]}``), ``aws cloudtrail lookup-events``
output (``{"Events": [...]}``, one page or several, concatenated or in a list),
JSON Lines of records or of LookupEvents events, a JSON array of records, or one
record. :func:`split_records` is the single place that knows these shapes; loading
and the detail view's re-read both go through it, so a record's ordinal in its
source is stable.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import sys
import tempfile
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import msgspec
import orjson

from .text import from_os
from .timeutil import NO_TIME, parse_event_time

GZIP_MAGIC = b"\x1f\x8b"


class SourceError(Exception):
    """A source that cannot be read; the message is one sentence for the user."""


# ---------------------------------------------------------------------------
# Bounds: what one input may take

MAX_INPUT_VARIABLE = "KMSTUI_MAX_INPUT"
# The bucket cache's limit (live/objects.py) is named here, beside the input's, so that the
# command line can say it without importing the live package (and boto3 with it).
CACHE_SIZE_VARIABLE = "KMSTUI_S3_CACHE_SIZE"
DEFAULT_MAX_INPUT = 512 << 20
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """``512M``, ``2G``, ``1.5g``, ``100000`` (bytes) as a number of bytes; ValueError if not one."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if match is None or float(match[1]) <= 0:
        raise ValueError(f"not a size: {text!r} (write it like 512M or 2G)")
    return int(float(match[1]) * _UNITS[match[2]])


def max_input() -> int:
    """How many bytes one input may hold once gunzipped (KMSTUI_MAX_INPUT, which
    ``--max-input`` sets; read here each time, so worker processes see it too)."""
    try:
        return parse_size(os.environ.get(MAX_INPUT_VARIABLE) or "")
    except ValueError:
        return DEFAULT_MAX_INPUT


def size_text(size: int) -> str:
    for unit, factor in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.4g}{unit}"
    return f"{size} bytes"


def _too_large(what: str, limit: int) -> SourceError:
    return SourceError(
        f"{what} more than {size_text(limit)}, the limit for one input "
        f"(raise it with --max-input or {MAX_INPUT_VARIABLE})"
    )


# ---------------------------------------------------------------------------
# Gunzip: every gzipped input (local files, a bucket's objects, ActionTrail's OSS files) is
# gunzipped by gunzip() below, with the first engine of this table: ISA-L (the isal wheel,
# a dependency) inflates CloudTrail's files 3 to 4 times as fast as zlib, which stays as
# the fallback for a platform isal has no wheel for. Both give the same bytes and the same
# sentences (tests/test_core_sources.py runs every case through each).


def _engines() -> dict[str, Callable[[int], Any]]:
    """Gunzip engines by name, fastest first: each makes a decompressor for a window size."""
    engines: dict[str, Callable[[int], Any]] = {}
    try:
        from isal.isal_zlib import decompressobj as isal_decompressobj

        engines["isal"] = isal_decompressobj
    except ImportError:  # no wheel for this platform: zlib, 3 to 4 times slower
        pass
    engines["zlib"] = zlib.decompressobj
    return engines


GUNZIP_ENGINES = _engines()
GUNZIP_ENGINE = next(iter(GUNZIP_ENGINES))  # the one in use


def gunzip(data: bytes, limit: int, engine: str = GUNZIP_ENGINE) -> bytes:
    """Gunzip every member of ``data`` (a file may hold several), never more than ``limit`` bytes;
    SourceError with one sentence when it is truncated, corrupt or too large."""
    try:
        return _gunzip(data, limit, GUNZIP_ENGINES[engine])
    except (SourceError, MemoryError):
        raise
    except Exception:  # zlib.error, isal's IsalError: their wording differs, the sentence does not
        raise SourceError("truncated or corrupt gzip (its compressed data is damaged)") from None


def _gunzip(data: bytes, limit: int, decompressor: Callable[[int], Any]) -> bytes:
    parts: list[bytes] = []
    total = 0
    rest = data
    while True:
        inflater = decompressor(31)
        out = inflater.decompress(rest, limit + 1 - total)
        parts.append(out)
        total += len(out)
        if total > limit:
            raise _too_large("it gunzips to", limit)
        if not inflater.eof:
            raise SourceError("truncated or corrupt gzip (it ends inside a compressed member)")
        rest = inflater.unused_data
        if not rest or rest.count(0) == len(rest):  # the end, or the zero padding some tools add
            break
        if rest[:2] != GZIP_MAGIC:
            raise SourceError("truncated or corrupt gzip (other data after the end)")
    return parts[0] if len(parts) == 1 else b"".join(parts)


# ---------------------------------------------------------------------------
# Finding sources


@dataclass(frozen=True)
class SourceFile:
    """One input file. ``path`` is what we read; ``label`` is what the user is shown."""

    path: str
    label: str
    growing: bool = False  # appended to while kmstui runs (a LookupEvents cache)


class Skipped(NamedTuple):
    """A source that could not be used, and why (one sentence, without its full stop)."""

    label: str
    reason: str


def discover(args: list[str]) -> tuple[list[SourceFile], list[Skipped]]:
    """Expand command-line sources into files (directories recursively, in name order).

    Returns the files and a (source, reason) pair per argument that could not be used.
    ``-`` is standard input, spooled to a private temporary file so that it can be
    re-read for the detail view like any other source.
    """
    files: list[SourceFile] = []
    problems: list[Skipped] = []
    for arg in args:
        if arg == "-":
            try:
                files.append(spool_stdin())
            except SourceError as error:
                problems.append(Skipped("standard input", str(error)))
            except OSError as error:
                problems.append(Skipped("standard input", error.strerror or str(error)))
            continue
        path = Path(arg)
        try:
            info = path.stat()
        except OSError as error:
            problems.append(Skipped(from_os(arg), _os_reason(error)))
            continue
        if stat.S_ISDIR(info.st_mode):
            found = sorted(_walk(path))
            if not found:
                problems.append(Skipped(from_os(arg), "the directory holds no files"))
            files.extend(SourceFile(str(p), from_os(str(p))) for p in found)
        elif not stat.S_ISREG(info.st_mode):
            problems.append(Skipped(from_os(arg), _not_regular(info.st_mode)))
        else:
            files.append(SourceFile(str(path), from_os(arg)))
    return files, problems


# CloudTrail names each delivered file for the end of the five minutes it covers:
# ACCOUNT_CloudTrail_REGION_20261120T0255Z_UNIQUE.json.gz
_DELIVERED = re.compile(r"_(\d{8}T\d{4})Z_")


def newest_first(files: list[SourceFile]) -> list[SourceFile]:
    """Delivered log files by the time in their names, newest first, then the other files (an
    event history export, JSON Lines) in the order given. The explorer lists the newest events
    at the top: read in this order, its first screen holds the trail's last minutes (what a
    responder woken at 3 a.m. looks at first), and older events arrive below the rows being
    read instead of pushing them down. Stable, and the headless commands read in the same
    order, so both keep the same copy of an event seen twice."""
    stamps = [_DELIVERED.search(os.path.basename(f.path)) for f in files]
    delivered = [(stamp.group(1), -i) for i, stamp in enumerate(stamps) if stamp is not None]
    delivered.sort(reverse=True)
    return [files[-i] for _, i in delivered] + [f for f, stamp in zip(files, stamps, strict=True) if stamp is None]


def _walk(top: Path):
    """The files under ``top``. Directories reached through symbolic links are read too, each
    directory once however many links lead to it (so a link to a parent ends, not loops)."""
    seen: set[tuple[int, int]] = set()
    for root, dirs, names in os.walk(top, onerror=None, followlinks=True):
        try:
            info = os.stat(root)
        except OSError:
            dirs.clear()
            continue
        if (info.st_dev, info.st_ino) in seen:
            dirs.clear()
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if not name.startswith("."):
                yield Path(root, name)


def _not_regular(mode: int) -> str:
    what = (
        "a named pipe"
        if stat.S_ISFIFO(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a special file"
    )
    return f"not a regular file ({what}): kmstui reads files, directories and standard input"


def _os_reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file or directory"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, IsADirectoryError):
        return "is a directory"
    return (error.strerror or str(error)).lower()


_spool_dir: str | None = None
_spool_owner = 0


def private_dir() -> str:
    """A temporary directory only this user can read (0700), removed at exit: a normal one,
    and also on SIGTERM and SIGHUP (which skip what atexit would do)."""
    global _spool_dir, _spool_owner
    if _spool_dir is None:
        import atexit

        _spool_dir = tempfile.mkdtemp(prefix="kmstui-")
        _spool_owner = os.getpid()
        os.chmod(_spool_dir, 0o700)
        atexit.register(_remove_private_dir)
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGTERM, signal.SIGHUP):
                if signal.getsignal(number) in (signal.SIG_DFL, None):
                    signal.signal(number, _end_on_signal)
    return _spool_dir


def _remove_private_dir() -> None:
    import shutil

    if _spool_dir is not None and os.getpid() == _spool_owner:  # never from a forked worker
        shutil.rmtree(_spool_dir, True)


def _end_on_signal(number: int, frame: object) -> None:
    """Remove the private directory, then die of the signal as if there were no handler."""
    _remove_private_dir()
    signal.signal(number, signal.SIG_DFL)
    os.kill(os.getpid(), number)


def spool_stdin(stream: BinaryIO | None = None) -> SourceFile:
    """Copy standard input to a private file (0600) and describe it as a source; SourceError
    (after reading no further) when it holds more than one input may."""
    stream = stream if stream is not None else sys.stdin.buffer
    limit = max_input()
    fd, path = tempfile.mkstemp(prefix="stdin-", dir=private_dir())
    written = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := stream.read(1 << 20):
            written += len(chunk)
            if written > limit:
                out.close()
                os.unlink(path)
                raise _too_large("it holds", limit)
            out.write(chunk)
    os.chmod(path, 0o600)
    return SourceFile(path, "(stdin)")


# ---------------------------------------------------------------------------
# The delivery layouts: CloudTrail's in S3, ActionTrail's in OSS

_DELIVERY = re.compile(
    r"(?:^|/)(?:(?P<awslogs>AWSLogs)/)?(?:(?P<org>o-[a-z0-9]{10,32})/)?"
    r"(?P<account>\d{12})/CloudTrail/(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)/"
    r"(?P<date>\d{4}/\d{2}/\d{2})/(?P<name>[^/]+)$"
)
_DELIVERY_NAME = re.compile(r"^(?P<account>\d{12})_CloudTrail_(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)_\d{8}T\d{4}Z_")

# ActionTrail (Alibaba's documentation, "storage path of an event delivered to an OSS bucket"):
#   <prefix>/AliyunLogs/Actiontrail/<region>/YYYY/MM/DD/Actiontrail_<region>_<YYYYMMDDHHMMSS>_...gz
# and for a multi-account trail the resource directory and the member account before the region:
#   <prefix>/AliyunLogs/Actiontrail/<rd_id>/<account>/<region>/YYYY/MM/DD/...
# (the account level alone is read too). Actiontrail-Insight holds insight events, not API calls.
_ALIBABA_REGION = r"[a-z]{2}(?:-[a-z0-9]+)+"
_ACTIONTRAIL_DELIVERY = re.compile(
    r"(?:^|/)AliyunLogs/Actiontrail/(?:(?P<org>rd-[A-Za-z0-9]+)/)?(?:(?P<account>\d{6,20})/)?"
    rf"(?P<region>{_ALIBABA_REGION})/(?P<date>\d{{4}}/\d{{2}}/\d{{2}})/(?P<name>[^/]+)$"
)
_ACTIONTRAIL_NAME = re.compile(
    rf"^(?:(?P<account>\d{{6,20}})_)?Actiontrail_(?P<region>{_ALIBABA_REGION})_(?P<time>\d{{14}}|\d{{10}})(?:_|\.|$)"
)


@dataclass(frozen=True)
class Delivery:
    """Where a trail's log file sits in its delivery layout: CloudTrail's in S3, or ActionTrail's
    in OSS (``cloud`` says which).

    ``prefix`` is the path before ``AWSLogs/`` or ``AliyunLogs/`` (or before the account folder):
    the local image of the trail's bucket and key prefix. Files that share it (and the cloud)
    were delivered by the same trail. ``org`` is an organization id (``o-...``) or a resource
    directory id (``rd-...``); ``account`` is empty where the path does not say it (a
    single-account ActionTrail trail). ``delivered`` is the time the file's name gives (seconds,
    UTC), where it gives one: ActionTrail names each file by when it was written.
    """

    prefix: str
    account: str
    region: str
    org: str | None
    file_name: str
    cloud: str = "aws"
    delivered: int | None = None


def _name_time(digits: str) -> int | None:
    """Seconds for ``YYYYMMDDHH`` or ``YYYYMMDDHHMMSS`` (UTC), None when it is not a time."""
    text = f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}T{digits[8:10]}:{digits[10:12] or '00'}:{digits[12:14] or '00'}Z"
    seconds = parse_event_time(text)
    return None if seconds == NO_TIME else seconds


def _actiontrail_delivery(posix: str) -> Delivery | None:
    match = _ACTIONTRAIL_DELIVERY.search(posix)
    if match is not None:
        start = match.start() + (1 if posix[match.start()] == "/" else 0)
        prefix = posix[:start].rstrip("/") or "."
        named = _ACTIONTRAIL_NAME.match(match["name"])
        account = match["account"] or (named["account"] if named and named["account"] else "")
        delivered = _name_time(named["time"]) if named else None
        return Delivery(prefix, account, match["region"], match["org"], match["name"], "alibaba", delivered)
    name = posix.rsplit("/", 1)[-1]
    named = _ACTIONTRAIL_NAME.match(name)
    if named is not None:
        prefix = posix.rsplit("/", 1)[0] if "/" in posix else "."
        return Delivery(
            prefix, named["account"] or "", named["region"], None, name, "alibaba", _name_time(named["time"])
        )
    return None


def delivery_of(path: str) -> Delivery | None:
    posix = path.replace(os.sep, "/")
    match = _DELIVERY.search(posix)
    if match is not None:
        start = match.start() + (1 if posix[match.start()] == "/" else 0)
        prefix = posix[:start].rstrip("/") or "."
        return Delivery(prefix, match["account"], match["region"], match["org"], match["name"])
    name = posix.rsplit("/", 1)[-1]
    match = _DELIVERY_NAME.match(name)
    if match is not None:
        prefix = posix.rsplit("/", 1)[0] if "/" in posix else "."
        return Delivery(prefix, match["account"], match["region"], None, name)
    if "Actiontrail" in posix:
        return _actiontrail_delivery(posix)
    return None


# ---------------------------------------------------------------------------
# Reading and splitting


def read_source(path: str, bounded: bool = True, repair: bool = True) -> bytes:
    """The bytes of a source, gunzipped when they start with the gzip magic, with any lone
    surrogate escape made a replacement character (unless ``repair`` is False: the caller
    then repairs them with :func:`repair_surrogates`). Only regular files are read (a named
    pipe or a device could block or never end), and no more than :func:`max_input` bytes
    unless ``bounded`` is False (kmstui's own LookupEvents cache, which it wrote itself)."""
    limit = max_input() if bounded else 1 << 62
    try:
        # O_NONBLOCK: opening a named pipe must not wait for a writer (it is refused below)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise SourceError(_os_reason(error)) from None
    with open(fd, "rb") as handle:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise SourceError(_not_regular(info.st_mode))
            if info.st_size > limit:
                raise _too_large("it holds", limit)
            pieces: list[bytes] = []
            total = 0
            want = info.st_size + 1  # one read as a rule; more only if the file grows meanwhile
            while piece := handle.read(want):
                pieces.append(piece)
                total += len(piece)
                if total > limit:
                    raise _too_large("it holds", limit)
                want = min(16 << 20, limit + 1 - total)
        except OSError as error:
            raise SourceError(_os_reason(error)) from None
    data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
    if data[:2] == GZIP_MAGIC:
        data = gunzip(data, limit)
    return repair_surrogates(data) if repair else data


# A JSON escape: a surrogate pair (kept), a lone surrogate (group 1), or any other escape (kept).
_ESCAPE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|(\\u[dD][89a-fA-F][0-9a-fA-F]{2})|\\.", re.DOTALL
)


def _repair_escape(match: re.Match[bytes]) -> bytes:
    return b"\\ufffd" if match.group(1) else match.group(0)


def _python_may_hold_surrogates(data: bytes) -> bool:
    return b"\\ud" in data or b"\\uD" in data  # two substring searches: slower than gunzip on a large file


_may_hold_surrogates: Callable[[bytes], bool]
try:  # the same test in C (memchr), built with the column scanner where a compiler was at hand
    from ._scan import surrogate_escapes as _may_hold_surrogates
except ImportError:  # pragma: no cover - the same answer, slower
    _may_hold_surrogates = _python_may_hold_surrogates


def repair_surrogates(data: bytes) -> bytes:
    """``data`` with each lone surrogate escape (``"\\ud800"``, half of a character that JSON
    cannot hold alone, which strict decoders reject and lenient ones decode to text that
    cannot be written) as ``\\ufffd``, the replacement character: the same length, so a bad
    string costs one character, never its record or its file, on every decoding path."""
    if not _may_hold_surrogates(data):
        return data
    return _ESCAPE.sub(_repair_escape, data)


class _Top(msgspec.Struct):
    Records: list[msgspec.Raw] | None = None
    Events: list[msgspec.Raw] | None = None


class _Shape(msgspec.Struct):
    """Enough of any object to tell what it is."""

    Records: list[msgspec.Raw] | None = None
    Events: list[msgspec.Raw] | None = None
    CloudTrailEvent: str | None = None
    EventId: str | None = None
    eventSource: object = None
    eventName: object = None
    eventTime: object = None
    digestStartTime: object = None
    # Alibaba Cloud ActionTrail (actiontrail.py): its own fields, or a Simple Log Service
    # export with the event under "event" (or spread over event.-prefixed fields)
    acsRegion: object = None
    eventRW: object = None
    event: object = None
    sls_event_name: object = msgspec.field(default=None, name="event.eventName")


_top = msgspec.json.Decoder(_Top)
_shape = msgspec.json.Decoder(_Shape)
_array = msgspec.json.Decoder(list[msgspec.Raw])


@dataclass
class Split:
    """The raw records of one source and what was learned on the way."""

    # "cloudtrail", "lookup-events", "jsonl", "array", "record", "digest"; ActionTrail's:
    # "actiontrail" (as delivered to OSS), "actiontrail-sls", "actiontrail-csv" (SLS exports)
    format: str
    records: list = field(default_factory=list)  # bytes-like, one JSON object each
    problems: list[str] = field(default_factory=list)  # partial damage, one sentence each


MAX_DEPTH = 64  # deeper than CloudTrail ever nests, shallow enough for any decoder's stack
TOO_DEEP = b'"(nested too deeply)"'


def split_records(data: bytes) -> Split:
    """Split a source's bytes into raw records; raise SourceError when nothing is usable.

    A value nested so deeply that a decoder runs out of stack on it (RecursionError) is
    replaced by the string ``"(nested too deeply)"`` wherever it is deeper than
    :data:`MAX_DEPTH`: its record keeps everything else."""
    try:
        return _split_records(data)
    except RecursionError:
        pass
    data, replaced = flatten_deep(data)
    split = _split_records(data)
    split.problems.append(
        f"{replaced} value{'s' if replaced != 1 else ''} nested more than {MAX_DEPTH} levels deep "
        f"shown as {TOO_DEEP.decode()}"
    )
    return split


_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def flatten_deep(data: bytes) -> tuple[bytes, int]:
    """``data`` with every JSON array or object that opens deeper than MAX_DEPTH replaced by
    TOO_DEEP, and how many were; walked without recursion, so it cannot run out of stack."""
    pieces: list[bytes] = []
    depth = 0
    start = -1  # where the container being replaced opened
    copied = 0
    replaced = 0
    for match in _TOKEN.finditer(data):
        token = data[match.start()]
        if token in b"[{":
            depth += 1
            if depth == MAX_DEPTH + 1:
                start = match.start()
        elif token in b"]}":
            if depth == MAX_DEPTH + 1 and start >= 0:
                pieces.append(data[copied:start])
                pieces.append(TOO_DEEP)
                copied = match.end()
                replaced += 1
                start = -1
            depth -= 1
    pieces.append(data[copied:])
    return b"".join(pieces), replaced


def _split_records(data: bytes) -> Split:
    body = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body:
        raise SourceError("the file is empty")
    if body[:1] not in (b"{", b"["):
        csv_split = _split_csv(body)
        if csv_split is not None:
            return csv_split
        raise SourceError("not JSON" + _binary_hint(body))
    if body[:1] == b"[":
        try:
            items = _array.decode(body)
        except msgspec.DecodeError as error:
            if "trailing characters" in str(error):
                return _split_documents(body)
            raise SourceError(_json_reason(error)) from None
        split = Split("array")
        for number, item in enumerate(items):
            _classify_into(split, item, top_level=True)
            if number == 0 and split.format == "actiontrail":
                # ActionTrail's events as delivered to OSS: actiontrail.py reads every item (one that
                # is not an event is said there), so they are not each read here first
                split.records.extend(items[1:])
                break
        return _finish(split)
    try:
        top = _top.decode(body)
    except msgspec.DecodeError as error:
        if "trailing characters" in str(error):
            return _split_documents(body)
        raise SourceError(_json_reason(error)) from None
    except msgspec.ValidationError:
        top = _Top()
    if top.Records is not None:
        return Split("cloudtrail", list(top.Records))
    if top.Events is not None:
        split = Split("lookup-events")
        _add_lookup_events(split, top.Events)
        return split
    split = Split("record")
    _classify_into(split, body, top_level=True)
    return _finish(split)


def _finish(split: Split) -> Split:
    if not split.records and split.format != "digest":
        raise SourceError("JSON of another shape: no CloudTrail records or LookupEvents events in it")
    return split


def _classify_into(split: Split, item, top_level: bool = False) -> bool:
    """Add what ``item`` holds to ``split``; False when it is none of the known shapes."""
    try:
        shape = _shape.decode(item)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return False
    if shape.Records is not None:
        split.records.extend(shape.Records)
        if split.format in ("record", "array", "jsonl"):
            split.format = "cloudtrail"
        return True
    if shape.Events is not None:
        _add_lookup_events(split, shape.Events)
        split.format = "lookup-events"
        return True
    if shape.CloudTrailEvent is not None or shape.EventId is not None:
        _add_lookup_events(split, [item])
        split.format = "lookup-events"
        return True
    if shape.acsRegion is not None or shape.eventRW is not None:  # an ActionTrail event, as in OSS
        split.records.append(item)
        split.format = "actiontrail"
        return True
    if shape.sls_event_name is not None or isinstance(shape.event, (dict, str)):  # from Simple Log Service
        split.records.append(item)
        split.format = "actiontrail-sls"
        return True
    if shape.eventSource is not None or shape.eventName is not None or shape.eventTime is not None:
        split.records.append(item)
        return True
    if shape.digestStartTime is not None and top_level:
        split.format = "digest"
        return True
    return False


_event_decoder = msgspec.json.Decoder(dict)


def _add_lookup_events(split: Split, events) -> None:
    for raw in events:
        try:
            event = _event_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
            continue
        inner = event.get("CloudTrailEvent")
        if isinstance(inner, str):  # a record in a string: its own escapes are read only now
            text = inner.encode("utf-8", "replace")
            if text.count(b"[") + text.count(b"{") > MAX_DEPTH:  # it might be too deep
                text = flatten_deep(text)[0]
            split.records.append(repair_surrogates(text))
        elif isinstance(inner, dict):  # some tools unwrap it
            split.records.append(orjson.dumps(inner))
        else:
            split.records.append(_record_from_lookup(event))


def _record_from_lookup(event: dict) -> bytes:
    """A minimal CloudTrail record from a LookupEvents event without CloudTrailEvent."""
    resources = [
        {"ARN": r.get("ResourceName"), "type": r.get("ResourceType")}
        for r in event.get("Resources") or []
        if isinstance(r, dict)
    ]
    record = {
        "eventID": event.get("EventId"),
        "eventName": event.get("EventName"),
        "eventSource": event.get("EventSource"),
        "eventTime": event.get("EventTime") if isinstance(event.get("EventTime"), str) else None,
        "readOnly": event.get("ReadOnly"),
        "userIdentity": {"userName": event.get("Username")} if event.get("Username") else None,
        "resources": resources or None,
    }
    return orjson.dumps({k: v for k, v in record.items() if v is not None})


def _split_documents(body: bytes) -> Split:
    """Several JSON documents in one file: JSON Lines, or concatenated (pretty) pages."""
    lines = body.split(b"\n")
    split = Split("jsonl")
    bad: list[int] = []
    first_ok = None
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        ok = _classify_into(split, line)
        if first_ok is None:
            first_ok = ok
        if not ok:
            bad.append(number)
            if first_ok is False:
                break
    if first_ok is False:
        return _split_concatenated(body)
    if bad:
        where = ", ".join(str(n) for n in bad[:5]) + (" and more" if len(bad) > 5 else "")
        split.problems.append(f"{len(bad)} unreadable line{'s' if len(bad) != 1 else ''} skipped (line {where})")
    return _finish(split)


def _split_concatenated(body: bytes) -> Split:
    text = body.decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    split = Split("jsonl")
    position = 0
    length = len(text)
    while position < length:
        while position < length and text[position] in " \t\r\n":
            position += 1
        if position >= length:
            break
        try:
            document, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            split.problems.append(f"unreadable JSON from line {error.lineno} on skipped ({error.msg.lower()})")
            break
        position = end
        items = document if isinstance(document, list) else [document]
        for item in items:
            if isinstance(item, dict):
                _classify_into(split, orjson.dumps(item))
    return _finish(split)


def _json_reason(error: Exception) -> str:
    text = str(error)
    match = re.search(r"byte (\d+)", text)
    what = "truncated JSON" if "truncated" in text else "not valid JSON"
    return f"{what} (at byte {match.group(1)})" if match else what


def _binary_hint(body: bytes) -> str:
    sample = body[:64]
    if any(b < 9 or 13 < b < 32 for b in sample):
        return " (it looks like binary data)"
    return ""


def _split_csv(body: bytes) -> Split | None:
    """A Simple Log Service export of ActionTrail events as CSV: its ``event`` column holds
    each event's JSON (or ``event.``-prefixed columns hold its fields). None when the first
    line is not such a header; a row without an event is skipped, the others kept."""
    import csv
    import io

    first = body.split(b"\n", 1)[0]
    if b"event" not in first:
        return None
    text = body.decode("utf-8", "replace")
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    try:
        rows = csv.reader(io.StringIO(text, newline=""))
        header = next(rows)
        if "event" not in header and "event.eventName" not in header:
            return None
        split = Split("actiontrail-csv")
        bad = 0
        column = header.index("event") if "event" in header else None
        spread = [(i, name) for i, name in enumerate(header) if name.startswith("event.")]
        for row in rows:
            if not row:
                continue
            if column is not None and column < len(row) and row[column].lstrip()[:1] == "{":
                split.records.append(row[column].encode())
            elif column is None and spread:
                fields = {name: row[i] for i, name in spread if i < len(row) and row[i] != ""}
                split.records.append(orjson.dumps(fields))
            else:
                bad += 1
    except csv.Error as error:
        raise SourceError(f"unreadable CSV ({error})") from None
    if bad:
        split.problems.append(f"{bad} CSV row{'s' if bad != 1 else ''} without an ActionTrail event skipped")
    if not split.records:
        raise SourceError("CSV without ActionTrail events in its event column")
    return split
