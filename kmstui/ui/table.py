"""A table drawn with Textual's line API: only the visible lines are ever built.

The stock DataTable materialises every row (11 s for 100,000 rows, measured); this
one asks its subclass for the cells of a row when that row scrolls into view, so a
million events scroll as fast as ten. Columns have a priority: in a narrow terminal
the least important ones are left out rather than everything squeezed. A row may
carry note lines under it (a trail's warnings), and every cell's text is cleaned of
control characters and drawn as plain text, never markup.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.events import Click
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from ..core.text import clip

Cell = tuple[str, str | None]  # (text, component class name or None)


def component_style(widget: Widget, name: str) -> Style:
    """A component class's own style, to be layered over the widget's, with its colour as the
    whole style resolves it: a colour with alpha, or ``auto``, as ``$text-muted`` is, is blended
    with the background there, where a partial style alone draws it white (unreadable on a
    light theme)."""
    partial = widget.get_component_rich_style(name, partial=True)
    if partial.color is None:
        return partial
    return partial + Style(color=widget.get_component_rich_style(name).color)


@dataclass(frozen=True)
class Column:
    title: str
    width: int  # the least it needs
    flex: int = 0  # share of the spare width
    priority: int = 5  # the lowest priorities are left out first when narrow
    right: bool = False  # right-aligned (numbers)
    max_width: int | None = None
    ideal: int | None = None  # grown to this (in ``grow`` order) before flex shares the rest
    grow: int = 0  # order of growing toward the ideal: lower first


def wrap_words(text: str, width: int, indent: str = "  ") -> list[str]:
    """``text`` in lines of at most ``width`` cells, broken at spaces only (a name such as
    ``ram-user/deploy-bot`` or ``(TrailNotFoundException)`` is never split); lines after the
    first start with ``indent``. A word wider than a line on its own starts a line and is cut
    there with an ellipsis: the detail view has it whole."""
    lines: list[str] = []
    for word in text.split():
        if lines and cell_len(lines[-1]) + 1 + cell_len(word) <= width:
            lines[-1] += " " + word
            continue
        prefix = indent if lines else ""
        room = width - cell_len(prefix)
        if cell_len(word) > room:
            word = set_cell_size(word, room - 1).rstrip() + "…"
        lines.append(prefix + word)
    return lines


class VirtualTable(ScrollView, can_focus=True):
    """Rows come from :meth:`cells`; the cursor is a row number."""

    COMPONENT_CLASSES = {
        "vt--header",
        "vt--cursor",
        "vt--error",
        "vt--warning",
        "vt--muted",
        "vt--accent",
        "vt--selected",
        "vt--note",
    }

    DEFAULT_CSS = """
    VirtualTable {
        background: $surface;
        color: $foreground;
        scrollbar-size-horizontal: 0;
        & > .vt--header { text-style: bold; background: $panel; color: $foreground; }
        & > .vt--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .vt--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .vt--error { color: $text-error; }
        & > .vt--warning { color: $text-warning; text-style: bold; }
        & > .vt--muted { color: $text-muted; }
        & > .vt--accent { color: $text-accent; }
        & > .vt--selected { text-style: bold; color: $text-success; }
        & > .vt--note { color: $text-warning; }
    }
    """

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False),
        Binding("pagedown,ctrl+f,space", "page(1)", "Page down", show=False),
        Binding("home,g", "edge(0)", "First", show=False),
        Binding("end,G", "edge(1)", "Last", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    class _RowMessage(Message):
        def __init__(self, table: VirtualTable, row: int) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> VirtualTable:
            return self.table

    class CursorMoved(_RowMessage):
        """The cursor is on another row."""

    class Activated(_RowMessage):
        """Enter (or a double click on the cursor row)."""

    columns: list[Column] = []
    empty_text = "Nothing to show."

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None):
        super().__init__(name=name, id=id, classes=classes)
        self._rows = 0
        self._line_rows: list[int] | None = None  # line -> row, when rows carry notes
        self._row_lines: list[int] | None = None  # row -> first line
        self._strips: LRUCache[tuple, Strip] = LRUCache(1024)
        self._layout: list[tuple[int, Column, int]] = []  # (column index, column, width)
        self._layout_width = -1
        self._generation = 0
        self._wrapped: dict[int, list[Cell]] = {}

    # ------------------------------------------------------------------ subclass API

    def cells(self, row: int) -> list[Cell]:
        raise NotImplementedError

    def notes(self, row: int) -> list[Cell]:
        """Extra lines drawn under a row (one cell each)."""
        return []

    def column_width(self, index: int, column: Column) -> int:
        """The least width of a column for the current rows (by default, its declared width)."""
        return column.width

    has_notes = False

    # ------------------------------------------------------------------ data

    @property
    def row_count(self) -> int:
        return self._rows

    def reset(self, rows: int, cursor: int | None = None) -> None:
        """New data: ``rows`` rows; the cursor goes to ``cursor`` (or stays, clamped)."""
        self._rows = rows
        self._generation += 1
        self._strips.clear()
        self._layout_width = -1
        if self.has_notes:
            self._wrap_notes()
        self._set_virtual_height(self._line_count() + 1)
        target = self.cursor if cursor is None else cursor
        target = max(0, min(target, rows - 1)) if rows else 0
        self.set_reactive(VirtualTable.cursor, target)
        if cursor is not None:
            self._scroll_cursor_into_view()
        self.refresh()

    def _set_virtual_height(self, lines: int) -> None:
        """The scrollable height (the lines and the header), set without a layout of the screen:
        the pane's size does not depend on it, only its scrollbar does, which asks for a layout
        itself when it comes or goes (Textual's own way when a scrolled size changes). Set as a
        reactive, it laid the whole screen out again each time new rows came: twice for each
        look at a growing load (20 ms each on the 2-core machine)."""
        size = Size(self.size.width, lines)
        if size != self.virtual_size:
            self.set_reactive(VirtualTable.virtual_size, size)
            self._scroll_update(size)

    def _wrap_notes(self) -> None:
        """Lay out note lines, wrapped to the width: row -> first line, line -> row. The width
        leaves room for the scrollbar whether it shows or not: the notes decide whether it
        shows, and its coming would not re-wrap them (no resize event), so the lines would
        depend on which came first."""
        width = max(10, self.region.shrink(self.styles.gutter).width - self.styles.scrollbar_size_vertical - 4)
        line_rows: list[int] = []
        row_lines: list[int] = []
        self._wrapped = {}
        for row in range(self._rows):
            row_lines.append(len(line_rows))
            wrapped = [
                (piece, style)
                for text, style in self.notes(row)
                for piece in (wrap_words(clip(text, 2000), width) or [""])
            ]
            self._wrapped[row] = wrapped
            line_rows.extend([row] * (1 + len(wrapped)))
        self._line_rows, self._row_lines = line_rows, row_lines

    def _line_count(self) -> int:
        if self._line_rows is not None and self.has_notes:
            return len(self._line_rows)
        return self._rows

    def _first_line(self, row: int) -> int:
        if self._row_lines is not None and self.has_notes and row < len(self._row_lines):
            return self._row_lines[row]
        return row

    def _lines_of(self, row: int) -> int:
        row_lines, line_rows = self._row_lines, self._line_rows
        if row_lines is not None and line_rows is not None and self.has_notes and row < len(row_lines):
            end = row_lines[row + 1] if row + 1 < len(row_lines) else len(line_rows)
            return end - row_lines[row]
        return 1

    # ------------------------------------------------------------------ layout

    def column_wanted(self, index: int, column: Column) -> bool:
        """Whether the column says anything for the rows shown (a column of one value need not)."""
        return True

    def _compute_layout(self, width: int) -> list[tuple[int, Column, int]]:
        if width == self._layout_width:
            return self._layout
        least = {index: self.column_width(index, column) for index, column in enumerate(self.columns)}
        chosen: list[tuple[int, Column]] = []
        used = 1  # left padding
        wanted = [(index, column) for index, column in enumerate(self.columns) if self.column_wanted(index, column)]
        for index, column in sorted(wanted, key=lambda item: -item[1].priority):
            need = least[index] + (1 if chosen else 0)
            if used + need > width and chosen:
                break  # strictly by priority: a less important column never displaces a more important one
            chosen.append((index, column))
            used += need
        sizes = {index: least[index] for index, _ in chosen}
        spare = max(0, width - used)
        for index, column in sorted(chosen, key=lambda item: item[1].grow):
            if column.ideal and spare:
                grow = min(spare, max(0, column.ideal - sizes[index]))
                sizes[index] += grow
                spare -= grow
        chosen.sort()
        flex_total = sum(column.flex for _, column in chosen)
        layout = []
        for index, column in chosen:
            extra = spare * column.flex // flex_total if flex_total else 0
            size = sizes[index] + extra
            if column.max_width:
                size = min(size, max(column.max_width, sizes[index]))
            layout.append((index, column, size))
        self._layout = layout
        self._layout_width = width
        return layout

    def on_resize(self) -> None:
        self._layout_width = -1
        self._strips.clear()
        if self.has_notes:
            self._wrap_notes()
        self.virtual_size = Size(self.size.width, self._line_count() + 1)

    # ------------------------------------------------------------------ drawing

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header_strip(width)
        line = self.scroll_offset.y + y - 1
        if self._rows == 0:
            if line == 0:
                return self._text_strip(f" {self.empty_text}", "vt--muted", width)
            return Strip.blank(width, self.rich_style)
        if self.has_notes and self._line_rows is not None and self._row_lines is not None:
            if line >= len(self._line_rows):
                return Strip.blank(width, self.rich_style)
            row = self._line_rows[line]
            sub = line - self._row_lines[row]
        else:
            if line >= self._rows:
                return Strip.blank(width, self.rich_style)
            row, sub = line, 0
        is_cursor = row == self.cursor
        key = (row, sub, is_cursor, width, self._generation, self.has_focus)
        strip = self._strips.get(key)
        if strip is None:
            if sub == 0:
                strip = self._row_strip(row, width, is_cursor)
            else:
                text, style = self._wrapped[row][sub - 1]
                strip = self._text_strip("   " + text, style or "vt--note", width, is_cursor)
            self._strips[key] = strip
        return strip

    def _style(self, name: str | None) -> Style:
        if name is None:
            return Style()
        return component_style(self, name)

    def _header_strip(self, width: int) -> Strip:
        style = self.rich_style + self._style("vt--header")
        parts = [" "]
        for position, (_index, column, size) in enumerate(self._compute_layout(width)):
            if position:
                parts.append(" ")
            parts.append(_fit(column.title, size, column.right))
        text = "".join(parts)
        return Strip([Segment(set_cell_size(text, width), style)], width)

    def _row_strip(self, row: int, width: int, is_cursor: bool) -> Strip:
        base = self.rich_style
        cursor = self._style("vt--cursor") if is_cursor else None
        try:
            cells = self.cells(row)
        except Exception as error:  # a broken row must not take the table down
            cells = [(f"(cannot show this row: {type(error).__name__})", "vt--error")]
        segments = [Segment(" ", base + cursor if cursor else base)]
        used = 1
        for position, (index, column, size) in enumerate(self._compute_layout(width)):
            if position:
                segments.append(Segment(" ", base + cursor if cursor else base))
                used += 1
            text, name = cells[index] if index < len(cells) else ("", None)
            style = base + self._style(name)
            if cursor:
                style = style + cursor
            segments.append(Segment(_fit(text, size, column.right), style))
            used += size
        if used < width:
            segments.append(Segment(" " * (width - used), base + cursor if cursor else base))
        return Strip(segments, width).crop(0, width)

    def _text_strip(self, text: str, name: str | None, width: int, is_cursor: bool = False) -> Strip:
        style = self.rich_style + self._style(name)
        if is_cursor:
            style += self._style("vt--cursor")
        return Strip([Segment(set_cell_size(clip(text, width + 1), width), style)], width)

    def notify_style_update(self) -> None:
        """The styles changed (another theme, a class toggled): the rows drawn with the old
        ones are drawn again, as DataTable does."""
        super().notify_style_update()
        self._strips.clear()

    def refresh_rows(self) -> None:
        """Redraw (the data behind the rows changed, not their number)."""
        self._generation += 1
        self._strips.clear()
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # ------------------------------------------------------------------ cursor

    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.CursorMoved(self, new))

    def _scroll_cursor_into_view(self) -> None:
        if not self._rows:
            return
        first = self._first_line(self.cursor)
        region = Region(0, first + 1, max(1, self.size.width), self._lines_of(self.cursor))
        self.scroll_to_region(region, spacing=Spacing(top=1), animate=False, force=True, immediate=True)

    def keep(self, items: list, current, same) -> int:
        """Where ``current`` (the row under the cursor before new data) is in ``items``: the
        cursor stays on it as rows arrive, or goes to the top when it is gone."""
        if current is not None:
            for position, item in enumerate(items):
                if same(item, current):
                    return position
        return 0

    def move_to(self, row: int) -> None:
        if self._rows:
            self.cursor = max(0, min(row, self._rows - 1))

    def action_cursor(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        page = max(1, self.scrollable_content_region.height - 2)
        if self.has_notes:
            page = max(1, page // 2)
        self.move_to(self.cursor + direction * page)

    def action_edge(self, end: int) -> None:
        self.move_to(self._rows - 1 if end else 0)

    def action_activate(self) -> None:
        if self._rows:
            self.post_message(self.Activated(self, self.cursor))

    def on_click(self, event: Click) -> None:
        if event.y < 1 or not self._rows:
            return
        line = self.scroll_offset.y + event.y - 1
        if self.has_notes and self._line_rows is not None:
            if line >= len(self._line_rows):
                return
            row = self._line_rows[line]
        else:
            row = line
        if row < self._rows:
            if row == self.cursor and event.chain == 2:
                self.action_activate()
            self.move_to(row)


def _fit(text: str, width: int, right: bool = False) -> str:
    """Exactly ``width`` cells of ``text``: cleaned, clipped with an ellipsis, padded."""
    text = clip(text, width + 1)
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…" if width > 0 else ""
    padding = " " * (width - length)
    return padding + text if right else text + padding
