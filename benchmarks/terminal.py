"""A program run as a user sees it: in a pseudo-terminal of 120x36 read through a terminal
emulator (pyte), from just before its process starts. The explorer benchmark
(``bench.py --explorer``) and ``scripts/startup_timeline.py`` both watch kmstui this way."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time
from collections.abc import Callable, Sequence

COLUMNS, LINES = 120, 36
EVENT_ROW = re.compile(r"^│ \d\d-\d\d \d\d:\d\d:\d\d ")  # a line of the events pane: an event's time


def all_shown(lines: Sequence[str], total: str) -> bool:
    """The status line says ``total`` (``N of N event``) and the progress bar has gone."""
    return any(total in line for line in lines) and not any("Esc stops" in line for line in lines)


def watch(
    args: Sequence[str],
    env: dict[str, str],
    start: float,
    seen: Callable[[float, list[str]], bool],
    timeout: float = 600.0,
) -> list[str]:
    """Run ``python ARGS`` in the terminal and call ``seen(seconds since start, the screen's
    lines)`` after each output until it returns True (or the timeout); then quit it with q, as
    a user does, read what it still draws until it has gone (or stop it), and return the last
    screen."""
    import pyte

    screen = pyte.Screen(COLUMNS, LINES)
    stream = pyte.ByteStream(screen)
    env = {**env, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(LINES)}
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal's size set, then the program in place of this process
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        os.execve(sys.executable, [sys.executable, *args], env)
    try:
        while time.monotonic() - start < timeout:
            if not select.select([fd], [], [], 0.5)[0]:
                continue
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:  # the process ended
                break
            if not chunk:
                break
            now = time.monotonic() - start
            stream.feed(chunk)
            if seen(now, screen.display):
                break
    finally:
        os.write(fd, b"q")
        deadline, ended = time.monotonic() + 20, False
        while not ended and time.monotonic() < deadline:
            ended = os.waitpid(pid, os.WNOHANG) != (0, 0)
            if not ended and select.select([fd], [], [], 0.2)[0]:
                try:
                    os.read(fd, 1 << 16)
                except OSError:
                    pass
        if not ended:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        os.close(fd)
    return screen.display
