"""The live side: events from LookupEvents, and the account's trails and keys beside them.

:class:`LiveLoader` is what the explorer and the headless commands use: ``prepare`` checks
the credentials and regions and returns the cached events to show at once; ``fetch``
loads the inventory and the newer events page by page, regions side by side, into the
same index as local files; ``poll`` fetches what arrived since, for following live.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..decode import decode_records
from ..index import EventIndex
from ..query import Filter
from ..sources import SourceFile
from .cache import Cache
from .errors import LiveError, check_regions, client, default_regions, enabled_regions, sentence, session
from .inventory import LiveKey, LiveTrail, fetch_keys, fetch_trails
from .lookup import (
    CLOUDTRAIL_SOURCE,
    KMS_SOURCE,
    SLACK,
    Plan,
    clear_cache,
    event_time,
    open_cache,
    pace_for,
    pages,
    plan,
    records_of,
    run_cache,
    screen,
    window,
)

__all__ = ["LiveError", "LiveKey", "LiveLoader", "LiveOptions", "LiveProgress", "LiveTrail", "clear_cache"]


@dataclass
class LiveOptions:
    profile: str | None = None
    regions: list[str] = field(default_factory=list)  # empty: the session's region
    since: str | None = None  # a span back from now (1d) or a time; default one day
    until: str | None = None
    cache: bool = True
    filter: Filter = field(default_factory=Filter)
    now: datetime | None = None  # the present moment (the clock, unless a reproducible run fixes it)
    read_timeout: float | None = None  # seconds to wait for an answer (None: the default, 30)
    rate: float | None = None  # LookupEvents requests a second (None: KMSTUI_LOOKUP_RATE, else AWS's quota, 2)


@dataclass
class LiveProgress:
    pages: int = 0
    events: int = 0
    started: float = field(default_factory=time.monotonic)
    regions: int = 0
    regions_done: int = 0
    start: datetime | None = None  # the window asked for
    end: datetime | None = None
    reached: dict[str, datetime] = field(default_factory=dict)  # region -> how far back its KMS pages are
    plans: dict[str, str] = field(default_factory=dict)  # region -> lookup attribute
    note: str = ""  # e.g. waiting out throttling
    finished: bool = False
    cancelled: bool = False

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.events / elapsed if elapsed > 0 else 0.0

    @property
    def oldest(self) -> datetime | None:
        """How far back every region has been read (the least advanced region's pages)."""
        if not self.reached or len(self.reached) < self.regions:
            return None
        return max(self.reached.values())

    @property
    def fraction(self) -> float:
        """How much of the window the newest-first pages have covered, on average over the regions."""
        if self.finished:
            return 1.0
        if not (self.start and self.end and self.regions):
            return 0.0
        total = (self.end - self.start).total_seconds()
        if total <= 0:
            return 1.0
        covered = sum(min(1.0, max(0.0, (self.end - t).total_seconds() / total)) for t in self.reached.values())
        return covered / self.regions

    @property
    def describe(self) -> str:
        plans = sorted(set(self.plans.values()))
        return ", ".join(plans) if plans else ""


class LiveLoader:
    """LookupEvents and the inventory, into an index. Thread-safe where the explorer needs it."""

    def __init__(self, index: EventIndex, options: LiveOptions):
        self.index = index
        self.options = options
        self.session = None
        self.account: str | None = None
        self.regions: list[str] = []
        self.start: datetime | None = None
        self.end: datetime | None = None
        self.problems: list[str] = []  # what failed without stopping the rest, one sentence each
        self.progress = LiveProgress()
        self._caches: dict[tuple[str, str], Cache] = {}
        self._lock = threading.Lock()
        self._last_refresh = 0.0
        self.inventory_done = False
        self._enabled: list[str] | None = None  # the account's regions, once asked
        self._dropped: dict[tuple[str, str], int] = {}  # (region, why) -> events dropped from pages

    # ------------------------------------------------------------------ before anything

    def prepare(self) -> list[SourceFile]:
        """Check credentials, regions and time range (LiveError when they will not do), and
        return the cached events' files, to be shown at once."""
        self.session = session(self.options.profile)
        asked = list(dict.fromkeys(self.options.regions))
        if "all" in asked:  # AWS's own list of the account's regions: nothing to check
            self.regions = self._enabled = enabled_regions(self.session)
        else:
            self.regions = check_regions(self.session, asked or default_regions(self.session))
        self.start, self.end = window(self.options.since, self.options.until, self.options.now)
        try:
            sts = client(self.session, "sts", self.regions[0])
            self.account = sts.get_caller_identity()["Account"]
        except Exception as error:
            raise LiveError(sentence(error, self.regions[0], "GetCallerIdentity")) from None
        self.progress = LiveProgress(regions=len(self.regions), start=self.start, end=self.end)
        files = []
        for region in self.regions:
            chosen = plan(self.options.filter, self.account, region)
            self.progress.plans[region] = chosen.describe
            for source, attribute in self._passes(chosen):
                cache = self._cache(region, source, attribute)
                self._problems_of(cache)
                if cache.lines:
                    files.append(SourceFile(str(cache.path), self._label(region, source), growing=True))
        return files

    def _problems_of(self, cache: Cache) -> None:
        with self._lock:
            self.problems.extend(cache.problems)
            cache.problems.clear()

    def _passes(self, chosen: Plan) -> list[tuple[str, Plan]]:
        """A region's passes: KMS events (by the plan), then trail configuration events."""
        return [(KMS_SOURCE, chosen), (CLOUDTRAIL_SOURCE, Plan("EventSource", CLOUDTRAIL_SOURCE))]

    def _persistent(self, attribute: Plan) -> bool:
        """Only a whole pass is kept between runs: a pushed-down subset (one key's events)
        in the region's cache would make it claim a window it does not hold."""
        return self.options.cache and attribute.cacheable

    def _label(self, region: str, source: str) -> str:
        kind = "trail configuration" if source == CLOUDTRAIL_SOURCE else "KMS"
        return f"LookupEvents {region} ({kind})" if source == CLOUDTRAIL_SOURCE else f"LookupEvents {region}"

    def _cache(self, region: str, source: str, attribute: Plan) -> Cache:
        key = (region, source)
        cache = self._caches.get(key)
        if cache is None:
            account = self.account or "unknown"
            if self._persistent(attribute):
                cache = open_cache(account, region, source)
            else:  # this run only: a private file (for reading records again) that still knows what it holds
                cache = run_cache(account, region, source)
            self._caches[key] = cache
        return cache

    # ------------------------------------------------------------------ fetching

    def fetch_inventory(self, cancelled: Callable[[], bool] = lambda: False) -> None:
        """The account's trails and keys, for the trails and keys panes."""
        problems: list[str] = []
        trails = fetch_trails(self.session, self._trail_regions(), problems, cancelled, asked=self.regions)
        keys = fetch_keys(self.session, self.regions, problems, cancelled)
        self.problems.extend(problems)
        for trail in trails:
            self.problems.extend(trail.problems)
        assert self.end is not None, "prepare() first"
        self.index.set_live(trails, keys, listed_at=int(self.end.timestamp()))
        self.inventory_done = True

    def _trail_regions(self) -> list[str]:
        """Trails are looked for in every enabled region (a single-region trail elsewhere that
        leaves KMS out is still worth a warning), or in the regions asked for when the
        account's region list cannot be had (no ec2:DescribeRegions: nothing to say about it)."""
        if self._enabled is None:
            try:
                self._enabled = enabled_regions(self.session)
            except LiveError:
                self._enabled = []
        return list(dict.fromkeys(self.regions + self._enabled))

    def fetch(
        self,
        on_progress: Callable[[LiveProgress], None] = lambda p: None,
        cancelled: Callable[[], bool] = lambda: False,
        inventory: bool = True,
    ) -> LiveProgress:
        """Fetch the window's events in every region, side by side, and the inventory."""
        threads = [
            threading.Thread(target=self._region, args=(region, on_progress, cancelled), daemon=True)
            for region in self.regions
        ]
        for thread in threads:
            thread.start()
        if inventory:
            try:
                self.fetch_inventory(cancelled)
            except Exception as error:  # the inventory is extra: events still come
                self.problems.append(sentence(error))
            on_progress(self.progress)  # the trails and keys panes can show it now
        for thread in threads:
            while thread.is_alive() and not cancelled():
                thread.join(0.1)
        # Stopped: a region still waiting for an answer finishes on its own (its thread is a
        # daemon, and it adds nothing once it sees the cancel), so quitting never waits on AWS.
        self.index.refresh()
        self.progress.finished = True
        self.progress.cancelled = cancelled()
        on_progress(self.progress)
        return self.progress

    def poll(
        self,
        on_progress: Callable[[LiveProgress], None] = lambda p: None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> int:
        """Fetch what arrived since the last fetch (following live); the number of new events."""
        before = self.progress.events
        self.end = self.options.now or datetime.now(UTC)
        self.progress.finished = False
        self.fetch(on_progress, cancelled, inventory=False)
        return self.progress.events - before

    def _region(self, region: str, on_progress: Callable[[LiveProgress], None], cancelled: Callable[[], bool]) -> None:
        assert self.start is not None and self.end is not None
        try:
            api = client(self.session, "cloudtrail", region, self.options.read_timeout)
            pace = pace_for(self.account or "unknown", region, self.options.rate)
            chosen = plan(self.options.filter, self.account, region)
            for source, attribute in self._passes(chosen):
                cache = self._cache(region, source, attribute)
                for start, end in cache.missing(self.start, self.end):  # what this run (or a cache) lacks
                    oldest: datetime | None = None  # the oldest event paged through, newest first
                    for events, more in pages(
                        api, attribute.attribute, start, end, pace, cancelled, self._note, region=region
                    ):
                        if cancelled():  # an answer that comes after the stop: not taken
                            return
                        kept, outside, broken = screen(events, start, end)
                        times = [t for t in map(event_time, events) if t is not None and start - SLACK <= t]
                        if times:
                            oldest = min([*times, oldest] if oldest else times)
                        # Held without a break from the end of the range down to the oldest event
                        # paged (that second excepted: more events of it may be on the next page).
                        claim = (start, end) if not more else (oldest + SLACK, end) if oldest else None
                        self._count(region, "outside", outside)
                        self._count(region, "broken", broken)
                        self._take(region, source, cache, kept, claim, on_progress)
                    if cancelled():
                        return
                if source == KMS_SOURCE:
                    with self._lock:  # the whole window is in hand (fetched now, or cached before)
                        self.progress.reached[region] = self.start
        except Exception as error:
            with self._lock:
                self.problems.append(sentence(error, region, "LookupEvents"))
        finally:
            self._say_dropped(region)
            with self._lock:
                self.progress.regions_done += 1

    def _count(self, region: str, why: str, count: int) -> None:
        if count:
            with self._lock:
                self._dropped[(region, why)] = self._dropped.get((region, why), 0) + count

    def _say_dropped(self, region: str) -> None:
        with self._lock:
            outside = self._dropped.pop((region, "outside"), 0)
            broken = self._dropped.pop((region, "broken"), 0)
            if outside:
                self.problems.append(
                    f"LookupEvents in {region} sent {_events(outside)} outside the time range asked for: dropped."
                )
            if broken:
                self.problems.append(
                    f"LookupEvents in {region} sent {_events(broken)} whose CloudTrailEvent is not a JSON object: "
                    "dropped."
                )

    def _note(self, text: str) -> None:
        self.progress.note = text

    def _take(
        self,
        region: str,
        source: str,
        cache: Cache,
        events: list[dict],
        claim: tuple[datetime, datetime] | None,
        on_progress: Callable[[LiveProgress], None],
    ) -> None:
        first, fresh = cache.take(events, claim, f"LookupEvents events of {region}")  # one thread per cache
        self._problems_of(cache)
        with self._lock:
            self.progress.pages += 1
            self.progress.note = ""
            if source == KMS_SOURCE:  # the trail configuration pass is small: it does not count
                times = [t for t in map(event_time, events) if t is not None]
                if times:
                    oldest = min(times)
                    reached = self.progress.reached.get(region)
                    self.progress.reached[region] = oldest if reached is None else min(reached, oldest)
        if fresh:
            batch = decode_records(
                records_of(fresh),
                self._label(region, source),
                str(cache.path),
                first_ordinal=first,
                appendable=True,
                format="lookup-events",
            )
            self.index.add(batch)
            with self._lock:
                self.progress.events += batch.n
        now = time.monotonic()
        with self._lock:
            refresh = now - self._last_refresh > 0.3
            if refresh:
                self._last_refresh = now
        if refresh:
            self.index.refresh()
        on_progress(self.progress)


def _events(count: int) -> str:
    return f"{count:,} event" + ("" if count == 1 else "s")
