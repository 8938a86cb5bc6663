"""The timeline strip over the events: how many events, and errors, in each stretch of time.

Two lines of bars (sixteen levels), errors in the error colour and successes in the
accent colour, stretches where a trail was not logging KMS hatched; a third line says
the bucket under the cursor (time and counts) or the scale. Focused, the cursor moves
over buckets; Enter narrows the filter to the bucket, ``-`` widens back.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from ..core.text import clip
from ..core.timeline import Timeline, step_text
from ..core.timeutil import short
from .table import component_style

LEVELS = " ▁▂▃▄▅▆▇█"
BAR_ROWS = 2


class TimelineStrip(Widget, can_focus=True):
    """A histogram of the events in view; the explorer gives it a :class:`Timeline`."""

    COMPONENT_CLASSES = {"timeline--ok", "timeline--error", "timeline--gap", "timeline--cursor", "timeline--label"}
    DEFAULT_CSS = """
    TimelineStrip {
        height: 3;
        padding: 0 1;
        background: $surface;
        & > .timeline--ok { color: $text-accent; }
        & > .timeline--error { color: $text-error; }
        & > .timeline--gap { color: $text-warning; }
        & > .timeline--cursor { background: $block-cursor-blurred-background; }
        & > .timeline--label { color: $text-muted; }
        &:focus > .timeline--cursor { background: $block-cursor-background; }
        &:focus > .timeline--label { color: $text; }
    }
    """
    BINDINGS = [
        Binding("left,h", "move(-1)", "Earlier", show=False, id="timeline.earlier"),
        Binding("right,l", "move(1)", "Later", show=False, id="timeline.later"),
        Binding("home,g", "edge(0)", "First", show=False, id="timeline.first"),
        Binding("end,G", "edge(1)", "Last", show=False, id="timeline.last"),
        Binding("p", "peak", "Peak", id="timeline.peak"),
        Binding("enter", "narrow", "Narrow", tooltip="Narrow the events to the bucket", id="timeline.narrow"),
        Binding("minus,backspace", "widen", "Widen", id="timeline.widen"),
    ]

    timeline: reactive[Timeline | None] = reactive(None, always_update=True, layout=False)
    cursor: reactive[int] = reactive(-1, init=False)

    @dataclass
    class Narrowed(Message):
        """Enter on a bucket: the filter should hold only its time."""

        since: int
        until: int  # the bucket's last second

    @dataclass
    class Widened(Message):
        """Back to the span before the last narrowing."""

    @property
    def buckets_wanted(self) -> int:
        """As many buckets as there are columns to draw them in."""
        width = self.content_region.width if self.size.width else 76
        return max(10, width)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._moved = False  # the user moved the cursor: it stays on its time as the buckets change

    def watch_timeline(self, old: Timeline | None, new: Timeline | None) -> None:
        """The cursor stays on its time when the buckets change, once the user has moved it;
        until then (and after a narrowing) it waits on the peak."""
        if new is None or not new.buckets:
            self.set_reactive(TimelineStrip.cursor, -1)
        elif old is None or self.cursor < 0 or not old.buckets or not self._moved:
            self.set_reactive(TimelineStrip.cursor, int(new.total.argmax()))
        else:
            moment = old.bucket_start(min(self.cursor, old.buckets - 1))
            self.set_reactive(TimelineStrip.cursor, max(0, min(new.buckets - 1, (moment - new.start) // new.step)))
        self.refresh()

    def watch_cursor(self) -> None:
        self.refresh()

    # ------------------------------------------------------------------ actions

    def action_move(self, delta: int) -> None:
        line = self.timeline
        if line is not None and line.buckets:
            self._moved = True
            self.cursor = max(0, min(line.buckets - 1, self.cursor + delta))

    def action_edge(self, end: int) -> None:
        line = self.timeline
        if line is not None and line.buckets:
            self._moved = True
            self.cursor = line.buckets - 1 if end else 0

    def action_peak(self) -> None:
        line = self.timeline
        if line is not None and line.buckets:
            self.cursor = int(line.total.argmax())

    def action_narrow(self) -> None:
        line = self.timeline
        if line is None or not 0 <= self.cursor < line.buckets:
            return
        start = line.bucket_start(self.cursor)
        self._moved = False
        self.post_message(self.Narrowed(start, start + line.step - 1))

    def action_widen(self) -> None:
        self._moved = True  # back where it was
        self.post_message(self.Widened())

    # ------------------------------------------------------------------ drawing

    def _columns(self, line: Timeline, width: int) -> list[int]:
        """The bucket each column draws (-1: none)."""
        if not line.buckets:
            return [-1] * width
        per = max(1, min(3, width // line.buckets))  # a few columns a bucket at most: bars, not blocks
        return [c // per if c // per < line.buckets else -1 for c in range(width)]

    def render_line(self, y: int) -> Strip:
        width = self.content_region.width
        base = self.rich_style
        line = self.timeline
        if line is None:
            return Strip([Segment(" " * width, base)], width) if y != BAR_ROWS else self._label(" Timeline…", width)
        if y >= BAR_ROWS:
            return self._label(self._caption(line), width)
        styles = {name: component_style(self, name) for name in self.COMPONENT_CLASSES}
        peak = max(1, line.peak)
        level_top = (BAR_ROWS - 1 - y) * 8  # the level this row starts at
        segments = []
        for bucket in self._columns(line, width):
            if bucket < 0:
                segments.append(Segment(" ", base))
                continue
            total = int(line.ok[bucket] + line.errors[bucket])
            height = -(-total * 8 * BAR_ROWS // peak) if total else 0
            errors = int(line.errors[bucket])
            error_height = max(1, round(height * errors / total)) if errors else 0
            fill = max(0, min(8, height - level_top))
            style: Style = base
            if fill == 0:
                char = "░" if line.unlogged[bucket] else " "
                if line.unlogged[bucket]:
                    style = base + styles["timeline--gap"]
            else:
                char = LEVELS[fill]
                red = max(0, min(error_height, level_top + fill) - level_top)
                style = base + styles["timeline--error" if red * 2 >= fill else "timeline--ok"]
            if bucket == self.cursor:
                style = style + styles["timeline--cursor"]
            segments.append(Segment(char, style))
        return Strip(segments, width)

    def _caption(self, line: Timeline) -> str:
        if 0 <= self.cursor < line.buckets and self.has_focus:
            return " ▲ " + line.describe(self.cursor) + "   Enter narrows · - widens"
        if not line.buckets:
            return " No events to draw."
        span = f"{short(line.start)[5:16]} → {short(line.end)[5:16]}"
        text = f" {step_text(line.step)} a column · {span} · peak {line.peak:,}"
        if line.gaps:
            trails = ", ".join(dict.fromkeys(g.trail for g in line.gaps))
            text += f" · ░ not logged: {trails}"
        return text + " · t"

    def _label(self, text: str, width: int) -> Strip:
        style = self.rich_style + component_style(self, "timeline--label")
        text = clip(text, width)
        return Strip([Segment(text.ljust(width)[:width], style)], width)
