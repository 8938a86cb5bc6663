"""The timeline: how many events (and how many errors) fell in each stretch of time.

The bucket size is chosen from the span shown and the room there is to draw it, from a
ladder of round sizes (seconds to days); boundaries are round in UTC (a 5-minute bucket
starts at :00, :05...; a day at midnight). Counting is one ``np.bincount`` over the times.

Beside the counts: the spans in which a trail was not logging KMS events (stopped,
deleted, or its event selectors left KMS out), from the same replay of its configuration
events that the trails pane makes. A quiet stretch there is not an idle one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .index import EventIndex
from .model import trail_name
from .timeutil import NO_TIME, short
from .trails import STOPPED, Episode, _Replay

STEPS = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    2 * 3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86400,
    2 * 86400,
    7 * 86400,
    14 * 86400,
    30 * 86400,
    91 * 86400,
    365 * 86400,
)


def step_text(seconds: int) -> str:
    """``5m``, ``1h``, ``2d``: a bucket size as the user reads it (and as since: takes it)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def bucket_size(span: int, buckets: int) -> int:
    """The smallest round size that shows ``span`` seconds in at most ``buckets`` buckets."""
    buckets = max(1, buckets)
    for step in STEPS:
        if -(-max(span, 1) // step) <= buckets:
            return step
    years = -(-max(span, 1) // (STEPS[-1] * buckets))
    return STEPS[-1] * years


class NotLogged(NamedTuple):
    """A stretch in which a trail did not log KMS events (``end`` None: still so)."""

    trail: str  # the trail's name
    start: int
    end: int | None
    state: str  # stopped, excluded, write-only, deleted
    who: str


class _SpanReplay(_Replay):
    """The trails pane's replay, noting when each episode began and ended."""

    def __init__(self, index: EventIndex):
        super().__init__(index)
        self.spans: list[tuple[Episode, int | None]] = []

    def apply(self, change) -> None:
        stopped, excluded, deleted = self.stopped, self.excluded, self.deleted
        super().apply(change)
        if stopped is not None and self.stopped is None:
            self.spans.append((stopped, change.time))
        if excluded is not None and self.excluded is not excluded:
            self.spans.append((excluded, change.time))
        if deleted is None and self.deleted is not None:
            self.spans.append((self.deleted._replace(state="deleted"), None))

    def open_spans(self) -> list[tuple[Episode, int | None]]:
        return self.spans + [(e, None) for e in (self.stopped, self.excluded) if e is not None]


def not_logged(index: EventIndex) -> list[NotLogged]:
    """Every span in which a trail was not logging KMS events, in time order."""
    snapshot = index.snapshot
    by_trail: dict[str, list] = {}
    for change in index.trail_changes:
        if change.row < snapshot.n and snapshot.alive[change.row]:
            by_trail.setdefault(change.trail, []).append(change)
    out = []
    for arn, changes in by_trail.items():
        replay = _SpanReplay(index)
        for change in sorted(changes, key=lambda c: c.time):
            replay.apply(change)
        for episode, end in replay.open_spans():
            state = episode.state if episode.state != STOPPED or end is not None else STOPPED
            out.append(NotLogged(trail_name(arn), episode.time, end, state, episode.who))
    return sorted(out, key=lambda span: span.start)


@dataclass(frozen=True)
class Timeline:
    start: int  # the first bucket's start (a round UTC boundary)
    step: int  # seconds a bucket
    ok: np.ndarray  # successful events per bucket
    errors: np.ndarray  # events with an error code per bucket
    gaps: list[NotLogged]  # the not-logged spans that overlap the timeline
    unlogged: np.ndarray  # per bucket: a trail was not logging KMS for some of it

    @property
    def buckets(self) -> int:
        return len(self.ok)

    @property
    def end(self) -> int:
        return self.start + self.step * self.buckets

    @property
    def total(self) -> np.ndarray:
        return self.ok + self.errors

    @property
    def peak(self) -> int:
        return int(self.total.max()) if self.buckets else 0

    def bucket_start(self, bucket: int) -> int:
        return self.start + bucket * self.step

    def describe(self, bucket: int) -> str:
        """``2026-11-20 02:10–02:15 · 212 events · 200 errors``, for the bucket under the cursor."""
        begin = self.bucket_start(bucket)
        last = begin + self.step - 1
        first_text, last_text = short(begin), short(last + 1)
        if self.step < 60:
            shown = f"{first_text}–{last_text[11:]}"
        elif self.step < 86400:
            shown = f"{first_text[:16]}–{last_text[11:16]}"
        else:
            shown = f"{first_text[:10]}–{short(last)[:10]}"
        ok, errors = int(self.ok[bucket]), int(self.errors[bucket])
        text = f"{shown} · {ok + errors:,} event{'s' if ok + errors != 1 else ''}"
        if errors:
            text += f" · {errors:,} error{'s' if errors != 1 else ''}"
        gaps = [g for g in self.gaps if g.start < begin + self.step and (g.end is None or g.end > begin)]
        if gaps:
            text += " · not logged: " + ", ".join(dict.fromkeys(f"{g.trail} ({g.state})" for g in gaps))
        return text


def build(
    index: EventIndex,
    rows: np.ndarray,
    buckets: int,
    since: int | None = None,
    until: int | None = None,
    gaps: list[NotLogged] | None = None,
) -> Timeline:
    """The timeline of the given event rows in at most ``buckets`` buckets, over their span
    (or over ``since``..``until`` when the filter sets them)."""
    n = index.snapshot.n
    times = index.columns["time"].data[:n][rows]
    errored = index.columns["errcode"].data[:n][rows] != 0
    timed = times != NO_TIME
    if not timed.all():
        times, errored = times[timed], errored[timed]
    if since is None or until is None:
        if len(times):
            low, high = int(times.min()), int(times.max())
        elif index.snapshot.newest != NO_TIME:
            low, high = index.snapshot.oldest, index.snapshot.newest
        else:
            low = high = 0
        since = low if since is None else since
        until = high if until is None else until
    until = max(until, since)
    step = bucket_size(until - since + 1, buckets)
    start = since - since % step
    count = max(1, (until - start) // step + 1)
    # one count over (bucket, error?) pairs: twice the buckets, no masks copied
    slots = (times - start) // step * 2 + errored
    if len(slots) and (slots.min() < 0 or slots.max() >= 2 * count):
        slots = slots[(slots >= 0) & (slots < 2 * count)]
    both = np.bincount(slots, minlength=2 * count).reshape(count, 2)
    ok, errors = both[:, 0], both[:, 1]
    end = start + count * step
    spans = [
        g for g in (not_logged(index) if gaps is None else gaps) if g.start < end and (g.end is None or g.end > start)
    ]
    unlogged = np.zeros(count, bool)
    for gap in spans:
        first = max(0, (gap.start - start) // step)
        last = count if gap.end is None else min(count, -(-(gap.end - start) // step))
        unlogged[first:last] = True
    return Timeline(start, step, ok, errors, spans, unlogged)
