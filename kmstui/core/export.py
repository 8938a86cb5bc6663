"""Writing events, keys and trails for scripts and pipes: JSON Lines, CSV, a table, raw records."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from typing import IO

import numpy as np
import orjson

from .group import Grouping, GroupRow
from .index import EventIndex
from .model import alias_name
from .sources import SourceError
from .summary import KeySummary
from .text import cell_width, clean, clip, json_safe, pad
from .timeutil import iso, short
from .trails import TrailSummary

EVENT_FIELDS = (
    "event_id",
    "time",
    "event",
    "source",
    "cloud",
    "region",
    "account",
    "principal",
    "principal_arn",
    "identity_type",
    "caller_account",
    "cross_account",
    "source_ip",
    "user_agent",
    "keys",
    "aliases",
    "context",
    "contexts",
    "error",
    "error_message",
    "read_only",
    "event_type",
    "trail",
    "subject_trail",
    "origin",
    "shares_id",
)
KEY_FIELDS = (
    "key",
    "cloud",
    "aliases",
    "former_aliases",
    "state",
    "events",
    "errors",
    "principals",
    "first_seen",
    "last_seen",
    "description",
    "spec",
    "usage",
    "manager",
    "multi_region",
)
TRAIL_FIELDS = (
    "trail",
    "kind",
    "events",
    "log_key",
    "log_key_calls",
    "kms_logging",
    "warnings",
    "location",
    "accounts",
    "regions",
    "files",
    "empty_files",
)


class EventWriter:
    """Turns rows into output records; knows which trail delivered each origin."""

    def __init__(self, index: EventIndex, trails: list[TrailSummary]):
        self.index = index
        self.trail_of_origin: dict[int, str] = {}
        for trail in trails:
            if trail.kind in ("trail", "delivery"):
                for origin in trail.origins:
                    self.trail_of_origin[origin] = trail.ident
        self.key_codes = index.vocab["key"]

    def record(self, row: int) -> dict:
        event = self.index.event(row)
        origin = int(self.index.columns["origin"].data[row])
        aliases = [alias_name(a) for a in event.aliases]
        for key in event.keys:
            for name in self.index.alias_names_at(self.key_codes.find(key) or 0, event.time):
                if name not in aliases:
                    aliases.append(name)
        return {
            "event_id": event.event_id,
            "time": event.iso_time,
            "event": event.name,
            "source": event.source,
            "cloud": event.cloud,
            "region": event.region,
            "account": event.account,
            "principal": event.principal.short,
            "principal_arn": event.principal.arn,
            "identity_type": event.principal.identity_type,
            "caller_account": event.principal.account,
            "cross_account": event.principal.cross_account,
            "source_ip": event.source_ip,
            "user_agent": event.user_agent,
            "keys": list(event.keys),
            "aliases": aliases,
            "context": event.context,
            "contexts": [{"from": label or "request", "context": dict(pairs)} for label, pairs in event.contexts],
            "error": event.error_code,
            "error_message": event.error_message,
            "read_only": event.read_only,
            "event_type": event.event_type,
            # one meaning each: the trail whose delivered log files held the event (None when it
            # came from elsewhere), and the trail the event acts on or is about
            "trail": self.trail_of_origin.get(origin),
            "subject_trail": event.subject_trail,
            "origin": event.origin,
            "shares_id": event.shares_id,  # another loaded event has its id, name and time but differs
        }


def json_line(value: object) -> str:
    """One JSON Lines line: record text that a terminal would act on or hide is escaped."""
    return json_safe(orjson.dumps(value).decode()) + "\n"


def write_events(
    out: IO[str],
    index: EventIndex,
    rows: np.ndarray,
    trails: list[TrailSummary],
    fmt: str,
    on_problem: Callable[[str], None] | None = None,
) -> None:
    writer = EventWriter(index, trails)
    if fmt == "jsonl":
        for row in rows.tolist():
            out.write(json_line(writer.record(row)))
    elif fmt == "csv":
        _write_csv(out, EVENT_FIELDS, (writer.record(row) for row in rows.tolist()))
    elif fmt == "table":
        _write_table(
            out,
            ("TIME (UTC)", "EVENT", "PRINCIPAL", "KEY", "SOURCE IP", "REGION", "ERROR"),
            (_event_cells(writer, row) for row in rows.tolist()),
        )
    elif fmt == "raw":
        write_raw(out, index, rows, on_problem)
    else:  # pragma: no cover - argparse restricts the choices
        raise ValueError(fmt)


def _event_cells(writer: EventWriter, row: int) -> list[str]:
    event = writer.index.event(row)
    key = ""
    if event.aliases:
        key = alias_name(event.aliases[0])
    elif event.keys:
        names = writer.index.alias_names_at(writer.key_codes.find(event.keys[0]) or 0, event.time)
        key = names[0] if names else event.keys[0].rsplit("/", 1)[-1]
    return [
        short(event.time),
        event.name,
        event.principal.label,
        key,
        event.source_ip or "",
        event.region or "",
        event.error_code or "",
    ]


def write_raw(
    out: IO[str], index: EventIndex, rows: np.ndarray, on_problem: Callable[[str], None] | None = None
) -> None:
    """The original records, one per line, in the order of ``rows``. A record that cannot be
    read again (its source changed or vanished since loading) is left out and said once to
    ``on_problem``; an error writing (a closed pipe) is the caller's."""
    missing = 0
    first = ""
    for row in rows.tolist():
        try:
            line = json_line(orjson.loads(index.raw(row)))
        except (SourceError, orjson.JSONDecodeError, TypeError) as error:
            missing += 1
            first = first or str(error)
            continue
        out.write(line)
    if missing and on_problem is not None:
        on_problem(
            f"{missing:,} record{'s' if missing != 1 else ''} could not be read again and "
            f"{'were' if missing != 1 else 'was'} left out ({first})"
        )


def key_record(summary: KeySummary) -> dict:
    return {
        "key": summary.arn,
        "cloud": summary.cloud,
        "aliases": summary.aliases,
        "former_aliases": summary.former_aliases,
        "state": summary.state_text or None,
        "events": summary.events,
        "errors": summary.errors,
        "principals": summary.principals,
        "first_seen": iso(summary.first_seen),
        "last_seen": iso(summary.last_seen),
        # from DescribeKey, with --lookup
        "description": getattr(summary.live, "description", None),
        "spec": getattr(summary.live, "spec", None),
        "usage": getattr(summary.live, "usage", None),
        "manager": getattr(summary.live, "manager", None),
        "multi_region": getattr(summary.live, "multi_region", None),
    }


def write_keys(out: IO[str], summaries: list[KeySummary], fmt: str) -> None:
    if fmt == "jsonl":
        for summary in summaries:
            out.write(json_line(key_record(summary)))
    elif fmt == "csv":
        _write_csv(out, KEY_FIELDS, (key_record(s) for s in summaries))
    else:
        _write_table(
            out,
            ("KEY", "ALIASES", "STATE", "EVENTS", "ERRORS", "PRINCIPALS", "FIRST SEEN", "LAST SEEN"),
            (
                [
                    s.arn,
                    ", ".join(s.aliases + [f"{a} (former)" for a in s.former_aliases]),
                    s.state_text,
                    f"{s.events:,}",
                    f"{s.errors:,}",
                    f"{s.principals:,}",
                    short(s.first_seen),
                    short(s.last_seen),
                ]
                for s in summaries
            ),
        )


def trail_record(trail: TrailSummary) -> dict:
    return {
        "trail": trail.ident,
        "kind": trail.kind,
        "events": trail.events,
        "log_key": trail.log_key,
        "log_key_calls": trail.log_key_calls,
        "kms_logging": trail.kms_logging,
        "warnings": trail.warnings,
        "location": trail.location,
        "accounts": trail.accounts,
        "regions": trail.regions,
        "files": trail.files,
        "empty_files": trail.empty_files,
    }


def write_trails(out: IO[str], trails: list[TrailSummary], fmt: str) -> None:
    if fmt == "jsonl":
        for trail in trails:
            out.write(json_line(trail_record(trail)))
    elif fmt == "csv":
        _write_csv(out, TRAIL_FIELDS, (trail_record(t) for t in trails))
    else:
        rows = []
        for trail in trails:
            rows.append([trail.ident, trail.kind, f"{trail.events:,}", trail.kms_logging, trail.log_key or ""])
            for warning in trail.warnings:
                rows.append(["  ! " + warning, "", "", "", ""])  # a full sentence: never clipped
        _write_table(out, ("TRAIL", "KIND", "EVENTS", "KMS LOGGING", "LOG KEY"), rows, wrap_first=True)


# ---------------------------------------------------------------------------


# What a spreadsheet runs as a formula: a cell starting with = + - @ (or their full-width forms,
# which some convert), after any spaces, line breaks or invisible characters it skips.
_FORMULA = re.compile(r"^[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u2060\ufeff]*[=+\-@\uff1d\uff0b\uff0d\uff20]")


def _csv_cell(value: object) -> str:
    """One CSV cell, cleaned like every text kmstui writes (an escape sequence shows as ␛[31m);
    text that a spreadsheet would run as a formula is quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = " ".join(value)
        else:
            value = orjson.dumps(value).decode()
    text = str(value)
    if _FORMULA.match(text):
        return "'" + clean(text)
    return clean(text)


def _write_csv(out: IO[str], fields: Iterable[str], records: Iterable[dict]) -> None:
    fields = list(fields)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for record in records:
        writer.writerow([_csv_cell(record[f]) for f in fields])


def _write_table(out: IO[str], header: tuple[str, ...], rows: Iterable[list[str]], wrap_first: bool = False) -> None:
    """An aligned text table; every cell cleaned of control characters and clipped."""
    rows = [
        [
            clip(str(cell), 2000 if wrap_first and i == 0 and str(cell).startswith("  ! ") else 80)
            for i, cell in enumerate(row)
        ]
        for row in rows
    ]
    widths = [cell_width(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            if wrap_first and i == 0 and cell.startswith("  ! "):
                continue
            widths[i] = max(widths[i], cell_width(cell))
    buffer = io.StringIO()
    buffer.write("  ".join(pad(h, w) for h, w in zip(header, widths, strict=True)).rstrip() + "\n")
    for row in rows:
        if wrap_first and row[0].startswith("  ! "):
            buffer.write(row[0] + "\n")
            continue
        buffer.write("  ".join(pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
    out.write(buffer.getvalue())


# ---------------------------------------------------------------------------
# Group-by (kmstui events --group-by FIELD[,FIELD])

GROUP_COUNTS = ("events", "errors", "first_seen", "last_seen", "keys", "principals")


def group_record(grouping: Grouping, row: GroupRow) -> dict:
    """One row of a group-by: the grouped fields by name, then the counts."""
    record: dict = dict(zip(grouping.fields, row.values, strict=True))
    record.update(
        events=row.events,
        errors=row.errors,
        first_seen=iso(row.first_seen),
        last_seen=iso(row.last_seen),
        keys=row.keys,
        principals=row.principals,
    )
    if grouping.new is not None:
        record["new"] = row.new
    return record


def write_groups(out: IO[str], grouping: Grouping, fmt: str) -> None:
    if fmt == "jsonl":
        for row in grouping.rows:
            out.write(json_line(group_record(grouping, row)))
    elif fmt == "csv":
        new = ("new",) if grouping.new is not None else ()
        _write_csv(out, (*grouping.fields, *GROUP_COUNTS, *new), (group_record(grouping, r) for r in grouping.rows))
    else:
        header = (*(f.upper() for f in grouping.fields), "EVENTS", "ERRORS", "FIRST SEEN", "LAST SEEN", "KEYS", "WHO")
        counted = grouping.new is not None
        _write_table(
            out,
            (*header, "NEW") if counted else header,
            (
                [
                    *(value if value is not None else "-" for value in row.values),
                    f"{row.events:,}",
                    f"{row.errors:,}",
                    short(row.first_seen),
                    short(row.last_seen),
                    f"{row.keys:,}",
                    f"{row.principals:,}",
                    *([f"{row.new:,}"] if counted else []),
                ]
                for row in grouping.rows
            ),
        )
