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


async def test_a_filters_events_are_drawn_before_its_summaries_are_computed(demo_index, monkeypatch):
    """The events first: the key and trail summaries that follow in the filter's thread wait
    until the events are on screen (their Python would hold the interpreter the drawing needs)."""
    from kmstui.ui import explorer as explorer_module

    app = make_app(index=demo_index)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = app.explorer
        drawn_first: list[bool] = []
        summarise = explorer_module.summarise_keys

        def summarised(index, rows, unused=False):
            drawn_first.append(screen._shown == screen._request)
            return summarise(index, rows, unused=unused)

        monkeypatch.setattr(explorer_module, "summarise_keys", summarised)
        # the order itself, not the product's half-second cap on the wait: with another test
        # busy on both cores, the drawing once took longer than that in CI
        monkeypatch.setattr(explorer_module, "EVENTS_FIRST_WAIT", 30.0)
        screen.set_filter("event:Decrypt")
        await settle(pilot)
        assert drawn_first == [True]
