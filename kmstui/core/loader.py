"""Loading sources into an index: in this process for small inputs, on every core for big ones.

Decoding is CPU-bound Python (msgspec does not release the GIL), so large loads use
worker processes; each decodes a group of files into one compact
:class:`~kmstui.core.decode.Batch` (what repeats across the files is sent once) and
this process merges them in submission order, which keeps codes and row order
deterministic. Progress is reported as it goes, the index is refreshed now and then
so the explorer can show the first events early, and a cancel keeps what arrived.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.spawn
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from .decode import Batch, load_many
from .index import EventIndex
from .sources import SourceFile

PARALLEL_BYTES = 8 << 20  # below this, starting workers costs more than it saves
TASK_BYTES = 4 << 20  # compressed bytes per worker task
RESERVE_MARGIN = 1.2  # the index's room made after the first batch, over what its share of the bytes says
RESERVE_AT_MOST = 1024  # and at most for this many times the first batch


@dataclass
class Progress:
    files_done: int
    files_total: int
    records: int
    events: int
    bytes_done: int
    bytes_total: int
    elapsed: float
    finished: bool = False
    cancelled: bool = False

    @property
    def rate(self) -> float:
        """Records read per second."""
        return self.records / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def fraction(self) -> float:
        if self.bytes_total:
            return min(1.0, self.bytes_done / self.bytes_total)
        return self.files_done / self.files_total if self.files_total else 1.0


def _size(source: SourceFile) -> int:
    try:
        return os.path.getsize(source.path)
    except OSError:
        return 0


def _tasks(files: list[SourceFile], sizes: list[int]) -> list[list[int]]:
    """Group files into tasks of about TASK_BYTES, keeping their order. The first task is one
    file, so that its events are on screen while a worker is still on its first full task."""
    tasks: list[list[int]] = []
    current: list[int] = []
    weight = 0
    for i, size in enumerate(sizes):
        current.append(i)
        weight += size
        if weight >= TASK_BYTES or (not tasks and len(sizes) > 1):
            tasks.append(current)
            current, weight = [], 0
    if current:
        tasks.append(current)
    return tasks


_pool: ProcessPoolExecutor | None = None


def _can_spawn() -> bool:
    """Whether worker processes can start under this program. A worker from the forkserver
    first imports the program's main module again, as multiprocessing describes it: by name
    when it ran as a module (``-m``), from its file when it ran as a script, and not at all
    when it has neither (``python -c``, or pytest-xdist's workers, which run that way). Only
    a main whose file is named but not there cannot be imported again: ``python -`` reading
    the program from standard input (its file is "<stdin>"); every worker would fail to
    start, with a traceback. (A forked worker imports nothing again, but which start method
    the pool gets depends on the threads running when it starts: see _executor.)"""
    try:
        main_path = multiprocessing.spawn.get_preparation_data("kmstui").get("init_main_from_path")
    except RuntimeError:  # asked while a worker is still starting: it cannot start more
        return False
    return main_path is None or os.path.exists(main_path)


def _executor(workers: int, niceness: int = 0) -> ProcessPoolExecutor:
    """A process pool: forked straight from this process when it runs no other thread (the
    headless commands: workers are ready at once), else started from a clean forkserver
    (forking a process with threads running, as the explorer's, is not safe). ``niceness``:
    how much lower than this process the workers run (prestart)."""
    global _pool
    if _pool is None:
        _start_resource_tracker()
        context: multiprocessing.context.BaseContext
        if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
        else:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["kmstui.core.decode"])
        _pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_start_worker, initargs=(niceness,)
        )
    return _pool


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker where it can start. It is handed the
    descriptor of sys.stderr, and in the explorer sys.stderr is Textual's capture of
    prints, whose descriptor is -1: the start then fails ("bad value(s) in fds_to_keep")
    and no worker could ever run. There it is given /dev/null, which also keeps anything
    it might say off the screen."""
    try:
        usable = sys.stderr is not None and sys.stderr.fileno() >= 0
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        usable = False
    if usable:
        return
    from multiprocessing import resource_tracker

    with open(os.devnull, "w") as quiet:
        saved, sys.stderr = sys.stderr, quiet
        try:
            resource_tracker.ensure_running()
        finally:
            sys.stderr = saved


def _glibc(call: str, *args: int) -> None:
    """Call one of glibc's heap functions; elsewhere (another libc, no ctypes) do nothing."""
    try:
        import ctypes

        getattr(ctypes.CDLL("libc.so.6"), call)(*args)
    except (OSError, AttributeError):
        pass


def _start_worker(niceness: int) -> None:
    """In a worker, before its first task: its heap kept (_keep_heap), and its priority lowered
    by ``niceness`` (os.nice: a worker may always lower its own, never raise it again)."""
    _keep_heap()
    if niceness:
        try:
            os.nice(niceness)
        except OSError:  # not allowed here (or no such call): it runs as this process does
            pass


def _keep_heap() -> None:
    """In a worker: keep freed memory for the next file instead of giving it back to the system.
    Each file's few megabytes of text would otherwise be mapped afresh, and the page faults
    cost about 2 ms a file, a tenth of decoding it. And end with the process that forked it:
    a forked worker holds both ends of its task queue, so when kmstui is killed (SIGTERM,
    SIGKILL) it would wait on that queue for ever."""
    _glibc("prctl", 1, 15)  # PR_SET_PDEATHSIG: SIGTERM when the parent ends (Linux)
    _glibc("mallopt", -3, 256 << 20)  # M_MMAP_THRESHOLD: big buffers from the heap, not mmap
    _glibc("mallopt", -1, 512 << 20)  # M_TRIM_THRESHOLD: and the heap not trimmed after each


def _trim_heap() -> None:
    """Give back to the system the heap that merging batches left in pieces: about 70 bytes
    an event after a large load."""
    _glibc("malloc_trim", 0)


def _parallel(files: list[SourceFile], total: int, workers: int) -> bool:
    """Whether a load of these files uses worker processes."""
    return workers > 1 and len(files) > 1 and total >= PARALLEL_BYTES and _can_spawn()


def prestart(files: list[SourceFile], workers: int | None = None, niceness: int = 0) -> None:
    """Start the worker processes for a load of ``files`` now, if it will use them. Called
    while this process runs one thread (the explorer, before Textual starts its own), they
    are forked at once, as for the headless commands, instead of from a forkserver later.
    ``niceness``: the workers run that much lower in priority than this process (the explorer:
    its screen first, see background.py)."""
    workers = workers or os.cpu_count() or 1
    if _pool is not None or not _parallel(files, sum(_size(f) for f in files), workers):
        return
    try:
        pool = _executor(workers, niceness)
        pool.submit(int).result()  # the first task forks every worker (a forked pool starts them all)
    except (OSError, ValueError, BrokenProcessPool):  # load() tries again, or loads in this process
        shutdown()


_released: list[threading.Thread] = []  # the manager threads of pools let go (_release), not yet joined


def shutdown(wait: bool = False) -> None:
    """Stop the worker processes: the tasks not started are dropped. ``wait``, for a process
    about to exit, also waits for them to be gone (a task running is finished first, a
    tenth of a second at most), and for those let go at the end of a load (_release):
    ``concurrent.futures``' own exit hook otherwise wakes a pool's manager thread that may be
    closing its pipe that moment, and Python 3.11 prints that race's ``OSError: Bad file
    descriptor`` as an ignored exception's traceback."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=wait, cancel_futures=True)
        _pool = None
    while wait and _released:
        _released.pop().join()


def _release() -> None:
    """Let the workers go without waiting for them (``last``: the load's last batch is in): they
    exit while this process merges that batch and refreshes the index, about 10 ms at the end
    of a headless load that waited for them after. Their pool's manager thread, which joins
    them, is kept for shutdown(wait=True) to wait on; where it cannot be had (a Python whose
    pool keeps it otherwise), the pool stays, for shutdown to stop as before."""
    global _pool
    manager = getattr(_pool, "_executor_manager_thread", None)
    if _pool is None or not isinstance(manager, threading.Thread):
        return
    _pool.shutdown(wait=False, cancel_futures=True)
    _released.append(manager)
    _pool = None


def load(
    index: EventIndex,
    files: list[SourceFile],
    on_progress: Callable[[Progress], None] | None = None,
    on_batch: Callable[[Batch], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    refresh_every: float | None = 0.5,
    workers: int | None = None,
    narrow: Callable[[Batch], Batch] | None = None,
    ahead: int = 2,
    refresh_share: float = 20,
    refresh_wanted: Callable[[], bool] | None = None,
    last: bool = False,
) -> Progress:
    """Load ``files`` into ``index``; returns the final progress (``cancelled`` if stopped early).
    ``narrow`` sees each batch before the index does (a bucket's window drops events there).
    ``ahead``: tasks given to each worker before their batches are merged. ``refresh_share``:
    after the first, refreshes keep to one part in this many of the load's time, and with
    ``refresh_wanted``, happen only when it says so (it is asked when one is due). ``last``: no
    load follows in this process, and the workers are let go once the last batch is in."""
    start = time.perf_counter()
    sizes = [_size(f) for f in files]
    total = sum(sizes)
    progress = Progress(0, len(files), 0, 0, 0, total, 0.0)
    last_refresh = start
    refresh_cost = 0.0  # what the last refresh took: refreshes keep to a share of the load's time
    workers = workers or os.cpu_count() or 1
    empty = index.size == 0  # what the index holds after this load's first batch is then that batch's

    def take(batch: Batch, size: int) -> None:
        nonlocal last_refresh, refresh_cost
        if narrow is not None:
            batch = narrow(batch)
        index.add(batch)
        if not progress.files_done and empty and 0 < size < total:
            # room for the rest, by the first batch's share of the bytes (a small first file of a
            # large trail does not stand for the rest: the room then stops short, and grows as before)
            index.reserve(RESERVE_MARGIN * min(total / size, RESERVE_AT_MOST))
        if on_batch is not None:
            on_batch(batch)
        progress.files_done += len(batch.sources)
        progress.bytes_done += size
        progress.records += batch.records
        progress.events += batch.n
        now = time.perf_counter()
        progress.elapsed = now - start
        if refresh_every is not None and (
            progress.files_done == len(batch.sources)
            or (
                now - last_refresh >= max(refresh_every, refresh_share * refresh_cost)
                and (refresh_wanted is None or refresh_wanted())
            )
        ):
            # the first batch at once, so its events show while the rest loads; then as often as
            # asked, but no more than refresh_share allows (a refresh costs more as the index
            # grows, it holds the merge up, and each one sets the explorer filtering again)
            index.refresh()
            last_refresh = time.perf_counter()
            refresh_cost = last_refresh - now
        if on_progress is not None:
            on_progress(progress)

    pool = None
    if _parallel(files, total, workers):
        try:
            pool = _executor(workers)
        except (OSError, ValueError):  # no processes to be had here: load in this one, slower but whole
            pool = None
    try:
        if pool is None:
            for source, size in zip(files, sizes, strict=True):
                if cancelled():
                    progress.cancelled = True
                    break
                take(load_many([source]), size)
        else:
            pending: deque[tuple[Future, list[int]]] = deque()
            tasks = deque(_tasks(files, sizes))
            while tasks or pending:
                while tasks and len(pending) < workers * ahead:
                    chosen = tasks.popleft()
                    future = pool.submit(load_many, [files[i] for i in chosen])
                    pending.append((future, chosen))
                future, chosen = pending.popleft()
                while True:
                    if cancelled():
                        progress.cancelled = True
                        for other, _ in pending:
                            other.cancel()
                        future.cancel()
                        break
                    try:
                        batch = future.result(timeout=0.1)
                        break
                    except TimeoutError:
                        continue
                    except BrokenProcessPool:
                        # A worker died (killed, out of memory, or it could not start here):
                        # finish in this process, slower but complete.
                        shutdown()
                        batch = None
                        break
                if progress.cancelled:
                    break
                if last and batch is not None and not tasks and not pending:
                    _release()
                if batch is None:
                    rest = chosen + [i for _, more in pending for i in more] + [i for more in tasks for i in more]
                    pending.clear()
                    tasks.clear()
                    for i in rest:
                        if cancelled():
                            progress.cancelled = True
                            break
                        take(load_many([files[i]]), sizes[i])
                    break
                take(batch, sum(sizes[i] for i in chosen))
    finally:
        index.refresh()
        _trim_heap()
        progress.elapsed = time.perf_counter() - start
        progress.finished = True
        if on_progress is not None:
            on_progress(progress)
    return progress
