"""The explorer screen: trails, keys and events over an index that loads in the background."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content, Span
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from ..core import group, loader, novelty, ordering, query, views
from ..core import timeline as timelines
from ..core.background import BackgroundLoad
from ..core.index import Damage, EventIndex
from ..core.loader import Progress
from ..core.sources import SourceFile, discover, newest_first
from ..core.summary import summarise_keys
from ..core.text import clean
from ..core.timeutil import iso, short
from ..core.trails import TrailSummary, summarise_trails
from .footer import KeysFooter
from .groups import GroupByScreen, GroupsPane
from .loadbar import LoadBar, LoadLine
from .messages import (
    AthenaProgressed,
    BucketProgressed,
    EventsReady,
    GroupsReady,
    IndexChanged,
    LiveProblems,
    LiveProgressed,
    LoadFinished,
    LoadProgressed,
    NoveltyReady,
    QueryDone,
    QueryFailed,
    QueryResult,
    TimelineReady,
)
from .panes import EventsPane, KeysPane, TrailsPane
from .table import VirtualTable
from .timeline import TimelineStrip

# The detail view, the list of views and the modals (Markdown, for help) are imported when first
# opened: the first screen does not need them, and every import before it delays the first events.
if TYPE_CHECKING:  # at run time the live loader (and boto3, a third of a second) is imported when used
    from ..core.live import LiveLoader, LiveOptions, LiveProgress
    from ..core.live.athena import AthenaLoader, AthenaOptions
    from ..core.live.bucket import BucketLoader, BucketOptions, BucketProgress


# While loading, the screen's work comes out of the load's: on two cores every CPU second
# this process spends beside the merge makes the load half a second longer. So it redraws
# little: the progress bar twice a second, and the events as the index grows, with each look
# followed by 79 times its cost without one (1.25% of a core): its query's CPU and the CPU
# this thread spent drawing its answers.
PROGRESS_EVERY = 0.5  # seconds between redraws of the progress bar while loading
LOADING_QUIET = 79
# A look at the loading index is left to the end's when the load should end within this many
# seconds: it would be on screen that short a time, and it costs what a look at a grown index
# costs (at 190,000 events some 50 to 70 ms of CPU and 30 KB written to the terminal, taken
# from a load that ends about a second later).
LOOK_AHEAD = 3.0
EVENTS_FIRST_WAIT = 0.5  # seconds a query's summaries wait for its events to be drawn, at most
END_DRAWN_WAIT = 10.0  # seconds the search texts wait for the end's look to be drawn, at most


class FilterInput(Input):
    BINDINGS = [Binding("escape", "leave", "Back to events", show=False)]

    def action_leave(self) -> None:
        screen = self.screen
        if isinstance(screen, ExplorerScreen):
            screen.action_focus_pane("events")


class ExplorerScreen(Screen[None]):
    """Trails, keys and events, the filter bar and the status line."""

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="explorer.filter"),
        Binding("escape", "escape", "Clear", show=False),
        Binding("ctrl+c", "interrupt", "Stop / quit", show=False, priority=True),
        Binding("1", "focus_pane('trails')", "Trails", show=False),
        Binding("2", "focus_pane('keys')", "Keys", show=False),
        Binding("3", "focus_pane('events')", "Events", show=False),
        Binding("l", "load_summary", "Load summary", show=False, id="explorer.load_summary"),  # help, palette
        Binding("F", "follow", "Follow", show=False),
        Binding("t", "focus_timeline", "Timeline", id="explorer.timeline"),
        Binding("b", "group_by", "Group by", id="explorer.group_by"),
        Binding("v", "views", "Views", id="explorer.views"),
        Binding("o", "sort_events", "Sort", show=False, id="explorer.sort_events"),
        Binding("O", "reverse_events", "Reverse sort", show=False, id="explorer.reverse_events"),
    ]

    def __init__(
        self,
        sources: list[str] | None = None,
        *,
        extra_files: list[SourceFile] | None = None,
        filter_text: str = "",
        index: EventIndex | None = None,
        live: LiveOptions | None = None,
        follow: int | None = None,
        bucket: BucketOptions | None = None,
        athena: AthenaOptions | None = None,
        preload: BackgroundLoad | None = None,
    ):
        """``preload``: local files already loading (started before Textual, by the command
        line); the explorer shows them as they arrive and takes over its progress and cancel."""
        super().__init__()
        self.bucket_options = bucket
        self.bucket: BucketLoader | None = None
        self.bucket_progress: BucketProgress | None = None  # as last shown
        self.sources = list(sources or [])
        self.extra_files = list(extra_files or [])
        self.preload = preload
        self.index = preload.index if preload is not None else index or EventIndex()
        self.filter = query.parse(filter_text) if filter_text else query.Filter()
        self.filter_text = filter_text
        self.load_running = False
        self.load_progress: Progress | None = None
        self._cancel = preload.cancel if preload is not None else threading.Event()
        self._request = 0
        self._applied = 0  # the newest request whose summaries are shown
        self._shown = 0  # the newest request whose events are shown
        self._total = 0  # events in the index when they were shown
        self.live_options = live
        self.live: LiveLoader | None = None
        self.athena_options = athena
        self.athena: AthenaLoader | None = None
        self.live_progress = None
        self.following = False
        self.follow_seconds = follow or 30
        self._follow_at_start = follow is not None
        self.messages: list[str] = []  # for standard error after the explorer closes
        self._trails_generation = -1
        self._debounce: Timer | None = None
        self._catch_up: Timer | None = None  # while loading: the next look at the growing index, when due
        self._query_cost = 0.0  # the CPU seconds the last answered request took
        self._query_ended = 0.0  # when it was shown (monotonic seconds)
        self._look_began: float | None = None  # this thread's CPU time when a look's events came
        self._first_look_drawn = False  # a look at the loading index was drawn (see _next_look)
        self._end_drawn = threading.Event()  # the look after the load's end is on screen (or quit)
        self._load_line_ends = False  # the load has ended: its progress line goes with the next answer
        self._search_ready = threading.Event()  # the filters' search texts are built (or none will be)
        self.result: QueryResult | None = None
        self._changed = asyncio.Condition()  # notified whenever a result is shown or loading ends
        self.grouping: tuple[str, ...] | None = None  # the group-by shown in place of the events
        self._zoom: list[str] = []  # filter texts before each narrowing on the timeline
        self._drills: list[tuple[str, tuple[str, ...], tuple]] = []  # (filter, fields, row values) to go back to
        self._keep_group_row: tuple | None = None
        self._marked = 0  # the newest request whose new events are marked
        self.event_order: tuple[str, bool] = ("time", True)  # the events list's sort: column, descending
        self.views = views.Loaded(list(views.BUILT_IN), [], views.config_dir() / views.FILE_NAME)
        self._status_parts: list[tuple[str, str | None]] | None = None  # what the status line says

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield TrailsPane(id="trails")
            yield KeysPane(id="keys")
        yield TimelineStrip(id="timeline")
        yield EventsPane(self.index, id="events")
        yield GroupsPane(id="groups")
        with Vertical(id="bottom"):
            yield LoadBar(id="loadbar")
            with Horizontal(id="filterbar"):
                yield Static("/", id="filter-prompt")
                yield FilterInput(
                    value=self.filter_text,
                    placeholder="filter: error:AccessDenied  key:1234abcd  ctx:aws:s3:arn=bucket  since:2h   (? help)",
                    id="filter",
                    select_on_focus=False,
                )
            yield Static(id="filter-error")
            yield Static(id="status")
        yield KeysFooter(compact=True)  # at 80 columns: Views, Help and Quit beside the palette's key

    def on_mount(self) -> None:
        for pane, title in (("trails", "Trails"), ("keys", "Keys"), ("events", "Events")):
            self.query_one(f"#{pane}").border_title = title
        self.query_one("#events").focus()
        self.query_one("#loadbar").display = False
        self.query_one("#filter-error").display = False
        self.query_one(GroupsPane).display = False
        self.views = views.load()
        for problem in self.views.problems:  # a broken views.toml is named, and the app goes on
            self.notify(problem, severity="warning", timeout=15, markup=False)
            self.messages.append(problem)
        self.update_status()
        if (
            self.sources
            or self.extra_files
            or self.preload is not None
            or self.live_options is not None
            or self.bucket_options is not None
            or self.athena_options is not None
        ):
            self.load_running = True
            # until the first result is shown, an empty list is not "no events match"
            self.query_one(EventsPane).empty_text = "Loading the first events…"
            self.load_sources()
            if self.preload is not None:
                # the progress bar in the first frame: shown with the first report instead, it
                # laid the screen out again and drew all of it (50 ms of CPU, in the load's time)
                files = len(self.preload.files)
                self._show_load_progress(self.preload.progress or Progress(0, files, 0, 0, 0, 0, 0.0))
            if self.preload is not None and self.index.snapshot.n:
                # the first file is in already: its events in the first frame, and the query
                # for the rest now, not after the load worker's first report (the merge waits
                # for them to be drawn: see _first_events_drawn)
                self._show_first_events()
                self.request_query()
        else:
            self._search_ready.set()  # no load: nothing builds them now (the first filter does)
            if self.index.snapshot.n != self.index.size:  # an index handed over already refreshed is ready
                self.index.refresh()
            self.request_query()

    def _show_first_events(self) -> None:
        """The events of the load's first file, filtered here: they are one file's, a few
        milliseconds' work, and drawn in the first frame instead of a frame or two later."""
        index = self.index
        try:
            with index.reading():
                rows = self.filter.rows(index, index.snapshot, [])
        except Exception:  # the query's worker says what went wrong, a moment later
            return
        self.query_one(EventsPane).show(rows)

    def on_unmount(self) -> None:
        """Quitting stops a load still running: the app must not wait for it to finish."""
        self._cancel.set()
        self._end_drawn.set()
        self._first_events_drawn()

    def _first_events_drawn(self) -> None:
        """A load begun before the screen holds its merging until the first events are drawn,
        with their keys and trails (core/background.py): from now on it goes on."""
        if self.preload is not None:
            self.preload.shown()

    # ------------------------------------------------------------------ loading

    async def wait_for(self, predicate) -> None:
        """Wait until ``predicate()`` holds, checked each time a result is shown or loading ends."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    async def settled(self) -> None:
        """Wait until loading is over, the newest filter result is on screen, and the search
        texts a load builds after its end are built."""
        await self.wait_for(
            lambda: not self.load_running and self._applied == self._request and self._marked >= self._request
        )
        if not self._search_ready.is_set():
            await asyncio.get_running_loop().run_in_executor(None, self._search_ready.wait)

    async def _notify_changed(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    @work(thread=True, exclusive=True, group="load", description="Loading sources", exit_on_error=False)
    def load_sources(self) -> None:
        files, problems = discover(self.sources)
        self.index.report.skipped.extend(problems)
        files = files + self.extra_files
        if self.live_options is not None:
            from ..core.live import LiveError, LiveLoader

            self.live = LiveLoader(self.index, self.live_options)
            try:
                files += self.live.prepare()  # cached events: shown at once, newer ones fetched after
            except LiveError as error:
                self.live = None
                self._live_problems([str(error)])
        last_post = 0.0
        # a load begun before the screen (preload) may have events already: shown at its first report
        generation = -1 if self.preload is not None else self.index.snapshot.generation

        def changed() -> None:
            nonlocal generation
            if self.index.snapshot.generation != generation:
                generation = self.index.snapshot.generation
                self.post_message(IndexChanged(generation))

        def throttled(message: Callable[[Any], Message], last: bool = False) -> Callable[[Any], None]:
            """A progress callback that posts ``message(progress)`` at most every PROGRESS_EVERY
            (the end is said apart). ``last``: no source is read after this one, unless
            more_to_come says so."""

            def progressed(progress: Any) -> None:
                nonlocal last_post
                if progress.finished and last and not more_to_come():
                    # the load's end: LoadFinished comes next and asks for the end's look (a look
                    # asked for here as well was one more over the whole index, then dropped)
                    return
                changed()
                now = time.monotonic()
                if not progress.finished and now - last_post >= PROGRESS_EVERY:
                    last_post = now
                    self.post_message(message(progress))

            return progressed

        def more_to_come() -> bool:
            """Whether another source (a bucket, LookupEvents, Athena) is read after the files."""
            return self.bucket_options is not None or self.live is not None or self.athena_options is not None

        progressed = throttled(lambda p: LoadProgressed(_copy(p)), last=True)
        bucket_progressed = throttled(lambda p: BucketProgressed(replace(p)))

        def live_progressed(progress) -> None:
            changed()  # pages come at most twice a second a region: every one is shown
            self.post_message(LiveProgressed(replace(progress)))

        progress = Progress(0, len(files), 0, 0, 0, 0, 0.0, finished=True)
        try:
            if self.preload is not None:
                progress = self.preload.follow(progressed)
            if files and not self._cancel.is_set():
                progress = loader.load(
                    self.index,
                    newest_first(files),
                    on_progress=progressed,
                    cancelled=self._cancel.is_set,
                    refresh_every=0.3,
                )
            if self.bucket_options is not None and not self._cancel.is_set():
                self._read_bucket(self.bucket_options, bucket_progressed)
                progress.cancelled = progress.cancelled or self._cancel.is_set()
            if self.live is not None and not self._cancel.is_set():
                live = self.live.fetch(live_progressed, self._cancel.is_set)
                progress.cancelled = progress.cancelled or live.cancelled
                if self.live.problems:
                    self._live_problems(self.live.problems)
            if self.athena_options is not None and not self._cancel.is_set():
                self._fetch_athena(self.athena_options, changed)
        except BaseException:
            self._search_ready.set()  # none will be built: settled() does not wait for them
            raise
        finally:
            self.post_message(LoadFinished(_copy(progress)))
        # After the end's look is drawn: the last screen needs no search texts, and the first
        # filter typed waits for them (the index's lock) either way. Built at once, they held
        # the lock that the end's look waited for: the whole trail was shown that much later.
        self._end_drawn.wait(END_DRAWN_WAIT)
        try:
            self.index.prepare_search()
        finally:
            self._search_ready.set()

    def _read_bucket(self, options: BucketOptions, progressed: Callable[[BucketProgress], None]) -> None:
        """A trail's bucket, read into the index; events show as its files arrive."""
        from ..core.live import LiveError
        from ..core.live.bucket import BucketLoader

        try:
            self.bucket = BucketLoader(self.index, options)
        except LiveError as error:
            self._live_problems([str(error)])
            return
        self.bucket.run(progressed, self._cancel.is_set)
        if self.bucket.problems:
            self._live_problems(self.bucket.problems)

    async def on_bucket_progressed(self, message: BucketProgressed) -> None:
        progress = self.bucket_progress = message.progress
        if not self.load_running:
            return
        more = "+" if progress.listing else ""  # more to come: the listing goes on
        files = f"{progress.files_done:,}/{progress.files:,}{more} files"
        size = f"{_short_size(progress.bytes_done)}/{_short_size(progress.bytes)}{more}"
        cached = f" · {progress.cached:,} cached" if progress.cached else ""
        self._show_progress(
            progress.fraction,
            f"{progress.where} · {files} · {size} · {progress.events:,} events{cached}"
            f" · {_short_size(int(progress.rate))}/s · Esc stops",
        )
        await self._notify_changed()

    def _fetch_athena(self, options: AthenaOptions, changed: Callable[[], None]) -> None:
        """The Athena query, in the load worker: its progress shown as it runs, its events as they load."""
        from ..core.live import LiveError
        from ..core.live.athena import AthenaLoader

        self.athena = AthenaLoader(self.index, options)
        try:
            prepared = self.athena.prepare()
        except LiveError as error:
            self._live_problems([str(error)])
            return
        if prepared.note:
            self.messages.append(prepared.note)
            self.app.call_from_thread(self.notify, prepared.note, timeout=12, markup=False)

        def progressed(progress) -> None:
            changed()
            self.post_message(AthenaProgressed(replace(progress)))

        self.athena.fetch(progressed, self._cancel.is_set)
        if self.athena.problems:
            self._live_problems(self.athena.problems)

    def on_athena_progressed(self, message: AthenaProgressed) -> None:
        if not self.load_running:
            return
        self._show_progress(None, f"{message.progress.describe} · Esc stops")

    def _live_problems(self, sentences: list[str]) -> None:
        sentences = list(dict.fromkeys(sentences))
        for sentence in sentences:
            self.index.report.problems.append(Damage("AWS", sentence))
        self.messages.extend(sentences)
        self.post_message(LiveProblems(sentences))

    def on_live_problems(self, message: LiveProblems) -> None:
        first = message.sentences[0]
        more = f" ({len(message.sentences) - 1} more: press l)" if len(message.sentences) > 1 else ""
        self.notify(first + more, severity="error", timeout=12, markup=False)

    def on_live_progressed(self, message: LiveProgressed) -> None:
        progress = message.progress
        self.live_progress = progress
        if not self.load_running and not self.following:
            return
        if progress.finished and not self.load_running:  # a poll while following: done until the next
            self.query_one("#loadbar").display = False
            return
        back = f" · back to {short(int(progress.oldest.timestamp()))[5:16]}" if progress.oldest else ""
        note = f" · {progress.note}" if progress.note else ""
        self._show_progress(
            progress.fraction,
            f"LookupEvents {progress.events:,} events"
            f" · {progress.pages:,} page{'s' if progress.pages != 1 else ''}"
            f" · {progress.rate:,.0f}/s"
            f"{back}{note} · Esc stops",
        )

    # ------------------------------------------------------------------ following

    def action_follow(self) -> None:
        if self.live is None:
            self.notify("Following needs --lookup: there is nothing live to follow.", markup=False)
            return
        self.following = not self.following
        if self.following:
            self.follow_events()
            self.notify(f"Following: new events every {self.follow_seconds}s.", markup=False)
        else:
            self.workers.cancel_group(self, "follow")
            self.query_one("#loadbar").display = False
        self.update_status()

    @work(thread=True, exclusive=True, group="follow", description="Following", exit_on_error=False)
    def follow_events(self) -> None:
        worker = get_current_worker()
        live = self.live
        if live is None:
            return
        generation = self.index.snapshot.generation

        def progressed(progress: LiveProgress) -> None:
            self.post_message(LiveProgressed(replace(progress)))

        while not worker.is_cancelled:
            deadline = time.monotonic() + self.follow_seconds
            while time.monotonic() < deadline:
                if worker.is_cancelled:
                    return
                time.sleep(0.2)
            if self.load_running:
                continue
            live.problems.clear()
            live.poll(progressed, lambda: worker.is_cancelled)
            if live.problems:
                self._live_problems(live.problems)
            if self.index.snapshot.generation != generation:
                generation = self.index.snapshot.generation
                self.post_message(IndexChanged(generation))

    def on_load_finished(self, message: LoadFinished) -> None:
        self.load_running = False
        self._first_events_drawn()
        if self._follow_at_start and self.live is not None and not self.following:
            self.action_follow()
        self.load_progress = progress = message.progress
        self._load_line_ends = True  # with the end's look (see _end_load_line)
        report = self.index.report
        if report.skipped:
            count = len(report.skipped)
            self.notify(
                f"{count} source{'s' if count != 1 else ''} skipped: press l for the load summary.",
                severity="warning",
                markup=False,
            )
        if progress.cancelled:
            self.notify("Loading stopped: showing what arrived.", markup=False)
        self.request_query()

    def _end_load_line(self) -> None:
        """The load's progress line goes in the frame that draws the end's look. Hidden when
        the load ended, it took a frame of its own (the screen laid out again) while the look
        was filtering, and the frame with the events came an update period (1/60 s) or two
        after it: the whole trail was on the terminal 20 to 30 ms later."""
        if self._load_line_ends:
            self._load_line_ends = False
            self.query_one("#loadbar").display = False

    def on_load_progressed(self, message: LoadProgressed) -> None:
        if not self.load_running:
            return
        self.load_progress = message.progress
        self._show_load_progress(message.progress)

    def _show_load_progress(self, progress: Progress) -> None:
        self._show_progress(
            progress.fraction,
            f"{progress.files_done:,} of {progress.files_total:,} files · {progress.records:,} records · "
            f"{progress.rate:,.0f} records/s · Esc stops",
        )

    def _show_progress(self, fraction: float | None, text: str) -> None:
        """The progress line (one widget, one line: a tick repaints it alone), and the status line."""
        bar = self.query_one(LoadBar)
        if not bar.display:
            bar.display = True
        bar.line = LoadLine(fraction, text)
        self.update_status()

    def on_index_changed(self, message: IndexChanged) -> None:
        if not self.load_running:
            self.request_query()
            return
        if self._applied < self._request or self._catch_up is not None:
            # still filtering the last growth (a new request would cancel it, and a filter that
            # takes longer than the loader's refreshes would never finish), or a look is due:
            # that one sees this growth too; the end of the load asks again in any case
            return
        # While loading, the explorer's filtering keeps to an eightieth of a core: each look at
        # the growing index is followed by 79 times its CPU time without one, so the load (its
        # merging shares this process's interpreter, and the cores) finishes nearly as soon as
        # the headless one. CPU time, not wall:
        # on a busy machine a look waits for a core, and waiting takes nothing from the load.
        wait = LOADING_QUIET * self._query_cost - (time.monotonic() - self._query_ended)
        if wait > 0:
            self._catch_up = self.set_timer(wait, self._caught_up)
        else:
            self.request_query()

    def _caught_up(self) -> None:
        self._catch_up = None
        if self.load_running:  # after the load, its end has asked already
            self.request_query()

    # ------------------------------------------------------------------ querying

    def request_query(self, delay: float = 0.0) -> None:
        """Ask for fresh results; a newer request makes older ones stale."""
        self._request += 1
        if self._catch_up is not None:  # this request sees the index as it is now
            self._catch_up.stop()
            self._catch_up = None
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        request = self._request
        if delay:
            self._debounce = self.set_timer(delay, lambda: self._start_query(request))
        else:
            self._start_query(request)

    def _start_query(self, request: int) -> None:
        self._debounce = None
        if request != self._request:
            return
        trails = self.query_one(TrailsPane)
        keys = self.query_one(KeysPane)
        buckets = self.query_one(TimelineStrip).buckets_wanted
        self.run_query(request, self.filter, trails.selected, keys.selected, buckets, self.grouping, self.event_order)

    @work(thread=True, exclusive=True, group="query", description="Filtering", exit_on_error=False)
    def run_query(
        self,
        request: int,
        compiled: query.Filter,
        trail: TrailSummary | None,
        key: int | None,
        buckets: int = 76,
        grouping: tuple[str, ...] | None = None,
        order: tuple[str, bool] = ("time", True),
    ) -> None:
        """The events first (they are what the user looks at), then the key and trail summaries."""
        worker = get_current_worker()
        started = time.perf_counter()
        cpu = time.thread_time()
        index = self.index
        try:
            with index.reading():
                snapshot = index.snapshot
                extra = [query.narrow_to_trail(trail)] if trail is not None else []
                in_scope = compiled.rows(index, snapshot, extra)
                rows = in_scope
                if key is not None:
                    narrow = query.narrow_to_key(key)(index, snapshot)
                    rows = in_scope[narrow[in_scope]]
                if worker.is_cancelled:
                    return
                shown = ordering.sort_events(index, rows, *order) if order != ("time", True) else rows
                drawn = threading.Event()
                self.post_message(EventsReady(request, shown, len(snapshot.order), drawn))
                if not self.load_running:
                    # the events drawn first, not beside the summaries: their Python holds the
                    # interpreter the screen's thread needs to draw (at a load's end, the whole
                    # trail was on screen that much later). Not while loading: the merge would
                    # wait for the index's lock meanwhile
                    drawn.wait(EVENTS_FIRST_WAIT)
                self._answers(request, compiled, rows, buckets, grouping)
                if worker.is_cancelled:
                    return
                keys = summarise_keys(index, in_scope, unused=compiled.empty and trail is None)
                trails = summarise_trails(index) if snapshot.generation != self._trails_generation else None
        except Exception as error:  # keep the explorer alive; say what went wrong
            self.post_message(QueryFailed(request, f"{type(error).__name__}: {error}"))
            return
        if worker.is_cancelled:
            return
        seconds = time.perf_counter() - started
        self.post_message(
            QueryDone(
                QueryResult(
                    request,
                    rows,
                    keys,
                    trails,
                    len(snapshot.order),
                    seconds,
                    snapshot.generation,
                    time.thread_time() - cpu,
                )
            )
        )
        # last: the first uses of every pair are computed once per load (a second at a million events)
        window = novelty.window_of(compiled.terms, snapshot)
        try:
            novel = novelty.new_any(index, snapshot, window.since) if window.since is not None else np.zeros(0, bool)
        except Exception:  # the marker is a hint: without it the events are still right
            novel = np.zeros(0, bool)
        if not worker.is_cancelled:
            self.post_message(NoveltyReady(request, novel))

    def _answers(
        self, request: int, compiled: query.Filter, rows, buckets: int, grouping: tuple[str, ...] | None
    ) -> None:
        """The timeline, the marker of new events and the group-by, for the events in view (worker thread)."""
        index = self.index
        snapshot = index.snapshot
        window = novelty.window_of(compiled.terms, snapshot)
        self.post_message(TimelineReady(request, timelines.build(index, rows, buckets, window.since, window.until)))
        if grouping is not None:
            novel = None
            if window.since is not None:  # a NEW column: the first uses are kept for the marker after
                try:
                    novel = novelty.new_any(index, snapshot, window.since)
                except Exception:  # a hint, as the marker is: the groups are right without it
                    novel = None
            self.post_message(GroupsReady(request, group.group(index, rows, grouping, novel)))

    def on_timeline_ready(self, message: TimelineReady) -> None:
        if message.request < self._shown:
            return  # an older answer arriving late
        self.query_one(TimelineStrip).timeline = message.timeline

    async def on_novelty_ready(self, message: NoveltyReady) -> None:
        if message.request < self._marked:
            return  # an older answer arriving late
        self._marked = message.request
        pane = self.query_one(EventsPane)
        novel = message.novel if len(message.novel) else None
        if novel is not None or pane.novel is not None:  # none before and none now: nothing to redraw
            pane.novel = novel
            pane.refresh_rows()
        await self._notify_changed()

    def on_groups_ready(self, message: GroupsReady) -> None:
        if message.request < self._shown or self.grouping is None:
            return
        if message.grouping.fields != self.grouping:
            return  # asked for before the fields changed
        aliases = {}
        if "key" in message.grouping.fields:
            vocab = self.index.vocab["key"]
            for code, entries in self.index.aliases_by_key().items():
                current = [alias for alias, now in entries if now]
                if current:
                    aliases[vocab.values[code]] = self.index.vocab["alias"].values[current[0]]
        keep, self._keep_group_row = self._keep_group_row, None
        self.query_one(GroupsPane).show(message.grouping, aliases, keep)

    def on_events_ready(self, message: EventsReady) -> None:
        if message.request < self._shown:
            if message.drawn is not None:
                message.drawn.set()
            return  # an older answer arriving late
        self._shown = message.request
        if self.load_running and message.request == self._request:
            self._look_began = time.thread_time()  # this thread's CPU for the look, until drawn
        pane = self.query_one(EventsPane)
        pane.empty_text = type(pane).empty_text
        # the summaries wait until the frame that draws these events is done: Textual's "after
        # refresh" came before it when the pane's refresh had not reached the screen yet, and the
        # summaries' Python held the interpreter that frame needed (at a load's end, 10 to 15 ms)
        pane.show(message.rows, message.drawn.set if message.drawn is not None else None)
        self._end_load_line()
        self._total = message.total
        self.update_status()

    async def on_query_done(self, message: QueryDone) -> None:
        result = message.result
        if result.request < self._applied:
            return  # an older answer arriving late
        self._applied = result.request
        self.result = result
        self._end_load_line()
        if result.request == self._request:
            self._query_ended = time.monotonic()
            self._query_cost = result.cpu
            if self.load_running and self.preload is not None and not self.preload.done:
                # the load begun before the screen refreshes the index only when asked: ask for
                # the next look when it is due (it comes back as IndexChanged), once this one
                # is drawn: its cost is the query's and the drawing's
                self.call_after_refresh(self._next_look, result.cpu)
        if result.trails is not None:
            self._trails_generation = result.generation
            self.query_one(TrailsPane).show(result.trails)
        self.query_one(KeysPane).show(result.keys)
        self.update_status()
        if self.preload is not None and not self.preload.done:  # the first screen is whole
            self.call_after_refresh(self._first_events_drawn)
        if not self.load_running and result.request == self._request:  # the end's look, or newer
            self.call_after_refresh(self._end_drawn.set)
        await self._notify_changed()

    def _next_look(self, query_cpu: float) -> None:
        """Ask for the next look at the loading index after LOADING_QUIET times this one's CPU:
        its query, and this thread's handling and drawing of its answers (the panes drawn
        again cost as much as the query did, and were not counted: looks came twice as often
        as they were meant to)."""
        drawn = max(0.0, time.thread_time() - self._look_began) if self._look_began is not None else 0.0
        if not self._first_look_drawn:  # the first look's drawing is the screen's start: once
            self._first_look_drawn = True
            drawn = 0.0
        self._look_began = None
        self._query_cost = query_cpu + drawn
        every = max(LOADING_QUIET * self._query_cost, PROGRESS_EVERY)
        self.set_timer(every, partial(self._look_when_due, every))

    def _look_when_due(self, every: float) -> None:
        """Ask the load for the next look at the growing index, unless the load will end before
        another look would be due: then the end's look shows it all (a look near the end of a
        large load, 0.2 s of CPU, was followed within a second by the end's). Asked again after
        ``every`` in that case, in case the load slows down."""
        preload = self.preload
        if preload is None or preload.done or not self.load_running:
            return
        if worth_a_look(preload.progress, every):
            preload.look()
        else:
            self.set_timer(every, partial(self._look_when_due, every))

    async def on_query_failed(self, message: QueryFailed) -> None:
        self._first_events_drawn()
        self._end_load_line()
        if not self.load_running:
            self._end_drawn.set()
        self.notify(f"Filtering failed: {message.message}", severity="error", markup=False)
        self._applied = max(self._applied, message.request)
        self._marked = max(self._marked, message.request)
        await self._notify_changed()

    # ------------------------------------------------------------------ filter bar

    @on(Input.Changed, "#filter")
    def filter_changed(self, message: Input.Changed) -> None:
        error_view = self.query_one("#filter-error", Static)
        try:
            compiled = query.parse(message.value)
        except query.FilterError as error:
            error_view.update(_error_content(message.value, error))
            error_view.display = True
            self.update_status()
            return  # keep the previous result
        error_view.display = False
        self.filter = compiled
        self.filter_text = message.value
        self.request_query(delay=0.12)

    @on(Input.Submitted, "#filter")
    def filter_submitted(self) -> None:
        if self.query_one("#filter-error").display:
            return
        if self._debounce is not None:  # Enter means now: do not wait for the typing pause
            self.request_query()
        self.action_focus_pane("events")

    def set_filter(self, text: str) -> None:
        """Replace the filter (a pivot from the detail view) and clear the selections."""
        self.query_one(TrailsPane).selected = None
        self.query_one(KeysPane).selected = None
        self.query_one(EventsPane).move_to(0)
        self.replace_filter(text)

    def replace_filter(self, text: str) -> None:
        """Put this text in the filter bar and apply it, keeping the trail and key selections."""
        filter_input = self.query_one("#filter", Input)
        with filter_input.prevent(Input.Changed):
            filter_input.value = text
        self.query_one("#filter-error").display = False
        self.filter = query.parse(text)
        self.filter_text = text
        self.request_query()

    # ------------------------------------------------------------------ timeline

    def action_focus_timeline(self) -> None:
        self.query_one(TimelineStrip).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``t`` is left out of the footer while the timeline has focus: it would go nowhere,
        and at 80 columns its place lets the timeline's own keys show."""
        if action == "focus_timeline" and isinstance(self.focused, TimelineStrip):
            return False
        return True

    @on(TimelineStrip.Narrowed)
    def timeline_narrowed(self, message: TimelineStrip.Narrowed) -> None:
        """Enter on a bucket: its time as since:/until: in the filter, where it can be seen and edited."""
        self._zoom.append(self.filter_text)
        self.replace_filter(with_window(self.filter_text, message.since, message.until))

    @on(TimelineStrip.Widened)
    def timeline_widened(self) -> None:
        if self._zoom:
            self.replace_filter(self._zoom.pop())
        elif novelty.window_terms(self.filter_text):
            self.replace_filter(novelty.without_window(self.filter_text))

    # ------------------------------------------------------------------ group-by

    def action_group_by(self) -> None:
        current = ",".join(self.grouping) if self.grouping else ""
        self.app.push_screen(GroupByScreen(current), self.show_grouping)

    def show_grouping(self, fields: tuple[str, ...] | None) -> None:
        """Group the events in view by these fields (None: the events again)."""
        if fields is None and self.grouping is None:
            return
        self.grouping = fields
        groups = self.query_one(GroupsPane)
        events = self.query_one(EventsPane)
        groups.display = fields is not None
        events.display = fields is None
        (groups if fields is not None else events).focus()
        self.request_query()

    # ------------------------------------------------------------------ events order

    def action_sort_events(self) -> None:
        """The events list by the next column (time, event, principal, key, error, IP, region)."""
        names = list(ordering.SORTABLE)
        column = names[(names.index(self.event_order[0]) + 1) % len(names)]
        self._order_events(column, column == "time")

    def action_reverse_events(self) -> None:
        self._order_events(self.event_order[0], not self.event_order[1])

    def _order_events(self, column: str, descending: bool) -> None:
        self.event_order = (column, descending)
        pane = self.query_one(EventsPane)
        titles = {"time": "TIME (UTC)", "ip": "SOURCE IP"}
        wanted = titles.get(column, column.upper())
        arrow = " ▼" if descending else " ▲"
        pane.columns = [replace(c, title=c.title + arrow) if c.title == wanted else c for c in type(pane).columns]
        pane.refresh_rows()
        self.notify(
            f"Events by {column}, {'descending' if descending else 'ascending'} (o: next column, O: reverse)",
            timeout=3,
            markup=False,
        )
        self.request_query()

    # ------------------------------------------------------------------ views

    def action_views(self) -> None:
        from .viewlist import ViewsScreen  # imported when first opened (see the imports)

        self.app.push_screen(ViewsScreen(self.views.views), self.apply_view)

    def apply_view(self, view: views.View | None) -> None:
        """A view's filter (keeping the current window) and its layout, shown and editable."""
        if view is None:
            return
        self._drills.clear()
        groups = self.query_one(GroupsPane)
        if view.group_by:
            with groups.prevent(VirtualTable.CursorMoved):
                groups.set_reactive(GroupsPane.sort_column, view.sort)
                groups.set_reactive(GroupsPane.descending, view.sort not in ("values", "first_seen"))
        self.replace_filter(views.applied_filter(view, self.filter_text))
        self.show_grouping(view.group_by or None)
        if not view.group_by:
            self.query_one(EventsPane).move_to(0)
        self.notify(f"View: {view.title}", timeout=3, markup=False)

    def palette_commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """(title, help, callback) for Textual's command palette: views, group-bys, pivots, panes."""
        commands: list[tuple[str, str, Callable[[], object]]] = []
        for view in self.views.views:
            commands.append((f"View: {view.title}", view.about or view.filter, partial(self.apply_view, view)))
        for fields in ("event,ip", "event,key", "key,principal", "principal,ctx", "principal", "error", "ip"):
            parsed = group.parse_fields(fields)
            commands.append(
                (f"Group by {' × '.join(parsed)}", "the events in view, counted", partial(self.show_grouping, parsed))
            )
        commands.append(("Events (no grouping)", "the events list again", partial(self.show_grouping, None)))
        commands.append(("Load summary", "sources, skipped files, duplicates folded (l)", self.action_load_summary))
        for pane in ("trails", "keys", "timeline", "events"):
            commands.append((f"Go to {pane}", f"focus the {pane} pane", partial(self.action_focus_pane, pane)))
        events = self.query_one(EventsPane)
        row = events.row_of(events.cursor)
        if row is not None:
            event = self.index.event(row)
            pivots = [("principal", event.principal.short), ("key", event.keys[0] if event.keys else None)]
            pivots += [("ip", event.source_ip), ("event", event.name)]
            for name, value in pivots:
                if value:
                    term = f"{name}:={query.quote(value)}"
                    commands.append(
                        (f"Pivot: {term}", "filter by the highlighted event's " + name, partial(self.set_filter, term))
                    )
        return commands

    @on(GroupsPane.Drilled)
    def group_drilled(self, message: GroupsPane.Drilled) -> None:
        """Enter on a row: its events, with the row's values added to the filter; Escape comes back."""
        terms = group.drill_terms(message.fields, message.row)
        self._drills.append((self.filter_text, message.fields, message.row.codes))
        self.show_grouping(None)
        self.query_one(EventsPane).move_to(0)
        self.replace_filter(" ".join(t for t in (self.filter_text.strip(), *terms) if t))

    def _undrill(self) -> None:
        text, fields, codes = self._drills.pop()
        self._keep_group_row = codes
        self.replace_filter(text)
        self.show_grouping(fields)

    # ------------------------------------------------------------------ selection

    @on(VirtualTable.Activated, "#trails")
    def trail_chosen(self, message: VirtualTable.Activated) -> None:
        pane = self.query_one(TrailsPane)
        trail = pane.current
        if trail is None:
            return
        pane.selected = None if pane.selected is not None and pane.selected is trail else trail
        self.query_one(KeysPane).selected = None
        pane.refresh_rows()
        self.request_query()

    @on(VirtualTable.Activated, "#keys")
    def key_chosen(self, message: VirtualTable.Activated) -> None:
        pane = self.query_one(KeysPane)
        key = pane.current
        if key is None:
            return
        pane.selected = None if pane.selected == key.code else key.code
        pane.refresh_rows()
        self.request_query()
        if pane.selected is not None:
            self.query_one(EventsPane).move_to(0)

    @on(VirtualTable.Activated, "#events")
    def event_chosen(self, message: VirtualTable.Activated) -> None:
        pane = self.query_one(EventsPane)
        if pane.row_of(message.row) is None:
            return
        from .detail import DetailScreen

        self.app.push_screen(DetailScreen(self.index, pane, message.row), self._detail_closed)

    def _detail_closed(self, pivot: str | None) -> None:
        self.query_one(EventsPane).focus()
        if pivot:
            self.set_filter(pivot)

    @on(VirtualTable.CursorMoved, "#trails")
    @on(VirtualTable.CursorMoved, "#keys")
    def row_highlighted(self) -> None:
        self.update_status()

    # ------------------------------------------------------------------ actions

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_focus_pane(self, pane: str) -> None:
        if pane == "events" and self.grouping is not None:
            pane = "groups"  # the group-by table stands in place of the events
        self.query_one(f"#{pane}").focus()

    def action_escape(self) -> None:
        if self.load_running:
            self._cancel.set()
            return
        if self.grouping is None and self._drills:
            self._undrill()
            return
        if self.grouping is not None:
            self.show_grouping(None)
            return
        trails = self.query_one(TrailsPane)
        keys = self.query_one(KeysPane)
        if trails.selected is not None or keys.selected is not None:
            trails.selected = None
            keys.selected = None
            trails.refresh_rows()
            keys.refresh_rows()
            self.request_query()

    def action_interrupt(self) -> None:
        """Ctrl+C: stop a load and keep what arrived; otherwise quit, as in any terminal program."""
        if self.load_running:
            self._cancel.set()
        else:
            self.app.exit()

    def action_load_summary(self) -> None:
        sentences = self.index.report.sentences()
        if self.load_running:
            sentences.insert(0, "Still loading: these are the figures so far.")
        from .modals import LoadSummaryScreen

        self.app.push_screen(LoadSummaryScreen(sentences))

    # ------------------------------------------------------------------ status line

    def update_status(self) -> None:
        parts: list[tuple[str, str | None]] = []
        trails = self.query_one(TrailsPane)
        keys = self.query_one(KeysPane)
        if self._shown:
            parts.append((f"{self.query_one(EventsPane).row_count:,}", "bold"))
            parts.append(
                (
                    f" of {self._total:,} event{'s' if self._total != 1 else ''}"
                    f" · {keys.row_count:,} key{'s' if keys.row_count != 1 else ''}",
                    None,
                )
            )
        elif self.load_running:
            parts.append(("Loading…", None))
        understood = self.filter.describe()  # as parsed: canonical names, groups made plain
        if understood:
            parts.append(("  filter ", "$text-muted"))
            parts.append((understood[:60], "$text-accent"))
            if self.filter.needs_records:  # say why a Decrypt never matches req.something
                parts.append(("  (record paths: calls that change something)", "$text-muted"))
        if trails.selected is not None:
            parts.append(("  trail ", "$text-muted"))
            parts.append((trails.selected.label[:40], "$text-success"))
        if keys.selected is not None:
            key = next((k for k in keys.keys if k.code == keys.selected), None)
            parts.append(("  key ", "$text-muted"))
            parts.append(((key.display if key else "selected")[:40], "$text-success"))
        if self.athena is not None:
            parts.append(("  ", None))
            parts.append((self.athena.progress.describe, None))
        if self.live is not None and self.live.progress.describe:
            parts.append(("  LookupEvents ", "$text-muted"))
            parts.append((self.live.progress.describe, None))
        if self.following:
            parts.append((f"  following every {self.follow_seconds}s", "$text-success"))
        skipped = len(self.index.report.skipped)
        if skipped:
            parts.append((f"  {skipped} skipped (l)", "$text-warning"))
        if self.query_one("#filter-error").display:
            parts.append(("  filter not applied", "$text-error"))
        highlighted = trails.current if trails.has_focus else None
        if highlighted is not None and highlighted.warnings:
            parts = [("⚠ " + highlighted.warnings[0], "$text-warning")]
        key = keys.current if keys.has_focus else None
        if key is not None and key.details:
            parts = [(key.display + "  ", "bold"), (key.details, None)]
        if parts != self._status_parts:  # the same words are not drawn again (each progress tick asks)
            self._status_parts = parts
            self.query_one("#status", Static).update(_assemble(parts), layout=False)  # one line, whatever it says

    def on_descendant_focus(self) -> None:
        self.update_status()


def worth_a_look(progress: Progress | None, every: float) -> bool:
    """Whether a look at a loading index is worth it: not when, at the rate so far, the load
    ends within ``every`` seconds (the time looks are spaced by now) or within LOOK_AHEAD."""
    if progress is None or progress.elapsed <= 0:
        return True
    done = progress.fraction
    if done <= 0:
        return True
    return progress.elapsed * (1 - done) / done >= max(every, LOOK_AHEAD)


def with_window(text: str, since: int, until: int) -> str:
    """The filter with since: and until: set to this span (replacing any it had)."""
    rest = novelty.without_window(text)
    window = f"since:{iso(since)} until:{iso(until)}"
    return f"{rest} {window}" if rest else window


def _short_size(size: int) -> str:
    """A size in three figures at most: 7.3K, 44.5M."""
    for unit, factor in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.3g}{unit}"
    return f"{size}B"


def _copy(progress: Progress) -> Progress:
    return Progress(**progress.__dict__)


def _assemble(parts: list[tuple[str, str | None]]) -> Content:
    text = ""
    spans = []
    for piece, style in parts:
        piece = clean(piece)
        if style:
            spans.append(Span(len(text) + 1, len(text) + 1 + len(piece), style))
        text += piece
    return Content(" " + text, spans, strip_control_codes=False)


def _error_content(text: str, error: query.FilterError) -> Content:
    message = clean(f"  {error}")
    return Content(message, [Span(0, len(message), "$text-error")], strip_control_codes=False)
