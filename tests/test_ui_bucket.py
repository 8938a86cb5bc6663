"""The explorer reading a trail's bucket (moto's S3 behind the logging proxy): events as the
files arrive, the progress in files and bytes, and Escape or Ctrl+C keeping what arrived."""

from __future__ import annotations

import itertools

import pytest
from textual.widgets import Static

from kmstui.core import query
from kmstui.core.live.bucket import BucketOptions, BucketProgress
from kmstui.ui.app import KmsApp
from kmstui.ui.loadbar import LoadBar
from kmstui.ui.modals import LoadSummaryScreen
from kmstui.ui.panes import EventsPane

import records
from appkit import lines, settle, text_of
from orgtrail import BUCKET, NOW, SINCE, UNTIL, in_window, seed

pytestmark = pytest.mark.slow

SIZE = (120, 36)
HELD = 10  # objects read (the first in key order, as kmstui reads them) before the proxy keeps the rest waiting


def bucket_app(filter_text: str = "") -> KmsApp:
    options = BucketOptions([f"s3://{BUCKET}/"], since=SINCE, until=UNTIL, now=NOW, filter=query.parse(filter_text))
    return KmsApp(bucket=options, filter_text=filter_text)


def hold_all_but_the_first(s3, trail) -> None:
    s3.hold(sorted(key for key in trail.logs if in_window(key))[HELD:])


@pytest.fixture
def steady_rate(monkeypatch):
    """The figures that would move, fixed for the picture: the rate (the clock), and the bytes,
    which move with the event ids the records take from one counter for the whole test run (so
    with the tests that ran before): counted from 1 here."""
    monkeypatch.setattr(BucketProgress, "rate", property(lambda self: 48 << 10))
    monkeypatch.setattr(records, "_ids", itertools.count(1))


async def _held(pilot, settled_bytes: int | None = None) -> None:
    """The first HELD objects loaded and shown; the next one waiting at the proxy (and, for the
    picture, their bytes all counted: the files and the bytes are counted in two steps)."""
    screen = pilot.app.explorer
    await screen.wait_for(
        lambda: (
            screen.bucket_progress is not None
            and screen.bucket_progress.files_done == HELD
            and (settled_bytes is None or screen.bucket_progress.bytes_done == settled_bytes)
            and not screen.bucket_progress.listing
            and screen._shown
            and screen._applied == screen._request
            and screen.query_one(EventsPane).row_count == screen.index.snapshot.n
        )
    )
    await pilot.pause()


class TestBucketLoad:
    def test_progress_while_objects_arrive(self, s3, snap_compare, steady_rate):
        trail = seed(s3, faults=False)
        hold_all_but_the_first(s3, trail)
        first = sorted(key for key in trail.logs if in_window(key))[:HELD]
        settled = sum(len(trail.logs[key]) for key in first)

        async def held(pilot) -> None:
            await _held(pilot, settled)

        assert snap_compare(bucket_app(), terminal_size=SIZE, run_before=held)

    async def test_escape_stops_and_keeps_what_arrived(self, s3):
        trail = seed(s3, faults=False)
        hold_all_but_the_first(s3, trail)
        app = bucket_app()
        async with app.run_test(size=SIZE) as pilot:
            screen = app.explorer
            await _held(pilot)
            shown = screen.query_one(EventsPane).row_count
            assert shown > 0 and screen.load_running
            assert f"s3://{BUCKET}/ · {HELD}/" in lines(screen.query_one(LoadBar))[0]
            await pilot.press("escape")
            await pilot.pause()
            assert screen._cancel.is_set()  # stopped while the next object is held
            s3.release()
            await settle(pilot)
            assert not screen.load_running and screen.load_progress.cancelled
            assert screen.query_one(EventsPane).row_count == shown
            assert screen.bucket is not None and screen.bucket.progress.files_done == HELD
            assert len([k for k in trail.logs if in_window(k)]) > HELD

    async def test_ctrl_c_stops_and_keeps_what_arrived(self, s3):
        trail = seed(s3, faults=False)
        hold_all_but_the_first(s3, trail)
        app = bucket_app()
        async with app.run_test(size=SIZE) as pilot:
            screen = app.explorer
            await _held(pilot)
            await pilot.press("ctrl+c")
            await pilot.pause()
            assert screen._cancel.is_set()  # stopped while the next object is held
            s3.release()
            await settle(pilot)
            assert app.is_running and screen.load_progress.cancelled
            assert screen.bucket is not None and screen.bucket.progress.files_done == HELD

    async def test_faults_are_sentences_in_the_load_summary(self, s3):
        trail = seed(s3)
        app = bucket_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("l")
            assert isinstance(app.screen, LoadSummaryScreen)
            summary = text_of(app.screen.query_one(Static))
            for key in (trail.denied, trail.truncated, trail.deleted):
                assert f"Skipped s3://{BUCKET}/{key}: " in summary
            assert trail.denied_key in summary
