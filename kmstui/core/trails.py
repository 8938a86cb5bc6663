"""Trails: where the events came from, and whether CloudTrail is logging KMS at all.

A trail is known three ways from loaded data:

- the S3 delivery path of its log files (``.../AWSLogs/<account>/CloudTrail/<region>/...``),
- the ``aws:cloudtrail:arn`` encryption context of CloudTrail's own GenerateDataKey and
  Decrypt calls when its log files are SSE-KMS encrypted,
- its configuration events (CreateTrail, UpdateTrail, PutEventSelectors, StopLogging, ...).

These are joined where the data allows: CloudTrail's GenerateDataKey names the S3
object it encrypts (``aws:s3:arn``), which is a loaded log file's name; a trail's
configuration names its bucket and prefix. Everything else that was loaded (standard
input, a LookupEvents file, a plain file of records) is a source row of its own.

The configuration events, replayed in time order, say whether KMS events are logged
now, and every episode in which they were not becomes a warning sentence: who, when,
from where, and when it was undone.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

import numpy as np

from .decode import TrailChange
from .index import EventIndex, Origin
from .model import arn_account, arn_region, trail_name
from .text import from_os
from .timeutil import NO_TIME, short


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
    log_file_rates: dict[str, float] = field(default_factory=dict)  # delivering region -> log files encrypted a day
    live: object | None = None  # the trail as the CloudTrail API describes it now (kmstui.core.live)

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


def selector_state(request: dict, response: dict) -> tuple[str, str]:
    """(state, how) of KMS logging under a PutEventSelectors call.

    state is "logged", "excluded", "write-only" or "unknown"; ``how`` names the setting.
    """
    selectors = _get(response, "eventSelectors") or _get(request, "eventSelectors")
    advanced = _get(response, "advancedEventSelectors") or _get(request, "advancedEventSelectors")
    if isinstance(advanced, list) and advanced:
        return _advanced_state(advanced)
    if not isinstance(selectors, list):
        return "unknown", ""
    if not selectors:  # no selectors of its own: a trail's default records every management event
        return "logged", ""
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
        return "logged", ""
    if writes_kms:
        return "write-only", "ReadWriteType WriteOnly"
    if excluded_by:
        return "excluded", excluded_by
    if not management:
        return "excluded", "IncludeManagementEvents false"
    return "unknown", ""


def _advanced_state(advanced: list) -> tuple[str, str]:
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
        return "logged", ""
    if writes:
        return "write-only", "an advanced event selector on readOnly"
    if excluded:
        return "excluded", "an advanced event selector on eventSource"
    return "excluded", "advanced event selectors without management events"


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


class _Replay:
    """The configuration history of one trail, replayed into a state and warning sentences."""

    def __init__(self, index: EventIndex):
        self.index = index
        self.stopped: tuple | None = None  # (who, when) of the open stop
        self.excluded: tuple | None = None  # (who, when, how, state) of the open exclusion
        self.deleted: tuple | None = None
        self.selectors_known = False
        self.started = False
        self.log_key: str | None = None
        self.location: str | None = None
        self.warnings: list[str] = []
        self.notes: list[str] = []

    def warn(self, sentence: str, note: str) -> None:
        self.warnings.append(sentence)
        self.notes.append(note)

    def name(self, change: TrailChange) -> str:
        principal = self.index.vocab["principal"].values[change.principal]
        return principal[0] if principal else "(unknown)"

    def who(self, change: TrailChange) -> str:
        name = self.name(change)
        ip = self.index.event(change.row).source_ip
        return f"{name} from {ip}" if ip and ip != name else name

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
                self._close(f"Logging was stopped by {opened[0]} at {opened[1]}", f"stopped {opened[2]}", change, when)
                self.stopped = None
        elif action == "StopLogging":
            if not self.stopped:
                self.stopped = (self.who(change), when, f"{brief(change.time)} by {self.name(change)}")
        elif action == "DeleteTrail":
            self.deleted = (self.who(change), when, f"{brief(change.time)} by {self.name(change)}")
        elif action == "PutEventSelectors":
            state, how = selector_state(change.request, change.response)
            self.selectors_known = state != "unknown"
            if state in ("excluded", "write-only"):
                if not self.excluded or self.excluded[3] != state:
                    if self.excluded:
                        self._close(
                            self._exclusion_sentence(*self.excluded), self._exclusion_note(*self.excluded), change, when
                        )
                    self.excluded = (self.who(change), when, how, state, f"{brief(change.time)} by {self.name(change)}")
            elif state == "logged" and self.excluded:
                self._close(
                    self._exclusion_sentence(*self.excluded), self._exclusion_note(*self.excluded), change, when
                )
                self.excluded = None

    def _close(self, opened: str, note: str, change: TrailChange, when: str) -> None:
        self.warn(f"{opened}; undone by {self.who(change)} at {when}.", f"{note}, undone {brief(change.time)}")

    @staticmethod
    def _exclusion_sentence(who: str, when: str, how: str, state: str, _note: str = "") -> str:
        if state == "write-only":
            return (
                f"Read-only KMS events (Decrypt, Encrypt, GenerateDataKey...) excluded from logging by {who} "
                f"at {when} (PutEventSelectors, {how})"
            )
        return f"KMS events excluded from logging by {who} at {when} (PutEventSelectors, {how})"

    @staticmethod
    def _exclusion_note(_who: str, _when: str, _how: str, state: str, note: str) -> str:
        return f"{'KMS reads' if state == 'write-only' else 'KMS'} excluded {note}"

    def finish(self) -> str:
        """The current state; open episodes become warnings."""
        if self.excluded:
            self.warn(
                self._exclusion_sentence(*self.excluded) + "; still in effect in the loaded events.",
                self._exclusion_note(*self.excluded),
            )
        if self.stopped:
            self.warn(
                f"Logging stopped by {self.stopped[0]} at {self.stopped[1]}; not restarted in the loaded events.",
                f"logging stopped {self.stopped[2]}",
            )
        if self.deleted:
            self.warn(f"Trail deleted by {self.deleted[0]} at {self.deleted[1]}.", f"deleted {self.deleted[2]}")
        if self.deleted or self.stopped:
            return STOPPED
        if self.excluded:
            return EXCLUDED
        if self.selectors_known or self.started:
            return LOGGED
        return UNKNOWN


def summarise_trails(index: EventIndex) -> list[TrailSummary]:
    """One row per trail and per other source, warnings first."""
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
        replay = replays[arn] = _Replay(index)
        for change in sorted(history, key=lambda c: c.time):
            replay.apply(change)

    # CloudTrail's own use of a key for each trail's log files.
    key_vocab = index.vocab["key"].values
    key0 = index.columns["key0"].data[:n]
    trail_rows = np.flatnonzero((trail_column != 0) & alive & (evsource == kms_code)) if kms_code else np.zeros(0, int)
    log_key_by_code: dict[int, tuple[int, str]] = {}
    calls_by_code: dict[int, int] = {}
    names = index.columns["name"].data
    name_vocab = index.vocab["name"].values
    times = index.columns["time"].data
    for row in trail_rows.tolist():
        code = int(trail_column[row])
        if name_vocab[names[row]] == "GenerateDataKey":
            calls_by_code[code] = calls_by_code.get(code, 0) + 1
        key = key_vocab[key0[row]]
        if key and (code not in log_key_by_code or times[row] >= log_key_by_code[code][0]):
            log_key_by_code[code] = (int(times[row]), key)

    # Delivered files, grouped by the local image of their bucket prefix.
    deliveries: dict[str, list[int]] = {}
    others: list[int] = []
    for code, origin in enumerate(index.origins):
        if origin.delivery is not None:
            deliveries.setdefault(origin.delivery.prefix, []).append(code)
        else:
            others.append(code)

    # Join deliveries to trails: the exact log file named by CloudTrail's own key use,
    # else the bucket and prefix named in the trail's configuration or in those calls.
    file_to_trail: dict[str, str] = {}
    trail_locations: dict[str, set[str]] = {}
    for code, s3_arn, _when in index.log_files:
        arn = trail_vocab[code]
        object_path = s3_arn.split(":::", 1)[-1]
        file_to_trail[posixpath.basename(object_path)] = arn
        head = object_path.split("/AWSLogs/", 1)[0] if "/AWSLogs/" in object_path else None
        if head:
            trail_locations.setdefault(arn, set()).add(head)
    for arn, replay in replays.items():
        if replay.location:
            trail_locations.setdefault(arn, set()).add(replay.location.removeprefix("s3://"))
    linked: dict[str, str] = {}
    for prefix, codes in deliveries.items():
        for code in codes:
            arn = file_to_trail.get(index.origins[code].delivery.file_name)
            if arn:
                linked[prefix] = arn
                break
        else:
            local = prefix.rstrip("/") + "/"
            local = local.removesuffix("AWSLogs/")
            for arn, heads in trail_locations.items():
                folder = "/" + local.rstrip("/")
                if any(folder.endswith("/" + head.strip("/")) for head in heads):  # whole folder names only
                    linked[prefix] = arn
                    break

    rows: list[TrailSummary] = []
    counts_by_origin = (
        np.bincount(origin_column[alive], minlength=len(index.origins)) if n else np.zeros(len(index.origins), int)
    )
    counts_by_trail = (
        np.bincount(trail_column[alive], minlength=len(trail_vocab)) if n else np.zeros(len(trail_vocab), int)
    )
    kms_by_origin = (
        np.bincount(origin_column[alive & (evsource == kms_code)], minlength=len(index.origins))
        if n and kms_code
        else np.zeros(len(index.origins), int)
    )

    for prefix, codes in deliveries.items():
        arn = linked.get(prefix)
        origins = [index.origins[c] for c in codes]
        row = by_arn.setdefault(arn, TrailSummary(label=trail_name(arn), kind="trail", arn=arn)) if arn else None
        if row is None:
            row = TrailSummary(label=_folder_label(prefix), kind="delivery", location=prefix)
            rows.append(row)
        elif row.location is None:
            row.location = prefix
        row.origins = row.origins | set(codes)
        row.files += len(codes)
        row.accounts = sorted({*row.accounts, *(o.delivery.account for o in origins)})
        row.regions = sorted({*row.regions, *(o.delivery.region for o in origins)})
        if any(kms_by_origin[c] for c in codes):
            row.kms_logging = LOGGED

    for live in index.live_trails:
        row = by_arn.setdefault(live.arn, TrailSummary(label=live.name, kind="trail", arn=live.arn))
        row.live = live
    rates = _log_file_rates(index, snapshot)

    for arn, row in by_arn.items():
        replay = replays.get(arn)
        if replay is not None:
            state = replay.finish()
            row.warnings = replay.warnings
            row.notes = replay.notes
            if state != UNKNOWN or row.kms_logging == UNKNOWN:
                row.kms_logging = state if state != UNKNOWN else row.kms_logging
            if replay.location:
                row.location = replay.location
            if replay.log_key:
                row.log_key = replay.log_key
        row.accounts = sorted({*row.accounts, *filter(None, [arn_account(arn)])})
        if not row.regions and arn_region(arn):
            row.regions = [arn_region(arn)]
        for code in row.trail_codes:
            if code in log_key_by_code:
                row.log_key = (
                    log_key_by_code[code][1] if not row.log_key or not row.log_key.startswith("arn:") else row.log_key
                )
            row.log_key_calls += calls_by_code.get(code, 0)
            for region, rate in rates.get(code, {}).items():
                row.log_file_rates[region] = row.log_file_rates.get(region, 0.0) + rate
        _describe_rates(row)
        if row.live is not None:
            _apply_live(row, row.live)
        rows.append(row)

    for code in others:
        origin = index.origins[code]
        kind = _source_kind(origin)
        origin.kind = kind
        rows.append(
            TrailSummary(
                label=origin.label if kind == "stdin" else posixpath.basename(origin.label.rstrip("/")) or origin.label,
                kind=kind,
                # a LookupEvents region is named by its label; the cache file behind it is ours
                location=None if kind == "stdin" or origin.appendable else from_os(origin.path),
                origins=frozenset({code}),
                files=1,
                kms_logging=UNKNOWN,
            )
        )

    for row in rows:
        total = sum(int(counts_by_origin[c]) for c in row.origins)
        total += sum(int(counts_by_trail[c]) for c in row.trail_codes)
        if row.origins and row.trail_codes:  # events both delivered by and about this trail count once
            both = np.isin(origin_column, list(row.origins)) & np.isin(trail_column, list(row.trail_codes)) & alive
            total -= int(both.sum())
        row.events = total
    rows.sort(key=lambda r: (not r.warnings, r.kind != "trail", r.kind != "delivery", r.label))
    return rows


def _log_file_rates(index: EventIndex, snapshot) -> dict[int, dict[str, float]]:
    """Trail code -> {delivering region: log files CloudTrail encrypted a day}, over the loaded
    window. A multi-region trail encrypts every region's files with its one key, so the
    region is read from the S3 object's path (.../CloudTrail/<region>/...)."""
    if snapshot.newest == NO_TIME or snapshot.oldest == NO_TIME:
        return {}
    days = (snapshot.newest - snapshot.oldest) / 86400
    if days < 1 / 24:  # under an hour of data says nothing about a rate
        return {}
    counts: dict[int, dict[str, int]] = {}
    for code, s3_arn, _when in index.log_files:
        parts = s3_arn.split("/CloudTrail/", 1)
        region = parts[1].split("/", 1)[0] if len(parts) == 2 else "?"
        per_region = counts.setdefault(code, {})
        per_region[region] = per_region.get(region, 0) + 1
    return {code: {region: count / days for region, count in per_region.items()} for code, per_region in counts.items()}


def _describe_rates(row: TrailSummary) -> None:
    """A note per region on CloudTrail's own key use, and a warning when it falls far short."""
    for region, rate in sorted(row.log_file_rates.items()):
        if rate < EXPECTED_LOG_FILES_PER_DAY / 2:
            row.warnings.append(
                f"CloudTrail encrypted only about {rate:,.0f} log files a day for {region} in the loaded events, where "
                f"about {EXPECTED_LOG_FILES_PER_DAY} are expected (one every 5 minutes): log delivery, or the logging "
                f"of KMS events, may have stopped for part of the time."
            )
            row.notes.append(f"{region}: {rate:,.0f} log files a day (expected ~{EXPECTED_LOG_FILES_PER_DAY})")


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


def _source_kind(origin: Origin) -> str:
    if origin.label == "(stdin)":
        return "stdin"
    if origin.format == "lookup-events" or origin.path.startswith("lookup:"):
        return "lookup"
    return "file"


def _folder_label(prefix: str) -> str:
    parts = [p for p in prefix.replace("\\", "/").split("/") if p and p != "."]
    if parts and parts[-1] == "AWSLogs":
        parts = parts[:-1]
    return "/".join(parts[-2:]) or prefix
