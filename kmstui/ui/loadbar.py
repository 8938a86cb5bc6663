"""The load's progress line: a bar, its percentage and what has been read, drawn as one line.

While a load runs the screen redraws this line twice a second, and every CPU second the
screen spends beside the merge makes a load on two cores half a second longer. Textual's
ProgressBar is three widgets (the bar, its percentage, its ETA) and the text beside it a fourth,
each with the containers around them repainted on each tick; this is one widget drawn with the
line API, so a tick repaints one line, and only when what it says has changed.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from ..core.text import clean
from .table import component_style

BAR_WIDTH = 24  # cells of the bar at most; then its percentage, then the text
NARROWEST = 8  # the bar gives way to the text down to this, in a narrow terminal
FULL, LEFT_HALF, RIGHT_HALF = "━", "╺", "╸"  # Textual's bar glyphs: half cells at the ends


class LoadLine(NamedTuple):
    """What the progress line says: how far (None: not known, the bar moves) and the rest."""

    fraction: float | None
    text: str  # files, records, rate...: made visible and clipped when drawn


class LoadBar(Widget):
    """One line: the bar, its percentage, and ``LoadLine.text``."""

    COMPONENT_CLASSES = {"loadbar--done", "loadbar--todo", "loadbar--unknown", "loadbar--text"}
    DEFAULT_CSS = """
    LoadBar {
        height: 1;
        padding: 0 1;
        & > .loadbar--done { color: $primary; }
        & > .loadbar--todo { color: $surface-lighten-1; }
        & > .loadbar--unknown { color: $error; }
        & > .loadbar--text { color: $text-muted; }
    }
    """

    line: reactive[LoadLine] = reactive(LoadLine(0.0, ""), layout=False)

    def watch_line(self, old: LoadLine, new: LoadLine) -> None:
        """An unknown fraction animates the bar (15 frames a second, as Textual's does); a
        known one is drawn once for each change."""
        if (new.fraction is None) != (old.fraction is None):
            self._keep_moving()

    def _keep_moving(self) -> None:
        self.auto_refresh = 1 / 15 if self.line.fraction is None and self.display else None

    def on_hide(self) -> None:
        """Hidden at the load's end: no frames for a bar no one sees."""
        self._keep_moving()

    def on_show(self) -> None:
        self._keep_moving()

    def render_line(self, y: int) -> Strip:
        width = self.content_region.width
        base = self.rich_style
        if y or width <= 0:
            return Strip.blank(width, base)
        # $text-muted is a colour with alpha: component_style blends it as the whole style does
        # (a partial style alone drew it white, on a light theme too)
        styles = {name: base + component_style(self, name) for name in self.COMPONENT_CLASSES}
        fraction = self.line.fraction
        text = clean(self.line.text)
        # the bar as wide as the text leaves room for (80 columns: the rate and "Esc stops" shown)
        bar = max(NARROWEST, min(BAR_WIDTH, width - 6 - cell_len(text)))
        if fraction is None:
            segments = self._moving(styles, bar)
            percent = "    "
        else:
            fraction = max(0.0, min(1.0, fraction))
            segments = _bar(fraction, bar, styles["loadbar--done"], styles["loadbar--todo"])
            percent = f"{int(fraction * 100):>3}%"
        segments += [Segment(f" {percent} ", styles["loadbar--text"]), Segment(text, styles["loadbar--text"])]
        return Strip(segments).adjust_cell_length(width, base)

    def _moving(self, styles: dict[str, Style], width: int) -> list[Segment]:
        """A quarter of the bar going back and forth: the load's end is not known."""
        span = width // 4
        step = int(time.monotonic() * 30) if self.app.animation_level != "none" else 0
        travel = max(1, width - span)
        start = step % (2 * travel)
        start = start if start <= travel else 2 * travel - start
        todo, moving = styles["loadbar--todo"], styles["loadbar--unknown"]
        return [
            Segment(FULL * start, todo),
            Segment(FULL * span, moving),
            Segment(FULL * (width - start - span), todo),
        ]


def _bar(fraction: float, width: int, done: Style, todo: Style) -> list[Segment]:
    """The bar, ``width`` cells, filled to ``fraction`` in half cells."""
    halves = round(fraction * width * 2)
    full, half = divmod(halves, 2)
    segments = [Segment(FULL * full, done)]
    if half:
        segments.append(Segment(RIGHT_HALF, done))
        rest = width - full - 1
    else:
        rest = width - full
        if rest and full:
            segments.append(Segment(LEFT_HALF, todo))
            rest -= 1
    segments.append(Segment(FULL * rest, todo))
    return segments
