"""The loader's worker processes start under every way of running a Python program that can
start them, and a program that cannot (read from standard input) loads in its own process,
whole and without a traceback.

Each case is a real interpreter (``python -c`` or ``python -`` with the program on standard
input) loading the demo as a big trail: the sizes that send a load to workers are set low."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kmstui.core import loader
from kmstui.core.index import EventIndex
from kmstui.core.sources import discover

from records import REPO

DEMO = REPO / "assets" / "demo"

PROGRAM = """
import json, sys, threading
from kmstui.core import loader
from kmstui.core.index import EventIndex
from kmstui.core.sources import discover

loader.PARALLEL_BYTES = 0  # the demo (2 MB) loads as a big trail does
loader.TASK_BYTES = 64 << 10
hold = threading.Event()
if sys.argv[2] == "threads":  # as under the explorer: the pool starts from the forkserver
    threading.Thread(target=hold.wait, daemon=True).start()
files, problems = discover([sys.argv[1]])
index = EventIndex()
loader.load(index, files, refresh_every=None)
pool = loader._pool
print(json.dumps({
    "events": index.size,
    "workers": pool is not None,
    "start": pool._mp_context.get_start_method() if pool is not None else None,
}))
hold.set()
"""


@pytest.fixture(scope="module")
def demo_events() -> int:
    """The demo's events, loaded here in this process (too small for workers)."""
    files, problems = discover([str(DEMO)])
    assert files and not problems
    index = EventIndex()
    loader.load(index, files, refresh_every=None)
    return index.size


def _run(how: str, threads: str) -> tuple[dict, str]:
    demo = str(DEMO)
    if how == "-c":
        command, stdin = [sys.executable, "-c", PROGRAM, demo, threads], None
    else:  # the program read from standard input: its main module's file is "<stdin>"
        command, stdin = [sys.executable, "-", demo, threads], PROGRAM
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


@pytest.mark.parametrize(("threads", "start"), [("none", "fork"), ("threads", "forkserver")])
def test_a_program_without_a_main_file_loads_in_worker_processes(threads, start, demo_events):
    """``python -c`` has no main module file, so a worker imports none: pytest-xdist's workers
    run this way, and the explorer's load under them must still use worker processes."""
    shown, stderr = _run("-c", threads)
    assert shown == {"events": demo_events, "workers": True, "start": start}
    assert "Traceback" not in stderr


def test_a_program_read_from_standard_input_loads_whole_in_its_own_process(demo_events):
    """A main module named "<stdin>" cannot be imported again by a worker from the forkserver
    (with a thread running, as under the explorer): no worker starts (it would only fail, with
    a traceback on standard error), and every event still loads."""
    shown, stderr = _run("-", "threads")
    assert shown == {"events": demo_events, "workers": False, "start": None}
    assert stderr == ""


PRIORITIES = """
import json, multiprocessing, os, sys, time
from kmstui.core import loader
from kmstui.core.background import BackgroundLoad
from kmstui.core.index import EventIndex
from kmstui.core.sources import discover

loader.PARALLEL_BYTES = 0  # the demo (2 MB) loads as a big trail does
loader.TASK_BYTES = 64 << 10
files, problems = discover([sys.argv[1]])

def workers():
    return [os.getpriority(os.PRIO_PROCESS, child.pid) for child in multiprocessing.active_children()]

def started(lower):
    # A worker lowers its priority in its initializer, before its first task; the pool's first
    # task may have run in the other worker while this one was still starting. Wait (at most
    # 10 s) for every worker to be past its initializer: what any of them ever ran under.
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    for _ in range(200):
        seen = workers()
        if seen and all(priority == min(19, mine + lower) for priority in seen):
            break
        time.sleep(0.05)
    return seen

if sys.argv[2] == "explorer":
    load = BackgroundLoad(EventIndex(), files)
    load.start()
    starting = started(5)
    load.shown()
    load.follow(lambda progress: None)
else:
    loader.load(EventIndex(), files, refresh_every=None)
    starting = started(0)
print(json.dumps({"mine": os.getpriority(os.PRIO_PROCESS, 0), "workers": starting, "after": workers()}))
"""


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="needs os.getpriority (Unix)")
@pytest.mark.parametrize(("how", "lower"), [("explorer", 5), ("headless", 0)])
def test_the_explorers_workers_run_at_a_lower_priority_than_its_screen(how, lower):
    """The explorer's workers (BackgroundLoad) run five steps lower than its process for the
    whole load, so that the screen's start, the merge and the keys have a core whenever they
    want one; the headless commands' workers run as their process does."""
    result = subprocess.run(
        [sys.executable, "-c", PRIORITIES, str(DEMO), how], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    expected = min(19, shown["mine"] + lower)
    assert shown["workers"] and all(priority == expected for priority in shown["workers"])
    assert all(priority == expected for priority in shown["after"])


EXIT = """
import json, sys, threading, multiprocessing
from kmstui.core import loader
from kmstui.core.index import EventIndex
from kmstui.core.sources import discover

loader.PARALLEL_BYTES = 0  # the demo (2 MB) loads as a big trail does
loader.TASK_BYTES = 64 << 10
files, problems = discover([sys.argv[1]])
index = EventIndex()
last = sys.argv[2] == "last"
loader.load(index, files, refresh_every=None, last=last)
used = loader._pool is not None or bool(loader._released)
kept = loader._pool is not None
loader.shutdown(wait=True)
print(json.dumps({
    "workers": used,
    "kept": kept,
    "events": index.size,
    "threads": [thread.name for thread in threading.enumerate() if thread is not threading.main_thread()],
    "children": len(multiprocessing.active_children()),
}))
"""


@pytest.mark.parametrize("last", ["last", "more"])
def test_a_process_about_to_exit_waits_for_its_workers_to_be_gone(last, demo_events):
    """The headless commands and the explorer stop their workers with ``shutdown(wait=True)``
    before exiting: with the pool's manager thread still closing its pipe when Python exits,
    ``concurrent.futures``' exit hook wrote to it and Python 3.11 printed an ignored
    ``OSError: [Errno 9] Bad file descriptor`` with its traceback (2 exits in 30 of
    ``kmstui events DIR --count`` on a 100,000-record trail). A load that is the process's
    last (``last``, the headless commands') lets its workers go as its last batch comes in,
    and the wait is then for them: whole, with no thread or child left."""
    result = subprocess.run(
        [sys.executable, "-c", EXIT, str(DEMO), last], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "workers": True,
        "kept": last != "last",
        "events": demo_events,
        "threads": [],
        "children": 0,
    }
    assert result.stderr == ""
