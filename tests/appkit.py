"""Building and driving the explorer in tests: one place, so every test does it the same way."""

from __future__ import annotations

import os
from pathlib import Path

from rich.segment import Segment
from textual import events
from textual.keys import _character_to_key
from textual.widget import Widget

from kmstui.cli import demo_path
from kmstui.core import loader
from kmstui.core.index import EventIndex
from kmstui.core.sources import discover, newest_first
from kmstui.ui.app import KmsApp
from kmstui.ui.explorer import ExplorerScreen

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
HOSTILE = DATA / "hostile.jsonl"
DEMO = demo_path()

# Snapshots and pilot tests see the same colours everywhere.
os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")


def _labels(sources: tuple[Path | str, ...]) -> list[str]:
    """Paths shown relative to the repository (pytest runs from there)."""
    return [os.path.relpath(source, ROOT) if Path(source).is_absolute() else str(source) for source in sources]


def make_app(*sources: Path | str, filter_text: str = "", index: EventIndex | None = None) -> KmsApp:
    """The explorer on these sources, loading them as ``kmstui SOURCE...`` does; or, with
    ``index`` (and no sources), on an index loaded already, as the benchmark hands it over."""
    if index is not None:
        assert not sources, "an index handed over is shown as it is: no sources to load"
        return KmsApp(filter_text=filter_text, index=index)
    return KmsApp(_labels(sources), filter_text=filter_text)


def loaded(*sources: Path | str) -> EventIndex:
    """The index the explorer holds once it has loaded these sources (same labels, same
    report, search texts prepared), for ``make_app(index=...)``: the demo costs a second to
    load, and most explorer tests are about what it does with the events, not the loading."""
    files, problems = discover(_labels(sources))
    index = EventIndex()
    index.report.skipped.extend(problems)
    loader.load(index, newest_first(files), refresh_every=None)
    index.prepare_search()
    return index


def explorer(app: KmsApp) -> ExplorerScreen:
    return app.explorer


async def settle(pilot) -> None:
    """Wait for loading and filtering to finish and the result to be drawn (no sleeps).

    Pending messages first (a key press may not have reached its handler yet), then the
    newest result, then one more round so that it is drawn."""
    await pilot.pause()
    await pilot.app.settled()
    await pilot.pause()


async def type_text(pilot, text: str) -> None:
    """Type text key by key, as a user does (punctuation by its key name), at typing speed.

    ``pilot.press`` waits for the whole process to fall idle after each key (at least 40 ms,
    up to 2 s while a filter runs in a worker thread): most of the UI tests' time. Each key
    here is a Key event as the terminal driver sends it, and the next goes once every widget
    has handled what was pending (``pause(0)``), so the keys arrive in order at the focused
    widget and each keystroke is handled; then one wait for idle, as after ``press``."""
    for ch in text:
        key = ch if ch.isalnum() else _character_to_key(ch)
        pilot.app.post_message(events.Key(key, ch))
        await pilot.pause(0)
    await pilot.pause()


def lines(widget: Widget) -> list[str]:
    """The text of every line the widget draws now: what the user sees."""
    return [widget.render_line(y).text for y in range(widget.scrollable_content_region.height)]


def darker_than_its_background(segment: Segment) -> bool:
    """A drawn segment's text is readable on a light theme: clearly darker than its background."""
    style = segment.style
    assert style is not None and style.color is not None and style.bgcolor is not None, segment
    ink, paper = style.color.get_truecolor(), style.bgcolor.get_truecolor()
    return sum(ink) < sum(paper) - 150


def text_of(widget: Widget) -> str:
    """The plain text of a Static-like widget."""
    rendered = widget.render()
    return getattr(rendered, "plain", str(rendered))
