"""The filter language typed into the explorer's filter bar: the issue's questions give what
the headless filter gives, and the status line says the filter as it was understood."""

from __future__ import annotations

from test_core_filter_questions import QUESTIONS
from textual.widgets import Input, Static

from kmstui.ui.panes import EventsPane

from appkit import DEMO, make_app, settle, text_of, type_text
from records import load, rows

SIZE = (120, 36)


async def test_the_questions_typed_in_the_explorer_match_headless(demo_index):
    index = load(DEMO)  # the headless answers, from a load of their own
    app = make_app(index=demo_index)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _question, expr, _reference in QUESTIONS:
            await pilot.press("slash")
            field = app.screen.query_one("#filter", Input)
            field.value = ""
            await type_text(pilot, expr)
            await pilot.press("enter")
            await settle(pilot)
            assert not app.screen.query_one("#filter-error", Static).display, expr
            assert app.screen.query_one(EventsPane).row_count == len(rows(index, expr)), expr


async def test_the_status_line_says_the_filter_as_understood(demo_index):
    app = make_app(index=demo_index)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await type_text(pilot, "type:AWSService  OR  req.keyId:x")
        await settle(pilot)
        status = text_of(app.screen.query_one("#status", Static))
        assert "filter identity:AWSService OR requestParameters.keyId:x" in status
        assert "(record paths: calls that change something)" in status


async def test_the_event_pivot_asks_for_exactly_that_name(demo_index):
    app = make_app(index=demo_index)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the newest event
        name = app.screen.event.name
        error = app.screen.event.error_code
        await pilot.press("f", "end", *(["up"] if error else []), "enter")
        await settle(pilot)
        assert app.screen.query_one("#filter", Input).value == f"event:={name}"
        assert all(e.name == name for e in (app.index.event(row) for row in app.screen.query_one(EventsPane).rows))
