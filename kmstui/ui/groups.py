"""The group-by table, in place of the events, and the prompt that asks what to group by."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

from ..core import group
from ..core.group import Grouping, GroupRow
from ..core.model import alias_name
from ..core.text import clean
from ..core.timeutil import short
from .panes import compact, short_key
from .table import Cell, Column, VirtualTable

COUNT_COLUMNS = [
    Column("EVENTS", 6, priority=9, right=True),
    Column("ERRORS", 6, priority=8, right=True),
    Column("FIRST SEEN", 11, priority=5),
    Column("LAST SEEN", 11, priority=6),
    Column("KEYS", 4, priority=4, right=True),
    Column("WHO", 4, priority=3, right=True),
]
NEW_COLUMN = Column("NEW", 5, priority=7, right=True)  # with a since: in the filter: events new in it (✦)
COMMON = ("event,ip", "event,key", "key,principal", "principal,ctx", "principal", "error,principal", "ip")


class GroupsPane(VirtualTable):
    """One row per value (or pair) of the grouped fields; Enter drills down to its events."""

    BINDINGS = [
        Binding("enter", "activate", "Drill", tooltip="Drill down: the row's events", id="groups.drill"),
        Binding("s", "sort", "Sort", id="groups.sort"),
        Binding("r", "reverse", "Reverse", show=False, id="groups.reverse"),
    ]
    empty_text = "No events to group."

    sort_column: reactive[str] = reactive("events", init=False)
    descending: reactive[bool] = reactive(True, init=False)

    @dataclass
    class Drilled(Message):
        """Enter on a row: show its events."""

        fields: tuple[str, ...]
        row: GroupRow

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.grouping: Grouping | None = None
        self.aliases: dict[str, str] = {}  # key ARN -> its alias, as the keys pane names it
        self.columns = list(COUNT_COLUMNS)

    def show(self, grouping: Grouping, aliases: dict[str, str], keep: tuple[int, ...] | None = None) -> None:
        """New rows; the cursor goes to the row with the value codes ``keep`` (or stays on its values)."""
        if keep is None:
            current = self.current
            keep = current.codes if current is not None else None
        self.grouping = grouping
        self.aliases = aliases
        values = [
            Column(name.upper(), 12, flex=3, priority=10 - i, ideal=24, grow=i)
            for i, name in enumerate(grouping.fields)
        ]
        new = [NEW_COLUMN] if grouping.new is not None else []
        self.columns = [*values, *COUNT_COLUMNS[:1], *new, *COUNT_COLUMNS[1:]]
        self.border_title = f"Grouped by {' × '.join(grouping.fields)}"
        self._sort(keep)

    def _sort(self, keep: tuple[int, ...] | None) -> None:
        if self.grouping is None:
            return
        self.grouping = self.grouping.sorted(self.sort_column, self.descending)
        position = self.grouping.find(keep) or 0
        rows = len(self.grouping)
        self.border_subtitle = (
            f"{rows:,} row{'s' if rows != 1 else ''} · by {self.sort_column.replace('_', ' ')} · s sorts"
        )
        self.reset(len(self.grouping), position)

    def watch_sort_column(self) -> None:
        current = self.current
        self._sort(current.codes if current is not None else None)

    def watch_descending(self) -> None:
        current = self.current
        self._sort(current.codes if current is not None else None)

    @property
    def current(self) -> GroupRow | None:
        """The row under the cursor."""
        if self.grouping is None or not 0 <= self.cursor < len(self.grouping):
            return None
        return self.grouping.row(self.cursor)

    def action_sort(self) -> None:
        order = ["events", "errors", "principals", "keys", "last_seen", "first_seen", "values"]
        if self.grouping is not None and self.grouping.new is not None:
            order.insert(1, "new")
        at = order.index(self.sort_column) if self.sort_column in order else -1
        self.sort_column = order[(at + 1) % len(order)]
        self.descending = self.sort_column not in ("values", "first_seen")

    def action_reverse(self) -> None:
        self.descending = not self.descending

    def action_activate(self) -> None:
        current = self.current
        if self.grouping is not None and current is not None:
            self.post_message(self.Drilled(self.grouping.fields, current))

    def _value_text(self, name: str, value: str | None) -> str:
        if value is None:
            return "-"
        if name == "key":
            alias = self.aliases.get(value)
            return alias_name(alias) if alias else short_key(value)
        return compact(value)

    def cells(self, position: int) -> list[Cell]:
        assert self.grouping is not None
        row = self.grouping.row(position)
        values: list[Cell] = [
            (self._value_text(name, value), "vt--muted" if value is None else None)
            for name, value in zip(self.grouping.fields, row.values, strict=True)
        ]
        new: list[Cell] = []
        if self.grouping.new is not None:
            new = [(f"✦{row.new:,}" if row.new else "·", None if row.new else "vt--muted")]
        return [
            *values,
            (f"{row.events:,}", None),
            *new,
            (f"{row.errors:,}" if row.errors else "·", "vt--error" if row.errors else "vt--muted"),
            (short(row.first_seen)[5:16], "vt--muted"),
            (short(row.last_seen)[5:16], "vt--muted"),
            (f"{row.keys:,}", None),
            (f"{row.principals:,}", None),
        ]


class GroupByScreen(ModalScreen[tuple[str, ...] | None]):
    """Asks for one field or two (``event,ip``); Escape gives up."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="groupby.cancel")]

    def __init__(self, current: str = "") -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="group-by"):
            yield Static(
                Content(
                    "Group the events in view by one field or two:\n"
                    + ", ".join(group.DIMENSIONS)
                    + "\n\nFor example: "
                    + "  ".join(COMMON)
                ),
                id="group-by-help",
            )
            yield Input(
                value=self.current,
                placeholder="event,ip",
                id="group-by-input",
                suggester=SuggestFromList(COMMON + tuple(group.DIMENSIONS), case_sensitive=False),
            )
            yield Static(id="group-by-error")

    def on_mount(self) -> None:
        self.query_one("#group-by").border_title = "Group by"
        self.query_one("#group-by").border_subtitle = "Enter groups · Escape cancels"

    @on(Input.Submitted)
    def submitted(self, message: Input.Submitted) -> None:
        try:
            fields = group.parse_fields(message.value)
        except group.GroupError as error:
            self.query_one("#group-by-error", Static).update(Content(clean(str(error))))
            return
        self.dismiss(fields)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
