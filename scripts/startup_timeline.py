"""Where the explorer's start goes: ``kmstui DIR`` in a pseudo-terminal, with marks.

Runs the explorer as ``bench.py --explorer`` does (120x36, read through pyte, from just before
the process starts), with marks written by the process itself: the imports that matter, the
fork of the workers, each worker's first task, the merges and refreshes, the app's start, the
first query and the first rows drawn; and, at the end, the CPU time spent in the load's and the
screen's costly steps (merging, refreshing, layout, painting, the key and trail summaries).
Each mark says the seconds from the start and the process's CPU seconds then. A tool for
development (it wraps kmstui's functions from outside; kmstui itself carries no marks):

    python scripts/startup_timeline.py .bench-cache/trail-1000000
"""

from __future__ import annotations

import argparse
import atexit
import collections
import importlib.machinery
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVENT_TIME = re.compile(r"\d\d-\d\d \d\d:\d\d:\d\d")  # an event row's time, as the events pane draws it
WATCHED = (
    "numpy",
    "msgspec",
    "textual",
    "textual.app",
    "textual.widgets",
    "kmstui.core.decode",
    "kmstui.core.index",
    "kmstui.core.query",
    "kmstui.ui.app",
    "kmstui.ui.explorer",
    "kmstui.ui.panes",
)


class Marks:
    """Marks appended to a file: seconds since the start the harness gave, the pid, the name."""

    def __init__(self, path: str, start: float) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.start = start
        self.seen: set[str] = set()
        self.costs: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])

    def __call__(self, name: str, once: bool = True) -> None:
        if once and name in self.seen:
            return
        self.seen.add(name)
        line = f"{time.monotonic() - self.start:.3f} {os.getpid()} {name} (cpu {time.process_time():.3f})\n"
        os.write(self.fd, line.encode())

    def costed(self, owner, attribute: str, label: str, first: str | None = None) -> None:
        """Wrap ``owner.attribute``: its calls and thread CPU time are added up (``first``: a
        mark at its first call)."""
        original = getattr(owner, attribute)

        def wrapped(*args, **kwargs):
            if first:
                self(first)
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                cost = self.costs[label]
                cost[0] += 1
                cost[1] += time.thread_time() - started

        setattr(owner, attribute, wrapped)

    def totals(self) -> None:
        for label, (calls, cpu) in sorted(self.costs.items()):
            self(f"total: {label}: {calls} calls, {cpu:.3f} s CPU", once=False)


def child(data: str) -> int:
    """In the pseudo-terminal: kmstui's explorer, wrapped from outside."""
    mark = Marks(os.environ["TIMELINE_MARKS"], float(os.environ["TIMELINE_START"]))
    mark("interpreter started")

    class Finder:
        """Marks the imports watched; the screen's steps are wrapped once kmstui's command line
        has imported kmstui.ui.app itself (after forking the workers, as it does)."""

        def find_spec(self, name, path=None, target=None):
            if name in WATCHED:
                mark(f"import {name}")
            if name != "kmstui.ui.app":
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is not None and spec.loader is not None:
                execute = spec.loader.exec_module

                def exec_module(module):
                    execute(module)
                    wrap_screen(mark)

                spec.loader.exec_module = exec_module  # type: ignore[method-assign]
            return spec

    sys.meta_path.insert(0, Finder())
    from kmstui import cli
    from kmstui.core import background, decode, index, loader

    mark("kmstui.cli imported")
    start = background.BackgroundLoad.start

    def started(self, *args, **options):
        mark("workers forking")
        start(self, *args, **options)
        mark("workers forked, merge thread started")

    background.BackgroundLoad.start = started
    load_many = decode.load_many

    def first_task(files):
        mark("worker: first task begins")
        batch = load_many(files)
        mark("worker: first task decoded")
        return batch

    first_task.__module__, first_task.__qualname__ = "kmstui.core.decode", "load_many"  # pickled by name
    decode.load_many = loader.load_many = first_task
    mark.costed(index.EventIndex, "add", "merging (EventIndex.add)", first="first batch merging")
    mark.costed(index.EventIndex, "refresh", "refreshing (EventIndex.refresh)", first="first refresh")
    return cli.main([data])


def wrap_screen(mark: Marks) -> None:
    """The app's start, the first query, the first rows drawn; the costs of drawing."""
    from textual.app import App
    from textual.screen import Screen

    from kmstui.ui import explorer, panes

    mark("kmstui.ui.app imported")
    mark.costed(App, "run", "App.run", first="App.run")
    mark.costed(Screen, "_refresh_layout", "layout (Screen._refresh_layout)")
    mark.costed(Screen, "_compositor_refresh", "painting (Screen._compositor_refresh)")
    from textual.widgets import Footer

    mark.costed(Footer, "recompose", "footer recomposed (Footer.recompose)")
    mark.costed(explorer, "summarise_keys", "key summaries")
    mark.costed(explorer, "summarise_trails", "trail summaries")
    mark.costed(explorer.ExplorerScreen, "compose", "compose", first="explorer compose")
    mark.costed(explorer.ExplorerScreen, "_start_query", "queries started", first="first query started")
    show = panes.EventsPane.show

    def shown(self, rows, *more):
        mark(f"events pane given {len(rows):,} rows", once=False)
        show(self, rows, *more)

    panes.EventsPane.show = shown
    render_line = panes.EventsPane.render_line

    def line(self, y):
        mark("events pane: first line drawn")
        if len(self.rows):
            mark("events pane: first line drawn with rows")
        return render_line(self, y)

    panes.EventsPane.render_line = line
    display = App._display

    frames = iter(range(1, 6))

    def displayed(self, screen, renderable):
        if renderable is not None and (frame := next(frames, None)) is not None:
            held = " (batching: not written)" if self._batch_count else ""
            mark(f"App._display: frame {frame} of {type(screen).__name__}{held}")
        return display(self, screen, renderable)

    App._display = displayed  # type: ignore[method-assign]
    end_batch = App._end_batch

    def batch_ended(self) -> None:
        end_batch(self)
        if not self._batch_count:
            mark("App: start's batch ended (frames are written from now)")

    App._end_batch = batch_ended  # type: ignore[method-assign]
    from textual.drivers import _writer_thread

    class File:
        """The terminal as Textual's writer thread writes to it: marks its first write with an event row."""

        def __init__(self, file):
            self._file = file

        def write(self, text: str) -> int:
            if EVENT_TIME.search(text):
                mark("writer thread: first event row written")
            return self._file.write(text)

        def __getattr__(self, name):
            return getattr(self._file, name)

    writer_init = _writer_thread.WriterThread.__init__

    def writer(self, file) -> None:
        writer_init(self, File(file))

    _writer_thread.WriterThread.__init__ = writer  # type: ignore[method-assign]
    atexit.register(mark.totals)


def harness(data: str, expected: str | None, out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.terminal import EVENT_ROW, all_shown, watch

    marks = out / "marks.txt"
    marks.unlink(missing_ok=True)
    start = time.monotonic()
    env = {**os.environ, "TIMELINE_MARKS": str(marks), "TIMELINE_START": repr(start), "PYTHONPATH": str(ROOT)}
    seen: list[tuple[float, str]] = []

    def shown(now: float, lines: list[str]) -> bool:
        names = {name for _, name in seen}
        if "terminal: first output" not in names:
            seen.append((now, "terminal: first output"))
        if "terminal: first event row" not in names and any(EVENT_ROW.match(line) for line in lines):
            seen.append((now, "terminal: first event row"))
        if expected is not None and all_shown(lines, f"{expected} of {expected} event"):
            seen.append((now, "terminal: every event shown, progress gone"))
            return True
        return expected is None and "terminal: first event row" in {name for _, name in seen}

    watch([__file__, "--child", data], env, start, shown)  # its totals are written as it exits
    for line in marks.read_text().splitlines() if marks.exists() else []:
        seconds, process, name = line.split(" ", 2)
        seen.append((float(seconds), f"[{process}] {name}"))
    for seconds, name in sorted(seen):
        print(f"{seconds:8.3f}  {name}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        sys.exit(child(sys.argv[2]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="the trail: a directory of CloudTrail files")
    parser.add_argument("--expect", metavar="N", help="wait for 'N of N events' (as printed, e.g. 600,036)")
    parser.add_argument("--out", default="/tmp", help="where the marks file is written (default /tmp)")
    args = parser.parse_args()
    harness(str(Path(args.data).resolve()), args.expect, Path(args.out))


if __name__ == "__main__":
    main()
