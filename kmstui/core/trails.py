"""Trails: where the events came from, and whether CloudTrail is logging KMS at all.

A trail is known three ways from loaded data:

- the S3 delivery path of its log files (``.../AWSLogs/<account>/CloudTrail/<region>/...``),
- the ``aws:cloudtrail:arn`` encryption context of CloudTrail's own GenerateDataKey and
  Decrypt calls when its log files are SSE-KMS encrypted,
- its configuration events (CreateTrail, UpdateTrail, PutEventSelectors, StopLogging, ...).

These are joined where the data allows: CloudTrail's GenerateDataKey names the S3
object it encrypts (``aws:s3:arn``), which is a loaded log file's name; a trail's
configuration names its bucket and prefix. Everything else that was loaded is a source
row: standard input, a LookupEvents region, and files of records one row per folder and
kind (files that held no KMS or trail event are counted there, not listed).

The configuration events, replayed in time order, say whether KMS events are logged
now, and every episode in which they were not becomes a warning sentence: who, when,
from where, and when it was undone.
"""

from __future__ import annotations

import posixpath
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .actiontrail import cloud_of_arn
from .actiontrail import is_kms as is_alibaba_kms
from .decode import TrailChange
from .index import EventIndex, Origin
from .model import arn_account, arn_region, trail_name
from .sources import Delivery
from .text import from_os
from .timeutil import NO_TIME, short

if TYPE_CHECKING:  # live imports the core: at run time the core does not import live
    from .live.inventory import LiveTrail


def brief(seconds: int) -> str:
    """``11-20 02:44`` (UTC), for the trails pane."""
    return short(seconds)[5:16]


LOGGED, EXCLUDED, STOPPED, UNKNOWN = "logged", "excluded", "stopped", "unknown"
KMS = "kms.amazonaws.com"
EXPECTED_LOG_FILES_PER_DAY = 288  # one per region about every 5 minutes


@dataclass
class TrailSummary:
    label: str  # what the pane shows
    kind: str  # "trail", "delivery", "lookup", "file", "stdin"
    arn: str | None = None
    location: str | None = None  # s3://bucket/prefix or the local folder of delivered files
    accounts: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    events: int = 0  # indexed events delivered by it or about it
    log_key: str | None = None  # the KMS key that encrypts its log files
    log_key_calls: int = 0  # CloudTrail's own GenerateDataKey calls for its log files
    kms_logging: str = UNKNOWN
    warnings: list[str] = field(default_factory=list)  # full sentences: who, when, from where, how
    notes: list[str] = field(default_factory=list)  # the same, brief, for the trails pane
    origins: frozenset[int] = frozenset()  # origin codes whose events it delivered
    trail_codes: frozenset[int] = frozenset()  # trail vocabulary codes it stands for
    files: int = 0
    empty_files: int = 0  # of a folder of other sources: files that held no KMS or trail event (not listed)
    members: list[str] = field(default_factory=list)  # of a folder of other sources: its files that held events
    log_file_rates: dict[str, float] = field(default_factory=dict)  # delivering region -> log files encrypted a day
    tampered: bool = False  # logging was stopped, KMS excluded or the trail deleted (even if undone)
    rate_warnings: int = 0  # how many of the warnings are doubts about the log-file rate, not changes seen
    live: LiveTrail | None = None  # the trail as the CloudTrail API describes it now (kmstui.core.live)
    delivered_files: list[Delivery] = field(default_factory=list)  # files whose name says when (ActionTrail's)

    @property
    def name(self) -> str | None:
        return trail_name(self.arn) if self.arn else None

    @property
    def ident(self) -> str:
        """What names it in exports: the trail ARN, else where its files are, else its label."""
        return self.arn or self.location or self.label

    @property
    def warning(self) -> bool:
        return bool(self.warnings)


def _get(mapping: dict, name: str):
    """A field in either camelCase or PascalCase (CloudTrail records use camelCase)."""
    if name in mapping:
        return mapping[name]
    pascal = name[:1].upper() + name[1:]
    return mapping.get(pascal)


class SelectorEffect(NamedTuple):
    """What a trail's event selectors do to KMS events."""

    state: str  # "logged", "excluded", "write-only" or "unknown"
    how: str  # the setting that does it: ExcludeManagementEventSources, ReadWriteType WriteOnly, ...


def selector_state(request: dict, response: dict) -> SelectorEffect:
    """What KMS logging is under a PutEventSelectors call (its request, or its response)."""
    selectors = _get(response, "eventSelectors") or _get(request, "eventSelectors")
    advanced = _get(response, "advancedEventSelectors") or _get(request, "advancedEventSelectors")
    if isinstance(advanced, list) and advanced:
        return _advanced_state(advanced)
    if not isinstance(selectors, list):
        return SelectorEffect("unknown", "")
    if not selectors:  # no selectors of its own: a trail's default records every management event
        return SelectorEffect("logged", "")
    reads_kms = writes_kms = False
    excluded_by = ""
    management = False
    for selector in selectors:
        if not isinstance(selector, dict):
            continue
        include = _get(selector, "includeManagementEvents")
        if include is False or str(include).lower() == "false":
            continue
        management = True
        excluded = _get(selector, "excludeManagementEventSources") or []
        if isinstance(excluded, list) and KMS in excluded:
            excluded_by = "ExcludeManagementEventSources"
            continue
        kind = str(_get(selector, "readWriteType") or "All")
        reads_kms |= kind in ("All", "ReadOnly")
        writes_kms |= kind in ("All", "WriteOnly")
    if reads_kms:
        return SelectorEffect("logged", "")
    if writes_kms:
        return SelectorEffect("write-only", "ReadWriteType WriteOnly")
    if excluded_by:
        return SelectorEffect("excluded", excluded_by)
    if not management:
        return SelectorEffect("excluded", "IncludeManagementEvents false")
    return SelectorEffect("unknown", "")


def _advanced_state(advanced: list) -> SelectorEffect:
    reads = writes = False
    excluded = False
    for selector in advanced:
        if not isinstance(selector, dict):
            continue
        fields = _get(selector, "fieldSelectors") or []
        conditions = {str(_get(f, "field")): f for f in fields if isinstance(f, dict)}
        category = conditions.get("eventCategory")
        if category is None or "Management" not in (_get(category, "equals") or []):
            continue
        source = conditions.get("eventSource")
        if source is not None and not _admits(source, KMS):
            excluded = True
            continue
        read_only = conditions.get("readOnly")
        allowed = [str(v).lower() for v in (_get(read_only, "equals") or [])] if read_only else []
        if allowed == ["false"]:
            writes = True
        elif allowed == ["true"]:
            reads = True
        else:
            reads = writes = True
    if reads:
        return SelectorEffect("logged", "")
    if writes:
        return SelectorEffect("write-only", "an advanced event selector on readOnly")
    if excluded:
        return SelectorEffect("excluded", "an advanced event selector on eventSource")
    return SelectorEffect("excluded", "advanced event selectors without management events")


def _admits(condition: dict, value: str) -> bool:
    equals = _get(condition, "equals")
    if equals and value not in equals:
        return False
    if value in (_get(condition, "notEquals") or []):
        return False
    starts = _get(condition, "startsWith")
    if starts and not any(value.startswith(s) for s in starts):
        return False
    if any(value.startswith(s) for s in (_get(condition, "notStartsWith") or [])):
        return False
    return True


class Episode(NamedTuple):
    """A change that left the trail not logging KMS events (or some of them), while it lasts."""

    who: str  # user/Mallory from 192.0.2.66
    when: str  # 2024-05-01 13:00:00 UTC
    note: str  # brief, for the trails pane: 05-01 13:00 by user/Mallory
    time: int  # when it began, in seconds
    state: str = STOPPED  # stopped, excluded or write-only
    how: str = ""  # the setting that did it: ExcludeManagementEventSources, ReadWriteType WriteOnly, ...

    def exclusion_sentence(self) -> str:
        if self.state == "write-only":
            return (
                f"Read-only KMS events (Decrypt, Encrypt, GenerateDataKey...) excluded from logging by {self.who} "
                f"at {self.when} (PutEventSelectors, {self.how})"
            )
        return f"KMS events excluded from logging by {self.who} at {self.when} (PutEventSelectors, {self.how})"

    def exclusion_note(self) -> str:
        return f"{'KMS reads' if self.state == 'write-only' else 'KMS'} excluded {self.note}"


class _Replay:
    """The configuration history of one trail, replayed into a state and warning sentences."""

    def __init__(self, index: EventIndex):
        self.index = index
        self.stopped: Episode | None = None  # the open stop
        self.excluded: Episode | None = None  # the open exclusion
        self.deleted: Episode | None = None
        self.selectors_known = False
        self.started = False
        self.log_key: str | None = None
        self.location: str | None = None
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.tampered = False  # an episode of not logging KMS events began

    def warn(self, sentence: str, note: str) -> None:
        self.warnings.append(sentence)
        self.notes.append(note)

    def name(self, change: TrailChange) -> str:
        return self.index.principal(change.principal).short

    def who(self, change: TrailChange) -> str:
        name = self.name(change)
        ip = self.index.event(change.row).source_ip
        return f"{name} from {ip}" if ip and ip != name else name

    def episode(self, change: TrailChange, state: str = STOPPED, how: str = "") -> Episode:
        self.tampered = True
        when = short(change.time) + " UTC"
        return Episode(self.who(change), when, f"{brief(change.time)} by {self.name(change)}", change.time, state, how)

    def apply(self, change: TrailChange) -> None:
        when = short(change.time) + " UTC"
        action = change.action
        if change.error:
            verbs = {
                "StopLogging": "stop logging",
                "DeleteTrail": "delete the trail",
                "PutEventSelectors": "change its event selectors",
                "UpdateTrail": "update the trail",
            }
            if action in verbs:
                self.warn(
                    f"{self.who(change)} tried to {verbs[action]} at {when} and failed ({change.error}).",
                    f"{action} failed {brief(change.time)} by {self.name(change)} ({change.error})",
                )
            return
        if action in ("CreateTrail", "UpdateTrail"):
            bucket = _get(change.response, "s3BucketName") or _get(change.request, "s3BucketName")
            prefix = _get(change.response, "s3KeyPrefix") or _get(change.request, "s3KeyPrefix") or ""
            if isinstance(bucket, str) and bucket:
                self.location = f"s3://{bucket}/{prefix}".rstrip("/")
            # ActionTrail's trail names its OSS bucket and prefix (OssBucketName, OssKeyPrefix)
            bucket = _get(change.response, "ossBucketName") or _get(change.request, "ossBucketName")
            prefix = _get(change.response, "ossKeyPrefix") or _get(change.request, "ossKeyPrefix") or ""
            if isinstance(bucket, str) and bucket and isinstance(prefix, str):
                self.location = f"oss://{bucket}/{prefix}".rstrip("/")
            had_key = self.log_key
            if "kmsKeyId" in change.request or "kmsKeyId" in change.response:
                key = _get(change.response, "kmsKeyId") or _get(change.request, "kmsKeyId")
                self.log_key = key if isinstance(key, str) and key else None
                if had_key and not self.log_key:
                    self.warn(
                        f"Log file encryption with KMS removed by {self.who(change)} at {when}.",
                        f"log encryption removed {brief(change.time)} by {self.name(change)}",
                    )
            if action == "CreateTrail":
                self.selectors_known = True  # a new trail logs all management events
        elif action == "StartLogging":
            self.started = True
            if self.stopped:
                opened = self.stopped
                self._close(
                    f"Logging was stopped by {opened.who} at {opened.when}", f"stopped {opened.note}", change, when
                )
                self.stopped = None
        elif action == "StopLogging":
            if not self.stopped:
                self.stopped = self.episode(change)
        elif action == "DeleteTrail":
            self.deleted = self.episode(change)
        elif action == "PutEventSelectors":
            effect = selector_state(change.request, change.response)
            state, how = effect.state, effect.how
            self.selectors_known = state != "unknown"
            if state in ("excluded", "write-only"):
                if not self.excluded or self.excluded.state != state:
                    if self.excluded:
                        self._close(self.excluded.exclusion_sentence(), self.excluded.exclusion_note(), change, when)
                    self.excluded = self.episode(change, state, how)
            elif state == "logged" and self.excluded:
                self._close(self.excluded.exclusion_sentence(), self.excluded.exclusion_note(), change, when)
                self.excluded = None

    def _close(self, opened: str, note: str, change: TrailChange, when: str) -> None:
        self.warn(f"{opened}; undone by {self.who(change)} at {when}.", f"{note}, undone {brief(change.time)}")

    def finish(self) -> str:
        """The current state; open episodes become warnings."""
        if self.excluded:
            self.warn(
                self.excluded.exclusion_sentence() + "; still in effect in the loaded events.",
                self.excluded.exclusion_note(),
            )
        if self.stopped:
            self.warn(
                f"Logging stopped by {self.stopped.who} at {self.stopped.when}; not restarted in the loaded events.",
                f"logging stopped {self.stopped.note}",
            )
        if self.deleted:
            self.warn(f"Trail deleted by {self.deleted.who} at {self.deleted.when}.", f"deleted {self.deleted.note}")
        if self.deleted or self.stopped:
            return STOPPED
        if self.excluded:
            return EXCLUDED
        if self.selectors_known or self.started:
            return LOGGED
        return UNKNOWN


def summarise_trails(index: EventIndex) -> list[TrailSummary]:
    """One row per trail and per other source: tampering first, then other warnings, then rate
    doubts; trails before delivery folders before other sources."""
    snapshot = index.snapshot
    n = snapshot.n
    alive = snapshot.alive
    trail_vocab = index.vocab["trail"].values
    origin_column = index.columns["origin"].data[:n]
    trail_column = index.columns["trail"].data[:n]
    evsource = index.columns["evsource"].data[:n]
    kms_code = index.vocab["evsource"].find(KMS)

    # Trails known by ARN.
    by_arn: dict[str, TrailSummary] = {}
    for code, arn in enumerate(trail_vocab):
        if arn:
            row = by_arn.setdefault(arn, TrailSummary(label=trail_name(arn), kind="trail", arn=arn))
            row.trail_codes = row.trail_codes | {code}
    changes: dict[str, list[TrailChange]] = {}
    for change in index.trail_changes:
        if alive[change.row] if change.row < n else False:
            changes.setdefault(change.trail, []).append(change)
    replays: dict[str, _Replay] = {}
    for arn, history in changes.items():
        replays[arn] = _Replay(index)
        for change in sorted(history, key=lambda c: c.time):
            replays[arn].apply(change)

    # CloudTrail's own use of a key for each trail's log files.
    trail_rows = np.flatnonzero((trail_column != 0) & alive & (evsource == kms_code)) if kms_code else np.zeros(0, int)
    calls_by_code, log_key_by_code = _log_key_calls(index, trail_rows)

    # Delivered files, grouped by the local image of their bucket prefix (and by cloud: a folder
    # can hold a copy of an S3 bucket's AWSLogs/ beside an OSS bucket's AliyunLogs/).
    deliveries: dict[tuple[str, str], list[int]] = {}
    others: list[int] = []
    for code, origin in enumerate(index.origins):
        if origin.delivery is not None:
            deliveries.setdefault((origin.delivery.prefix, origin.delivery.cloud), []).append(code)
        else:
            others.append(code)

    # Join deliveries to trails: the exact log file named by CloudTrail's own key use,
    # else the bucket and prefix named in the trail's configuration or in those calls.
    log_files = _log_files(index)
    file_to_trail = log_files.file_to_trail
    trail_locations = log_files.trail_locations
    for arn, history_replay in replays.items():
        if history_replay.location:
            head = history_replay.location.removeprefix("s3://").removeprefix("oss://")
            trail_locations.setdefault(arn, set()).add(head)
    linked: dict[tuple[str, str], str] = {}
    for place, codes in deliveries.items():
        prefix, cloud = place
        for code in codes:
            delivery = index.origins[code].delivery
            arn = file_to_trail.get(delivery.file_name) if delivery is not None else None
            if arn:
                linked[place] = arn
                break
        else:
            local = prefix.rstrip("/") + "/"
            local = local.removesuffix("AWSLogs/")
            for arn, heads in trail_locations.items():
                if cloud_of_arn(arn) != cloud:  # an S3 bucket's trail never delivers to OSS
                    continue
                folder = "/" + local.rstrip("/")
                if any(folder.endswith("/" + head.strip("/")) for head in heads):  # whole folder names only
                    linked[place] = arn
                    break

    rows: list[TrailSummary] = []
    # KMS events of either cloud: kms.amazonaws.com, or Alibaba's kms.REGION.aliyuncs.com
    kms_source = np.array([value == KMS or is_alibaba_kms(value, None) for value in index.vocab["evsource"].values])
    kms_by_origin = (
        np.bincount(origin_column[alive & kms_source[evsource]], minlength=len(index.origins))
        if n and kms_source.any()
        else np.zeros(len(index.origins), int)
    )

    for place, codes in deliveries.items():
        prefix, _cloud = place
        arn = linked.get(place)
        delivered = [d for d in (index.origins[c].delivery for c in codes) if d is not None]
        if arn:
            row = by_arn.setdefault(arn, TrailSummary(label=trail_name(arn), kind="trail", arn=arn))
            if row.location is None:
                row.location = prefix
        else:
            row = TrailSummary(label=_folder_label(prefix), kind="delivery", location=prefix)
            rows.append(row)
        row.origins = row.origins | set(codes)
        row.files += len(codes)
        row.accounts = sorted({*row.accounts, *(d.account for d in delivered if d.account)})
        row.regions = sorted({*row.regions, *(d.region for d in delivered)})
        if any(kms_by_origin[c] for c in codes):
            row.kms_logging = LOGGED
        delivered_at = [d for d in delivered if d.delivered is not None]
        if delivered_at:
            row.delivered_files.extend(delivered_at)

    for live in index.live_trails:
        row = by_arn.setdefault(live.arn, TrailSummary(label=live.name, kind="trail", arn=live.arn))
        row.live = live
    log_file_times = log_files.times

    for arn, row in by_arn.items():
        replay = replays.get(arn)
        if replay is not None:
            state = replay.finish()
            row.warnings = replay.warnings
            row.notes = replay.notes
            row.tampered = replay.tampered
            if state != UNKNOWN or row.kms_logging == UNKNOWN:
                row.kms_logging = state if state != UNKNOWN else row.kms_logging
            if replay.location:
                row.location = replay.location
            if replay.log_key:
                row.log_key = replay.log_key
        row.accounts = sorted({*row.accounts, *filter(None, [arn_account(arn)])})
        region = arn_region(arn)
        if not row.regions and region:
            row.regions = [region]
        for code in row.trail_codes:
            if code in log_key_by_code:
                row.log_key = (
                    log_key_by_code[code][1] if not row.log_key or not row.log_key.startswith("arn:") else row.log_key
                )
            row.log_key_calls += calls_by_code.get(code, 0)
        if row.live is not None:
            _apply_live(row, row.live)
        rows.append(row)

    rows.extend(_source_rows(index, others))

    # Sources that hold every event of their account and region over their time (delivered
    # log files, LookupEvents), as opposed to files of chosen records (samples, test events).
    continuous = np.array(
        [o.delivery is not None or o.appendable or _source_kind(o) == "lookup" for o in index.origins] or [False]
    )
    times = index.columns["time"].data[:n]
    for row in rows:
        origin_table = np.zeros(len(index.origins) + 1, dtype=bool)
        origin_table[list(row.origins)] = True
        trail_table = np.zeros(len(trail_vocab) + 1, dtype=bool)
        trail_table[list(row.trail_codes)] = True
        trail_table[0] = False
        mine = (origin_table[origin_column] | trail_table[trail_column]) & alive
        row.events = int(mine.sum())
        if row.trail_codes and n:
            covered = times[mine & continuous[origin_column] & (times != NO_TIME)]
            if len(covered):
                _describe_rates(row, log_file_times, int(covered.min()), int(covered.max()))
        if row.delivered_files:
            _describe_gaps(row)
    rows.sort(key=_rank)
    return rows


def _rank(row: TrailSummary) -> tuple:
    """Trails not logging KMS events now first, then tampering that was undone, then other
    warnings, then doubts about the log-file rate alone."""
    if row.kms_logging in (STOPPED, EXCLUDED):
        concern = 0
    elif row.tampered:
        concern = 1
    elif len(row.warnings) > row.rate_warnings:
        concern = 2
    elif row.warnings:
        concern = 3
    else:
        concern = 4
    return (concern, row.kind != "trail", row.kind != "delivery", row.label)


class LogFiles:
    """What the log files CloudTrail encrypted say (``index.log_files``, its own GenerateDataKey
    calls), read once each: the list only grows, and the explorer summarises the trails on
    every look at a growing index (reading them all again took 80 ms at 24,000 files)."""

    def __init__(self) -> None:
        self.read = 0  # how many of index.log_files are in
        self.source: list | None = None  # the list they were read from
        self.file_to_trail: dict[str, str] = {}  # a log file's name -> the trail ARN that wrote it
        self.trail_locations: dict[str, set[str]] = {}  # trail ARN -> bucket/prefix heads of its files
        # Trail code -> {delivering region: times CloudTrail encrypted a log file}. A multi-region
        # trail encrypts every region's files with its one key, so the region is read from the S3
        # object's path (.../CloudTrail/<region>/...); a file named otherwise has no region to count.
        self.times: dict[int, dict[str, list[int]]] = {}
        self.lock = threading.Lock()

    def take(self, index: EventIndex) -> None:
        """Read the log files added since the last call."""
        listed = index.log_files
        if listed is not self.source or len(listed) < self.read:  # another list: from the start
            self.__init__()  # type: ignore[misc]
            self.source = listed
        trail_vocab = index.vocab["trail"].values
        end = len(listed)
        for log_file in listed[self.read : end]:
            arn = trail_vocab[log_file.trail]
            object_path = log_file.s3_arn.split(":::", 1)[-1]
            self.file_to_trail[posixpath.basename(object_path)] = arn
            head = object_path.split("/AWSLogs/", 1)[0] if "/AWSLogs/" in object_path else None
            if head:
                self.trail_locations.setdefault(arn, set()).add(head)
            parts = log_file.s3_arn.split("/CloudTrail/", 1)
            region = parts[1].split("/", 1)[0] if len(parts) == 2 else ""
            if region and log_file.time != NO_TIME:
                self.times.setdefault(log_file.trail, {}).setdefault(region, []).append(log_file.time)
        self.read = end


_LOG_FILES: weakref.WeakKeyDictionary[EventIndex, LogFiles] = weakref.WeakKeyDictionary()
_LOG_FILES_LOCK = threading.Lock()


class LogFilesRead(NamedTuple):
    """LogFiles as one summary reads them: copies, which a summary running beside it (a
    cancelled filtering thread is not stopped) cannot change while this one iterates them."""

    file_to_trail: dict[str, str]
    trail_locations: dict[str, set[str]]
    times: dict[int, dict[str, list[int]]]


def _log_files(index: EventIndex) -> LogFilesRead:
    """The index's log files as read so far, brought up to date (kept beside the index, not in it)."""
    with _LOG_FILES_LOCK:
        digest = _LOG_FILES.get(index)
        if digest is None:
            digest = _LOG_FILES[index] = LogFiles()
    with digest.lock:  # two summaries at once (the explorer's worker, a test) read it in turn
        digest.take(index)
        return LogFilesRead(
            dict(digest.file_to_trail),
            {arn: set(heads) for arn, heads in digest.trail_locations.items()},
            {code: {region: list(times) for region, times in by.items()} for code, by in digest.times.items()},
        )


def _log_key_calls(index: EventIndex, rows: np.ndarray) -> tuple[dict[int, int], dict[int, tuple[int, str]]]:
    """Among CloudTrail's own KMS calls for its trails (``rows``): per trail code, how many were
    GenerateDataKey, and the key of the latest that named one (by time, then row)."""
    if not len(rows):
        return {}, {}
    codes = index.columns["trail"].data[rows].astype(np.int64)
    generate = index.vocab["name"].find("GenerateDataKey")
    names = index.columns["name"].data[rows]
    counted = codes[names == generate] if generate is not None else codes[:0]
    calls = np.bincount(counted) if len(counted) else np.zeros(0, np.int64)
    calls_by_code = {code: int(calls[code]) for code in np.flatnonzero(calls).tolist()}
    key_vocab = index.vocab["key"].values
    keys = index.columns["key0"].data[rows]
    distinct_keys, where = np.unique(keys, return_inverse=True)
    named = np.array([bool(key_vocab[k]) for k in distinct_keys.tolist()], bool)[where]
    rows, codes, keys = rows[named], codes[named], keys[named]
    times = index.columns["time"].data[rows]
    order = np.lexsort((rows, times, codes))  # by code, then time, then row: the last of each code wins
    last = order[np.r_[codes[order][1:] != codes[order][:-1], True]] if len(order) else order
    log_key_by_code = {int(codes[i]): (int(times[i]), key_vocab[keys[i]]) for i in last.tolist()}
    return calls_by_code, log_key_by_code


def _describe_rates(row: TrailSummary, log_file_times: dict[int, dict[str, list[int]]], start: int, end: int) -> None:
    """Log files CloudTrail encrypted a day for the trail, per region, over the span its events
    from delivered files or LookupEvents cover (files of chosen records say nothing of a
    rate); a note each, and a warning when far short of the ~288 a day expected."""
    days = (end - start) / 86400
    if days < 1 / 24:  # under an hour of the trail's events says nothing about a rate
        return
    counts: dict[str, int] = {}
    for code in row.trail_codes:
        for region, when in log_file_times.get(code, {}).items():
            counts[region] = counts.get(region, 0) + sum(1 for t in when if start <= t <= end)
    for region, count in sorted(counts.items()):
        rate = count / days
        row.log_file_rates[region] = rate
        if rate < EXPECTED_LOG_FILES_PER_DAY / 2:
            row.rate_warnings += 1
            row.warnings.append(
                f"CloudTrail encrypted only about {rate:,.0f} log files a day for {region} from {short(start)} to "
                f"{short(end)} UTC (the span this trail's events cover), where about {EXPECTED_LOG_FILES_PER_DAY} are "
                f"expected (one every 5 minutes): log delivery, or the logging of KMS events, may have stopped for "
                f"part of the time."
            )
            row.notes.append(f"{region}: {rate:,.0f} log files a day (expected ~{EXPECTED_LOG_FILES_PER_DAY})")


STEADY_SPACING = 900  # a region whose files came at least every 15 minutes (median) delivers steadily
SILENCE = 3600  # at least an hour without a file, in a steady delivery, is worth a look
SILENCE_SPACINGS = 20  # and at least 20 times the usual spacing: a quiet night is not a stop


def _describe_gaps(row: TrailSummary) -> None:
    """ActionTrail names each file it delivers by when it wrote it, and writes one for every 5
    minutes that had events. Per account and region: the files a day over the span the names
    cover (a note), and a warning where a region that delivered steadily (a file every 15
    minutes or more often, by the median) fell silent for over an hour and over 20 times its
    usual spacing: logging may have been stopped there, or nothing happened. A quiet account
    (files hours apart) says nothing."""
    by_place: dict[tuple[str, str], set[int]] = {}
    for delivery in row.delivered_files:
        if delivery.delivered is not None:
            by_place.setdefault((delivery.account, delivery.region), set()).add(delivery.delivered)
    accounts = {account for account, _ in by_place}
    for (account, region), seconds in sorted(by_place.items()):
        times = sorted(seconds)
        span = times[-1] - times[0]
        if len(times) < 3 or span < 3600:  # under an hour of files says nothing about a rate
            continue
        where = f"{account} {region}" if len(accounts) > 1 and account else region
        rate = (len(times) - 1) * 86400 / span
        row.log_file_rates[where] = rate
        spacing = np.diff(np.array(times, dtype=np.int64))
        longest = int(spacing.argmax())
        usual = float(np.median(spacing))
        if usual <= STEADY_SPACING and int(spacing[longest]) > max(SILENCE, SILENCE_SPACINGS * usual):
            start, end = times[longest], times[longest + 1]
            hours = (end - start) / 3600
            row.rate_warnings += 1
            row.warnings.append(
                f"No ActionTrail log file for {where} from {short(start)} to {short(end)} UTC ({hours:.1f} hours), "
                f"where this trail otherwise delivered one every {round(usual / 60)} minutes or so: "
                f"logging may have been stopped, or nothing happened in that time."
            )
            row.notes.append(f"{where}: no log file {brief(start)} to {brief(end)} ({hours:.1f} h)")


def _apply_live(row: TrailSummary, live) -> None:
    """What the CloudTrail API says now wins over what the events suggest."""
    row.location = live.location or row.location
    row.log_key = live.kms_key or row.log_key
    if live.multi_region:
        row.regions = sorted({*row.regions, "all regions"})
    elif live.home_region not in row.regions:
        row.regions = sorted({*row.regions, live.home_region})
    if live.logging is False:
        row.kms_logging = STOPPED
        row.warnings.insert(0, f"Logging is off now (GetTrailStatus for {live.name}): the trail records nothing.")
        row.notes.insert(0, "logging is off now")
    elif live.selectors in ("excluded", "write-only"):
        row.kms_logging = EXCLUDED
        what = (
            "Read-only KMS events (Decrypt, Encrypt, GenerateDataKey...)"
            if live.selectors == "write-only"
            else "KMS events"
        )
        row.warnings.insert(0, f"{what} are not logged now ({live.selectors_how}, from GetEventSelectors).")
        row.notes.insert(0, f"KMS {'reads ' if live.selectors == 'write-only' else ''}excluded now")
    elif live.selectors == "logged" and live.logging:
        row.kms_logging = LOGGED
    if live.delivery_error:
        row.warnings.append(f"The last log delivery failed: {live.delivery_error}.")
    for problem in live.problems:
        row.warnings.append(problem)


def _source_rows(index: EventIndex, codes: list[int]) -> list[TrailSummary]:
    """Sources that are not delivered log files: one row per folder and kind (a file alone in
    its folder is named itself); files that held no KMS or trail event are counted on their
    folder's row, not listed, and a folder of only such files has no row."""
    rows: list[TrailSummary] = []
    folders: dict[tuple[str, str], list[Origin]] = {}
    codes_of: dict[int, int] = {}
    for code in codes:
        origin = index.origins[code]
        origin.kind = kind = _source_kind(origin)
        codes_of[id(origin)] = code
        if kind == "stdin" or origin.appendable or origin.path.startswith("lookup:"):
            # standard input, a LookupEvents region (named by its label; the cache file behind it is ours)
            rows.append(
                TrailSummary(
                    label=origin.label if kind == "stdin" else _base_name(origin.label),
                    kind=kind,
                    location=None,
                    origins=frozenset({code}),
                    files=1,
                )
            )
            continue
        folders.setdefault((kind, posixpath.dirname(origin.path)), []).append(origin)
    for (kind, folder), origins in folders.items():
        loaded = [o for o in origins if o.events]
        if not loaded:
            continue
        alone = len(loaded) == 1
        rows.append(
            TrailSummary(
                label=_base_name(loaded[0].label) if alone else _base_name(folder or ".") + "/",
                kind=kind,
                location=from_os(loaded[0].path if alone else folder),
                origins=frozenset(codes_of[id(o)] for o in loaded),
                files=len(loaded),
                empty_files=len(origins) - len(loaded),
                members=[] if alone else [f"{_base_name(o.label)} ({o.events:,})" for o in loaded],
            )
        )
    return rows


def _base_name(label: str) -> str:
    return posixpath.basename(label.rstrip("/")) or label


def _source_kind(origin: Origin) -> str:
    if origin.label == "(stdin)":
        return "stdin"
    if origin.format == "lookup-events" or origin.path.startswith("lookup:"):
        return "lookup"
    return "file"


def _folder_label(prefix: str) -> str:
    if prefix.startswith("s3://"):  # a bucket read in place: its name and prefix, whole
        return prefix
    parts = [p for p in prefix.replace("\\", "/").split("/") if p and p != "."]
    if parts and parts[-1] == "AWSLogs":
        parts = parts[:-1]
    return "/".join(parts[-2:]) or prefix
