"""Typed messages from the explorer's workers to its screen."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from textual.message import Message

from ..core.group import Grouping
from ..core.loader import Progress
from ..core.summary import KeySummary
from ..core.timeline import Timeline
from ..core.trails import TrailSummary

if TYPE_CHECKING:  # the live sources import boto3 (a third of a second): only when one is used
    from ..core.live.athena import AthenaProgress
    from ..core.live.bucket import BucketProgress


class LoadProgressed(Message):
    """Files, records and rate so far; ``finished`` on the last one."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress


class LoadFinished(Message):
    """Loading ended (completed or cancelled); the index holds everything that arrived."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress


class LiveProgressed(Message):
    """LookupEvents pages arriving: events, pages, rate, how far back."""

    def __init__(self, progress) -> None:
        super().__init__()
        self.progress = progress


@dataclass
class BucketProgressed(Message):
    """A trail's bucket being read: day folders listed, files and bytes read, events."""

    progress: BucketProgress


@dataclass
class AthenaProgressed(Message):
    """The Athena query's state, data scanned and cost, then the result rows as they load."""

    progress: AthenaProgress


class LiveProblems(Message):
    """What went wrong talking to AWS, one sentence each (the rest of the load goes on)."""

    def __init__(self, sentences: list[str]) -> None:
        super().__init__()
        self.sentences = sentences


class IndexChanged(Message):
    """The index was refreshed: more events, new derived state."""

    def __init__(self, generation: int) -> None:
        super().__init__()
        self.generation = generation


@dataclass
class QueryResult:
    request: int  # the request it answers; older ones are dropped
    rows: np.ndarray  # event rows, newest first
    keys: list[KeySummary]
    trails: list[TrailSummary] | None  # None when unchanged
    total: int  # events in the index
    seconds: float
    generation: int  # the index refresh it was computed on
    cpu: float = 0.0  # the filtering thread's CPU seconds for it (what it took from the load)


class EventsReady(Message):
    """The matching events, sent ahead of the key and trail summaries: the events pane
    shows them at once, the summaries follow."""

    def __init__(self, request: int, rows: np.ndarray, total: int, drawn: threading.Event | None = None) -> None:
        super().__init__()
        self.request = request
        self.rows = rows
        self.total = total
        self.drawn = drawn  # set once they are on screen (or dropped): the summaries wait for it


class QueryDone(Message):
    def __init__(self, result: QueryResult) -> None:
        super().__init__()
        self.result = result


class QueryFailed(Message):
    def __init__(self, request: int, message: str) -> None:
        super().__init__()
        self.request = request
        self.message = message


@dataclass
class TimelineReady(Message):
    """The timeline of the events in view."""

    request: int
    timeline: Timeline


@dataclass
class NoveltyReady(Message):
    """Which events are new in the filter's window (the events list's ✦ marker)."""

    request: int
    novel: np.ndarray  # bool per index row; empty when the filter has no window


@dataclass
class GroupsReady(Message):
    """The events in view grouped by the fields asked for."""

    request: int
    grouping: Grouping
