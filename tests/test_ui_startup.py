"""The explorer's start on local files: the load begun before the screen (core/background.py),
its first events shown while the rest loads, its progress to the end, and Escape.

The source is made slow by the test, not by timing: the load's ``narrow`` step (which sees
each batch before the index does) holds the second batch until the test lets it go, so the
explorer is looked at while the load is certainly still running.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NamedTuple

from textual.pilot import Pilot
from textual.widgets import Static

from kmstui.core.background import BackgroundLoad
from kmstui.core.index import EventIndex
from kmstui.core.loader import Progress
from kmstui.core.sources import SourceFile, discover, newest_first
from kmstui.ui.app import KmsApp
from kmstui.ui.explorer import LOADING_QUIET, worth_a_look
from kmstui.ui.loadbar import LoadBar
from kmstui.ui.panes import EventsPane

from appkit import lines, text_of, type_text
from records import REPO, cloudtrail_file, delivery_path, gz, key_arn, kms, write

STAMPS = ("20240501T1200Z", "20240501T1205Z", "20240501T1210Z")  # one file each, five minutes apart
PER_FILE = 3


def _trail(tmp_path) -> list[SourceFile]:
    for n, stamp in enumerate(STAMPS):
        minute = stamp[11:13]
        records = [
            kms("Decrypt", key_arn(), time=f"2024-05-01T12:{minute}:0{i}Z", ip=f"10.0.{n}.{i}") for i in range(PER_FILE)
        ]
        write(delivery_path(tmp_path, stamp=stamp, tag=f"f{n}"), gz(cloudtrail_file(records)))
    files, problems = discover([str(tmp_path)])
    assert not problems and len(files) == len(STAMPS)
    return files


class Gate:
    """Lets the first batch through, holds the second (or ``held``) until ``release``."""

    def __init__(self, held: int = 2) -> None:
        self.released = threading.Event()
        self.batches = 0
        self.held = held

    def __call__(self, batch):
        self.batches += 1
        if self.batches == self.held:
            assert self.released.wait(60), "the test never let the load go on"
        return batch

    def release(self) -> None:
        self.released.set()


def _started(files: list[SourceFile], gate: Gate) -> BackgroundLoad:
    preload = BackgroundLoad(EventIndex(), files, narrow=gate)
    preload.start()
    return preload


class Held(NamedTuple):
    app: KmsApp
    pilot: Pilot
    gate: Gate
    preload: BackgroundLoad


@asynccontextmanager
async def _explorer_held(tmp_path, held: int = 2) -> AsyncIterator[Held]:
    """The explorer over the trail's load, begun before it and held at batch ``held`` until the
    test lets it go (let go in the end whatever happens, so the load's thread ends)."""
    gate = Gate(held)
    preload = _started(_trail(tmp_path), gate)
    app = KmsApp([], preload=preload)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            yield Held(app, pilot, gate, preload)
    finally:
        gate.release()


async def _first_rows(app: KmsApp) -> EventsPane:
    events = app.explorer.query_one(EventsPane)
    await asyncio.wait_for(app.explorer.wait_for(lambda: events.row_count > 0), 30)
    return events


def _times(app: KmsApp) -> list[str]:
    """The TIME column of every event row drawn."""
    return [line.split()[1] for line in lines(app.explorer.query_one(EventsPane))[1:] if line.strip()]


async def test_the_first_events_show_while_the_load_goes_on(tmp_path):
    async with _explorer_held(tmp_path) as (app, pilot, gate, preload):
        screen = app.explorer
        await _first_rows(app)
        await pilot.pause()
        # the load is held on its second batch: these rows came before its end
        assert screen.load_running and not preload.done
        # newest file first: the first screen is the trail's last five minutes
        assert _times(app) == ["12:10:02", "12:10:01", "12:10:00"]
        assert text_of(screen.query_one("#status", Static)).strip().startswith("3 of 3 events")
        gate.release()
        await app.settled()
        await pilot.pause()
        assert not screen.load_running and preload.done
        assert screen.load_progress is not None and screen.load_progress.finished
        assert not screen.load_progress.cancelled
        assert screen.load_progress.files_done == len(STAMPS)
        assert not screen.query_one("#loadbar").display
        total = PER_FILE * len(STAMPS)
        assert text_of(screen.query_one("#status", Static)).strip().startswith(f"{total} of {total} events")
        assert _times(app)[:4] == ["12:10:02", "12:10:01", "12:10:00", "12:05:02"]


async def test_the_explorer_is_the_apps_first_screen(tmp_path):
    """Composed with the app, not pushed over Textual's default screen in on_mount: a screen
    pushed while the app's start is batched was laid out and drawn, the frame thrown away,
    and drawn again once the start ended (0.2 s of CPU before the first events showed)."""
    async with _explorer_held(tmp_path) as (app, _pilot, gate, _preload):
        await _first_rows(app)
        assert app.screen_stack == [app.explorer]
        gate.release()
        await app.settled()


async def test_merging_waits_until_the_first_events_are_drawn(tmp_path):
    """The merge holds the interpreter that Textual needs to start and draw: after the first
    batch it waits until the explorer has drawn that batch's events, then goes on by itself."""
    app: KmsApp | None = None
    drawn_before: list[list[str]] = []  # the event times drawn when each later batch was merged

    def narrow(batch):
        assert app is not None
        try:
            drawn_before.append(_times(app))
        except Exception as error:  # the screen is not there yet
            drawn_before.append([type(error).__name__])
        return batch

    preload = BackgroundLoad(EventIndex(), _trail(tmp_path), narrow=narrow)
    app = KmsApp([], preload=preload)
    preload.start()
    async with app.run_test(size=(120, 36)) as pilot:
        await app.settled()  # no gate: the load ends without the test's help
        await pilot.pause()
        assert preload.done and not app.explorer.load_progress.cancelled
        # the first batch went through at once; the second only after its events were drawn
        assert drawn_before[1] == ["12:10:02", "12:10:01", "12:10:00"]
        assert len(_times(app)) == PER_FILE * len(STAMPS)


async def test_the_collector_rests_until_the_first_events_are_drawn(tmp_path):
    """kmstui DIR starts its load with the cyclic garbage collector off (importing Textual and
    building the screen make objects that all live on): on again, with them set aside, once
    the first events are on screen, while the load still goes on."""
    gate = Gate()
    preload = BackgroundLoad(EventIndex(), _trail(tmp_path), narrow=gate)
    frozen = gc.get_freeze_count()
    try:
        preload.start(pause_collector=True)
        assert not gc.isenabled()
        app = KmsApp([], preload=preload)
        async with app.run_test(size=(120, 36)) as pilot:
            await _first_rows(app)
            for _ in range(600):  # shown() comes after the frame with them (call_after_refresh)
                if gc.isenabled():
                    break
                await pilot.pause(0.05)
            assert gc.isenabled()
            assert app.explorer.load_running and not preload.done  # held on its second batch
            assert gc.get_freeze_count() > frozen
            gate.release()
            await app.settled()
            await pilot.pause()
    finally:
        gate.release()
        gc.enable()
        gc.unfreeze()
    assert gc.isenabled()


async def test_a_filter_typed_during_the_load_answers_at_once(tmp_path):
    """The looks at a loading index are paced; what the user types is not: the filter answers
    over what has arrived while the load goes on."""
    async with _explorer_held(tmp_path) as (app, pilot, gate, preload):
        screen = app.explorer
        await _first_rows(app)
        await pilot.press("slash")
        await type_text(pilot, "ip:=10.0.2.1")
        await asyncio.wait_for(screen.wait_for(lambda: screen._shown == screen._request), 10)
        await pilot.pause()
        assert screen.load_running and not preload.done  # held on its second batch
        assert _times(app) == ["12:10:01"]
        assert text_of(screen.query_one("#status", Static)).strip().startswith("1 of 3 events")
        gate.release()
        await app.settled()


async def test_escape_stops_a_load_begun_before_the_screen(tmp_path):
    async with _explorer_held(tmp_path) as (app, pilot, gate, preload):
        screen = app.explorer
        events = await _first_rows(app)
        await pilot.press("escape")
        assert preload.cancel.is_set()  # the explorer's Escape is the load's cancel
        gate.release()  # the held batch lands; the load stops before the third file
        await app.settled()
        await pilot.pause()
        assert screen.load_progress is not None and screen.load_progress.cancelled
        assert screen.load_progress.files_done < len(STAMPS)
        assert not screen.query_one("#loadbar").display
        assert events.row_count == PER_FILE * screen.load_progress.files_done
        assert any("Loading stopped" in str(n.message) for n in app._notifications)


async def test_before_the_first_events_the_list_says_it_is_loading(tmp_path):
    async with _explorer_held(tmp_path, held=1) as (app, pilot, gate, _preload):
        await pilot.pause()
        events = app.explorer.query_one(EventsPane)
        assert app.explorer.load_running and events.row_count == 0
        assert "Loading the first events" in lines(events)[1]  # not "No events match."
        # the progress bar is in the first frame, before the load's first report: shown later, it
        # laid the screen out again
        assert app.explorer.query_one("#loadbar").display
        assert f"  0% 0 of {len(STAMPS)} files" in lines(app.explorer.query_one(LoadBar))[0]
        gate.release()
        await app.settled()
        await pilot.pause()
        assert events.row_count == PER_FILE * len(STAMPS)


async def test_a_progress_tick_repaints_the_progress_line_alone(tmp_path, monkeypatch):
    """Twice a second while loading, the screen's CPU comes out of the load's: a tick builds one
    line (the bar, its percentage and its text are one widget), and no other line of the screen.
    Counted where Textual builds a widget's line that is not in its cache (StylesCache.render_line):
    the compositor asks every widget around the line for its lines, and gets the cached ones."""
    from textual._styles_cache import StylesCache
    from textual.widget import Widget

    built: list[str] = []
    asking: list[str] = []
    render_lines, render_line = Widget.render_lines, StylesCache.render_line

    def lines_asked(self, crop):
        asking.append(type(self).__name__)
        try:
            return render_lines(self, crop)
        finally:
            asking.pop()

    def line_built(self, *args):
        built.append(asking[-1])
        return render_line(self, *args)

    async with _explorer_held(tmp_path, held=1) as (app, pilot, gate, _preload):
        screen = app.explorer
        for _ in range(3):
            await pilot.pause()
        monkeypatch.setattr(Widget, "render_lines", lines_asked)
        monkeypatch.setattr(StylesCache, "render_line", line_built)
        for done in (1, 2):
            built.clear()
            screen._show_load_progress(Progress(done, len(STAMPS), 100 * done, 0, 0, 0, 1.0))
            await pilot.pause()
            assert built == ["LoadBar"]
            assert f"{done} of {len(STAMPS)} files · {100 * done} records" in lines(screen.query_one(LoadBar))[0]
        built.clear()
        screen._show_load_progress(Progress(2, len(STAMPS), 200, 0, 0, 0, 1.0))
        await pilot.pause()
        assert built == []  # the same words: nothing built again
        monkeypatch.undo()
        gate.release()
        await app.settled()


def test_delivered_files_are_read_newest_first(tmp_path):
    def source(name: str) -> SourceFile:
        return SourceFile(f"/trail/{name}", name)

    given = [
        source("111122223333_CloudTrail_us-east-1_20240501T1200Z_a.json.gz"),
        source("history.json"),
        source("111122223333_CloudTrail_eu-west-1_20240501T1210Z_b.json.gz"),
        source("444455556666_CloudTrail_us-east-1_20240501T1200Z_c.json.gz"),
        source("111122223333_CloudTrail_us-east-1_20240501T1205Z_d.json.gz"),
        source("export.jsonl"),
    ]
    ordered = [f.label.split("_")[-1] if "_" in f.label else f.label for f in newest_first(given)]
    # newest first; equal times (two accounts' 12:00) as given; other files after, as given
    assert ordered == ["b.json.gz", "d.json.gz", "a.json.gz", "c.json.gz", "history.json", "export.jsonl"]


def _generations_seen(tmp_path, look_at: int | None) -> list[int]:
    """The index's generation as each batch arrives, in a load begun before the screen that
    the explorer asks to look at before batch ``look_at`` (or never)."""
    seen: list[int] = []
    preload: BackgroundLoad | None = None

    def narrow(batch):
        assert preload is not None
        seen.append(preload.index.snapshot.generation)
        if len(seen) == look_at:
            preload.look()
        return batch

    preload = BackgroundLoad(EventIndex(), _trail(tmp_path), refresh_every=0.0, narrow=narrow, refresh_share=0.0)
    preload.start()
    preload.shown()  # no screen here: merging need not wait for one
    preload.follow(lambda progress: None)
    return seen


def test_the_load_begun_before_the_screen_refreshes_the_index_only_for_the_explorers_looks(tmp_path):
    """A refresh of a big index costs a fifth of a second, and the headless load does one: the
    explorer's load refreshes after its first batch, then only when the explorer will look."""
    first, *rest = _generations_seen(tmp_path / "unlooked", None)
    assert rest == [first + 1, first + 1]  # the first batch refreshed; the second not
    first, *rest = _generations_seen(tmp_path / "looked", 2)
    assert rest == [first + 1, first + 2]  # asked to look before the second: refreshed after it


def test_no_look_at_a_load_that_ends_before_the_next_would_be_due():
    """Looks at a loading index are spaced by their cost; the look that would come when the load
    is nearly over is left to the end's (at the rate so far, it ends sooner than the spacing)."""

    def loaded(fraction: float, elapsed: float) -> Progress:
        return Progress(0, 500, 0, 0, int(fraction * 1000), 1000, elapsed)

    assert worth_a_look(loaded(0.2, 1.0), every=2.0)  # 4 s to go
    assert worth_a_look(loaded(0.5, 3.0), every=2.0)  # 3 s to go
    assert not worth_a_look(loaded(0.8, 4.0), every=2.0)  # 1 s to go: the end's look shows it
    assert not worth_a_look(loaded(0.97, 4.0), every=0.5)
    # a load about to end: the end's look comes before this one would have been seen for long
    assert not worth_a_look(loaded(0.5, 2.0), every=0.5)  # 2 s to go
    assert worth_a_look(loaded(0.25, 2.0), every=0.5)  # 6 s to go
    assert worth_a_look(None, every=2.0) and worth_a_look(loaded(0.0, 0.0), every=2.0)


async def test_a_look_due_near_the_end_of_the_load_waits_for_the_end(tmp_path):
    """The explorer asks the load for a look only when it is worth it; a skipped one is asked
    about again later (the load may slow down)."""
    async with _explorer_held(tmp_path) as (app, _pilot, gate, preload):
        screen = app.explorer
        await _first_rows(app)
        asked: list[bool] = []
        preload.look = lambda: asked.append(True)  # type: ignore[method-assign]
        preload.progress = Progress(2, 3, 6, 6, 900, 1000, 9.0)  # 1 s to go at this rate
        screen._look_when_due(5.0)
        assert not asked
        preload.progress = Progress(1, 3, 3, 3, 300, 1000, 3.0)  # 7 s to go
        screen._look_when_due(5.0)
        assert asked == [True]
        gate.release()
        await app.settled()


async def test_the_next_look_waits_for_its_cost_drawing_included(tmp_path):
    """After a look at the loading index, the next waits LOADING_QUIET times what this one cost:
    its query's CPU and this thread's CPU from its events' arrival to its answers drawn."""
    async with _explorer_held(tmp_path) as (app, _pilot, gate, _preload):
        screen = app.explorer
        await _first_rows(app)
        timers: list[float] = []
        screen.set_timer = lambda delay, callback: timers.append(delay)  # type: ignore[method-assign,assignment]
        screen._first_look_drawn = True  # (the first look's drawing, the screen's start, is not counted)
        screen._look_began = time.thread_time()
        burn = screen._look_began + 0.02
        while time.thread_time() < burn:  # 20 ms of this thread's CPU: drawing a look's answers
            pass
        screen._next_look(0.01)
        assert len(timers) == 1
        assert LOADING_QUIET * 0.03 <= timers[0] < LOADING_QUIET * 0.06
        assert screen._look_began is None
        screen._first_look_drawn = False
        screen._look_began = time.thread_time() - 1.0  # a second of the screen's start
        screen._next_look(0.01)
        assert timers[1] == max(LOADING_QUIET * 0.01, 0.5)
        gate.release()
        await app.settled()


async def test_the_search_texts_are_built_after_the_ends_look_is_drawn(tmp_path):
    """Building the filters' search texts holds the index's lock; built as the load ended, the
    end's look waited for them before it could show the whole trail."""
    async with _explorer_held(tmp_path) as (app, _pilot, gate, preload):
        screen = app.explorer
        await _first_rows(app)
        seen: list[tuple[int, bool]] = []
        build = preload.index.prepare_search

        def prepare() -> None:
            seen.append((screen._total, screen._shown == screen._request and not screen.load_running))
            build()

        preload.index.prepare_search = prepare  # type: ignore[method-assign]
        gate.release()
        await app.settled()
        assert seen == [(PER_FILE * len(STAMPS), True)]  # once, with every event on screen


async def test_the_end_of_the_load_is_looked_at_once(tmp_path):
    """The load's last refresh and its end came as two messages, and each asked for a look over
    the whole index: the end's look alone shows it."""
    async with _explorer_held(tmp_path) as (app, _pilot, gate, _preload):
        screen = app.explorer
        await _first_rows(app)
        looks: list[bool] = []
        start = screen._start_query

        def started(request: int) -> None:
            looks.append(screen.load_running)
            start(request)

        screen._start_query = started  # type: ignore[method-assign]
        screen._query_ended -= 1000  # the last look long ago (those near the end are skipped)
        gate.release()
        await app.settled()
        assert looks == [False]  # the end's look, asked by LoadFinished
        assert screen._total == PER_FILE * len(STAMPS)


FIRST_FRAME = """
import asyncio, json, sys
from kmstui.ui.app import KmsApp

# Not needed for the explorer's first screen: each is imported when first asked for.
LATER = ["kmstui.ui.detail", "kmstui.ui.jsonview", "kmstui.ui.modals", "kmstui.ui.viewlist",
         "textual.widgets._markdown", "tomllib", "boto3", "botocore"]

async def main():
    app = KmsApp([sys.argv[1]])
    async with app.run_test(size=(120, 36)) as pilot:
        await app.settled()
        first = [name for name in LATER if name in sys.modules]
        await pilot.press("v")  # the list of views: imported now
        await pilot.pause()
        opened = type(app.screen).__name__
    print(json.dumps({"first": first, "opened": opened, "views": "kmstui.ui.viewlist" in sys.modules}))

asyncio.run(main())
"""


def test_the_first_screen_imports_only_what_it_draws(tmp_path):
    """Every import before the first frame delays the first events: the detail view, the
    help, the list of views and what a views.toml needs are imported when first opened."""
    env = {**os.environ, "KMSTUI_CONFIG_DIR": str(tmp_path)}  # no views.toml there
    result = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME, str(REPO / "assets" / "demo")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown == {"first": [], "opened": "ViewsScreen", "views": True}


async def test_the_progress_line_goes_in_the_frame_that_shows_the_whole_trail(tmp_path, monkeypatch):
    """At the load's end the progress line is hidden with the end's events, in one frame: no
    frame without it shows fewer events than the trail holds (hidden when the load ended, it
    took a frame of its own while the end's look was filtering, and the whole trail came a
    frame or two later)."""
    async with _explorer_held(tmp_path) as (app, pilot, gate, _preload):
        screen = app.explorer
        events = await _first_rows(app)
        await pilot.pause()
        frames: list[tuple[bool, int]] = []  # (progress line shown, events drawn) in each frame
        refresh = type(screen)._compositor_refresh

        def drawn(self) -> None:
            frames.append((self.query_one("#loadbar").display, events.row_count))
            refresh(self)

        monkeypatch.setattr(type(screen), "_compositor_refresh", drawn)
        gate.release()
        await app.settled()
        await pilot.pause()
        total = PER_FILE * len(STAMPS)
        assert events.row_count == total and not screen.query_one("#loadbar").display
        assert frames and frames[-1] == (False, total)
        assert all(count == total for shown, count in frames if not shown)


async def test_the_end_looks_summaries_wait_for_the_frame_that_draws_its_events(tmp_path, monkeypatch):
    """The key and trail summaries of the end's look are computed once its events are drawn
    (their Python would hold the interpreter that frame needs): not merely once the events
    pane was given them, which Textual's "after refresh" took for drawn."""
    from kmstui.ui import explorer as explorer_module

    async with _explorer_held(tmp_path) as (app, pilot, gate, _preload):
        events = await _first_rows(app)
        await pilot.pause()
        drawn: list[int] = []  # the events pane's rows at each line it draws
        render_line = EventsPane.render_line

        def line(self, y):
            drawn.append(len(self.rows))
            return render_line(self, y)

        summarised: list[tuple[int, int]] = []  # (rows given to the pane, rows drawn) at each summary
        summarise = explorer_module.summarise_keys

        def summary(index, rows, unused=False):
            summarised.append((len(events.rows), drawn[-1] if drawn else 0))
            return summarise(index, rows, unused=unused)

        monkeypatch.setattr(EventsPane, "render_line", line)
        monkeypatch.setattr(explorer_module, "summarise_keys", summary)
        monkeypatch.setattr(explorer_module, "EVENTS_FIRST_WAIT", 30.0)  # the order, not the cap
        gate.release()
        await app.settled()
        total = PER_FILE * len(STAMPS)
        assert summarised and summarised[-1] == (total, total)
