"""The explorer's load of local files, started before the explorer is drawn.

Importing Textual and building the screen take most of a second (several on a busy
machine); the load runs meanwhile. The worker processes are forked first, while this
process still runs one thread, so they are ready in milliseconds (once Textual's threads
run, a clean forkserver must start them instead, a second or more). The merging then runs
in a thread of its own, and the explorer takes the load over when it is mounted: its
progress from then on, its cancel (Escape), its end. The workers run at a lower priority than
this process (WORKER_NICENESS): whenever it wants a core, to build the screen, to merge, to
answer a key, it has one, and the workers decode on every core it leaves idle.

Files are read newest first (``sources.newest_first``, as the headless commands read them).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable

from . import loader
from .decode import Batch
from .index import EventIndex
from .loader import Progress
from .sources import SourceFile, newest_first

STARTUP_WAIT = 10.0  # seconds the merge waits for the explorer's first events at most
# How much lower the workers' priority is than this process's (os.nice, for the whole load: an
# unprivileged process cannot raise a priority again). At +5 the scheduler weighs a worker at a
# third of this process, which then keeps (nearly) a whole core when it wants one: the screen's start is
# on the way to the first events, the workers' decoding ahead is not. The CPU is
# work-conserving: on an otherwise idle machine the workers get every cycle this process leaves,
# and the load takes as long; beside other busy programs, the workers yield to them too.
WORKER_NICENESS = 5


class BackgroundLoad:
    """``loader.load`` of ``files`` into ``index`` in a thread, handed over to the explorer later."""

    def __init__(
        self,
        index: EventIndex,
        files: list[SourceFile],
        refresh_every: float = 0.3,
        narrow: Callable[[Batch], Batch] | None = None,
        refresh_share: float = 40,
    ):
        """``narrow``, ``refresh_every`` and ``refresh_share`` are loader.load's: ``narrow`` sees
        each batch before the index does; a refresh holds the merge up, and each one sets the
        explorer filtering again, so they keep to a fortieth of the load's time."""
        self.index = index
        self.narrow = narrow
        self.files = newest_first(files)
        self.refresh_every = refresh_every
        self.refresh_share = refresh_share
        self.cancel = threading.Event()  # the explorer's Escape and quit set it
        self.progress: Progress | None = None  # the last reported, until the end: the final one
        self.error: BaseException | None = None
        self._listener: Callable[[Progress], None] | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._shown = threading.Event()  # the explorer drew its first events: merging goes on
        self._batches = 0
        self._look = threading.Event()  # the explorer will look at the index: refresh it
        self._collector_paused = False

    def start(self, pause_collector: bool = False) -> None:
        """Call while this process runs no other thread: the worker processes are forked here.
        ``pause_collector``: Python's cyclic garbage collector stays off until the first events
        are drawn (``shown``). Importing Textual and building the screen make some 90,000
        objects that all live on, and the collector went over them about 125 times on the way
        to the first frame (0.1 s of CPU on that path); the workers, forked before, keep theirs."""
        loader.prestart(self.files, niceness=WORKER_NICENESS)
        if pause_collector and gc.isenabled():
            gc.disable()
            self._collector_paused = True
        threading.Thread(target=self._run, name="kmstui-load", daemon=True).start()

    def _run(self) -> None:
        try:
            final = loader.load(
                self.index,
                self.files,
                on_progress=self._progressed,
                cancelled=self.cancel.is_set,
                refresh_every=self.refresh_every,
                narrow=self._narrow,
                ahead=6,  # the workers decode on while merging waits for the first screen (over a second of work)
                refresh_share=self.refresh_share,
                refresh_wanted=self._wanted,  # none that the explorer will not look at (see look)
            )
            with self._lock:
                self.progress = final
        except BaseException as error:  # handed to the explorer's worker, which says it
            self.error = error
        finally:
            self._done.set()

    def _narrow(self, batch: Batch) -> Batch:
        """After the first batch (the first screen's events), merging waits until the explorer
        has drawn them (or is stopped): the merge holds the interpreter, which Textual needs to
        start, lay out and draw, while the workers decode the next files meanwhile."""
        self._batches += 1
        if self._batches == 2:
            deadline = time.monotonic() + STARTUP_WAIT
            while not self._shown.wait(0.05) and not self.cancel.is_set() and time.monotonic() < deadline:
                pass
        return self.narrow(batch) if self.narrow is not None else batch

    def look(self) -> None:
        """The explorer will look at the growing index: the merge refreshes it after its next
        batch. Refreshing costs the more the bigger the index (0.2 s of CPU at 600,000 events),
        and the headless load refreshes once, at its end: the explorer's load refreshes only
        for the explorer's looks, not on a clock."""
        self._look.set()

    def _wanted(self) -> bool:
        if not self._look.is_set():
            return False
        self._look.clear()
        return True

    def shown(self) -> None:
        """The explorer has drawn its first events (or will draw none): merging goes on."""
        self._shown.set()
        self._resume_collector()

    def _resume_collector(self) -> None:
        """The collector on again (after ``start(pause_collector=True)``), with what the start
        made set aside as permanent (gc.freeze): the screen's objects live as long as the app,
        and each full collection during the load would go over them all again."""
        with self._lock:
            paused, self._collector_paused = self._collector_paused, False
        if paused:
            gc.freeze()
            gc.enable()

    def _progressed(self, progress: Progress) -> None:
        with self._lock:
            self.progress = progress
            listener = self._listener
        if listener is not None:
            listener(progress)

    def follow(self, on_progress: Callable[[Progress], None]) -> Progress:
        """Report the progress from now on (the latest at once), and return the final progress
        when the load ends. For the explorer's load worker; blocks until then."""
        with self._lock:
            self._listener = on_progress
            latest = self.progress
        if latest is not None:
            on_progress(latest)
        self._done.wait()
        if self.error is not None:
            raise self.error
        assert self.progress is not None
        return self.progress

    @property
    def done(self) -> bool:
        return self._done.is_set()
