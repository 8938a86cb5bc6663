"""The explorer driven by keys, as a user would: assertions on what the panes draw."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from kmstui.core.timeutil import short
from kmstui.ui.detail import DetailScreen
from kmstui.ui.modals import HelpScreen, LoadSummaryScreen
from kmstui.ui.panes import EventsPane, KeysPane, TrailsPane
from kmstui.ui.timeline import TimelineStrip

from appkit import (
    DATA,
    DEMO,
    HOSTILE,
    darker_than_its_background,
    explorer,
    lines,
    make_app,
    settle,
    text_of,
    type_text,
)
from records import (
    KEY1,
    KEY2,
    OTHER_ACCOUNT,
    REPO,
    assumed_role,
    cloudtrail_file,
    events,
    iam_user,
    json_lines,
    jsonl,
    key_arn,
    kms,
    load,
    other_service,
    real_like,
    rows,
    run_cli,
    write,
)

SIZE = (120, 36)


def write_records(path, count: int, start: int = 0) -> None:
    """A CloudTrail log file of ``count`` Decrypt events, a minute apart."""
    records = [kms("Decrypt", time=f"2024-05-01T12:{(start + i) % 60:02d}:00Z") for i in range(count)]
    write(path, cloudtrail_file(records))


@pytest.fixture(scope="module")
def demo():
    """The demo as the core loads it, on its own: what the explorer should show of it."""
    return load(DEMO)


# The newest event, and a failed Decrypt 29 days 18h 59m 54s before it.
NEWEST = "2024-05-30T19:26:54Z"
MONTH_BACK = "2024-05-01T00:27:00Z"


SHARED_ID = "8c2a5d10-0000-4000-8000-00000000c0de"


def incident(folder: Path) -> Path:
    """Seven events, newest first, shaped for the detail view: the second is a Decrypt by
    user/Alice that failed a month before the newest event, from "AWS Internal", with an
    encryption context of two pairs, and the third a successful one under the same event id;
    DescribeKey and CreateKey follow. Of the older two, one shares only the context's
    Purpose pair and one only its Department pair."""
    records = [
        kms("GenerateMac", key=key_arn(KEY1), time=NEWEST, identity=assumed_role("Admin")),
        kms(  # a successful call under the same id: not a copy, so both are kept (and said so)
            "Decrypt",
            key=key_arn(KEY2),
            time=MONTH_BACK,
            identity=iam_user("Alice"),
            ip="AWS Internal",
            event_id=SHARED_ID,
        ),
        kms(
            "Decrypt",
            key=key_arn(KEY2),
            time=MONTH_BACK,
            identity=iam_user("Alice"),
            ip="AWS Internal",
            request={"encryptionContext": {"Department": "Engineering", "Purpose": "Test"}},
            error="KMSInvalidStateException",
            message=f"{key_arn(KEY2)} is pending deletion.",
            event_id=SHARED_ID,
        ),
        kms("DescribeKey", key=key_arn(KEY1), time="2024-04-30T10:00:00Z", identity=assumed_role("Admin")),
        kms(
            "CreateKey",
            time="2024-04-30T09:00:00Z",
            identity=assumed_role("Admin"),
            response={"keyMetadata": {"keyId": KEY1, "arn": key_arn(KEY1)}},
        ),
        kms(
            "GenerateDataKey",
            key=key_arn(KEY2),
            time="2024-04-29T08:00:00Z",
            request={"encryptionContext": {"Purpose": "Test"}},
        ),
        kms(
            "Encrypt",
            key=key_arn(KEY2),
            time="2024-04-28T08:00:00Z",
            request={"encryptionContext": {"Department": "Engineering"}},
        ),
    ]
    write(folder / "incident.json", cloudtrail_file(records))
    return folder


def _event_lines(app) -> list[str]:
    return [line for line in lines(app.screen.query_one(EventsPane))[1:] if line.strip()]


def _shown_as(event) -> list[str]:
    """The first words of an event's line: its time, without the year (the demo's events are
    all in one year), and its name."""
    return [*short(event.time)[5:].split(), event.name]


class TestLoading:
    async def test_loads_and_counts(self, demo):
        total = len(rows(demo))
        expected = events(demo)  # newest first
        app = make_app(DEMO)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            status = text_of(app.screen.query_one("#status", Static))
            assert status.strip().startswith(f"{total:,} of {total:,} events")
            shown = _event_lines(app)
            assert len(shown) > 10 and any(e.error_code for e in expected[: len(shown)])
            for line, event in zip(shown, expected, strict=False):
                assert line.split()[:3] == _shown_as(event)
                assert (event.error_code or "").removesuffix("Exception")[:8] in line  # the ERROR column

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
                assert status.strip().startswith("1,369 of 1,369 events")
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
    async def test_filter_applies_as_you_type(self, demo, demo_index):
        expected = len(rows(demo, "event:GetKeyRotationStatus"))
        assert 1 < expected < 10  # a few events, all on screen
        app = make_app(index=demo_index)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("slash")
            assert isinstance(app.focused, Input)
            await type_text(pilot, "event:GetKeyRotationStatus")
            await settle(pilot)
            shown = _event_lines(app)
            assert len(shown) == expected and all("GetKeyRotationStatus" in line for line in shown)
            await pilot.press("enter")
            assert isinstance(app.focused, EventsPane)

    async def test_bad_filter_says_where_and_keeps_the_result(self, demo, demo_index):
        failed = events(demo, "error:*")
        assert 0 < len(failed) < len(rows(demo))
        app = make_app(index=demo_index)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("slash")
            await type_text(pilot, "error:*")
            await settle(pilot)
            assert len(explorer(app).result.rows) == len(failed)
            before = _event_lines(app)
            assert before and [line.split()[:3] for line in before] == [_shown_as(e) for e in failed[: len(before)]]
            await type_text(pilot, ' "unclosed')  # invalid from its first keystroke on
            await pilot.pause()
            error = app.screen.query_one("#filter-error", Static)
            assert error.display and "column 9: a double quote is not closed" in text_of(error)
            after = _event_lines(app)  # the error line below the filter may take a row from the pane
            assert after and after == before[: len(after)]
            assert len(explorer(app).result.rows) == len(failed)
            assert "filter not applied" in text_of(app.screen.query_one("#status", Static))

    async def test_unknown_field_suggests_the_right_one(self, demo, demo_index):
        expected = len(rows(demo, "principal:invoice-renderer"))
        assert 3 < expected < len(rows(demo))
        app = make_app(index=demo_index)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("slash")
            await type_text(pilot, "principle:invoice-renderer")
            await pilot.pause()
            error = app.screen.query_one("#filter-error", Static)
            assert "column 1: unknown field 'principle' (did you mean principal?)" in text_of(error)
            await pilot.press(*["backspace"] * len("principle:invoice-renderer"))
            await type_text(pilot, "principal:invoice-renderer")
            await settle(pilot)
            assert not error.display
            assert len(explorer(app).result.rows) == expected
            shown = _event_lines(app)
            assert len(shown) > 3 and all("role/invoice-render" in line for line in shown)


class TestSelection:
    async def test_key_narrows_events_and_escape_clears(self, demo, demo_index):
        app = make_app(index=demo_index)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = explorer(app)
            await pilot.press("2", "down", "enter")  # the second key
            await settle(pilot)
            keys = app.screen.query_one(KeysPane)
            chosen = keys.keys[1]
            assert keys.selected == chosen.code
            assert 0 < chosen.events < len(rows(demo))
            assert len(screen.result.rows) == chosen.events == len(rows(demo, f"key:{chosen.arn}"))
            assert "key " + chosen.display in text_of(app.screen.query_one("#status", Static))
            await pilot.press("escape")
            await settle(pilot)
            assert keys.selected is None
            assert len(screen.result.rows) == len(rows(demo))

    async def test_trail_narrows_keys_and_events(self, demo, demo_index):
        """The demo's second trail (another account's, in another region): its keys and events
        are what the headless commands give for it."""
        listed = run_cli("keys", "--demo", "--quiet", "--filter", "trail:analytics-trail", "--format", "jsonl")
        expected_keys = [k["key"] for k in json_lines(listed.stdout)]
        expected_events = len(rows(demo, "trail:analytics-trail"))
        assert expected_keys and 0 < expected_events < len(rows(demo))
        app = make_app(index=demo_index)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("1")
            trails = app.screen.query_one(TrailsPane)
            target = next(i for i, t in enumerate(trails.trails) if t.name == "analytics-trail")
            for _ in range(target):
                await pilot.press("down")
            await pilot.press("enter")
            await settle(pilot)
            assert trails.selected is trails.trails[target]
            assert [k.arn for k in app.screen.query_one(KeysPane).keys] == expected_keys
            assert len(explorer(app).result.rows) == expected_events == trails.selected.events

    async def test_a_folder_row_narrows_keys_and_events_and_lists_its_files(self, tmp_path):
        """Files of records are one row per folder (a file alone keeps its name); files with no
        KMS or trail event are counted under their folder, not listed."""
        write(tmp_path / "tests" / "one.json", cloudtrail_file([kms("Decrypt", key_arn(KEY1))]))
        write(tmp_path / "tests" / "two.jsonl", jsonl([kms("Encrypt", key_arn(KEY1)), kms("Decrypt", key_arn(KEY1))]))
        write(tmp_path / "tests" / "s3-only.json", cloudtrail_file([other_service()]))
        write(tmp_path / "samples" / "three.json", cloudtrail_file([kms("Decrypt", key_arn(KEY2))]))
        write(tmp_path / "samples" / "ec2-only.json", cloudtrail_file([other_service(source="ec2.amazonaws.com")]))
        write(tmp_path / "nothing" / "iam-only.json", cloudtrail_file([other_service(source="iam.amazonaws.com")]))
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("1")
            trails = app.screen.query_one(TrailsPane)
            assert [(t.label, t.files, t.empty_files) for t in trails.trails] == [
                ("tests/", 2, 1),
                ("three.json", 1, 1),
            ]
            await pilot.press("right")
            shown = lines(trails)
            assert any("▾" in line and "tests/" in line for line in shown)
            assert any("one.json (1)" in line for line in shown) and any("two.jsonl (2)" in line for line in shown)
            assert any("+ 1 file with no KMS or trail events" in line for line in shown)
            assert not any("s3-only" in line or "iam-only" in line for line in shown)
            await pilot.press("enter")
            await settle(pilot)
            assert [k.key_id for k in app.screen.query_one(KeysPane).keys] == [KEY1]
            assert len(_event_lines(app)) == 3
            await pilot.press("left")
            assert not any("one.json" in line for line in lines(trails))


class TestDetail:
    async def test_open_step_and_back_to_the_same_place(self, tmp_path):
        app = make_app(incident(tmp_path))
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
            await pilot.press("n")  # the successful Decrypt under the same id: kept, and said so
            assert "differs: both are kept" in text_of(app.screen.query_one("#detail-summary", Static))
            await pilot.press("n", "n")
            assert "CreateKey" in text_of(app.screen.query_one("#detail-summary", Static))
            await pilot.press("p")
            assert "DescribeKey" in text_of(app.screen.query_one("#detail-summary", Static))
            await pilot.press("escape")
            events = app.screen.query_one(EventsPane)
            assert events.cursor == 3 and app.focused is events

    async def test_copy_puts_the_record_on_the_clipboard(self, tmp_path):
        app = make_app(incident(tmp_path))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("down", "enter", "c")
            record = json.loads(app.clipboard)
            assert record["eventName"] == "Decrypt" and record["errorCode"] == "KMSInvalidStateException"

    @pytest.mark.parametrize(
        "key, expected",
        [("u", "principal:user/Alice"), ("i", 'ip:"AWS Internal"'), ("k", f"key:{KEY2}")],
    )
    async def test_pivots_filter_the_events(self, tmp_path, key, expected):
        app = make_app(incident(tmp_path))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("down", "enter", key)
            await settle(pilot)
            assert app.screen is explorer(app)
            assert app.screen.query_one("#filter", Input).value == expected
            assert explorer(app).filter_text == expected

    async def test_context_pivot_offers_each_pair(self, tmp_path):
        app = make_app(incident(tmp_path))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("down", "enter", "x")  # Department and Purpose: a choice
            await pilot.press("down", "enter")
            await settle(pilot)
            assert explorer(app).filter_text == "ctx:Purpose=Test"
            shown = _event_lines(app)
            assert [line.split()[2] for line in shown] == ["Decrypt", "GenerateDataKey"]


class TestKeyboard:
    async def test_tab_and_numbers_move_between_panes(self, demo, demo_index):
        app = make_app(index=demo_index)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert isinstance(app.focused, EventsPane)
            await pilot.press("1")
            assert isinstance(app.focused, TrailsPane)
            await pilot.press("tab")
            assert isinstance(app.focused, KeysPane)
            await pilot.press("tab")
            assert isinstance(app.focused, TimelineStrip)  # the timeline sits over the events
            await pilot.press("tab")
            assert isinstance(app.focused, EventsPane)
            await pilot.press("G")
            assert app.focused.cursor == len(rows(demo)) - 1
            await pilot.press("g")
            assert app.focused.cursor == 0

    @pytest.mark.parametrize("key", ["question_mark", "f1"])
    async def test_help(self, tmp_path, key):
        app = make_app(incident(tmp_path))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press(key)
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)

    @pytest.mark.parametrize("key", ["ctrl+c", "q"])
    async def test_quits_when_not_loading(self, tmp_path, key):
        app = make_app(incident(tmp_path))
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


class TestRealLikeFolder:
    """A folder like the public real-data corpus (tests/records.py: real_like)."""

    @pytest.mark.parametrize("size", [(80, 24), (120, 36)])
    async def test_keys_pane_keeps_state_and_events_and_tells_keys_apart(self, tmp_path, size):
        app = make_app(real_like(tmp_path))
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            keys = app.screen.query_one(KeysPane)
            header = lines(keys)[0]
            assert "STATE" in header and "EVENTS" in header
            width = keys.scrollable_content_region.width
            rows = [keys._row_strip(row, width, False).text for row in range(len(keys.keys))]  # as scrolled to
            assert len(rows) == 8
            assert sum("PENDING DELETION" in row for row in rows) == 2
            assert sum("DELETED" in row for row in rows) == 1
            labels = [row[: header.index("STATE")].strip() for row in rows]
            assert len(set(labels)) == len(labels), labels
            assert any("ap-northe" in label for label in labels)
            assert any(OTHER_ACCOUNT in label for label in labels) or size == (80, 24)

    @pytest.mark.parametrize("size", [(80, 24), (120, 36)])
    async def test_keys_pane_keeps_events_beside_a_deletion_day(self, demo_index, size):
        """The demo's two keys pending deletion carry the day they go: at 80 columns the state
        is shortened (``DELETION 11-27``) rather than EVENTS dropped."""
        app = make_app(index=demo_index)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            keys = app.screen.query_one(KeysPane)
            header = lines(keys)[0]
            assert "STATE" in header and "EVENTS" in header, header
            width = keys.scrollable_content_region.width
            rows = [keys._row_strip(row, width, False).text for row in range(len(keys.keys))]
            going = [row for row in rows if "11-27" in row]
            assert len(going) == 2, rows
            wanted = "PENDING DELETION 11-27" if size == (120, 36) else "DELETION 11-27"
            assert all(wanted in row for row in going), going

    async def test_times_keep_the_year_at_80_columns_when_events_span_years(self, tmp_path):
        app = make_app(real_like(tmp_path))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            first = _event_lines(app)[0]
            assert first.split()[:2] == ["2025-03-05", "12:02:00"], first

    async def test_times_drop_the_year_when_events_are_in_one_year(self, tmp_path):
        write_records(tmp_path / "log.json", 3)
        app = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert _event_lines(app)[0].split()[0] == "05-01"


class TestToasts:
    async def test_the_skipped_file_toast_leaves_the_status_and_filter_lines_alone(self, tmp_path):
        write_records(tmp_path / "log.json", 3)
        write(tmp_path / "broken.json", b"{not json")
        app = make_app(tmp_path)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await settle(pilot)
            await pilot.pause()
            from textual.widgets._toast import Toast

            toasts = list(app.screen.query(Toast))
            assert toasts, "a toast says a source was skipped"
            for toast in toasts:
                for line in ("#status", "#filterbar"):
                    region = app.screen.query_one(line).region
                    assert not toast.region.overlaps(region), (line, toast.region, region)


class TestCloudColumn:
    """The keys pane says which cloud a key is in only where both clouds are listed: for an AWS-only
    trail the room goes to REGION."""

    async def test_both_clouds_show_the_column(self, tmp_path):
        from benchmarks import actiontrail_synth

        actiontrail_synth.write_sls_jsonl(actiontrail_synth.week()[:400], tmp_path / "export.jsonl")
        app = make_app(DEMO, tmp_path / "export.jsonl")
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            keys = app.screen.query_one(KeysPane)
            header = lines(keys)[0].split()
            assert "CLOUD" in header and "REGION" in header
            assert {key.cloud for key in keys.keys} == {"aws", "alibaba"}
            drawn = [row for row in lines(keys)[1:] if row.strip()]
            assert drawn and [row.split()[-2] for row in drawn] == [key.cloud for key in keys.keys[: len(drawn)]]

    async def test_the_demo_at_120_columns_shows_which_cloud(self, demo_index):
        """The demo mixes both clouds: at 120x36 the CLOUD column comes before WHO and LAST USE."""
        app = make_app(index=demo_index)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            keys = app.screen.query_one(KeysPane)
            header = lines(keys)[0]
            assert "CLOUD" in header.split(), header
            at = header.index("CLOUD")
            shown = {row[at : at + 7].strip() for row in lines(keys)[1:] if row.strip()}
            assert shown == {"aws", "alibaba"}, shown

    async def test_one_cloud_leaves_it_out(self):
        app = make_app(DEMO / "acme-cloudtrail-logs", DEMO / "analytics-audit-logs")  # the demo's AWS part
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            header = lines(app.screen.query_one(KeysPane))[0].split()
            assert "CLOUD" not in header and "REGION" in header


async def test_more_rows_redraw_the_list_without_laying_the_screen_out(demo_index, monkeypatch):
    """While a load grows, each look gives the panes more rows: their scrollable height
    changes, their size does not, and the screen is not laid out again for it (it was, twice a
    look). The scrollbar and the rows still follow."""
    from textual.screen import Screen

    app = make_app(index=demo_index)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        pane = explorer(app).query_one(EventsPane)
        everything = pane.rows
        pane.show(everything[:5])
        await pilot.pause()
        assert not pane.show_vertical_scrollbar
        layouts = 0
        layout = Screen._refresh_layout

        def counted(self, *args, **kwargs):
            nonlocal layouts
            layouts += 1
            return layout(self, *args, **kwargs)

        monkeypatch.setattr(Screen, "_refresh_layout", counted)
        pane.show(everything[:10])
        await pilot.pause()
        assert layouts == 0
        assert len([line for line in lines(pane)[1:] if line.strip()]) == 10
        pane.show(everything)  # now taller than the pane: the scrollbar comes (that lays it out)
        await pilot.pause()
        assert pane.show_vertical_scrollbar and pane.virtual_size.height == len(everything) + 1
        pane.action_edge(1)
        await pilot.pause()
        assert pane.cursor == len(everything) - 1 and pane.scroll_offset.y == len(everything) + 1 - pane.size.height


async def test_an_answer_without_new_events_after_one_without_redraws_nothing(demo_index):
    """Each answer ends with the events to mark as new (none unless the filter has a window):
    none after none changes nothing on screen, and the list is not drawn again for it (it was
    after every look at a loading trail, a frame of the whole list). Marks that come or go are drawn."""
    import numpy as np

    from kmstui.ui.messages import NoveltyReady

    app = make_app(index=demo_index)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = explorer(app)
        pane = screen.query_one(EventsPane)
        assert pane.novel is None
        drawn = pane._generation
        screen.post_message(NoveltyReady(screen._request, np.zeros(0, bool)))
        await pilot.pause()
        assert pane._generation == drawn and pane.novel is None
        marked = np.zeros(demo_index.size, bool)
        marked[pane.row_of(0)] = True
        screen.post_message(NoveltyReady(screen._request, marked))
        await pilot.pause()
        assert pane._generation > drawn and "✦" in lines(pane)[1]
        drawn = pane._generation
        screen.post_message(NoveltyReady(screen._request, np.zeros(0, bool)))
        await pilot.pause()
        assert pane._generation > drawn and pane.novel is None and "✦" not in lines(pane)[1]


async def test_muted_text_is_readable_in_a_light_theme():
    """Muted text ($text-muted: a colour with alpha) as the line-API widgets draw it, the
    timeline's caption and the events' times: from a partial style alone it came out white,
    on the light theme's light grey."""
    app = make_app(DEMO)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.theme = "textual-light"
        await settle(pilot)
        timeline = app.screen.query_one(TimelineStrip)
        caption = next(s for s in timeline.render_line(2) if "a column" in s.text)
        assert darker_than_its_background(caption)
        table = app.screen.query_one(EventsPane)
        row = table.render_line(2)  # the header, the cursor's row, then a row as every other is drawn
        time = next(s for s in row if s.text.strip()[:2] == "11")
        assert darker_than_its_background(time)
