"""The explorer driven by keys, as a user would: assertions on what the panes draw."""

from __future__ import annotations

import json
import os
import threading

import pytest
from textual.widgets import Input, Static

from kmstui.ui.detail import DetailScreen
from kmstui.ui.modals import HelpScreen, LoadSummaryScreen
from kmstui.ui.panes import EventsPane, KeysPane, TrailsPane

from appkit import CORPUS, DATA, HOSTILE, explorer, lines, make_app, settle, text_of, type_text
from records import REPO, cloudtrail_file, kms, write

SIZE = (120, 36)


def write_records(path, count: int, start: int = 0) -> None:
    """A CloudTrail log file of ``count`` Decrypt events, a minute apart."""
    records = [kms("Decrypt", time=f"2024-05-01T12:{(start + i) % 60:02d}:00Z") for i in range(count)]
    write(path, cloudtrail_file(records))


@pytest.fixture
def corpus():
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not here")
    return CORPUS


def _event_lines(app) -> list[str]:
    return [line for line in lines(app.screen.query_one(EventsPane))[1:] if line.strip()]


class TestLoading:
    async def test_loads_and_counts(self, corpus):
        app = make_app(corpus)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            status = text_of(app.screen.query_one("#status", Static))
            assert status.strip().startswith("66 of 66 events")
            shown = _event_lines(app)
            assert shown[0].split()[:3] == ["2022-12-23", "19:26:54", "GenerateMac"]  # newest first
            assert "Decrypt" in shown[1] and "KMSInvalidStateException"[:10] in shown[1]

    async def test_a_large_load_runs_in_worker_processes_under_the_explorer(self, monkeypatch):
        """The demo loaded as a big trail is: by worker processes, started from inside the
        running app (where sys.stderr is Textual's capture, with no file descriptor)."""
        from kmstui.core import loader

        monkeypatch.setattr(loader, "PARALLEL_BYTES", 0)
        monkeypatch.setattr(loader, "TASK_BYTES", 64 << 10)
        loader.shutdown()
        app = make_app(REPO / "assets" / "demo")
        try:
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot)
                assert loader._pool is not None, "the load should have used worker processes"
                status = text_of(app.screen.query_one("#status", Static))
                assert status.strip().startswith("997 of 997 events")
        finally:
            loader.shutdown()

    @pytest.mark.parametrize("stop_key", ["escape", "ctrl+c"])
    async def test_first_events_show_while_loading_and_escape_keeps_them(self, tmp_path, monkeypatch, stop_key):
        """A source whose opening blocks (a slow disk: opening it waits for a gate the test
        opens) holds the load open: the first file's events are already on screen, Escape
        stops the load, and what arrived stays. (A FIFO did this once; kmstui now refuses to
        read one.)"""
        write_records(tmp_path / "a-first.json", count=3)
        blocking = tmp_path / "b-blocking.json"
        write_records(blocking, count=0)
        write_records(tmp_path / "c-never.json", count=5, start=30)
        gate = threading.Event()
        real_open = os.open

        def slow_open(path, flags, *args, **kwargs):
            if isinstance(path, str) and os.path.realpath(path) == os.path.realpath(blocking):
                gate.wait(60)
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", slow_open)
        app = make_app(tmp_path)
        try:
            async with app.run_test(size=SIZE) as pilot:
                screen = explorer(app)
                await screen.wait_for(lambda: screen.result is not None and len(screen.result.rows) == 3)
                await pilot.pause()  # let the screen draw it
                assert screen.load_running
                assert len(_event_lines(app)) == 3
                await pilot.press(stop_key)
                gate.set()  # the loader finishes the blocked file, then sees the cancel
                await settle(pilot)
                assert not screen.load_running
                assert screen.load_progress.cancelled
                assert len(screen.result.rows) == 3  # c-never.json was not loaded
        finally:
            gate.set()

    async def test_load_summary_names_skipped_files(self, tmp_path):
        write_records(tmp_path / "good.json", count=2)
        (tmp_path / "bad.json").write_text("{not json")
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert "1 skipped (l)" in text_of(app.screen.query_one("#status", Static))
            await pilot.press("l")
            assert isinstance(app.screen, LoadSummaryScreen)
            summary = text_of(app.screen.query_one(Static))
            assert "bad.json: not valid JSON" in summary
            await pilot.press("escape")
            assert not isinstance(app.screen, LoadSummaryScreen)


class TestFilter:
    async def test_filter_applies_as_you_type(self, corpus):
        app = make_app(corpus)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("slash")
            assert isinstance(app.focused, Input)
            await type_text(pilot, "event:ScheduleKeyDeletion")
            await settle(pilot)
            shown = _event_lines(app)
            assert len(shown) == 3 and all("ScheduleKeyDeletion" in line for line in shown)
            await pilot.press("enter")
            assert isinstance(app.focused, EventsPane)

    async def test_bad_filter_says_where_and_keeps_the_result(self, corpus):
        app = make_app(corpus)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("slash")
            await type_text(pilot, "error:*")
            await settle(pilot)
            before = _event_lines(app)
            assert len(before) == 3
            await type_text(pilot, ' "unclosed')  # invalid from its first keystroke on
            await pilot.pause()
            error = app.screen.query_one("#filter-error", Static)
            assert error.display and "column 9: a double quote is not closed" in text_of(error)
            assert _event_lines(app) == before
            assert "filter not applied" in text_of(app.screen.query_one("#status", Static))

    async def test_unknown_field_suggests_the_right_one(self, corpus):
        app = make_app(corpus)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("slash")
            await type_text(pilot, "principle:alice")
            await pilot.pause()
            error = app.screen.query_one("#filter-error", Static)
            assert "column 1: unknown field 'principle' (did you mean principal?)" in text_of(error)
            await pilot.press("backspace", *["backspace"] * len("principle:alice"))
            await type_text(pilot, "principal:alice")
            await settle(pilot)
            assert not error.display
            assert len(_event_lines(app)) > 3


class TestSelection:
    async def test_key_narrows_events_and_escape_clears(self, corpus):
        app = make_app(corpus)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = explorer(app)
            await pilot.press("2", "down", "enter")  # the second key
            await settle(pilot)
            keys = app.screen.query_one(KeysPane)
            chosen = keys.keys[1]
            assert keys.selected == chosen.code
            assert len(screen.result.rows) == chosen.events
            assert "key " + chosen.display in text_of(app.screen.query_one("#status", Static))
            await pilot.press("escape")
            await settle(pilot)
            assert keys.selected is None
            assert len(screen.result.rows) == 66

    async def test_trail_narrows_keys_and_events(self, corpus):
        app = make_app(corpus)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("1")
            trails = app.screen.query_one(TrailsPane)
            target = next(i for i, t in enumerate(trails.trails) if t.label == "cloudtrail-user-guide-examples.json")
            for _ in range(target):
                await pilot.press("down")
            await pilot.press("enter")
            await settle(pilot)
            assert [k.key_id for k in app.screen.query_one(KeysPane).keys] == ["7944f0ec-EXAMPLE"]
            assert len(_event_lines(app)) == 2


class TestDetail:
    async def test_open_step_and_back_to_the_same_place(self, corpus):
        app = make_app(corpus)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("down", "enter")
            assert isinstance(app.screen, DetailScreen)
            summary = text_of(app.screen.query_one("#detail-summary", Static))
            assert "Decrypt" in summary and "user/Alice" in summary and "KMSInvalidStateException" in summary
            assert "29 days before the newest event" in summary  # a month back: days, not 29d 18h 59m
            context = text_of(app.screen.query_one("#detail-context", Static))
            assert "Department" in context and "Engineering" in context
            record = text_of(app.screen.query_one("#detail-record", Static))
            assert '"encryptionContext": {' in record
            await pilot.press("n", "n")
            assert "CreateKey" in text_of(app.screen.query_one("#detail-summary", Static))
            await pilot.press("p")
            assert "DescribeKey" in text_of(app.screen.query_one("#detail-summary", Static))
            await pilot.press("escape")
            events = app.screen.query_one(EventsPane)
            assert events.cursor == 2 and app.focused is events

    async def test_copy_puts_the_record_on_the_clipboard(self, corpus):
        app = make_app(corpus)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("down", "enter", "c")
            record = json.loads(app.clipboard)
            assert record["eventName"] == "Decrypt" and record["errorCode"] == "KMSInvalidStateException"

    @pytest.mark.parametrize(
        "key, expected",
        [("u", "principal:user/Alice"), ("i", 'ip:"AWS Internal"'), ("k", "key:0987dcba-09fe-87dc-65ba-ab0987654321")],
    )
    async def test_pivots_filter_the_events(self, corpus, key, expected):
        app = make_app(corpus)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("down", "enter", key)
            await settle(pilot)
            assert app.screen is explorer(app)
            assert app.screen.query_one("#filter", Input).value == expected
            assert explorer(app).filter_text == expected

    async def test_context_pivot_offers_each_pair(self, corpus):
        app = make_app(corpus)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("down", "enter", "x")  # Department and Purpose: a choice
            await pilot.press("down", "enter")
            await settle(pilot)
            assert explorer(app).filter_text == "ctx:Purpose=Test"
            shown = _event_lines(app)
            assert shown and all("Decrypt" in line or "GenerateDataKey" in line for line in shown)


class TestKeyboard:
    async def test_tab_and_numbers_move_between_panes(self, corpus):
        app = make_app(corpus)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert isinstance(app.focused, EventsPane)
            await pilot.press("1")
            assert isinstance(app.focused, TrailsPane)
            await pilot.press("tab")
            assert isinstance(app.focused, KeysPane)
            await pilot.press("tab")
            assert isinstance(app.focused, EventsPane)
            await pilot.press("G")
            assert app.focused.cursor == 65
            await pilot.press("g")
            assert app.focused.cursor == 0

    @pytest.mark.parametrize("key", ["question_mark", "f1"])
    async def test_help(self, corpus, key):
        app = make_app(corpus)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press(key)
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)

    @pytest.mark.parametrize("key", ["ctrl+c", "q"])
    async def test_quits_when_not_loading(self, corpus, key):
        app = make_app(corpus)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press(key)
        assert app.return_code == 0


class TestHostileText:
    async def test_markup_and_escapes_are_shown_as_text(self):
        app = make_app(HOSTILE)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            shown = _event_lines(app)
            assert "[bold]Evil[/bol" in shown[0]
            assert "user/[red]mallory" in shown[0]
            assert "\x1b" not in "".join(shown)
            await pilot.press("down", "enter")
            summary = text_of(app.screen.query_one("#detail-summary", Static))
            assert "␛[31mRED␛[0m [bold red]not markup[/] [/]" in summary
            assert "[link=https://example.invalid]click[/link]␍␊forged line" in summary
            record = text_of(app.screen.query_one("#detail-record", Static))
            assert "\\u001b[31mRED" in record  # JSON-escaped, literally
            assert "(96,000 more characters)" in record
            context = text_of(app.screen.query_one("#detail-context", Static))
            assert "[b]tenant[/b]" in context and "␛[2J[/]acme" in context
            await pilot.press("n")  # still alive, stepping over hostile records
            assert isinstance(app.screen, DetailScreen)


def test_data_dir_exists():
    assert DATA.is_dir()
