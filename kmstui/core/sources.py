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
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import orjson

try:  # ISA-L gunzip is about twice as fast as zlib; fall back where it is not installed.
    from isal.igzip import decompress as _gunzip_stream
    from isal.isal_zlib import decompress as _inflate
except ImportError:  # pragma: no cover - isal is a declared dependency
    from gzip import decompress as _gunzip_stream
    from zlib import decompress as _inflate


def _gunzip(data: bytes) -> bytes:
    """Gunzip in one call (a third faster than the stream reader); files of several gzip
    members, or whose trailer disagrees, go through the stream reader, which handles them."""
    try:
        out = _inflate(data, 31)
    except Exception:
        out = None
    if out is not None and len(data) >= 18 and len(out) % 2**32 == int.from_bytes(data[-4:], "little"):
        return out
    return _gunzip_stream(data)


GZIP_MAGIC = b"\x1f\x8b"


class SourceError(Exception):
    """A source that cannot be read; the message is one sentence for the user."""


# ---------------------------------------------------------------------------
# Finding sources


@dataclass(frozen=True)
class SourceFile:
    """One input file. ``path`` is what we read; ``label`` is what the user is shown."""

    path: str
    label: str
    growing: bool = False  # appended to while kmstui runs (a LookupEvents cache)


def discover(args: list[str]) -> tuple[list[SourceFile], list[tuple[str, str]]]:
    """Expand command-line sources into files (directories recursively, in name order).

    Returns the files and a (source, reason) pair per argument that could not be used.
    ``-`` is standard input, spooled to a private temporary file so that it can be
    re-read for the detail view like any other source.
    """
    files: list[SourceFile] = []
    problems: list[tuple[str, str]] = []
    for arg in args:
        if arg == "-":
            try:
                files.append(spool_stdin())
            except OSError as error:
                problems.append(("standard input", error.strerror or str(error)))
            continue
        path = Path(arg)
        try:
            info = path.stat()
        except OSError as error:
            problems.append((arg, _os_reason(error)))
            continue
        if stat.S_ISDIR(info.st_mode):
            found = sorted(_walk(path))
            if not found:
                problems.append((arg, "the directory holds no files"))
            files.extend(SourceFile(str(p), str(p)) for p in found)
        else:
            files.append(SourceFile(str(path), arg))
    return files, problems


def _walk(top: Path):
    for root, dirs, names in os.walk(top, onerror=None, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if not name.startswith("."):
                yield Path(root, name)


def _os_reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file or directory"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, IsADirectoryError):
        return "is a directory"
    return (error.strerror or str(error)).lower()


_spool_dir: str | None = None


def private_dir() -> str:
    """A temporary directory only this user can read (0700), removed at exit."""
    global _spool_dir
    if _spool_dir is None:
        import atexit
        import shutil

        _spool_dir = tempfile.mkdtemp(prefix="kmstui-")
        os.chmod(_spool_dir, 0o700)
        atexit.register(shutil.rmtree, _spool_dir, True)
    return _spool_dir


def spool_stdin(stream=None) -> SourceFile:
    """Copy standard input to a private file (0600) and describe it as a source."""
    stream = stream if stream is not None else sys.stdin.buffer
    fd, path = tempfile.mkstemp(prefix="stdin-", dir=private_dir())
    with os.fdopen(fd, "wb") as out:
        while chunk := stream.read(1 << 20):
            out.write(chunk)
    os.chmod(path, 0o600)
    return SourceFile(path, "(stdin)")


# ---------------------------------------------------------------------------
# The S3 delivery layout

_DELIVERY = re.compile(
    r"(?:^|/)(?:(?P<awslogs>AWSLogs)/)?(?:(?P<org>o-[a-z0-9]{10,32})/)?"
    r"(?P<account>\d{12})/CloudTrail/(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)/"
    r"(?P<date>\d{4}/\d{2}/\d{2})/(?P<name>[^/]+)$"
)
_DELIVERY_NAME = re.compile(r"^(?P<account>\d{12})_CloudTrail_(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)_\d{8}T\d{4}Z_")


@dataclass(frozen=True)
class Delivery:
    """Where a CloudTrail log file sits in the S3 delivery layout.

    ``prefix`` is the path before ``AWSLogs/`` (or before the account folder): the
    local image of the trail's bucket and key prefix. Files that share it were
    delivered by the same trail.
    """

    prefix: str
    account: str
    region: str
    org: str | None
    file_name: str


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
    return None


# ---------------------------------------------------------------------------
# Reading and splitting


def read_source(path: str) -> bytes:
    """The bytes of a source, gunzipped when they start with the gzip magic."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise SourceError(_os_reason(error)) from None
    if data[:2] == GZIP_MAGIC:
        try:
            data = _gunzip(data)
        except (OSError, EOFError, ValueError) as error:
            raise SourceError(f"truncated or corrupt gzip ({_first_line(error)})") from None
        except Exception as error:  # isal raises its own error type
            raise SourceError(f"truncated or corrupt gzip ({_first_line(error)})") from None
    return data


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


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


_top = msgspec.json.Decoder(_Top)
_shape = msgspec.json.Decoder(_Shape)
_array = msgspec.json.Decoder(list[msgspec.Raw])


@dataclass
class Split:
    """The raw records of one source and what was learned on the way."""

    format: str  # "cloudtrail", "lookup-events", "jsonl", "array", "record", "digest"
    records: list = field(default_factory=list)  # bytes-like, one JSON object each
    problems: list[str] = field(default_factory=list)  # partial damage, one sentence each


def split_records(data: bytes) -> Split:
    """Split a source's bytes into raw records; raise SourceError when nothing is usable."""
    body = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body:
        raise SourceError("the file is empty")
    if body[:1] not in (b"{", b"["):
        raise SourceError("not JSON" + _binary_hint(body))
    if body[:1] == b"[":
        try:
            items = _array.decode(body)
        except msgspec.DecodeError as error:
            if "trailing characters" in str(error):
                return _split_documents(body)
            raise SourceError(_json_reason(error)) from None
        split = Split("array")
        for item in items:
            _classify_into(split, item, top_level=True)
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
        if isinstance(inner, str):
            split.records.append(inner.encode())
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
