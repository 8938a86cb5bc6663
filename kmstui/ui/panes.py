"""The three panes: trails, keys and events, each a :class:`VirtualTable` over core data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
from textual.binding import Binding
from textual.strip import Strip

from ..core.index import EventIndex
from ..core.model import alias_name, key_id
from ..core.summary import KeySummary
from ..core.text import cell_width, clean
from ..core.timeutil import short
from ..core.trails import EXCLUDED, LOGGED, STOPPED, TrailSummary
from .table import Cell, Column, VirtualTable

# Events a responder wants to see at a glance: they destroy, hide or redirect.
NOTABLE = frozenset(
    {
        "ScheduleKeyDeletion",
        "DisableKey",
        "DeleteAlias",
        "UpdateAlias",
        "PutKeyPolicy",
        "DeleteImportedKeyMaterial",
        "DisableKeyRotation",
        "CreateGrant",
        "RevokeGrant",
        "StopLogging",
        "DeleteTrail",
        "PutEventSelectors",
        "UpdateTrail",
        "DeleteKey",
        "ReplicateKey",
        "UpdatePrimaryRegion",
        "DeleteCustomKeyStore",
        "DisconnectCustomKeyStore",
    }
)


def compact(text: str) -> str:
    """Table text without what every row would repeat: ``service:s3`` for
    ``service:s3.amazonaws.com`` (the detail view and the filter keep the full text)."""
    return text.replace(".amazonaws.com", "")


def short_key(arn: str) -> str:
    """A key id short enough for a column: ``1234abcd…`` (aliases as they are)."""
    ident = key_id(arn)
    if ident.startswith("alias/"):
        return ident
    if ident.startswith("mrk-"):
        return ident[:12] + "…"
    return ident[:8] + "…" if len(ident) > 9 else ident


class EventsPane(VirtualTable):
    """Matching events, newest first: a view of the result rows, drawn line by line."""

    BINDINGS = [Binding("enter", "activate", "Open", tooltip="Open the event in full", id="events.open")]
    columns = [
        Column("TIME (UTC)", 19, priority=10, max_width=19),
        Column("EVENT", 15, flex=2, priority=9, max_width=36, ideal=20, grow=2),
        Column("PRINCIPAL", 16, flex=3, priority=8, ideal=20, grow=1),
        Column("KEY", 13, flex=2, priority=7, max_width=36, ideal=18, grow=3),
        Column("ERROR", 12, flex=2, priority=6, max_width=28, ideal=16, grow=4),  # AccessDenied whole
        Column("SOURCE IP", 13, flex=1, priority=5, max_width=24, ideal=15, grow=5),
        Column("REGION", 9, priority=3, max_width=14, flex=1, ideal=14, grow=6),
    ]
    empty_text = "No events match."

    def __init__(self, index: EventIndex, **kwargs):
        super().__init__(**kwargs)
        self.index = index
        self.rows = np.zeros(0, dtype=np.int64)
        self._key_labels: dict[int, str] = {}
        self.novel: np.ndarray | None = None  # bool per index row: new in the filter's window (marked ✦)
        self._drawn: list[Callable[[], object]] = []  # called once the rows shown are drawn

    def show(self, rows: np.ndarray, drawn: Callable[[], object] | None = None) -> None:
        """New result rows. The cursor stays on its event, or at the top when it was there
        (newest first: the top follows new events, like tail -f). ``drawn`` is called once
        the frame that draws them is done (at once when the pane is not on screen)."""
        keep = self.row_of(self.cursor) if self.cursor > 0 else None
        position = 0
        if keep is not None and len(rows):
            found = np.flatnonzero(rows == keep)
            position = int(found[0]) if len(found) else 0
        self.rows = rows
        self._key_labels = {}
        self.reset(len(rows), position)
        if drawn is not None:
            if self.display and self.screen.is_current:
                self._drawn.append(drawn)
            else:  # no frame will draw them
                drawn()

    def render_line(self, y: int) -> Strip:
        if self._drawn:  # once this frame is done (this pane's messages wait for it)
            waiting, self._drawn = self._drawn, []
            for callback in waiting:
                self.call_later(callback)
        return super().render_line(y)

    def row_of(self, position: int) -> int | None:
        """The index row at a position in the list."""
        if 0 <= position < len(self.rows):
            return int(self.rows[position])
        return None

    def _key_label(self, row: int) -> tuple[str, str | None]:
        """The alias the event named, else the key's alias at the time, else a short key id."""
        columns = self.index.columns
        alias = int(columns["alias"].data[row])
        if alias:
            return alias_name(self.index.vocab["alias"].values[alias]), None
        key = int(columns["key0"].data[row])
        if not key:
            return "", None
        names = self.index.alias_names_at(key, int(columns["time"].data[row]))
        if names:
            return names[0], None
        label = self._key_labels.get(key)
        if label is None:
            label = self._key_labels[key] = short_key(self.index.vocab["key"].values[key])
        return label, None

    def _short_times(self) -> bool:
        """Times without the year when every event is in one year (whatever the width: a
        date without its year misleads when the events span years)."""
        snapshot = self.index.snapshot
        return short(snapshot.oldest)[:4] == short(snapshot.newest)[:4]

    def column_width(self, index: int, column: Column) -> int:
        if index == 0 and self._short_times():
            return 14
        return column.width

    def cells(self, position: int) -> list[Cell]:
        row = int(self.rows[position])
        columns = self.index.columns
        vocab = self.index.vocab
        name = vocab["name"].values[columns["name"].data[row]] or ""
        principal = self.index.principal(int(columns["principal"].data[row]))
        account = vocab["account"].values[columns["account"].data[row]]
        who, cross = principal.short, principal.crosses(account)
        error = compact(vocab["errcode"].values[columns["errcode"].data[row]] or "").removesuffix("Exception")
        key, key_style = self._key_label(row)
        when = short(int(columns["time"].data[row]))
        novel = self.novel
        marker = "✦ " if novel is not None and row < len(novel) and novel[row] else ""
        return [
            (when[5:] if self._short_times() else when, "vt--muted"),
            (marker + name, "vt--warning" if name in NOTABLE else None),
            (compact(f"⇄ {who}" if cross else who), "vt--accent" if cross else None),
            (key, key_style),
            (error, "vt--error"),
            (compact(vocab["ip"].values[columns["ip"].data[row]] or ""), None),
            (vocab["region"].values[columns["region"].data[row]] or "", "vt--muted"),
        ]


def _distinct_labels(keys: list[KeySummary]) -> list[str]:
    """Each key's label; a label that names keys in several regions or accounts (every
    region can have its alias/payments, a multi-Region key has one id in each) says which:
    ``alias/payments · eu-west-1``, the account where the region does not tell them apart,
    both where neither alone does."""
    labels = [key.display for key in keys]
    groups: dict[str, list[KeySummary]] = {}
    for label, key in zip(labels, keys, strict=True):
        groups.setdefault(label, []).append(key)
    for position, key in enumerate(keys):
        group = groups[labels[position]]
        if len(group) < 2:
            continue
        regions = Counter(k.region for k in group)
        accounts = Counter(k.account for k in group)
        if regions[key.region] == 1:
            where = [key.region]
        elif accounts[key.account] == 1:
            where = [key.account]
        else:
            where = [key.region, key.account]
        if any(where):
            labels[position] = " · ".join([labels[position], *filter(None, where)])
    return labels


def fit_keeping_suffix(label: str, width: int) -> str:
    """``label`` in ``width`` cells, clipped before its `` · where`` rather than through it:
    what tells two rows apart must stay visible."""
    if len(label) <= width or " · " not in label:
        return label
    head, _, where = label.partition(" · ")
    room = max(5, width - len(where) - 4)  # "…" and " · "; at least a recognisable start of the head
    return f"{head[:room]}… · {where}"


KEY_LABEL_ROOM = 30  # at most, for alias/payments · ap-southeast-2


class KeysPane(VirtualTable):
    """One row per key among the events in view; Enter narrows the events to it."""

    BINDINGS = [Binding("enter", "activate", "Select", tooltip="Narrow the events to this key", id="keys.select")]
    columns = [
        Column("KEY", 16, flex=3, priority=9),
        Column("STATE", 5, priority=8),
        Column("EVENTS", 6, priority=7, right=True),
        Column("ERRORS", 6, priority=6, right=True),
        Column("WHO", 3, priority=4, right=True),
        Column("LAST USE", 11, priority=3),
        Column("CLOUD", 7, priority=5),  # listed only when both clouds are: then before WHO and LAST USE
        Column("REGION", 9, priority=2, flex=1, max_width=14),
        Column("DESCRIPTION", 12, priority=1, flex=2),
    ]
    empty_text = "No keys in these events."

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.keys: list[KeySummary] = []
        self._labels: list[str] = []
        self.selected: int | None = None  # key code

    def show(self, keys: list[KeySummary]) -> None:
        current = self.current if self.cursor > 0 or self.selected is not None else None
        self.keys = keys
        self._labels = _distinct_labels(keys)
        self.reset(len(keys), self.keep(keys, current, lambda a, b: a.code == b.code))

    @property
    def current(self) -> KeySummary | None:
        return self.keys[self.cursor] if 0 <= self.cursor < len(self.keys) else None

    def _state_room(self) -> int:
        """The widest STATE that leaves KEY its least width and EVENTS its place."""
        width = self.scrollable_content_region.width
        return width - 1 - (self.columns[0].width + 1) - (self.columns[2].width + 1)

    def _state(self, key: KeySummary) -> str:
        """The key's state in the room there is: ``pending deletion 11-27`` whole, else
        ``deletion 11-27`` (the day it goes matters more than the words), else without the day."""
        return state_in(key.state_text, self._state_room())

    def _state_width(self) -> int:
        return max([self.columns[1].width] + [len(self._state(k)) for k in self.keys])

    def column_width(self, index: int, column: Column) -> int:
        if column.title == "STATE":  # as wide as the longest state shown: PENDING DELETION when a key is
            return self._state_width()
        if column.title == "KEY" and any(" · " in label for label in self._labels):
            # keys told apart by region or account: room for that, before the lesser columns,
            # but never at the cost of STATE and EVENTS (a key pending deletion must show)
            wanted = min(KEY_LABEL_ROOM, max(cell_width(clean(label)) for label in self._labels))
            room = self.scrollable_content_region.width - 1 - (self._state_width() + 1) - (self.columns[2].width + 1)
            return max(column.width, min(wanted, room))
        return column.width

    def column_wanted(self, index: int, column: Column) -> bool:
        if column.title == "CLOUD":  # only where keys of both clouds are listed: the room goes to REGION
            return len({key.cloud for key in self.keys}) > 1
        return True

    def _key_width(self) -> int:
        width = self.scrollable_content_region.width
        return next((size for _, column, size in self._compute_layout(width) if column.title == "KEY"), width)

    def cells(self, position: int) -> list[Cell]:
        key = self.keys[position]
        marker = "▶ " if key.code == self.selected else ""
        state = self._state(key)
        state_style = (
            "vt--warning" if state.startswith(("pending deletion", "deletion", "deleted", "disabled")) else "vt--muted"
        )
        label = self._labels[position]
        if len(key.aliases) > 1:
            label += f" +{len(key.aliases) - 1}"
        label = fit_keeping_suffix(label, self._key_width() - len(marker))
        return [
            (marker + label, "vt--selected" if marker else ("vt--muted" if key.unresolved else None)),
            (state.upper() if state.startswith(("pending deletion", "deletion", "deleted")) else state, state_style),
            (f"{key.events:,}", None),
            (f"{key.errors:,}" if key.errors else "·", "vt--error" if key.errors else "vt--muted"),
            (f"{key.principals:,}", None),
            (short(key.last_seen)[5:16] if key.events else "unused", "vt--muted"),
            (key.cloud, "vt--muted"),
            (key.region or "", "vt--muted"),
            (getattr(key.live, "description", "") or "", "vt--muted"),
        ]


def state_in(state: str, room: int) -> str:
    """A key's state in ``room`` cells, shortened only where it says a deletion day."""
    if len(state) <= room or not state.startswith("pending deletion "):
        return state
    day = state.removeprefix("pending deletion ")
    return f"deletion {day}" if len(day) + 9 <= room else "pending deletion"


class TrailsPane(VirtualTable):
    """Trails and other sources; a trail that stopped logging KMS carries its warnings."""

    BINDINGS = [
        Binding("enter", "activate", "Select", tooltip="Narrow the events to this trail", id="trails.select"),
        Binding("right,left", "expand", "Files", show=False),
    ]
    columns = [
        Column("TRAIL / SOURCE", 12, flex=3, priority=9),
        Column("KMS", 8, priority=8),
        Column("EVENTS", 6, priority=7, right=True),
    ]
    empty_text = "No sources loaded yet."
    has_notes = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.trails: list[TrailSummary] = []
        self.selected: TrailSummary | None = None
        self.expanded: set[str] = set()  # locations of folders whose files are listed

    def show(self, trails: list[TrailSummary]) -> None:
        current = self.current if self.cursor > 0 else None  # untouched, the cursor stays on the first
        self.trails = trails
        if self.selected is not None:
            self.selected = next((t for t in trails if same_trail(t, self.selected)), None)
        self.reset(len(trails), self.keep(trails, current, same_trail))

    @property
    def current(self) -> TrailSummary | None:
        return self.trails[self.cursor] if 0 <= self.cursor < len(self.trails) else None

    def action_expand(self) -> None:
        """List a folder's files under it, or fold them away again."""
        trail = self.current
        if trail is None or not trail.members or trail.location is None:
            return
        self.expanded.symmetric_difference_update({trail.location})
        self.reset(len(self.trails))

    def _is_expanded(self, trail: TrailSummary) -> bool:
        return bool(trail.members) and trail.location in self.expanded

    def cells(self, position: int) -> list[Cell]:
        trail = self.trails[position]
        selected = self.selected is not None and same_trail(trail, self.selected)
        folded = ("▾ " if self._is_expanded(trail) else "▸ ") if trail.members else "  "
        marker = "▶ " if selected else ("⚠ " if trail.warnings else folded)
        state = trail.kms_logging
        state_text = {EXCLUDED: "EXCLUDED", STOPPED: "STOPPED", LOGGED: "logged"}.get(state)
        if state_text is None:
            state_text = "unknown" if trail.kind in ("trail", "delivery") else trail.kind
        if state in (EXCLUDED, STOPPED):
            state_style = "vt--error"
        elif trail.warnings:
            state_style = "vt--warning"
        else:
            state_style = "vt--muted"
        label_style = "vt--selected" if selected else ("vt--warning" if trail.warnings else None)
        return [(marker + trail.label, label_style), (state_text, state_style), (f"{trail.events:,}", None)]

    def notes(self, position: int) -> list[Cell]:
        if position >= len(self.trails):
            return []
        trail = self.trails[position]
        notes: list[Cell] = [(note, "vt--note") for note in trail.notes]
        if self._is_expanded(trail):
            notes += [(member, "vt--muted") for member in trail.members]
            if trail.empty_files:
                notes.append((f"+ {files(trail.empty_files)} with no KMS or trail events", "vt--muted"))
        return notes


def files(count: int) -> str:
    return f"{count:,} file{'s' if count != 1 else ''}"


def same_trail(a: TrailSummary, b: TrailSummary) -> bool:
    return (a.kind, a.arn or a.label) == (b.kind, b.arn or b.label)
